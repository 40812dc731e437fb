//! Sans-IO payment protocols for HTTP 402.
//!
//! Every protocol takes request/response headers plus facts supplied by a rail (an invoice to
//! put in a challenge, the settled state of an invoice) and returns a decision. Nothing here
//! opens a socket, reads a clock or touches a disk: time is passed in, so everything can be
//! unit-tested, fuzzed and benchmarked alone.
//!
//! * [`PaymentProtocol`] is the object-safe trait the gateway and the buyer client drive.
//! * [`ParseError`] (malformed input) is kept apart from [`VerifyError`] (well-formed but
//!   wrong, possibly hostile input). Both carry a stable machine-readable [`reason`](ParseError::reason).
//! * [`l402`] is the first implementation (Aperture-compatible macaroons).
//! * [`mpp`] is the `Payment` scheme (MPP) with the Lightning charge and session methods.
//! * [`x402`] speaks x402 v1/v2 (`exact` EIP-3009 on EVM, and the Lightning variant).

pub mod auth_header;
mod b64;
mod error;
pub mod l402;
pub mod mpp;
mod protocol;
mod types;
pub mod x402;

pub use error::{ChallengeError, CredentialError, ParseError, VerifyError};
pub use protocol::{PaymentProtocol, MAX_HEADER_BYTES};
pub use types::{
    ClientChallenge, Credential, HeaderPair, InvoiceFacts, InvoiceState, NoRailFacts, Offer,
    PaymentProof, ProtocolId, RailFacts, Reference, Verified,
};
