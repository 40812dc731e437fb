//! HMAC-SHA256 helpers and the stateless key schedule of the L402 verifier.
//!
//! Macaroon keys follow go-macaroon `makeKey` (spec §5):
//! `k0 = HMAC-SHA256(key = "macaroons-key-generator", msg = root_key)`.
//!
//! gate402 keeps no per-token secret store. From one master secret it derives, with
//! domain-separated HMACs:
//!
//! ```text
//! token_id = HMAC(master, "gate402/l402/token-id" ‖ payment_hash)   (deterministic mint)
//! root_key = HMAC(master, "gate402/l402/root-key" ‖ token_id)
//! ```
//!
//! The keyed HMAC states (master key absorbed, label absorbed) are computed once in
//! [`KeySchedule::new`] and cloned per use, so a derivation costs two SHA-256 compressions.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The fixed key of go-macaroon's `makeKey`.
pub(crate) const KEY_GENERATOR: &[u8] = b"macaroons-key-generator";

/// Domain label for token ids.
const TOKEN_ID_LABEL: &[u8] = b"gate402/l402/token-id";

/// Domain label for root keys.
const ROOT_KEY_LABEL: &[u8] = b"gate402/l402/root-key";

/// A keyed HMAC state; HMAC accepts keys of any length, so this cannot fail.
fn keyed(key: &[u8]) -> HmacSha256 {
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// One-shot `HMAC-SHA256(key, msg)`.
pub(crate) fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = keyed(key);
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// `HMAC(state's key, absorbed ‖ msg)` from a precomputed state.
fn hmac_from(state: &HmacSha256, msg: &[u8]) -> [u8; 32] {
    let mut mac = state.clone();
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// go-macaroon `makeKey`: the chain key derived from a root key.
pub(crate) fn make_key(root_key: &[u8]) -> [u8; 32] {
    hmac(KEY_GENERATOR, root_key)
}

/// Precomputed HMAC states for the verifier's stateless key schedule.
#[derive(Clone)]
pub(crate) struct KeySchedule {
    token_id: HmacSha256,
    root_key: HmacSha256,
    key_gen: HmacSha256,
}

impl KeySchedule {
    /// Absorb the master secret and the domain labels once.
    pub(crate) fn new(master: &[u8]) -> Self {
        let master_state = keyed(master);
        let mut token_id = master_state.clone();
        token_id.update(TOKEN_ID_LABEL);
        let mut root_key = master_state;
        root_key.update(ROOT_KEY_LABEL);
        KeySchedule {
            token_id,
            root_key,
            key_gen: keyed(KEY_GENERATOR),
        }
    }

    /// Token id minted for a payment hash.
    pub(crate) fn token_id(&self, payment_hash: &[u8; 32]) -> [u8; 32] {
        hmac_from(&self.token_id, payment_hash)
    }

    /// Root key of a token.
    pub(crate) fn root_key(&self, token_id: &[u8; 32]) -> [u8; 32] {
        hmac_from(&self.root_key, token_id)
    }

    /// `makeKey(root_key)` from the precomputed generator state.
    pub(crate) fn chain_key(&self, root_key: &[u8; 32]) -> [u8; 32] {
        hmac_from(&self.key_gen, root_key)
    }
}

impl std::fmt::Debug for KeySchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySchedule { <secret> }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precomputed_states_equal_one_shot_hmac() {
        let ks = KeySchedule::new(&[7u8; 32]);
        let mut msg = TOKEN_ID_LABEL.to_vec();
        msg.extend_from_slice(&[1u8; 32]);
        assert_eq!(ks.token_id(&[1u8; 32]), hmac(&[7u8; 32], &msg));
        let mut msg = ROOT_KEY_LABEL.to_vec();
        msg.extend_from_slice(&[2u8; 32]);
        assert_eq!(ks.root_key(&[2u8; 32]), hmac(&[7u8; 32], &msg));
        assert_eq!(ks.chain_key(&[3u8; 32]), make_key(&[3u8; 32]));
    }

    #[test]
    fn make_key_matches_vector_a() {
        assert_eq!(
            hex::encode(make_key(&[1u8; 32])),
            "fedd06a35dcece38f6d9e6695ba37f1a277921f5660bebf87d3ddbdb0a22feb1"
        );
    }
}
