//! Refunds of an MPP session's unspent balance to the buyer's return invoice.
//!
//! The lightning-session draft expects wallets to give an **amountless** return invoice at
//! `open` (the refund is unknown until close); the gateway pays it for exactly the refund
//! with [`LightningRail::pay_amountless_invoice`](gate402_rails::LightningRail). A return
//! invoice that carries an amount is accepted only for exactly the refund (gate402 extension,
//! e.g. sent with `close`); at `open` one asking for more than the deposit is refused, since
//! it could never be paid. Checks run *before* a deposit is consumed or a session is closed,
//! so a refused invoice costs the buyer nothing: it retries with a usable one.

use gate402_protocols::VerifyError;
use gate402_rails::{LightningRail, PayLimits};

use super::Paywall;
use crate::store::RefundStatus;

/// Why a return invoice cannot carry a refund of `refund_sats`, if it cannot. `exact`: an
/// amount in the invoice must equal the refund (at close), else it must not exceed it (at
/// open, where the refund is at most the deposit).
pub(super) fn check_return_invoice(
    rail: &dyn LightningRail,
    bolt11: &str,
    refund_sats: u64,
    exact: bool,
    now: u64,
) -> Result<(), VerifyError> {
    let d = rail
        .decode(bolt11)
        .map_err(|_| VerifyError::InvalidReturnInvoice("not a valid BOLT11 invoice"))?;
    if d.is_expired(now) {
        return Err(VerifyError::InvalidReturnInvoice("expired"));
    }
    let refund_msat = refund_sats.saturating_mul(1000);
    match d.amount_msat {
        None => Ok(()),
        Some(a) if a > refund_msat => Err(VerifyError::InvalidReturnInvoice(
            "amount larger than the balance",
        )),
        Some(a) if exact && a != refund_msat => Err(VerifyError::InvalidReturnInvoice(
            "amount differs from the refund",
        )),
        Some(_) => Ok(()),
    }
}

impl Paywall {
    /// Pay `refund` sat back to `invoice`: an amountless invoice for exactly the refund, an
    /// invoice with an amount only if it is the refund. Called once per session, by whoever
    /// closed it; a failure is logged (the session stays closed, `refundStatus` failed).
    pub(super) async fn pay_refund(
        &self,
        id: &str,
        refund: u64,
        invoice: Option<&str>,
    ) -> RefundStatus {
        let inv = match (refund, invoice) {
            (0, _) => return RefundStatus::Skipped,
            (_, None) => {
                tracing::warn!(session = %id, refund, "no return invoice: refund not paid");
                return RefundStatus::Failed;
            }
            (_, Some(inv)) => inv,
        };
        let msat = refund.saturating_mul(1000);
        let paid = match self.lightning.decode(inv).map(|d| d.amount_msat) {
            Ok(None) => {
                self.lightning
                    .pay_amountless_invoice(inv, msat, PayLimits::default())
                    .await
            }
            Ok(Some(a)) if a == msat => self.lightning.pay_invoice(inv, PayLimits::default()).await,
            _ => {
                tracing::warn!(session = %id, refund, "return invoice cannot carry the refund");
                return RefundStatus::Failed;
            }
        };
        match paid {
            Ok(_) => RefundStatus::Succeeded,
            Err(e) => {
                tracing::warn!(session = %id, refund, error = %e, "session refund failed");
                RefundStatus::Failed
            }
        }
    }
}
