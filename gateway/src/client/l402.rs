//! L402 on the buyer side: check an L402 offer against the policy, pay it, build the token.

use gate402_protocols::{l402, l402::L402Challenge, ProtocolId};
use gate402_rails::Payment;

use super::{lightning::Expected, CachedToken, Client, ClientError};
use crate::clock::now_unix;

impl Client {
    /// Check the offer against the policy, pay it, and build the token to cache.
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
