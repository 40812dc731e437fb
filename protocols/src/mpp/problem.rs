//! RFC 9457 problem types of the `Payment` scheme (`https://paymentauth.org/problems/…`).
//!
//! Core types for the scheme-level situations, the Lightning method's own types
//! (`…/problems/lightning/…`, draft-lightning-charge-00 / session-00) for what only a Lightning
//! credential can get wrong. All of them answer 402 with a fresh challenge, except
//! [`METHOD_UNSUPPORTED`] and [`BAD_REQUEST`] (400, no challenge: see
//! [`CredentialError::is_bad_request`]).

use crate::{CredentialError, ParseError, VerifyError};

/// Base URI of the problem types.
pub const BASE: &str = "https://paymentauth.org/problems/";

/// No credential was presented.
pub const PAYMENT_REQUIRED: &str = "https://paymentauth.org/problems/payment-required";
/// The credential's method or intent is not offered (400).
pub const METHOD_UNSUPPORTED: &str = "https://paymentauth.org/problems/method-unsupported";
/// The request is wrong whatever is paid, e.g. several `Payment` credentials (400).
pub const BAD_REQUEST: &str = "https://paymentauth.org/problems/bad-request";
/// The echoed amount is not the route's price.
pub const PAYMENT_INSUFFICIENT: &str = "https://paymentauth.org/problems/payment-insufficient";
/// A challenge echo that is bound correctly but was issued for another offer.
pub const INVALID_CHALLENGE: &str = "https://paymentauth.org/problems/invalid-challenge";
/// Lightning: the credential cannot be decoded.
pub const LN_MALFORMED: &str = "https://paymentauth.org/problems/lightning/malformed-credential";
/// Lightning: the challenge id is unknown, forged or already consumed.
pub const LN_UNKNOWN_CHALLENGE: &str =
    "https://paymentauth.org/problems/lightning/unknown-challenge";
/// Lightning: `sha256(preimage) != paymentHash`.
pub const LN_INVALID_PREIMAGE: &str = "https://paymentauth.org/problems/lightning/invalid-preimage";
/// Lightning: the challenge (and its invoice) expired.
pub const LN_EXPIRED_INVOICE: &str = "https://paymentauth.org/problems/lightning/expired-invoice";
/// Lightning session: unknown session id.
pub const LN_SESSION_NOT_FOUND: &str =
    "https://paymentauth.org/problems/lightning/session-not-found";
/// Lightning session: the session is closed.
pub const LN_SESSION_CLOSED: &str = "https://paymentauth.org/problems/lightning/session-closed";
/// Lightning session: balance too low.
pub const LN_INSUFFICIENT_BALANCE: &str =
    "https://paymentauth.org/problems/lightning/insufficient-balance";
/// Lightning session: unusable return invoice.
pub const LN_INVALID_RETURN_INVOICE: &str =
    "https://paymentauth.org/problems/lightning/invalid-return-invoice";

/// The problem type for a refused (or absent, `None`) Lightning credential.
pub fn problem_type(err: Option<&CredentialError>) -> &'static str {
    match err {
        None => PAYMENT_REQUIRED,
        Some(CredentialError::Parse(ParseError::SeveralCredentials(_))) => BAD_REQUEST,
        Some(CredentialError::Parse(_)) => LN_MALFORMED,
        Some(CredentialError::Verify(v)) => match v {
            VerifyError::PreimageMismatch => LN_INVALID_PREIMAGE,
            VerifyError::Expired => LN_EXPIRED_INVOICE,
            VerifyError::MethodUnsupported(_) => METHOD_UNSUPPORTED,
            VerifyError::OfferMismatch("amount") => PAYMENT_INSUFFICIENT,
            VerifyError::OfferMismatch(_) => INVALID_CHALLENGE,
            VerifyError::SessionNotFound => LN_SESSION_NOT_FOUND,
            VerifyError::SessionClosed => LN_SESSION_CLOSED,
            VerifyError::InsufficientBalance => LN_INSUFFICIENT_BALANCE,
            VerifyError::InvalidReturnInvoice(_) => LN_INVALID_RETURN_INVOICE,
            _ => LN_UNKNOWN_CHALLENGE,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        assert_eq!(problem_type(None), PAYMENT_REQUIRED);
        assert_eq!(
            problem_type(Some(&ParseError::Base64("x").into())),
            LN_MALFORMED
        );
        assert_eq!(
            problem_type(Some(&VerifyError::Replayed.into())),
            LN_UNKNOWN_CHALLENGE
        );
        assert_eq!(
            problem_type(Some(&VerifyError::Expired.into())),
            LN_EXPIRED_INVOICE
        );
        assert!(LN_INVALID_PREIMAGE.starts_with(BASE));
        assert_eq!(
            problem_type(Some(&VerifyError::MethodUnsupported("intent").into())),
            METHOD_UNSUPPORTED
        );
        assert_eq!(
            problem_type(Some(&ParseError::SeveralCredentials("Payment").into())),
            BAD_REQUEST
        );
        assert_eq!(
            problem_type(Some(&VerifyError::OfferMismatch("amount").into())),
            PAYMENT_INSUFFICIENT
        );
        assert_eq!(
            problem_type(Some(&VerifyError::OfferMismatch("route").into())),
            INVALID_CHALLENGE
        );
    }
}
