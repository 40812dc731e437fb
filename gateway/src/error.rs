//! The gateway layer's one error enum, mapped to HTTP once, at the edge ([`crate::paywall::edge`]).
//!
//! Each error says where it came from ([`ErrorSource`]) and whether retrying may help. Credential
//! problems answer 402 with a fresh challenge (paying clients retry on 402); rail and store
//! outages answer 503 with `Retry-After` (never 402: a paying client would pay again); upstream
//! failures answer 502/504.

use gate402_protocols::ChallengeError;
use gate402_rails::RailError;
use http::StatusCode;
use thiserror::Error;

use crate::store::StoreError;

/// Who caused an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    /// The HTTP client (missing, malformed or refused credential).
    Client,
    /// The payment rail (Lightning node).
    Rail,
    /// The proxied upstream service.
    Upstream,
    /// The gateway's own configuration.
    Config,
    /// The gateway's database (ledger, consumed credentials).
    Store,
    /// The pricing service of a dynamically priced route.
    Pricer,
}

/// An error on the paid request path.
#[derive(Debug, Error)]
pub enum GateError {
    /// No acceptable credential: answer 402 with fresh challenges.
    #[error("payment required{}", reason.map(|r| format!(" ({r})")).unwrap_or_default())]
    PaymentRequired {
        /// Machine-readable reason a presented credential was refused (`None`: none presented).
        reason: Option<&'static str>,
        /// Human-readable detail.
        detail: Option<String>,
    },
    /// The request is wrong whatever is paid (unsupported payment method, several
    /// credentials): 400, no challenge.
    #[error("bad request ({reason})")]
    BadRequest {
        /// Machine-readable reason.
        reason: &'static str,
        /// Human-readable detail.
        detail: String,
    },
    /// The request body is larger than the gateway buffers to bind a challenge to it: 413.
    #[error("request body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit, bytes.
        limit: usize,
    },
    /// The request body could not be read.
    #[error("cannot read the request body: {0}")]
    Body(String),
    /// The payment rail failed while building a challenge or checking a payment.
    #[error("payment rail: {0}")]
    Rail(#[source] RailError),
    /// The store (ledger, consumed credentials, sessions) could not record or check what a
    /// paid request needs.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The upstream could not be reached or broke the connection.
    #[error("upstream unavailable: {0}")]
    Upstream(String),
    /// The upstream did not answer in time.
    #[error("upstream timed out")]
    UpstreamTimeout,
    /// The upstream's response is larger than the gateway buffers before settling an x402
    /// payment (`[evm] max_response_bytes`): not settled, 502.
    #[error(
        "upstream response larger than {limit} bytes (x402 settles only a response it holds whole)"
    )]
    UpstreamTooLarge {
        /// The limit, bytes.
        limit: usize,
    },
    /// A challenge could not be built from the route's offer.
    #[error("challenge: {0}")]
    Challenge(#[from] ChallengeError),
    /// The pricer of a dynamically priced route is down, slow or answered no usable price:
    /// 503 + `Retry-After` (never a free or zero-priced request).
    #[error("pricer: {0}")]
    Pricing(#[from] crate::pricing::PricingError),
}

impl GateError {
    /// Where the error came from.
    pub fn source_kind(&self) -> ErrorSource {
        match self {
            GateError::PaymentRequired { .. }
            | GateError::BadRequest { .. }
            | GateError::BodyTooLarge { .. }
            | GateError::Body(_) => ErrorSource::Client,
            GateError::Rail(_) => ErrorSource::Rail,
            GateError::Store(_) => ErrorSource::Store,
            GateError::Upstream(_)
            | GateError::UpstreamTimeout
            | GateError::UpstreamTooLarge { .. } => ErrorSource::Upstream,
            GateError::Challenge(_) => ErrorSource::Config,
            GateError::Pricing(_) => ErrorSource::Pricer,
        }
    }

    /// Whether the same request may succeed later without the client changing anything.
    pub fn retryable(&self) -> bool {
        match self {
            GateError::Rail(e) => e.retryable(),
            GateError::Store(e) => e.retryable(),
            GateError::Upstream(_) | GateError::UpstreamTimeout => true,
            GateError::UpstreamTooLarge { .. } => false,
            GateError::Pricing(_) => true,
            GateError::PaymentRequired { .. }
            | GateError::BadRequest { .. }
            | GateError::BodyTooLarge { .. }
            | GateError::Body(_)
            | GateError::Challenge(_) => false,
        }
    }

    /// The HTTP status this error maps to.
    pub fn status(&self) -> StatusCode {
        match self {
            GateError::PaymentRequired { .. } => StatusCode::PAYMENT_REQUIRED,
            GateError::BadRequest { .. } | GateError::Body(_) => StatusCode::BAD_REQUEST,
            GateError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GateError::Rail(_) => StatusCode::SERVICE_UNAVAILABLE,
            GateError::Store(e) if e.retryable() => StatusCode::SERVICE_UNAVAILABLE,
            GateError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            GateError::Upstream(_) | GateError::UpstreamTooLarge { .. } => StatusCode::BAD_GATEWAY,
            GateError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            GateError::Challenge(_) => StatusCode::INTERNAL_SERVER_ERROR,
            GateError::Pricing(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Stable machine-readable code for problem bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            GateError::PaymentRequired { reason, .. } => reason.unwrap_or("payment_required"),
            GateError::BadRequest { reason, .. } => reason,
            GateError::BodyTooLarge { .. } => "body_too_large",
            GateError::Body(_) => "body_unreadable",
            GateError::Rail(e) => e.kind.as_str(),
            GateError::Store(e) => e.code(),
            GateError::Upstream(_) => "upstream_unavailable",
            GateError::UpstreamTimeout => "upstream_timeout",
            GateError::UpstreamTooLarge { .. } => "upstream_response_too_large",
            GateError::Challenge(_) => "challenge_failed",
            GateError::Pricing(e) => e.kind.as_str(),
        }
    }
}
