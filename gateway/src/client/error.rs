//! Buyer-side errors, each mapped to a distinct CLI exit code.

use gate402_protocols::ParseError;
use gate402_rails::{RailError, RailErrorKind};
use thiserror::Error;

/// Why the client refused to pay (nothing was paid). Every hostile or out-of-policy 402 ends
/// in one of these; the CLI maps them all to exit code 3.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// The price is above `--max-cost`.
    #[error("price {amount_msat} msat exceeds the maximum of {max_msat} msat")]
    OverMaxCost {
        /// Asked.
        amount_msat: u64,
        /// Allowed.
        max_msat: u64,
    },
    /// The invoice has no amount (would let the payee pick the price).
    #[error("invoice has no amount")]
    AmountlessInvoice,
    /// The invoice does not pay for what the challenge offers (e.g. its payment hash is not
    /// the one the token is bound to).
    #[error("invoice disagrees with the challenge: {0}")]
    InvoiceMismatch(&'static str),
    /// The invoice's amount is not the amount the challenge states.
    #[error("invoice amount {invoice_msat} msat differs from the offered {offered_msat} msat")]
    AmountMismatch {
        /// What the challenge states.
        offered_msat: u64,
        /// What the invoice asks.
        invoice_msat: u64,
    },
    /// The invoice could not be decoded (or its signature is wrong).
    #[error("invalid invoice: {0}")]
    InvalidInvoice(String),
    /// The invoice expired before we could pay it.
    #[error("invoice expired")]
    ExpiredInvoice,
    /// The challenge itself expired (MPP `expires` in the past).
    #[error("challenge expired")]
    ExpiredChallenge,
    /// The challenge is bound to another host than the one requested (x402 `resource`, MPP
    /// host-shaped `realm`).
    #[error("challenge is for {bound}, not for the requested host {requested}")]
    ForeignHost {
        /// The host the challenge names.
        bound: String,
        /// The host we asked.
        requested: String,
    },
    /// A protocol variant this client does not pay (method, intent, scheme, header).
    #[error("unsupported offer: {0}")]
    Unsupported(String),
    /// No wallet for the offer's rail is configured.
    #[error("no wallet configured for rail {0}")]
    NoWallet(String),
    /// The offer's `protocol/rail` is not in the preference list.
    #[error("{0} is not in the preference list")]
    NotPreferred(String),
    /// The domain is denied (or not allowed) by the policy.
    #[error("paying {0} is not allowed by the domain lists")]
    DomainDenied(String),
    /// An x402 EVM price is above the configured cap (token atomic units).
    #[error("x402 price {amount} exceeds the maximum of {max} token units")]
    OverMaxEvmAmount {
        /// Asked.
        amount: u128,
        /// Allowed.
        max: u128,
    },
    /// A daily budget would be exceeded (fees and pending payments included).
    #[error(
        "daily {scope} budget exceeded: spent {spent} + pending {pending} + {amount} > {limit} {unit}"
    )]
    BudgetExceeded {
        /// `total` or `domain <host>`.
        scope: String,
        /// `msat` or `evm:<network>:<asset>`.
        unit: String,
        /// Spent today.
        spent: u128,
        /// Reserved by payments in flight or of unknown outcome.
        pending: u128,
        /// This payment (with its maximum fee).
        amount: u128,
        /// The limit.
        limit: u128,
    },
}

/// A buyer-side failure.
#[derive(Debug, Error)]
pub enum ClientError {
    /// Bad URL or request.
    #[error("invalid request: {0}")]
    Usage(String),
    /// The server could not be reached or the connection broke.
    #[error("http: {0}")]
    Http(String),
    /// Refused by policy; nothing paid.
    #[error("refused to pay: {0}")]
    Policy(#[from] PolicyError),
    /// The 402 carried no challenge we can pay.
    #[error("no payable challenge in the 402 response{}", .0.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    NoPayableChallenge(Option<ParseError>),
    /// The invoice could not be decoded.
    #[error("invalid invoice: {0}")]
    Invoice(RailError),
    /// The wallet failed to pay.
    #[error("payment failed: {0}")]
    Payment(RailError),
    /// A payment whose outcome was unknown (timeout, stream lost) and that tracking
    /// (`TrackPaymentV2`) then found failed or never started: nothing moved.
    #[error("payment failed (tracked to a final state, nothing moved): {0}")]
    TrackedFailure(RailError),
    /// The wallet reported success without a valid preimage.
    #[error("wallet returned a preimage that does not match the invoice")]
    BadPreimage,
    /// The credential cache or budget ledger could not be read or written.
    #[error("credential cache: {0}")]
    Cache(#[from] std::io::Error),
    /// The policy is invalid.
    #[error("invalid policy: {0}")]
    Config(String),
}

impl ClientError {
    /// Whether this failure, ending a payment attempt, proves that no money moved: refused
    /// before paying, or a Lightning failure that moves nothing (no route, balance, fee limit,
    /// invalid invoice, already paid, permission). Any other failure once a payment started
    /// leaves its outcome unknown.
    pub fn nothing_moved(&self) -> bool {
        match self {
            ClientError::Policy(_)
            | ClientError::Usage(_)
            | ClientError::Config(_)
            | ClientError::Invoice(_)
            | ClientError::NoPayableChallenge(_)
            | ClientError::TrackedFailure(_) => true,
            ClientError::Payment(rail) => matches!(
                rail.kind,
                RailErrorKind::NoRoute
                    | RailErrorKind::InsufficientBalance
                    | RailErrorKind::InvalidInvoice
                    | RailErrorKind::AlreadyPaid
                    | RailErrorKind::FeeLimitExceeded
                    | RailErrorKind::PermissionDenied
                    | RailErrorKind::Certificate
            ),
            ClientError::Http(_) | ClientError::BadPreimage | ClientError::Cache(_) => false,
        }
    }
}
