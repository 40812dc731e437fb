//! Buyer-side errors, each mapped to a distinct CLI exit code.

use gate402_protocols::ParseError;
use gate402_rails::RailError;
use thiserror::Error;

/// Why the client refused to pay (nothing was paid).
#[derive(Debug, Error, PartialEq, Eq)]
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
    /// The invoice expired before we could pay it.
    #[error("invoice expired")]
    ExpiredInvoice,
    /// An x402 EVM price is above the configured cap (token atomic units).
    #[error("x402 price {amount} exceeds the maximum of {max} token units")]
    OverMaxEvmAmount {
        /// Asked.
        amount: u128,
        /// Allowed.
        max: u128,
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
    /// The wallet reported success without a valid preimage.
    #[error("wallet returned a preimage that does not match the invoice")]
    BadPreimage,
    /// The credential cache could not be written.
    #[error("credential cache: {0}")]
    Cache(#[from] std::io::Error),
}

impl ClientError {
    /// Whether the client spent money before failing.
    pub fn paid(&self) -> bool {
        matches!(self, ClientError::Cache(_))
    }
}
