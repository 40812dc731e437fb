//! The [`PaymentProtocol`] trait: one object-safe interface for seller and buyer sides.

use http::HeaderMap;

use crate::{
    ChallengeError, ClientChallenge, Credential, CredentialError, HeaderPair, InvoiceFacts, Offer,
    ParseError, PaymentProof, ProtocolId, RailFacts, Verified,
};

/// Largest credential or challenge header we accept (bytes). Larger ones are refused unparsed.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// A payment protocol, sans-IO. Time (`now`, Unix seconds) and rail facts are passed in.
pub trait PaymentProtocol: Send + Sync {
    /// Stable id of the protocol.
    fn id(&self) -> ProtocolId;

    /// Whether [`challenge`](Self::challenge) needs a fresh Lightning invoice.
    fn needs_invoice(&self) -> bool;

    /// Whether the challenge for this particular `offer` needs a fresh Lightning invoice
    /// (protocols offering Lightning only on some routes override this).
    fn needs_invoice_for(&self, _offer: &Offer) -> bool {
        self.needs_invoice()
    }

    // ----- server side -----

    /// Headers of a 402 challenge for `offer` (and the rail's fresh `invoice`, if needed).
    fn challenge(
        &self,
        offer: &Offer,
        invoice: Option<&InvoiceFacts>,
        now: u64,
    ) -> Result<Vec<HeaderPair>, ChallengeError>;

    /// Find this protocol's credential in request headers. `None` when none is present.
    fn parse_credential(&self, headers: &HeaderMap) -> Option<Result<Credential, ParseError>>;

    /// Verify a credential of this protocol for `offer`.
    fn verify(
        &self,
        credential: &Credential,
        offer: &Offer,
        facts: &dyn RailFacts,
        now: u64,
    ) -> Result<Verified, CredentialError>;

    /// Receipt headers for a verified, served request (may be empty).
    fn receipt(&self, verified: &Verified) -> Vec<HeaderPair>;

    /// Receipt headers when the receipt needs the time (`now`, Unix seconds). Defaults to
    /// [`receipt`](Self::receipt).
    fn receipt_at(&self, verified: &Verified, now: u64) -> Vec<HeaderPair> {
        let _ = now;
        self.receipt(verified)
    }

    /// The RFC 9457 problem `type` URI this protocol wants for a 402 caused by `err`
    /// (`None`: no credential presented). `None` keeps the gateway's generic type.
    fn problem_type(&self, err: Option<&CredentialError>) -> Option<&'static str> {
        let _ = err;
        None
    }

    // ----- client side -----

    /// Challenges of this protocol in a 402 response (each parsed independently).
    fn parse_challenges(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Vec<Result<ClientChallenge, ParseError>>;

    /// The request header carrying a credential for a paid challenge.
    fn credential_header(
        &self,
        challenge: &ClientChallenge,
        proof: &PaymentProof,
    ) -> Result<HeaderPair, ParseError>;
}
