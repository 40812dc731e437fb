//! Calldata for the EIP-3009 token and signed EIP-1559 transactions: just enough ABI and RLP
//! for `transferWithAuthorization`, `authorizationState` and `balanceOf`.

use gate402_protocols::x402::evm::{self, word_addr, word_u128, Address, Authorization};
use secp256k1::SecretKey;

/// `transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)`.
pub fn transfer_with_authorization(a: &Authorization, sig: &[u8; 65]) -> Vec<u8> {
    let mut d = selector(
        "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)",
    )
    .to_vec();
    d.extend_from_slice(&word_addr(&a.from));
    d.extend_from_slice(&word_addr(&a.to));
    d.extend_from_slice(&word_u128(a.value));
    d.extend_from_slice(&word_u128(a.valid_after.into()));
    d.extend_from_slice(&word_u128(a.valid_before.into()));
    d.extend_from_slice(&a.nonce);
    let v = if sig[64] < 27 { sig[64] + 27 } else { sig[64] };
    d.extend_from_slice(&word_u128(v.into()));
    d.extend_from_slice(&sig[..32]);
    d.extend_from_slice(&sig[32..64]);
    d
}

/// `authorizationState(address,bytes32)`.
pub fn authorization_state(from: &Address, nonce: &[u8; 32]) -> Vec<u8> {
    let mut d = selector("authorizationState(address,bytes32)").to_vec();
    d.extend_from_slice(&word_addr(from));
    d.extend_from_slice(nonce);
    d
}

/// `balanceOf(address)`.
pub fn balance_of(who: &Address) -> Vec<u8> {
    let mut d = selector("balanceOf(address)").to_vec();
    d.extend_from_slice(&word_addr(who));
    d
}

fn selector(sig: &str) -> [u8; 4] {
    let h = evm::keccak256(sig.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// An EIP-1559 (type 2) transaction to sign. Paying an explicit priority fee (not a multiple
/// of `eth_gasPrice`) keeps node fee oracles, which learn from recent tips, from spiralling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eip1559Tx {
    /// Chain id.
    pub chain_id: u64,
    /// Sender nonce.
    pub nonce: u64,
    /// Tip per gas, wei.
    pub max_priority_fee_per_gas: u128,
    /// Fee cap per gas, wei (≥ base fee + tip).
    pub max_fee_per_gas: u128,
    /// Gas limit.
    pub gas: u64,
    /// Recipient contract.
    pub to: Address,
    /// Calldata.
    pub data: Vec<u8>,
}

impl Eip1559Tx {
    /// `0x02 ‖ rlp(signed fields)` (`eth_sendRawTransaction` input) and the transaction hash.
    pub fn sign(&self, key: &SecretKey) -> (Vec<u8>, [u8; 32]) {
        let mut items = vec![
            rlp_uint(self.chain_id.into()),
            rlp_uint(self.nonce.into()),
            rlp_uint(self.max_priority_fee_per_gas),
            rlp_uint(self.max_fee_per_gas),
            rlp_uint(self.gas.into()),
            rlp_bytes(&self.to),
            rlp_uint(0),
            rlp_bytes(&self.data),
            rlp_list(&[]),
        ];
        let mut unsigned = vec![0x02];
        unsigned.extend(rlp_list(&items));
        let sig = evm::sign(key, &evm::keccak256(&unsigned));
        items.push(rlp_uint(u128::from(sig[64] - 27)));
        items.push(rlp_bytes(trim(&sig[..32])));
        items.push(rlp_bytes(trim(&sig[32..64])));
        let mut signed = vec![0x02];
        signed.extend(rlp_list(&items));
        let hash = evm::keccak256(&signed);
        (signed, hash)
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

fn rlp_uint(v: u128) -> Vec<u8> {
    rlp_bytes(trim(&v.to_be_bytes()))
}

fn rlp_bytes(b: &[u8]) -> Vec<u8> {
    if b.len() == 1 && b[0] < 0x80 {
        return b.to_vec();
    }
    let mut out = rlp_len(b.len(), 0x80);
    out.extend_from_slice(b);
    out
}

fn rlp_list(items: &[Vec<u8>]) -> Vec<u8> {
    let payload: Vec<u8> = items.concat();
    let mut out = rlp_len(payload.len(), 0xc0);
    out.extend(payload);
    out
}

fn rlp_len(len: usize, offset: u8) -> Vec<u8> {
    if len < 56 {
        return vec![offset + len as u8];
    }
    let be = len.to_be_bytes();
    let l = trim(&be);
    let mut out = vec![offset + 55 + l.len() as u8];
    out.extend_from_slice(l);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rlp_basics() {
        assert_eq!(rlp_uint(0), vec![0x80]);
        assert_eq!(rlp_uint(15), vec![0x0f]);
        assert_eq!(rlp_uint(1024), vec![0x82, 0x04, 0x00]);
        assert_eq!(rlp_bytes(b"dog"), vec![0x83, b'd', b'o', b'g']);
        assert_eq!(rlp_list(&[]), vec![0xc0]);
        let long = vec![0u8; 60];
        assert_eq!(&rlp_bytes(&long)[..2], &[0xb8, 60]);
    }

    #[test]
    fn selectors_match_the_token_abi() {
        let s = selector("balanceOf(address)");
        assert_eq!(hex::encode(s), "70a08231");
        let t = selector("transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)");
        assert_eq!(hex::encode(t), "e3ee160e");
    }
}
