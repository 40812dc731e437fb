//! Paying x402 challenges: the Lightning variant with the Lightning wallet, `exact` EVM by
//! signing an EIP-3009 authorization with the buyer's key (never logged). x402 proofs are
//! single use, so nothing is cached.

use bytes::Bytes;
use gate402_protocols::x402::evm::{self, Address};
use gate402_protocols::x402::wire::decode_header;
use gate402_protocols::x402::{EvmPayment, EvmPrice, SettleResponse, X402Challenge, X402};
use gate402_protocols::{ClientChallenge, PaymentProof, PaymentProtocol, ProtocolId};
use http::{HeaderMap, Response};

use super::{
    lightning::Expected, Client, ClientError, ClientRequest, Event, PaidResponse, PaymentInfo,
    PolicyError,
};
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

/// x402 entries of a 402 (header first, then a v1 body).
pub(super) fn challenges(headers: &HeaderMap, body: &[u8]) -> Vec<X402Challenge> {
    X402::new([])
        .parse_challenges(headers, body)
        .into_iter()
        .filter_map(|c| match c {
            Ok(ClientChallenge::X402(x)) => Some(x),
            _ => None,
        })
        .collect()
}

impl Client {
    /// Pay the first payable x402 entry (Lightning variant first) and retry once.
    pub(super) async fn pay_x402(
        &self,
        req: &ClientRequest,
        offers: Vec<X402Challenge>,
    ) -> Result<PaidResponse, ClientError> {
        let ln = offers.iter().find(|c| c.is_lightning());
        let evm = offers
            .iter()
            .find(|c| !c.is_lightning() && self.evm.is_some());
        let (c, proof, info) = match (ln, evm) {
            (Some(c), _) => self.pay_x402_lightning(c).await?,
            (None, Some(c)) => self.sign_x402_evm(c)?,
            (None, None) => return Err(ClientError::NoPayableChallenge(None)),
        };
        let (name, value) = X402::new([])
            .credential_header(&ClientChallenge::X402(c.clone()), &proof)
            .map_err(|e| ClientError::Usage(e.to_string()))?;
        let response = self.execute(req, Some((name, value))).await?;
        let info = receipt_info(&response, info);
        self.emit(Event::Paid(info.clone()));
        Ok(PaidResponse {
            response,
            payment: Some(info),
            reused_credential: false,
        })
    }

    async fn pay_x402_lightning(
        &self,
        c: &X402Challenge,
    ) -> Result<(X402Challenge, PaymentProof, PaymentInfo), ClientError> {
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
        let payment = self.pay_lightning(bolt11, expected).await?;
        let info = PaymentInfo {
            protocol: ProtocolId::X402,
            amount_msat: payment.amount_msat,
            fee_msat: payment.fee_msat,
            payment_hash: hex::encode(payment.payment_hash),
        };
        Ok((c.clone(), PaymentProof::Preimage(payment.preimage), info))
    }

    fn sign_x402_evm(
        &self,
        c: &X402Challenge,
    ) -> Result<(X402Challenge, PaymentProof, PaymentInfo), ClientError> {
        let w = self
            .evm
            .as_ref()
            .ok_or(ClientError::NoPayableChallenge(None))?;
        let price = EvmPrice::from_requirement(&c.requirement)
            .map_err(|_| PolicyError::InvoiceMismatch("unusable x402 EVM requirement"))?;
        if price.amount > w.max_amount {
            return Err(PolicyError::OverMaxEvmAmount {
                amount: price.amount,
                max: w.max_amount,
            }
            .into());
        }
        let nonce: [u8; 32] = rand::random();
        let (auth, domain) = c
            .authorization(w.address, nonce, now_unix())
            .map_err(|_| PolicyError::InvoiceMismatch("unusable x402 EVM requirement"))?;
        let signature = evm::sign(&w.key, &auth.digest(&domain.separator())).to_vec();
        let info = PaymentInfo {
            protocol: ProtocolId::X402,
            amount_msat: 0,
            fee_msat: 0,
            payment_hash: String::new(),
        };
        let proof = PaymentProof::Evm(EvmPayment {
            authorization: auth,
            signature,
        });
        Ok((c.clone(), proof, info))
    }
}

/// Fill the payment reference from the receipt header (`PAYMENT-RESPONSE` or v1's), if any.
fn receipt_info(resp: &Response<Bytes>, mut info: PaymentInfo) -> PaymentInfo {
    let h = resp
        .headers()
        .get("payment-response")
        .or_else(|| resp.headers().get("x-payment-response"));
    if let Some(r) = h.and_then(|v| decode_header::<SettleResponse>(v.as_bytes(), "receipt").ok()) {
        if info.payment_hash.is_empty() {
            info.payment_hash = r.transaction;
        }
    }
    info
}
