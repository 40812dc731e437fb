//! Macaroons: the libmacaroons HMAC-SHA256 chain, byte-compatible with `gopkg.in/macaroon.v2`.
//!
//! ```text
//! k0    = HMAC-SHA256(key = "macaroons-key-generator", msg = root_key)
//! sig0  = HMAC-SHA256(k0, identifier)
//! sig_i = HMAC-SHA256(sig_{i-1}, caveat_id_i)        first-party caveats
//! ```
//!
//! Storage is one byte buffer plus spans: a decoded macaroon keeps the encoded bytes it was
//! decoded from and points into them, so decoding allocates only the caveat index.
//! The wire codecs live in [`super::codec`].

use subtle::ConstantTimeEq;

use super::codec;
use super::keys::{hmac, make_key};
use crate::{b64, ParseError};

/// Half-open byte range into [`Macaroon::buf`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Spans of one caveat's fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawCaveat {
    pub(crate) id: Span,
    pub(crate) vid: Option<Span>,
    pub(crate) location: Option<Span>,
}

/// One caveat as stored in a macaroon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caveat<'a> {
    /// Caveat id: the condition for first-party caveats (e.g. `services=svc:0`).
    pub id: &'a [u8],
    /// Verification id; present only on third-party caveats.
    pub verification_id: Option<&'a [u8]>,
    /// Location hint; normally present only on third-party caveats.
    pub location: Option<&'a [u8]>,
}

impl Caveat<'_> {
    /// Whether this is a third-party caveat (needs a discharge macaroon).
    pub fn is_third_party(&self) -> bool {
        self.verification_id.is_some()
    }
}

/// A macaroon (libmacaroons V2 model: location, identifier, caveats, 32-byte signature).
#[derive(Clone)]
pub struct Macaroon {
    pub(crate) buf: Vec<u8>,
    pub(crate) location: Option<Span>,
    pub(crate) identifier: Span,
    pub(crate) caveats: Vec<RawCaveat>,
    pub(crate) signature: [u8; 32],
}

impl Macaroon {
    /// Mint a macaroon signed with `root_key` (go-macaroon `New`: the key goes through
    /// `makeKey` first). An empty location is the same as none.
    pub fn new(root_key: &[u8], identifier: Vec<u8>, location: Option<Vec<u8>>) -> Macaroon {
        Macaroon::with_chain_key(&make_key(root_key), identifier, location.as_deref())
    }

    /// [`Macaroon::new`] with `makeKey(root_key)` already computed. `identifier` becomes the
    /// buffer the location and the caveats are appended to: a caller that gives it the
    /// capacity for them (minting) spares the reallocation.
    pub(crate) fn with_chain_key(
        k0: &[u8; 32],
        identifier: Vec<u8>,
        location: Option<&[u8]>,
    ) -> Macaroon {
        let signature = hmac(k0, &identifier);
        let mut buf = identifier;
        // Room for the location and a few caveats: minting appends them one by one.
        buf.reserve(location.map_or(0, <[u8]>::len) + 192);
        let identifier = Span {
            start: 0,
            end: buf.len(),
        };
        let location = location.filter(|l| !l.is_empty()).map(|l| {
            let start = buf.len();
            buf.extend_from_slice(l);
            Span {
                start,
                end: buf.len(),
            }
        });
        Macaroon {
            buf,
            location,
            identifier,
            caveats: Vec::new(),
            signature,
        }
    }

    /// Decode libmacaroons binary: V2 (first byte `0x02`) or V1 (hex-sized text packets).
    pub fn decode(bytes: &[u8]) -> Result<Macaroon, ParseError> {
        codec::decode(bytes.to_vec())
    }

    /// Decode base64 (standard or URL-safe alphabet, padded or not) of a binary macaroon.
    pub fn from_base64(s: &str) -> Result<Macaroon, ParseError> {
        let bytes = b64::decode_flexible(s.as_bytes()).ok_or(ParseError::Base64("macaroon"))?;
        codec::decode(bytes)
    }

    /// The V2 binary encoding (byte-identical with go-macaroon `MarshalBinary`).
    pub fn encode_v2(&self) -> Vec<u8> {
        codec::encode_v2(self)
    }

