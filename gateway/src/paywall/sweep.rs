//! The MPP session idle sweeper: a session unused for longer than the idle timeout advertised
//! when it was opened is closed by the gateway and its unspent balance refunded to the return
//! invoice registered at open.
//!
//! Each tick claims at most a bounded number of sessions with one conditional `UPDATE`
//! ([`SessionStore::claim_idle`](crate::store::SessionStore::claim_idle)), so when several
//! gateways share a store each idle session is closed — and refunded — by exactly one of them.
//! The clock is a parameter ([`Paywall::sweep_idle_sessions`]), so tests inject it.

use std::{sync::Arc, time::Duration};

use crate::{clock::now_unix, store::StoreError};

use super::Paywall;

/// Sessions claimed per tick at most.
pub const SWEEP_BATCH: u32 = 100;

impl Paywall {
    /// Close and refund at most `limit` sessions idle at `now`; returns how many were closed.
    pub async fn sweep_idle_sessions(&self, now: u64, limit: u32) -> Result<usize, StoreError> {
        let Some(store) = &self.sessions else {
            return Ok(0);
        };
        let idle = store.claim_idle(now, limit).await?;
        for rec in &idle {
            let refund = rec.balance_sats();
            let status = self
                .pay_refund(&rec.id, refund, rec.return_invoice.as_deref())
                .await;
            tracing::info!(
                session = %rec.id,
                idle_secs = now.saturating_sub(rec.last_used),
                refund,
                status = status.as_str(),
                "idle session closed"
            );
        }
        Ok(idle.len())
    }

    /// Run [`sweep_idle_sessions`](Self::sweep_idle_sessions) every `every` (a full batch is
    /// followed at once by another tick). No-op without sessions.
    pub fn spawn_session_sweeper(self: &Arc<Self>, every: Duration) {
        if self.sessions.is_none() {
            return;
        }
        let paywall = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(p) = paywall.upgrade() else { return };
                loop {
                    match p.sweep_idle_sessions(now_unix(), SWEEP_BATCH).await {
                        Ok(n) if n == SWEEP_BATCH as usize => continue,
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot sweep idle sessions");
                            break;
                        }
                    }
                }
            }
        });
    }
}
