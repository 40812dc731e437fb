//! The 66-byte L402 macaroon identifier (Aperture `l402/identifier.go`).
//!
//! ```text
//! offset 0   2 bytes  version, u16 big-endian (only 0 is defined)
//! offset 2  32 bytes  payment hash
//! offset 34 32 bytes  token id
//! ```

use crate::ParseError;

/// Encoded size of an identifier.
pub const IDENTIFIER_LEN: usize = 66;

/// The only identifier version defined so far.
pub const LATEST_VERSION: u16 = 0;

/// A decoded L402 identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identifier {
    /// Format version (`0`).
    pub version: u16,
    /// SHA-256 of the preimage that pays for the token.
    pub payment_hash: [u8; 32],
    /// Token id; gate402 derives it from the payment hash, Aperture draws it at random.
    pub token_id: [u8; 32],
}

impl Identifier {
    /// A version-0 identifier.
    pub fn new(payment_hash: [u8; 32], token_id: [u8; 32]) -> Self {
        Identifier {
            version: LATEST_VERSION,
            payment_hash,
            token_id,
        }
    }

    /// The 66-byte wire form.
    pub fn encode(&self) -> [u8; IDENTIFIER_LEN] {
        let mut out = [0u8; IDENTIFIER_LEN];
        out[..2].copy_from_slice(&self.version.to_be_bytes());
        out[2..34].copy_from_slice(&self.payment_hash);
        out[34..].copy_from_slice(&self.token_id);
        out
    }

    /// Decode exactly 66 bytes. Any version is returned as-is: callers reject versions they do
    /// not know (the verifier answers [`VerifyError::UnknownVersion`](crate::VerifyError)).
    pub fn decode(bytes: &[u8]) -> Result<Identifier, ParseError> {
        let bytes: &[u8; IDENTIFIER_LEN] = bytes
            .try_into()
            .map_err(|_| ParseError::Identifier("identifier must be 66 bytes"))?;
        let mut payment_hash = [0u8; 32];
        let mut token_id = [0u8; 32];
        payment_hash.copy_from_slice(&bytes[2..34]);
        token_id.copy_from_slice(&bytes[34..]);
        Ok(Identifier {
            version: u16::from_be_bytes([bytes[0], bytes[1]]),
            payment_hash,
            token_id,
        })
    }

    /// The version field of an encoded identifier of any length (`None` if shorter than 2).
    pub fn peek_version(bytes: &[u8]) -> Option<u16> {
        match bytes {
            [a, b, ..] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_lengths() {
        let id = Identifier {
            version: 0x0102,
            payment_hash: [0xaa; 32],
            token_id: [0xbb; 32],
        };
        let enc = id.encode();
        assert_eq!(&enc[..3], &[0x01, 0x02, 0xaa]);
        assert_eq!(Identifier::decode(&enc), Ok(id));
        assert!(Identifier::decode(&enc[..65]).is_err());
        assert!(Identifier::decode(&[0u8; 67]).is_err());
        assert_eq!(Identifier::peek_version(&[0, 1]), Some(1));
        assert_eq!(Identifier::peek_version(&[7]), None);
    }
}
