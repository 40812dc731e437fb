//! Scheme `exact` on EVM (EIP-3009 `transferWithAuthorization`): the seller's price, the
//! requirement derived from it, payload decoding and local verification.
//!
//! Local verification follows the order of `@x402/evm` `verifyEIP3009`: scheme, network,
//! requirement match, signature (EIP-712 digest + ecrecover), recipient, time window, exact
//! value. What needs the chain (balance, nonce state, simulation) is the rail's job.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::evm::{self, Address, Authorization, Domain};
use super::wire::{AuthorizationJson, ExactEvmPayloadJson, PaymentRequirements};
use super::SCHEME_EXACT;
use crate::{ParseError, VerifyError};

/// `validBefore` must leave at least this many seconds (reference facilitator: 6).
pub const VALID_BEFORE_MARGIN_SECS: u64 = 6;

/// A seller's EVM price for one route: the data of one `accepts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmPrice {
    /// Chain id (`eip155:<chain_id>`).
    pub chain_id: u64,
    /// EIP-3009 token contract.
    pub asset: Address,
    /// Payee.
    pub pay_to: Address,
    /// Exact amount in token atomic units.
    pub amount: u128,
    /// Longest authorization window offered, seconds.
    pub max_timeout_secs: u64,
    /// EIP-712 domain name of the token (e.g. `USD Coin`).
    pub name: String,
    /// EIP-712 domain version of the token (e.g. `2`).
    pub version: String,
}

impl EvmPrice {
    /// CAIP-2 network id.
    pub fn network(&self) -> String {
        format!("eip155:{}", self.chain_id)
    }

    /// The token's EIP-712 domain.
    pub fn domain(&self) -> Domain {
        Domain {
            name: self.name.clone(),
            version: self.version.clone(),
            chain_id: self.chain_id,
            verifying_contract: self.asset,
        }
    }

    /// The `accepts` entry, always rendered identically (checksummed addresses, decimal amount).
    pub fn requirement(&self) -> PaymentRequirements {
        let mut extra = Map::new();
        extra.insert("name".into(), Value::String(self.name.clone()));
        extra.insert("version".into(), Value::String(self.version.clone()));
        PaymentRequirements {
            scheme: SCHEME_EXACT.into(),
            network: self.network(),
            amount: self.amount.to_string(),
            asset: evm::checksum(&self.asset),
            pay_to: evm::checksum(&self.pay_to),
            max_timeout_seconds: self.max_timeout_secs,
            extra,
        }
    }

    /// Read a price back from a requirement (facilitator requests, client side).
    pub fn from_requirement(req: &PaymentRequirements) -> Result<EvmPrice, VerifyError> {
        if req.scheme != SCHEME_EXACT {
            return Err(VerifyError::Mismatch("unsupported_scheme"));
        }
        let chain_id =
            parse_network(&req.network).ok_or(VerifyError::Mismatch("invalid_network"))?;
        let (Some(name), Some(version)) = (req.extra_str("name"), req.extra_str("version")) else {
            return Err(VerifyError::Mismatch("missing_eip712_domain"));
        };
        Ok(EvmPrice {
            chain_id,
            asset: evm::parse_address(&req.asset).ok_or(VerifyError::Mismatch("asset_mismatch"))?,
            pay_to: evm::parse_address(&req.pay_to)
                .ok_or(VerifyError::Mismatch("pay_to_mismatch"))?,
            amount: parse_dec(&req.amount).ok_or(VerifyError::Mismatch("amount_mismatch"))?,
            max_timeout_secs: req.max_timeout_seconds,
            name: name.into(),
            version: version.into(),
        })
    }

    /// Does a client's `accepted` echo (v2) or `scheme`+`network` (v1) designate this price?
    /// Every field is compared by value (addresses case-insensitively, amounts numerically);
    /// `extra` must contain our `name` and `version` (clients may add keys).
    pub fn check_accepted(&self, accepted: &PaymentRequirements) -> Result<(), VerifyError> {
        if accepted.scheme != SCHEME_EXACT {
            return Err(VerifyError::Mismatch("scheme_mismatch"));
        }
        if parse_network(&accepted.network) != Some(self.chain_id) {
            return Err(VerifyError::Mismatch("network_mismatch"));
        }
        if evm::parse_address(&accepted.asset) != Some(self.asset) {
            return Err(VerifyError::Mismatch("asset_mismatch"));
        }
        if evm::parse_address(&accepted.pay_to) != Some(self.pay_to) {
            return Err(VerifyError::Mismatch("pay_to_mismatch"));
        }
        if parse_dec(&accepted.amount) != Some(self.amount) {
            return Err(VerifyError::Mismatch("amount_mismatch"));
        }
        if accepted.max_timeout_seconds != self.max_timeout_secs
            || accepted.extra_str("name") != Some(self.name.as_str())
            || accepted.extra_str("version") != Some(self.version.as_str())
        {
            return Err(VerifyError::Mismatch("accepted_requirements_mismatch"));
        }
        Ok(())
    }

    /// Verify a signed authorization against this price at `now` (Unix seconds).
    pub fn verify(&self, p: &EvmPayment, now: u64) -> Result<(), VerifyError> {
        let digest = p.authorization.digest(&self.domain().separator());
        self.verify_with_digest(p, &digest, now)
    }

