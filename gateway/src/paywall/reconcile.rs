//! The background x402 reconciler: settlements left in the journal by requests that stopped
//! waiting (a receipt later than the confirmation timeout, a dropped client, a crashed or
//! restarted gateway) are judged by the chain without waiting for their buyers to retry.
//! Landed → a ledger row `unserved` (the buyer's retry of the same payment is served from
//! it, once); reverted or never able to land → released (the payment may be presented
//! again). Every gateway of a fleet runs it on the shared store: leases keep two gateways
//! off one settlement. Runs at start-up (first tick) and then every interval.

use std::{sync::Arc, time::Duration};

use gate402_rails::evm::{EvmError, Reconciled};

use super::Paywall;

/// Settlements judged per round at most (a full round is followed at once by another).
const BATCH: u32 = 100;

impl Paywall {
    /// One reconciliation round over at most `limit` settlements nobody waits for. Without
    /// a store (nothing durable to reconcile) or an EVM backend it does nothing.
    pub async fn reconcile_x402(&self, limit: u32) -> Result<Reconciled, EvmError> {
        match (
            self.store(),
            self.x402.as_ref().and_then(|x| x.evm.as_ref()),
        ) {
            (Some(_), Some(evm)) => evm.reconcile_due(limit).await,
            _ => Ok(Reconciled::default()),
        }
    }

    /// Run [`reconcile_x402`](Self::reconcile_x402) now and then every `every`, while the
    /// paywall lives. No-op without a store or an EVM backend.
    pub fn spawn_x402_reconciler(self: &Arc<Self>, every: Duration) {
        if self.store().is_none() || self.x402.as_ref().and_then(|x| x.evm.as_ref()).is_none() {
            return;
        }
        let paywall = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(p) = paywall.upgrade() else { return };
                loop {
                    match p.reconcile_x402(BATCH).await {
                        Ok(r) => {
                            if r.landed + r.released > 0 {
                                tracing::info!(
                                    landed = r.landed,
                                    released = r.released,
                                    pending = r.pending,
                                    "x402 settlements reconciled"
                                );
                            }
                            // Another round at once only after a full batch of decisions.
                            if r.pending > 0 || r.landed + r.released < BATCH {
                                break;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot reconcile x402 settlements");
                            break;
                        }
                    }
                }
            }
        });
    }
}
