//! Paying x402 challenges: the Lightning variant with the Lightning wallet, `exact` EVM by
//! signing an EIP-3009 authorization with the buyer's key (never logged). x402 proofs are
//! single use, so nothing is cached.

use gate402_protocols::x402::evm::{self, Address};
use gate402_protocols::x402::{EvmPayment, X402Challenge, X402};
use gate402_protocols::{ClientChallenge, ParseError, PaymentProof, PaymentProtocol};
use gate402_rails::Payment;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::{lightning::Expected, Client, ClientError, PolicyError};
use crate::clock::now_unix;

/// The buyer's EVM key and spending cap. `Debug` shows the address only.
#[derive(Clone)]
pub struct EvmWallet {
    key: secp256k1::SecretKey,
    address: Address,
    /// Highest amount (token atomic units) paid for one request.
    pub max_amount: u128,
}

impl EvmWallet {
    /// A wallet from a hex private key (`0x` optional), paying at most `max_amount` per request.
    pub fn from_hex(text: &str, max_amount: u128) -> Result<EvmWallet, String> {
        let t = text.trim();
        let t = t.strip_prefix("0x").unwrap_or(t);
        let bytes = hex::decode(t).map_err(|_| "EVM key is not hex".to_string())?;
        let key = secp256k1::SecretKey::from_slice(&bytes)
            .map_err(|_| "EVM key is not a valid 32-byte secp256k1 key".to_string())?;
        Ok(EvmWallet {
            address: evm::address_of_key(&key),
            key,
            max_amount,
        })
    }

    /// The payer address.
    pub fn address(&self) -> Address {
        self.address
    }
}

impl std::fmt::Debug for EvmWallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EvmWallet({})", evm::checksum(&self.address))
    }
}

/// Every x402 entry of a 402 (v2 header first, else a v1 body), parsed or not.
pub(super) fn parse_all(
    headers: &HeaderMap,
    body: &[u8],
) -> Vec<Result<X402Challenge, ParseError>> {
    X402::new([])
        .parse_challenges(headers, body)
        .into_iter()
        .filter_map(|c| match c {
            Ok(ClientChallenge::X402(x)) => Some(Ok(x)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect()
}

/// The payment header for `c` with `proof`.
pub(super) fn header(
    c: &X402Challenge,
    proof: &PaymentProof,
) -> Result<(HeaderName, HeaderValue), ClientError> {
    X402::new([])
        .credential_header(&ClientChallenge::X402(c.clone()), proof)
        .map_err(|e| ClientError::Usage(e.to_string()))
}

impl Client {
    /// Pay a Lightning-variant entry (its invoice must ask exactly the stated amount).
    pub(super) async fn pay_x402_lightning(
        &self,
        c: &X402Challenge,
    ) -> Result<Payment, ClientError> {
        let bolt11 = c.invoice().ok_or(PolicyError::AmountlessInvoice)?;
        let offered: u64 = c
            .requirement
            .amount
            .parse()
            .map_err(|_| PolicyError::InvoiceMismatch("the offer's amount is not a number"))?;
        let expected = Expected {
            amount_msat: Some(offered),
            payment_hash: None,
        };
        self.pay_lightning(bolt11, expected).await
    }

    /// Sign an EIP-3009 authorization for an `exact` EVM entry (money moves when the server
    /// settles it).
    pub(super) fn sign_x402_evm(&self, c: &X402Challenge) -> Result<PaymentProof, ClientError> {
        let w = self
            .evm
            .as_ref()
            .ok_or_else(|| PolicyError::NoWallet("evm".into()))?;
        let nonce: [u8; 32] = rand::random();
        let (auth, domain) = c
            .authorization(w.address, nonce, now_unix())
            .map_err(|_| PolicyError::InvoiceMismatch("unusable x402 EVM requirement"))?;
        if c.requirement.amount.parse::<u128>() != Ok(auth.value) {
            return Err(PolicyError::InvoiceMismatch("authorization amount differs").into());
        }
        let signature = evm::sign(&w.key, &auth.digest(&domain.separator())).to_vec();
        Ok(PaymentProof::Evm(EvmPayment {
            authorization: auth,
            signature,
        }))
    }
}