    /// [`verify`](Self::verify) with a precomputed domain separator digest (hot path).
    pub fn verify_with_digest(
        &self,
        p: &EvmPayment,
        digest: &[u8; 32],
        now: u64,
    ) -> Result<(), VerifyError> {
        let signer = evm::recover(digest, &p.signature).map_err(|_| VerifyError::BadSignature)?;
        if signer != p.authorization.from {
            return Err(VerifyError::BadSignature);
        }
        let a = &p.authorization;
        if a.to != self.pay_to {
            return Err(VerifyError::Mismatch("pay_to_mismatch"));
        }
        if a.valid_before < now.saturating_add(VALID_BEFORE_MARGIN_SECS) {
            return Err(VerifyError::Expired);
        }
        if a.valid_after > now {
            return Err(VerifyError::NotYetValid);
        }
        if a.value != self.amount {
            return Err(VerifyError::Mismatch("amount_mismatch"));
        }
        Ok(())
    }
}

/// A decoded `exact` EVM payment: the authorization and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmPayment {
    /// The signed message.
    pub authorization: Authorization,
    /// `r ‖ s ‖ v` (65 bytes for EOAs).
    pub signature: Vec<u8>,
}

impl EvmPayment {
    /// Decode the `payload` member of an `exact` EVM PaymentPayload.
    pub fn from_payload(payload: &Value) -> Result<EvmPayment, ParseError> {
        let p = ExactEvmPayloadJson::deserialize(payload)
            .map_err(|_| ParseError::Json("exact EVM payload"))?;
        let a = &p.authorization;
        let bad = |f: &'static str| ParseError::Syntax(f);
        let authorization = Authorization {
            from: evm::parse_address(&a.from).ok_or(bad("authorization.from"))?,
            to: evm::parse_address(&a.to).ok_or(bad("authorization.to"))?,
            value: parse_dec(&a.value).ok_or(bad("authorization.value"))?,
            valid_after: parse_dec_u64(&a.valid_after).ok_or(bad("authorization.validAfter"))?,
            valid_before: parse_dec_u64(&a.valid_before).ok_or(bad("authorization.validBefore"))?,
            nonce: evm::parse_b32(&a.nonce).ok_or(bad("authorization.nonce"))?,
        };
        let sig = p
            .signature
            .strip_prefix("0x")
            .and_then(|h| hex::decode(h).ok())
            .filter(|s| !s.is_empty() && s.len() <= 4096)
            .ok_or(ParseError::Hex("signature"))?;
        Ok(EvmPayment {
            authorization,
            signature: sig,
        })
    }

    /// The `payload` JSON for this payment.
    pub fn to_payload(&self) -> Value {
        let a = &self.authorization;
        let json = ExactEvmPayloadJson {
            signature: format!("0x{}", hex::encode(&self.signature)),
            authorization: AuthorizationJson {
                from: evm::checksum(&a.from),
                to: evm::checksum(&a.to),
                value: a.value.to_string(),
                valid_after: a.valid_after.to_string(),
                valid_before: a.valid_before.to_string(),
                nonce: format!("0x{}", hex::encode(a.nonce)),
            },
        };
        serde_json::to_value(json).unwrap_or(Value::Null)
    }

    /// Key to consume once: chain, token, payer and nonce (the token's own replay key).
    pub fn single_use_key(&self, chain_id: u64, asset: &Address) -> Vec<u8> {
        let mut k = Vec::with_capacity(9 + 8 + 20 + 20 + 32);
        k.extend_from_slice(b"x402:evm:");
        k.extend_from_slice(&chain_id.to_be_bytes());
        k.extend_from_slice(asset);
        k.extend_from_slice(&self.authorization.from);
        k.extend_from_slice(&self.authorization.nonce);
        k
    }
}

/// Chain id of a CAIP-2 `eip155:<id>` network, or of a v1 network name the reference SDK knows.
pub fn parse_network(network: &str) -> Option<u64> {
    if let Some(id) = network.strip_prefix("eip155:") {
        return parse_dec_u64(id);
    }
    V1_NETWORKS
        .iter()
        .find(|(n, _)| *n == network)
        .map(|(_, id)| *id)
}

/// The v1 network name of a chain id, where the reference SDK has one.
pub fn v1_network_name(chain_id: u64) -> Option<&'static str> {
    V1_NETWORKS
        .iter()
        .find(|(_, id)| *id == chain_id)
        .map(|(n, _)| *n)
}

const V1_NETWORKS: [(&str, u64); 10] = [
    ("base", 8453),
    ("base-sepolia", 84532),
    ("avalanche", 43114),
    ("avalanche-fuji", 43113),
    ("polygon", 137),
    ("polygon-amoy", 80002),
    ("arbitrum", 42161),
    ("arbitrum-sepolia", 421614),
    ("ethereum", 1),
    ("sepolia", 11155111),
];

/// Strict unsigned decimal (no sign, no leading `+`, no whitespace, ≤ 39 digits).
pub fn parse_dec(s: &str) -> Option<u128> {
    if s.is_empty() || s.len() > 39 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_dec_u64(s: &str) -> Option<u64> {
    parse_dec(s).and_then(|v| u64::try_from(v).ok())
}