    /// Standard base64 with padding of [`encode_v2`](Self::encode_v2), as Aperture and lnget
    /// decode it.
    pub fn to_base64(&self) -> String {
        b64::encode_std(&self.encode_v2())
    }

    /// Append a first-party caveat, extending the signature chain. Anyone holding the macaroon
    /// may do this (attenuation); the root key is not needed. Note that decoders refuse more
    /// than [`MAX_CAVEATS`](super::MAX_CAVEATS) caveats.
    pub fn add_first_party_caveat(&mut self, caveat: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(caveat);
        self.caveats.push(RawCaveat {
            id: Span {
                start,
                end: self.buf.len(),
            },
            vid: None,
            location: None,
        });
        self.signature = hmac(&self.signature, caveat);
    }

    pub(crate) fn slice(&self, span: Span) -> &[u8] {
        self.buf.get(span.start..span.end).unwrap_or(&[])
    }

    /// The identifier.
    pub fn identifier(&self) -> &[u8] {
        self.slice(self.identifier)
    }

    /// The location, if any (never `Some` of an empty slice).
    pub fn location(&self) -> Option<&[u8]> {
        self.location.map(|s| self.slice(s))
    }

    /// Ids of the first-party caveats, in order.
    pub fn caveats(&self) -> impl Iterator<Item = &[u8]> {
        self.all_caveats()
            .filter(|c| !c.is_third_party())
            .map(|c| c.id)
    }

    /// Every caveat, first- and third-party, in order.
    pub fn all_caveats(&self) -> impl Iterator<Item = Caveat<'_>> {
        self.caveats.iter().map(|c| Caveat {
            id: self.slice(c.id),
            verification_id: c.vid.map(|s| self.slice(s)),
            location: c.location.map(|s| self.slice(s)),
        })
    }

    /// Whether any caveat is third-party (such a macaroon never passes L402 verification).
    pub fn has_third_party_caveats(&self) -> bool {
        self.caveats.iter().any(|c| c.vid.is_some())
    }

    /// The 32-byte signature (the final chain value).
    pub fn signature(&self) -> &[u8; 32] {
        &self.signature
    }

    /// Check the HMAC chain against `root_key`, in constant time. Returns `false` for macaroons
    /// with third-party caveats: they cannot be verified without discharge macaroons.
    pub fn verify_signature(&self, root_key: &[u8]) -> bool {
        self.verify_with_chain_key(&make_key(root_key))
    }

    /// [`verify_signature`](Self::verify_signature) with `makeKey(root_key)` precomputed.
    pub(crate) fn verify_with_chain_key(&self, k0: &[u8; 32]) -> bool {
        if self.has_third_party_caveats() {
            return false;
        }
        let mut sig = hmac(k0, self.identifier());
        for c in &self.caveats {
            sig = hmac(&sig, self.slice(c.id));
        }
        sig.ct_eq(&self.signature).into()
    }
}

impl PartialEq for Macaroon {
    /// Logical equality (fields and signature), independent of how the buffer was built.
    fn eq(&self, other: &Self) -> bool {
        self.signature == other.signature
            && self.identifier() == other.identifier()
            && self.location() == other.location()
            && self.all_caveats().eq(other.all_caveats())
    }
}

impl Eq for Macaroon {}

/// Caveat text for logs, with secret-bearing values (lnget's `preimage=`) redacted.
fn redacted(id: &[u8]) -> String {
    let text = String::from_utf8_lossy(id);
    match text.split_once('=') {
        Some((key, _)) if key.trim().eq_ignore_ascii_case("preimage") => {
            format!("{key}=<redacted>")
        }
        _ => text.into_owned(),
    }
}

impl std::fmt::Debug for Macaroon {
    /// Never prints the full signature (a bearer secret) nor preimage caveats.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let caveats: Vec<String> = self
            .all_caveats()
            .map(|c| {
                let id = redacted(c.id);
                if c.is_third_party() {
                    format!("third-party:{id}")
                } else {
                    id
                }
            })
            .collect();
        f.debug_struct("Macaroon")
            .field("location", &self.location().map(String::from_utf8_lossy))
            .field("identifier", &hex::encode(self.identifier()))
            .field("caveats", &caveats)
            .field(
                "signature",
                &format_args!("{}…", hex::encode(&self.signature[..4])),
            )
            .finish()
    }
}
