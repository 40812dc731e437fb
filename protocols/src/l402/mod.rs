//! L402 (formerly LSAT): a macaroon bound to a Lightning invoice, paid for by the preimage.
//!
//! Wire formats (see `specs/l402.md`):
//!
//! * challenge: `WWW-Authenticate: L402 macaroon="<std-b64 V2 macaroon>", invoice="<bolt11>"`
//! * credential: `Authorization: L402 <base64 macaroon>:<hex preimage>` (also `LSAT`, any case;
//!   or a hex macaroon in `Grpc-Metadata-Macaroon` / `Macaroon` with a `preimage=` caveat).
//!
//! Macaroons are libmacaroons V2, byte-identical with `gopkg.in/macaroon.v2` (what Aperture and
//! lnget use), implemented here on `hmac`/`sha2`/`subtle`. Identifiers are Aperture's 66-byte
//! `version ‖ payment_hash ‖ token_id`. Verification follows Aperture's order and caveat
//! satisfiers. Root keys are derived statelessly from one master secret (see [`L402::new`]),
//! so verification needs no store and no rail lookup: the preimage itself is the proof of
//! payment.

mod caveat;
mod client;
mod codec;
mod header;
mod hexfmt;
mod identifier;
mod keys;
mod macaroon;
mod protocol;
mod v1;

pub use caveat::{valid_service_name, CAPABILITIES_SUFFIX, SERVICES, VALID_UNTIL_SUFFIX};
pub use codec::MAX_CAVEATS;
pub use identifier::{Identifier, IDENTIFIER_LEN, LATEST_VERSION};
pub use macaroon::{Caveat, Macaroon};
pub use protocol::{L402, MIN_SECRET_LEN};

/// Every L402/LSAT challenge in the `WWW-Authenticate` lines of a 402 response, in order
/// (typed form of [`PaymentProtocol::parse_challenges`](crate::PaymentProtocol::parse_challenges);
/// needs no master secret). Aperture's `LSAT` + `L402` pair yields two equal challenges.
pub fn parse_challenges(
    headers: &http::HeaderMap,
) -> Vec<Result<L402Challenge, crate::ParseError>> {
    client::parse_challenges(headers)
}

/// Location written into minted macaroons (what Aperture uses).
pub const LOCATION: &str = "lsat";

/// A parsed L402 credential: the (possibly attenuated) macaroon and the payment preimage.
#[derive(Clone, PartialEq, Eq)]
pub struct L402Credential {
    /// The macaroon, as presented by the client.
    pub macaroon: Macaroon,
    /// The payment preimage (secret: never logged).
    pub preimage: [u8; 32],
}

impl L402Credential {
    /// The `Authorization` header value: `L402 <std-b64 macaroon>:<lowercase hex preimage>`.
    pub fn authorization(&self) -> String {
        header::authorization_value(&self.macaroon, &self.preimage)
    }
}

impl std::fmt::Debug for L402Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L402Credential")
            .field("macaroon", &self.macaroon)
            .field("preimage", &"<redacted>")
            .finish()
    }
}

/// An L402 challenge found in a 402 response (client side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L402Challenge {
    /// The scheme exactly as sent (`L402`, `LSAT`, or another casing of them).
    pub scheme: String,
    /// The macaroon to pay for.
    pub macaroon: Macaroon,
    /// The BOLT11 invoice to pay.
    pub invoice: String,
}

impl L402Challenge {
    /// Payment hash from a version-0 L402 identifier (`None` for other identifiers).
    pub fn payment_hash(&self) -> Option<[u8; 32]> {
        Identifier::decode(self.macaroon.identifier())
            .ok()
            .filter(|id| id.version == LATEST_VERSION)
            .map(|id| id.payment_hash)
    }

    /// The credential for this challenge once `preimage` is known.
    pub fn credential(&self, preimage: [u8; 32]) -> L402Credential {
        L402Credential {
            macaroon: self.macaroon.clone(),
            preimage,
        }
    }
}
