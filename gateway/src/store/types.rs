//! Values kept in the store: payments, ledger filters and totals, sessions, pooled invoices.

use serde::Serialize;

/// One settled payment in the ledger. `(protocol, reference)` is unique: recording the same
/// payment twice (e.g. two uses of one L402 token on two gateways) keeps one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentRecord {
    /// Protocol id (`l402`, …).
    pub protocol: String,
    /// Rail id (`simnet`, `lnd`, …).
    pub rail: String,
    /// Payment reference (the payment hash, hex, for Lightning).
    pub reference: String,
    /// Token id (hex) for reusable credentials.
    pub token_id: Option<String>,
    /// Route that was paid for.
    pub route: String,
    /// Amount, millisatoshis.
    pub amount_msat: u64,
    /// Payer identity, when the protocol tells it (x402 `from`, MPP source).
    pub payer: Option<String>,
    /// Unix seconds when the gateway first accepted the payment.
    pub created_at: u64,
    /// Whether its request was served (see [`PaymentState`]).
    pub state: PaymentState,
    /// The single-use key the payment consumed (MPP charges, x402), if any: a retry of an
    /// unserved payment is found through it. Not printed.
    #[serde(skip)]
    pub use_key: Option<Vec<u8>>,
}

/// Where a recorded payment's request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentState {
    /// Recorded before the request went upstream; its response has not (yet) been seen
    /// delivered. Left in this state by a crash: the payment may never have been served
    /// (`gate402 ledger --unserved` lists it as refundable).
    Admitted,
    /// The response was delivered.
    Served,
    /// Paid but not served (the upstream failed, or a settlement landed without its
    /// response): the buyer's next presentation of the same payment is served from it.
    Unserved,
}

impl PaymentState {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::Admitted => "admitted",
            PaymentState::Served => "served",
            PaymentState::Unserved => "unserved",
        }
    }

    /// Parse the stored text (unknown text reads as admitted: never assume served).
    pub fn parse(s: &str) -> PaymentState {
        match s {
            "served" => PaymentState::Served,
            "unserved" => PaymentState::Unserved,
            _ => PaymentState::Admitted,
        }
    }
}

/// Which ledger rows to read. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerFilter {
    /// Only this route.
    pub route: Option<String>,
    /// Only this protocol.
    pub protocol: Option<String>,
    /// Only payments at or after this Unix second.
    pub since: Option<u64>,
    /// At most this many rows (newest first); `None` = all.
    pub limit: Option<u32>,
    /// Only payments whose request is not known to be served (admitted or unserved).
    pub unserved: bool,
}

/// Count and sum of payments for one route and protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Route name.
    pub route: String,
    /// Protocol id.
    pub protocol: String,
    /// Number of payments.
    pub payments: u64,
    /// Sum of amounts, millisatoshis.
    pub amount_msat: u64,
}

/// A pre-minted invoice waiting in the pool to serve a challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PooledInvoice {
    /// Payment hash (unique).
    pub payment_hash: [u8; 32],
    /// Route the invoice was minted for.
    pub route: String,
    /// Amount, millisatoshis.
    pub amount_msat: u64,
    /// BOLT11 text.
    pub bolt11: String,
    /// Unix seconds when the invoice expires.
    pub expires_at: u64,
}
