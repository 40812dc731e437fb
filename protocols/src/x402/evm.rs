//! EVM primitives for x402 `exact` (EIP-3009): keccak-256, addresses (EIP-55), the EIP-712
//! digest of `TransferWithAuthorization`, and ECDSA signing/recovery with libsecp256k1.
//!
//! Pure computation (no I/O, no clock, no randomness: the nonce is passed in). Recovery uses
//! the global `secp256k1` context (creating one per call costs ≈ 20 µs).

use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, SecretKey, SECP256K1};
use sha3::{Digest, Keccak256};

/// A 20-byte EVM address.
pub type Address = [u8; 20];

/// `keccak256("TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)")`.
pub const TRANSFER_WITH_AUTHORIZATION_TYPEHASH: [u8; 32] =
    hex32("7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267");

/// `keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")`.
pub const EIP712_DOMAIN_TYPEHASH: [u8; 32] =
    hex32("8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f");

/// secp256k1 group order / 2: signatures with a larger `s` are malleable and refused (as
/// FiatToken's `ECRecover` and OpenZeppelin do).
const HALF_ORDER: [u8; 32] =
    hex32("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0");

const fn hex32(s: &str) -> [u8; 32] {
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nib(b[2 * i]) << 4) | nib(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nib(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not lowercase hex"),
    }
}

/// Keccak-256.
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

/// Parse a `0x`-prefixed 40-hex-digit address (any case; the EIP-55 checksum is not enforced).
pub fn parse_address(s: &str) -> Option<Address> {
    let h = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    let mut out = [0u8; 20];
    hex::decode_to_slice(h, &mut out).ok()?;
    Some(out)
}

/// Parse a `0x`-prefixed 64-hex-digit word (e.g. an EIP-3009 nonce).
pub fn parse_b32(s: &str) -> Option<[u8; 32]> {
    let h = s.strip_prefix("0x")?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(h, &mut out).ok()?;
    Some(out)
}

/// EIP-55 mixed-case checksum form of an address.
pub fn checksum(addr: &Address) -> String {
    let lower = hex::encode(addr);
    let hash = keccak256(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
        out.push(if c.is_ascii_alphabetic() && nibble >= 8 {
            c.to_ascii_uppercase()
        } else {
            c
        });
    }
    out
}

/// The EIP-712 domain of an EIP-3009 token (`name`, `version`, `chainId`, `verifyingContract`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// EIP-712 `name` (x402 `extra.name`, e.g. `USD Coin`).
    pub name: String,
    /// EIP-712 `version` (x402 `extra.version`, e.g. `2`).
    pub version: String,
    /// Chain id (from the CAIP-2 network `eip155:<id>`).
    pub chain_id: u64,
    /// The token contract (x402 `asset`).
    pub verifying_contract: Address,
}

impl Domain {
    /// `hashStruct(EIP712Domain)`, equal to the token's `DOMAIN_SEPARATOR()`.
    pub fn separator(&self) -> [u8; 32] {
        let mut buf = [0u8; 160];
        buf[..32].copy_from_slice(&EIP712_DOMAIN_TYPEHASH);
        buf[32..64].copy_from_slice(&keccak256(self.name.as_bytes()));
        buf[64..96].copy_from_slice(&keccak256(self.version.as_bytes()));
        buf[96..128].copy_from_slice(&word_u128(self.chain_id.into()));
        buf[128..160].copy_from_slice(&word_addr(&self.verifying_contract));
        keccak256(&buf)
    }
}

/// An EIP-3009 `TransferWithAuthorization` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Authorization {
    /// Payer (the signer).
    pub from: Address,
    /// Payee.
    pub to: Address,
    /// Amount in the token's atomic units.
    pub value: u128,
    /// Unix seconds; valid strictly after.
    pub valid_after: u64,
    /// Unix seconds; valid strictly before.
    pub valid_before: u64,
    /// Single-use nonce chosen by the payer.
    pub nonce: [u8; 32],
}

