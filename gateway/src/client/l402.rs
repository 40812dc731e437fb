//! L402 on the buyer side: check an L402 offer against the policy, pay it, build the token.

use gate402_protocols::{l402, l402::L402Challenge, ProtocolId};
use gate402_rails::{PayLimits, Payment};
use sha2::{Digest, Sha256};

use super::{CachedToken, Client, ClientError, Event, PolicyError};
use crate::clock::now_unix;

impl Client {
    /// Check the offer against the policy, pay it, and build the token to cache.
    pub(super) async fn pay(
        &self,
        c: &L402Challenge,
    ) -> Result<(Payment, CachedToken), ClientError> {
        let inv = self
            .wallet
            .decode(&c.invoice)
            .map_err(ClientError::Invoice)?;
        let amount = inv.amount_msat.ok_or(PolicyError::AmountlessInvoice)?;
        if amount > self.policy.max_cost_msat {
            return Err(PolicyError::OverMaxCost {
                amount_msat: amount,
                max_msat: self.policy.max_cost_msat,
            }
            .into());
        }
        if c.payment_hash() != Some(inv.payment_hash) {
            return Err(
                PolicyError::InvoiceMismatch("payment hash differs from the token's").into(),
            );
        }
        if inv.is_expired(now_unix()) {
            return Err(PolicyError::ExpiredInvoice.into());
        }
        self.emit(Event::Paying(amount));
        let limits = PayLimits {
            max_fee_msat: self.policy.max_fee_msat,
            timeout: self.policy.payment_timeout,
        };
        let payment = self
            .wallet
            .pay_invoice(&c.invoice, limits)
            .await
            .map_err(ClientError::Payment)?;
        if Sha256::digest(payment.preimage).as_slice() != inv.payment_hash {
            return Err(ClientError::BadPreimage);
        }
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
