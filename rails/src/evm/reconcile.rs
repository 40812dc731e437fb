//! Reconciling a pending settlement when its payment is presented again
//! ([`ExactEvmBackend::reconcile`](super::ExactEvmBackend::reconcile) of [`EvmRail`]): the
//! entry is taken out of [`PendingSettlements`](super::PendingSettlements) (one retry at a
//! time owns it) and judged by the chain — receipt success → served, receipt failure →
//! refused, no receipt but known to the node → put back and 503, unknown to the node (an
//! ambiguous send that never arrived) → dropped and refused.

use alloy::primitives::B256;
use alloy::providers::Provider;

use super::chain::{judge, settlement_key, EvmRail};
use super::{EvmError, EvmErrorKind, PaymentRef, Settled};

impl EvmRail {
    pub(super) async fn reconcile_pending(
        &self,
        p: &PaymentRef<'_>,
    ) -> Result<Option<Settled>, EvmError> {
        let key = settlement_key(p);
        let Some(entry) = self.pending.take(&key) else {
            return Ok(None);
        };
        let hash: Option<B256> = entry.transaction.parse().ok();
        let found = match hash {
            Some(h) => self.receipt(h).await,
            None => Ok(None),
        };
        match found {
            Ok(Some(r)) => {
                let verdict = judge(p, entry.transaction.clone(), &r);
                tracing::info!(transaction = %entry.transaction, success = verdict.is_ok(),
                    "x402 pending settlement reconciled");
                verdict.map(Some)
            }
            Ok(None) if hash.is_some() && !self.known(hash).await => {
                // An ambiguous send that never reached the node: nothing can land.
                tracing::warn!(transaction = %entry.transaction,
                    "x402 pending settlement unknown to the node; dropped");
                let mut e = EvmError::new(
                    EvmErrorKind::Rejected,
                    "settlement_not_found",
                    "the settlement transaction never reached the node",
                );
                e.transaction = Some(entry.transaction);
                Err(e)
            }
            Ok(None) => {
                let mut e = EvmError::new(
                    EvmErrorKind::Unavailable,
                    "settlement_pending",
                    "the settlement transaction is not confirmed yet",
                );
                e.transaction = Some(entry.transaction.clone());
                self.pending.insert(key, entry);
                Err(e)
            }
            Err(mut e) => {
                e.transaction = Some(entry.transaction.clone());
                self.pending.insert(key, entry);
                Err(e)
            }
        }
    }

    /// Whether the node knows transaction `hash` (pending or mined); `true` when unsure.
    async fn known(&self, hash: Option<B256>) -> bool {
        let Some(h) = hash else { return true };
        !matches!(self.provider.get_transaction_by_hash(h).await, Ok(None))
    }
}
