//! Errors: malformed input ([`ParseError`]) kept apart from semantic rejections ([`VerifyError`]).
//!
//! Every variant has a stable, machine-readable `reason()` string, sent to clients in the 402
//! body so that a paying client (or a human) can tell why a credential was refused.

use thiserror::Error;

/// The input could not be decoded: wrong syntax, encoding or size.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// A header is larger than [`crate::MAX_HEADER_BYTES`].
    #[error("header too large: {len} bytes (max {max})")]
    Oversized {
        /// Bytes received.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// The header is not valid visible ASCII / UTF-8.
    #[error("header is not valid text")]
    NotText,
    /// The authorization scheme or challenge syntax is wrong.
    #[error("malformed header: {0}")]
    Syntax(&'static str),
    /// Several credentials of one scheme in one request (MPP: one `Payment` credential per
    /// request; 400).
    #[error("several {0} credentials in one request")]
    SeveralCredentials(&'static str),
    /// A required parameter is missing.
    #[error("missing parameter `{0}`")]
    MissingParam(&'static str),
    /// Base64 could not be decoded.
    #[error("invalid base64 in {0}")]
    Base64(&'static str),
    /// Hex could not be decoded or had the wrong length.
    #[error("invalid hex in {0}")]
    Hex(&'static str),
    /// The macaroon bytes are not a valid V1/V2 macaroon.
    #[error("invalid macaroon encoding: {0}")]
    Macaroon(&'static str),
    /// The macaroon identifier is not an L402 identifier.
    #[error("invalid L402 identifier: {0}")]
    Identifier(&'static str),
    /// Decoded JSON is invalid or has the wrong shape (x402 payloads).
    #[error("invalid JSON in {0}")]
    Json(&'static str),
}

impl ParseError {
    /// Stable machine-readable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::Oversized { .. } => "header_too_large",
            ParseError::NotText => "header_not_text",
            ParseError::Syntax(_) => "malformed_header",
            ParseError::SeveralCredentials(_) => "several_credentials",
            ParseError::MissingParam(_) => "missing_parameter",
            ParseError::Base64(_) => "invalid_base64",
            ParseError::Hex(_) => "invalid_hex",
            ParseError::Macaroon(_) => "invalid_macaroon",
            ParseError::Identifier(_) => "invalid_identifier",
            ParseError::Json(_) => "invalid_json",
        }
    }
}

/// A well-formed credential that does not grant access (possibly hostile).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    /// Identifier version not supported.
    #[error("unknown identifier version {0}")]
    UnknownVersion(u16),
    /// sha256(preimage) does not equal the payment hash.
    #[error("preimage does not match the payment hash")]
    PreimageMismatch,
    /// The HMAC chain does not verify (tampered or foreign macaroon).
    #[error("macaroon signature is invalid")]
    BadSignature,
    /// A time caveat has passed.
    #[error("credential expired")]
    Expired,
    /// The credential does not cover the requested service.
    #[error("credential is not valid for service `{0}`")]
    WrongService(String),
    /// A caveat was widened by a later caveat (attenuation may only narrow).
    #[error("caveat `{0}` widens an earlier one")]
    CaveatWidened(String),
    /// A caveat value is malformed.
    #[error("caveat `{0}` is malformed")]
    BadCaveat(String),
    /// The token was revoked by the seller.
    #[error("credential revoked")]
    Revoked,
    /// The invoice is known to the rail but not settled.
    #[error("invoice not settled")]
    NotSettled,
    /// MPP: the echoed challenge is not one we issued (HMAC id, realm or method mismatch).
    #[error("unknown challenge: {0}")]
    UnknownChallenge(&'static str),
    /// MPP: the credential's payment method or intent is not one we offer (400).
    #[error("payment method or intent not supported: {0}")]
    MethodUnsupported(&'static str),
    /// MPP: the challenge was issued for another offer (route, amount, currency).
    #[error("challenge was issued for another offer: {0}")]
    OfferMismatch(&'static str),
    /// A single-use proof was already consumed.
    #[error("credential already used")]
    Replayed,
    /// The credential was bought at a lower price than this request costs (dynamic pricing: an
    /// L402 token whose `<service>_max_price_msat` is below the request's price, or none).
    #[error("the credential paid {paid_msat} msat, this request costs {price_msat} msat")]
    PriceNotCovered {
        /// What the credential paid for (0: no price bound in it).
        paid_msat: u64,
        /// The price of this request.
        price_msat: u64,
    },
    /// A token sold for a number of uses (`uses = N`) has used them all: pay again.
    #[error("the token's quota of uses is spent; pay again")]
    QuotaSpent,
    /// MPP session: no such session.
    #[error("session not found")]
    SessionNotFound,
    /// MPP session: the session is closed.
    #[error("session closed")]
    SessionClosed,
    /// MPP session: the balance does not cover the request.
    #[error("insufficient session balance")]
    InsufficientBalance,
    /// MPP session: the return invoice cannot be used for the refund.
    #[error("invalid return invoice: {0}")]
    InvalidReturnInvoice(&'static str),
    /// A payment field disagrees with what the seller asked for; the reason names the field
    /// (e.g. `pay_to_mismatch`, `amount_mismatch`, `network_mismatch`, `asset_mismatch`).
    #[error("payment does not match the requirement: {0}")]
    Mismatch(&'static str),
    /// The authorization's validity window has not started yet.
    #[error("authorization not yet valid")]
    NotYetValid,
    /// The payment rail or facilitator refused the payment (reason, detail).
    #[error("payment rejected ({0}): {1}")]
    Rejected(&'static str, String),
}

impl VerifyError {
    /// Stable machine-readable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            VerifyError::UnknownVersion(_) => "unknown_version",
            VerifyError::PreimageMismatch => "invalid_preimage",
            VerifyError::BadSignature => "invalid_signature",
            VerifyError::Expired => "expired",
            VerifyError::WrongService(_) => "wrong_service",
            VerifyError::CaveatWidened(_) => "caveat_widened",
            VerifyError::BadCaveat(_) => "invalid_caveat",
            VerifyError::Revoked => "revoked",
            VerifyError::NotSettled => "not_settled",
            VerifyError::UnknownChallenge(_) => "unknown_challenge",
            VerifyError::MethodUnsupported(_) => "method_unsupported",
            VerifyError::OfferMismatch(_) => "offer_mismatch",
            VerifyError::Replayed => "replayed",
            VerifyError::QuotaSpent => "quota_spent",
            VerifyError::PriceNotCovered { .. } => "price_not_covered",
            VerifyError::SessionNotFound => "session_not_found",
            VerifyError::SessionClosed => "session_closed",
            VerifyError::InsufficientBalance => "insufficient_balance",
            VerifyError::InvalidReturnInvoice(_) => "invalid_return_invoice",
            VerifyError::Mismatch(r) => r,
            VerifyError::NotYetValid => "not_yet_valid",
            VerifyError::Rejected(r, _) => r,
        }
    }
}

/// Either kind of credential failure; both answer 402 with a fresh challenge.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CredentialError {
    /// Malformed.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Well-formed but refused.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

impl CredentialError {
    /// Whether the request itself is wrong (answer 400, no challenge: paying again cannot
    /// help): an unsupported payment method or intent, several credentials of one scheme.
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            CredentialError::Parse(ParseError::SeveralCredentials(_))
                | CredentialError::Verify(VerifyError::MethodUnsupported(_))
        )
    }

    /// Stable machine-readable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            CredentialError::Parse(e) => e.reason(),
            CredentialError::Verify(e) => e.reason(),
        }
    }
}

/// A challenge could not be built (configuration or rail facts are unusable).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChallengeError {
    /// The protocol needs an invoice and none was supplied.
    #[error("protocol needs an invoice for its challenge")]
    InvoiceRequired,
    /// The offer cannot be expressed (e.g. a service name with separators).
    #[error("invalid offer: {0}")]
    InvalidOffer(&'static str),
}
