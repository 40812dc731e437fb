//! gate402: a multi-protocol HTTP 402 payment gateway.
//!
//! * [`paywall`] — seller side: the [`paywall::Paywall`] decision logic and its tower
//!   [`paywall::PaywallLayer`], usable in any axum app.
//! * [`proxy`] / [`server`] — the reverse proxy and its assembly from [`config`].
//! * [`store`] — persistence: payment ledger, consumed credentials, revocations (SQLite or
//!   PostgreSQL).
//! * [`facilitator`] — the built-in x402 facilitator endpoints.
//! * [`client`] — buyer side: pay 402 challenges within a policy, cache credentials.
//! * [`cli`] — the `gate402` command line (`demo`, `serve`, `check-config`, `get`).

pub mod backend;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod error;
pub mod facilitator;
pub mod paywall;
pub mod proxy;
pub mod server;
pub mod store;
