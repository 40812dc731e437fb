//! L402 on the buyer side: pay an L402 offer, build the token to cache, present a cached one.

use gate402_protocols::{l402, l402::L402Challenge, ProtocolId};
use gate402_rails::Payment;
use http::{HeaderName, HeaderValue};
use serde_json::{json, Value};

use super::{lightning::Expected, CachedToken, Client, ClientError};
use crate::clock::now_unix;

/// The `Authorization` header presenting a cached token.
pub(super) fn authorization(t: &CachedToken) -> Option<(HeaderName, HeaderValue)> {
    let v = HeaderValue::from_str(&format!("L402 {}:{}", t.macaroon, t.preimage)).ok()?;
    Some((http::header::AUTHORIZATION, v))
}

/// The receipt of an L402 payment: the token id of the macaroon bought.
pub(super) fn receipt(c: &L402Challenge) -> Option<Value> {
    let id = l402::Identifier::decode(c.macaroon.identifier()).ok()?;
    Some(json!({ "token_id": hex::encode(id.token_id) }))
}

impl Client {
    /// Pay the offer's invoice (bound to the macaroon's payment hash) and build the token.
    pub(super) async fn pay(
        &self,
        c: &L402Challenge,
    ) -> Result<(Payment, CachedToken), ClientError> {
        let expected = Expected {
            amount_msat: None,
            payment_hash: Some(c.payment_hash()),
        };
        let payment = self.pay_lightning(&c.invoice, expected).await?;
        let token = CachedToken {
            protocol: ProtocolId::L402.as_str().into(),
            macaroon: c.macaroon.to_base64(),
            preimage: hex::encode(payment.preimage),
            payment_hash: hex::encode(payment.payment_hash),
            amount_msat: payment.amount_msat,
            fee_msat: payment.fee_msat,
            created_at: now_unix(),
            expires_at: token_expiry(&c.macaroon),
        };
        Ok((payment, token))
    }
}

/// Earliest `<service>_valid_until` caveat of a macaroon: when the token stops working.
fn token_expiry(mac: &l402::Macaroon) -> Option<u64> {
    mac.caveats()
        .filter_map(|c| std::str::from_utf8(c).ok()?.split_once('='))
        .filter(|(k, _)| k.ends_with(l402::VALID_UNTIL_SUFFIX))
        .filter_map(|(_, v)| v.parse().ok())
        .min()
}