impl Authorization {
    /// `hashStruct(TransferWithAuthorization)`.
    pub fn struct_hash(&self) -> [u8; 32] {
        let mut buf = [0u8; 224];
        buf[..32].copy_from_slice(&TRANSFER_WITH_AUTHORIZATION_TYPEHASH);
        buf[32..64].copy_from_slice(&word_addr(&self.from));
        buf[64..96].copy_from_slice(&word_addr(&self.to));
        buf[96..128].copy_from_slice(&word_u128(self.value));
        buf[128..160].copy_from_slice(&word_u128(self.valid_after.into()));
        buf[160..192].copy_from_slice(&word_u128(self.valid_before.into()));
        buf[192..224].copy_from_slice(&self.nonce);
        keccak256(&buf)
    }

    /// The EIP-712 digest `keccak256(0x1901 ‖ domainSeparator ‖ structHash)`.
    pub fn digest(&self, domain_separator: &[u8; 32]) -> [u8; 32] {
        let mut buf = [0u8; 66];
        buf[0] = 0x19;
        buf[1] = 0x01;
        buf[2..34].copy_from_slice(domain_separator);
        buf[34..66].copy_from_slice(&self.struct_hash());
        keccak256(&buf)
    }
}

/// A 32-byte ABI word holding `v` (big-endian, left-padded).
pub fn word_u128(v: u128) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[16..].copy_from_slice(&v.to_be_bytes());
    w
}

/// A 32-byte ABI word holding an address (left-padded).
pub fn word_addr(a: &Address) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(a);
    w
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// Not 65 bytes (smart-wallet signatures are not supported).
    Length,
    /// `v` is not 27/28 (or 0/1).
    RecoveryId,
    /// `s` is in the upper half of the curve order (malleable form).
    HighS,
    /// `r`/`s` out of range or no key recovers.
    Invalid,
}

/// Recover the signer of a 65-byte `r ‖ s ‖ v` signature over `digest`.
pub fn recover(digest: &[u8; 32], sig: &[u8]) -> Result<Address, SignatureError> {
    let sig: &[u8; 65] = sig.try_into().map_err(|_| SignatureError::Length)?;
    let v = match sig[64] {
        27 | 28 => sig[64] - 27,
        0 | 1 => sig[64],
        _ => return Err(SignatureError::RecoveryId),
    };
    if sig[32..64] > HALF_ORDER[..] {
        return Err(SignatureError::HighS);
    }
    let id = RecoveryId::from_i32(i32::from(v)).map_err(|_| SignatureError::RecoveryId)?;
    let compact: &[u8; 64] = sig[..64].try_into().map_err(|_| SignatureError::Length)?;
    let rs =
        RecoverableSignature::from_compact(compact, id).map_err(|_| SignatureError::Invalid)?;
    let pk = SECP256K1
        .recover_ecdsa(&Message::from_digest(*digest), &rs)
        .map_err(|_| SignatureError::Invalid)?;
    Ok(address_of(&pk))
}

/// Sign `digest`, returning `r ‖ s ‖ v` with `v ∈ {27, 28}` (what `eth_signTypedData` returns).
pub fn sign(key: &SecretKey, digest: &[u8; 32]) -> [u8; 65] {
    let (id, rs) = SECP256K1
        .sign_ecdsa_recoverable(&Message::from_digest(*digest), key)
        .serialize_compact();
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&rs);
    // RecoveryId is 0..=3; only 0/1 occur for secp256k1 keys in practice.
    out[64] = 27 + (id.to_i32() as u8 & 1);
    out
}

/// The address of a public key: the last 20 bytes of `keccak256(uncompressed[1..])`.
pub fn address_of(pk: &PublicKey) -> Address {
    let h = keccak256(&pk.serialize_uncompressed()[1..]);
    let mut a = [0u8; 20];
    a.copy_from_slice(&h[12..]);
    a
}

/// The address controlled by a secret key.
pub fn address_of_key(key: &SecretKey) -> Address {
    address_of(&key.public_key(SECP256K1))
}
