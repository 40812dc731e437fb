//! Protocol-neutral values exchanged between the gateway, the rails and the protocols.

use http::{HeaderName, HeaderValue};

/// One response or request header produced by a protocol.
pub type HeaderPair = (HeaderName, HeaderValue);

/// Stable string ids of the protocols (used in config, logs, receipts and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolId {
    /// L402 (formerly LSAT): macaroon + Lightning preimage.
    L402,
    /// MPP: the `Payment` HTTP authentication scheme (Lightning charge and session).
    Mpp,
    /// x402 (v1/v2): signed EIP-3009 authorizations, and its Lightning variant.
    X402,
    /// gate402's browser paywall: a session cookie (JWT) given to a browser once the L402
    /// challenge's invoice was paid from its page. Not a wire protocol: never parsed from a
    /// route's `protocols`, used for ledger rows, receipts, logs and metrics.
    Browser,
}

impl ProtocolId {
    /// The stable id, e.g. `"l402"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProtocolId::L402 => "l402",
            ProtocolId::Mpp => "mpp",
            ProtocolId::X402 => "x402",
            ProtocolId::Browser => "browser",
        }
    }

    /// Parse a stable id (case-insensitive; `lsat` is an alias of `l402`, `payment` of `mpp`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "l402" | "lsat" => Some(ProtocolId::L402),
            "mpp" | "payment" => Some(ProtocolId::Mpp),
            "x402" => Some(ProtocolId::X402),
            _ => None,
        }
    }
}

impl std::fmt::Display for ProtocolId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the seller asks for one request on a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Service name bound into credentials (L402 `services` caveat). No `:`, `,`, `=` or spaces.
    pub service: String,
    /// Price of one access, in millisatoshis.
    pub price_msat: u64,
    /// Capabilities granted (L402 `<service>_capabilities` caveat); may be empty.
    pub capabilities: Vec<String>,
    /// Lifetime of a paid credential in seconds (L402 `<service>_valid_until`); `None` = no expiry.
    pub valid_for_secs: Option<u64>,
    /// `price_msat` was set for this request by a pricer (dynamic pricing). The price is then
    /// bound into every credential (L402 `<service>_max_price_msat` caveat; MPP and x402 carry
    /// the amount anyway) and a credential is accepted when what it paid is **at least**
    /// `price_msat` (a token bought for a cheaper request is refused on a dearer one). With
    /// `false` (static price) the amount must equal `price_msat` and no caveat is minted.
    pub bind_price: bool,
}

impl Offer {
    /// Whether a credential that paid `paid_msat` pays for this offer: exactly the price, or
    /// at least the price when it is [bound](Offer::bind_price).
    pub fn accepts_paid(&self, paid_msat: u64) -> bool {
        if self.bind_price {
            paid_msat >= self.price_msat
        } else {
            paid_msat == self.price_msat
        }
    }
}

/// A fresh invoice supplied by a Lightning rail for a challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceFacts {
    /// BOLT11 payment request.
    pub bolt11: String,
    /// SHA-256 of the preimage that settles the invoice.
    pub payment_hash: [u8; 32],
    /// Invoice amount in millisatoshis.
    pub amount_msat: u64,
    /// Unix seconds after which the invoice can no longer be paid.
    pub expires_at: u64,
}

/// Settlement state of an invoice as known to the rail (LND's `Invoice.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceState {
    /// Not yet paid.
    Open,
    /// Paid; the preimage has been revealed.
    Settled,
    /// Cancelled or expired unpaid.
    Canceled,
    /// HTLCs held, not yet settled (hold invoices).
    Accepted,
}

/// Facts a rail can answer from memory while a credential is verified (no I/O on the hot path).
pub trait RailFacts {
    /// State of the invoice with this payment hash, if the rail knows it.
    fn invoice_state(&self, payment_hash: &[u8; 32]) -> Option<InvoiceState>;
}

/// A [`RailFacts`] that knows nothing (stateless verification).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRailFacts;

impl RailFacts for NoRailFacts {
    fn invoice_state(&self, _payment_hash: &[u8; 32]) -> Option<InvoiceState> {
        None
    }
}

/// A credential recognised in request headers, one variant per protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: L402 <macaroon>:<preimage>` (or LSAT, or a macaroon header).
    L402(crate::l402::L402Credential),
    /// `Authorization: Payment <base64url JSON>` (MPP).
    Mpp(crate::mpp::MppCredential),
    /// `PAYMENT-SIGNATURE` (v2) or `X-PAYMENT` (v1).
    X402(Box<crate::x402::X402Credential>),
}

impl Credential {
    /// The protocol this credential belongs to.
    pub fn protocol(&self) -> ProtocolId {
        match self {
            Credential::L402(_) => ProtocolId::L402,
            Credential::Mpp(_) => ProtocolId::Mpp,
            Credential::X402(_) => ProtocolId::X402,
        }
    }
}

/// What a verified payment refers to. Kept as bytes on the hot path; `Display` gives the
/// text form used in receipts and logs (lowercase hex for hashes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reference {
    /// A Lightning payment hash.
    PaymentHash([u8; 32]),
    /// Any other rail's reference (e.g. a transaction hash), already in text form.
    Text(String),
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reference::PaymentHash(h) => h.iter().try_for_each(|b| write!(f, "{b:02x}")),
            Reference::Text(t) => f.write_str(t),
        }
    }
}

/// The outcome of a successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Which protocol accepted the credential.
    pub protocol: ProtocolId,
    /// Payment reference: the payment hash for Lightning proofs.
    pub reference: Reference,
    /// Stable id of a reusable credential (L402 token id), for caching, revocation and logs;
    /// for MPP the (single-use) challenge id, echoed in the receipt's `challengeId`.
    pub token_id: Option<[u8; 32]>,
    /// Key to consume atomically when the proof is single-use (`None` for reusable tokens).
    pub single_use_key: Option<Vec<u8>>,
    /// Unix seconds after which the credential stops working, when known.
    pub expires_at: Option<u64>,
}

/// A challenge found in a 402 response (client side), one variant per protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientChallenge {
    /// An L402/LSAT challenge.
    L402(crate::l402::L402Challenge),
    /// A `Payment` (MPP) challenge.
    Mpp(crate::mpp::MppOffer),
    /// One x402 `accepts` entry.
    X402(crate::x402::X402Challenge),
}

impl ClientChallenge {
    /// The protocol of this challenge.
    pub fn protocol(&self) -> ProtocolId {
        match self {
            ClientChallenge::L402(_) => ProtocolId::L402,
            ClientChallenge::Mpp(_) => ProtocolId::Mpp,
            ClientChallenge::X402(_) => ProtocolId::X402,
        }
    }

    /// The BOLT11 invoice to pay, for Lightning challenges.
    pub fn invoice(&self) -> Option<&str> {
        match self {
            ClientChallenge::L402(c) => Some(&c.invoice),
            ClientChallenge::Mpp(o) => o.invoice.as_deref(),
            ClientChallenge::X402(c) => c.invoice(),
        }
    }
}

/// Proof of payment the client obtained from its wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentProof {
    /// A Lightning payment preimage.
    Preimage([u8; 32]),
    /// A signed EIP-3009 authorization (x402 `exact` on EVM).
    Evm(crate::x402::EvmPayment),
}
