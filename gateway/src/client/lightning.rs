//! Paying a Lightning invoice found in any 402 (L402, MPP charge, x402 Lightning variant):
//! the one place where an invoice is checked against the offer and the policy before money
//! moves, and the preimage checked after.

use gate402_rails::{PayLimits, Payment, PaymentStatus, RailError, RailErrorKind};
use sha2::{Digest, Sha256};

use super::{Client, ClientError, Event, PolicyError};
use crate::clock::now_unix;

/// What the offer says the invoice must be.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Expected {
    /// The amount the offer states, millisatoshis (`None`: the offer states none).
    pub amount_msat: Option<u64>,
    /// `Some(h)`: the invoice must pay payment hash `h` (`Some(None)`: the offer is bound to a
    /// hash we could not read — refuse). `None`: nothing to bind.
    pub payment_hash: Option<Option<[u8; 32]>>,
}

/// Added to the payment timeout for the client's own deadline on the wallet call.
const WALLET_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

impl Client {
    /// A payment whose outcome is unknown: track it (`TrackPaymentV2`) for at most twice the
    /// payment timeout. Settled late → used (never paid twice); final failure → nothing moved
    /// ([`ClientError::TrackedFailure`], failover may follow); still in flight or untrackable
    /// → the outcome stays unknown (an error that never fails over).
    async fn follow(
        &self,
        hash: &[u8; 32],
        cause: Option<RailError>,
    ) -> Result<Payment, ClientError> {
        let wait = self.limits.payment_timeout.saturating_mul(2);
        let cause = cause.unwrap_or_else(|| {
            RailError::new(RailErrorKind::Timeout, "the wallet did not answer in time")
        });
        tracing::warn!(error = %cause, "payment outcome unknown: tracking it before anything else");
        match self.wallet.track_payment(hash, wait).await {
            Ok(PaymentStatus::Succeeded(p)) => {
                tracing::info!("the tracked payment succeeded late: using it");
                Ok(p)
            }
            Ok(PaymentStatus::Failed(e)) => Err(ClientError::TrackedFailure(e)),
            Ok(PaymentStatus::InFlight) => Err(ClientError::Payment(RailError::new(
                RailErrorKind::Timeout,
                format!(
                    "payment still in flight after tracking it for {} s: outcome unknown ({})",
                    wait.as_secs(),
                    cause.message
                ),
            ))),
            Err(e) => Err(ClientError::Payment(RailError::new(
                cause.kind,
                format!("{}; tracking failed: {}", cause.message, e.message),
            ))),
        }
    }

    /// Refuse before paying if the invoice is amountless, disagrees with the offer, is above
    /// the max cost or expired; then pay it and check that the preimage hashes to the
    /// invoice's payment hash.
    pub(super) async fn pay_lightning(
        &self,
        bolt11: &str,
        expected: Expected,
    ) -> Result<Payment, ClientError> {
        let inv = self
            .wallet
            .decode(bolt11)
            .map_err(|e| PolicyError::InvalidInvoice(e.to_string()))?;
        let amount = inv.amount_msat.ok_or(PolicyError::AmountlessInvoice)?;
        if let Some(offered) = expected.amount_msat.filter(|a| *a != amount) {
            return Err(PolicyError::AmountMismatch {
                offered_msat: offered,
                invoice_msat: amount,
            }
            .into());
        }
        if amount > self.limits.max_cost_msat {
            return Err(PolicyError::OverMaxCost {
                amount_msat: amount,
                max_msat: self.limits.max_cost_msat,
            }
            .into());
        }
        if expected
            .payment_hash
            .is_some_and(|h| h != Some(inv.payment_hash))
        {
            return Err(PolicyError::InvoiceMismatch("payment hash differs from the offer").into());
        }
        if inv.is_expired(now_unix()) {
            return Err(PolicyError::ExpiredInvoice.into());
        }
        self.emit(Event::Paying(amount));
        let limits = PayLimits {
            max_fee_msat: self.limits.max_fee_msat,
            timeout: self.limits.payment_timeout,
        };
        // Our own deadline too (a wallet that never answers), a little after the wallet's.
        let deadline = limits.timeout + WALLET_GRACE;
        let payment =
            match tokio::time::timeout(deadline, self.wallet.pay_invoice(bolt11, limits)).await {
                Ok(Ok(p)) => p,
                Ok(Err(e)) if ClientError::Payment(e.clone()).nothing_moved() => {
                    return Err(ClientError::Payment(e))
                }
                Ok(Err(e)) => self.follow(&inv.payment_hash, Some(e)).await?,
                Err(_) => self.follow(&inv.payment_hash, None).await?,
            };
        let hash: [u8; 32] = Sha256::digest(payment.preimage).into();
        if hash != inv.payment_hash {
            return Err(ClientError::BadPreimage);
        }
        Ok(payment)
    }
}
