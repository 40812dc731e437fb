//! gate402: a multi-protocol HTTP 402 payment gateway.
//!
//! * [`paywall`] — seller side: the [`paywall::Paywall`] decision logic and its tower
//!   [`paywall::PaywallLayer`], usable in any axum app.
//! * [`proxy`] / [`server`] — the reverse proxy and its assembly from [`config`].
//! * [`store`] — persistence: payment ledger, consumed credentials, revocations (SQLite or
//!   PostgreSQL).
//! * [`facilitator`] — the built-in x402 facilitator endpoints.
//! * [`client`] — buyer side: pay 402 challenges within a policy, cache credentials.
//! * [`mcp`] — `gate402 mcp`: the buyer as an MCP server (stdio) for agent frameworks.
//! * [`probe`] — `gate402 probe`: grade any 402 server against L402, MPP and x402.
//! * [`cli`] — the `gate402` command line (`demo`, `serve`, `check-config`, `get`, `mcp`, ...).
//!
//! # Cargo features
//!
//! * `server` (default) — everything seller-side: [`paywall`], [`proxy`], [`server`],
//!   [`store`], [`facilitator`], [`config`], the LND simulator and the `serve`, `simnet`,
//!   `ledger`, `revoke`, `check-config` commands (axum, sqlx, tower).
//! * `client` (default) — the buyer library [`client`] (LND gRPC wallet, SQLite credential
//!   cache), [`mcp`] and the `get`/`mcp` commands. A buyer embedding gate402 builds without
//!   axum, sqlx or the paywall:
//!
//! ```toml
//! gate402 = { version = "0.1", default-features = false, features = ["client"] }
//! ```
//!
//! The `gate402` binary is built with whichever commands the enabled features provide
//! (`demo` needs both).

#[cfg(feature = "server")]
pub mod admin;
#[cfg(feature = "server")]
pub mod backend;
#[cfg(any(feature = "server", feature = "client"))]
pub mod cli;
#[cfg(feature = "client")]
pub mod client;
pub mod clock;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod error;
#[cfg(feature = "server")]
pub mod facilitator;
#[cfg(feature = "server")]
mod jwt;
pub mod least_privilege;
pub mod lnd_conn;
#[cfg(feature = "client")]
pub mod mcp;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod paywall;
#[cfg(feature = "server")]
pub mod pricing;
#[cfg(feature = "client")]
pub mod probe;
#[cfg(feature = "server")]
pub mod proxy;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod store;
