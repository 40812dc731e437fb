//! Reconciling settlements left in the [`SettlementJournal`](super::SettlementJournal) by a
//! caller that stopped waiting: when the same payment is presented again
//! ([`ExactEvmBackend::reconcile`](super::ExactEvmBackend::reconcile), one retry at a time
//! owns the entry through its lease), and in the background
//! ([`ExactEvmBackend::reconcile_due`](super::ExactEvmBackend::reconcile_due), from any
//! gateway sharing the journal).
//!
//! The chain decides, in this order:
//! 1. a receipt: success → landed; failure → released (`transaction_failed`);
//! 2. no receipt but the node knows the transaction → still pending;
//! 3. unknown to the node and the settler's mined nonce is past the transaction's → its nonce
//!    slot went to another transaction, it can never land → released
//!    (`settlement_not_found`); likewise once the authorization's `validBefore` is over;
//! 4. otherwise (lost before it reached the node, a mempool flush, a reorg) the signed
//!    transaction is sent again → pending.
//!
//! The mined nonce is read before the receipt, so a transaction mined in between is seen as
//! landed, never as lost.

use alloy::primitives::B256;
use alloy::providers::Provider;

use super::chain::{judge, now_unix, settlement_key, EvmRail};
use super::errors::{classify, OnErrorAnswer};
use super::journal::{PendingSettlement, Resolution};
use super::settle::LEASE_SLACK_SECS;
use super::{EvmError, EvmErrorKind, PaymentRef, Reconciled, Settled};

/// Seconds past `validBefore` before an unknown transaction is given up (clock skew between
/// the gateway and block timestamps).
const EXPIRY_MARGIN_SECS: u64 = 60;

/// The chain's word on a pending settlement.
enum Verdict {
    Landed(Settled),
    Released(EvmError),
    Pending(EvmError),
}

impl EvmRail {
    fn lease_until(&self) -> u64 {
        now_unix() + self.confirm_timeout.as_secs() + LEASE_SLACK_SECS
    }

    /// The retry path: `Ok(None)` when no settlement of `p` is waiting (or another caller
    /// holds it); `Ok(Some)` when it landed — the caller owns serving it now and removes the
    /// entry once recorded (or hands it back with `unserved`).
    pub(super) async fn reconcile_pending(
        &self,
        p: &PaymentRef<'_>,
    ) -> Result<Option<Settled>, EvmError> {
        let journal = self.journal();
        let key = settlement_key(p);
        let Some(s) = journal.claim(&key, now_unix(), self.lease_until()).await? else {
            return Ok(None);
        };
        match self.verdict(&s).await {
            Verdict::Landed(settled) => {
                tracing::info!(transaction = %s.transaction, "x402 pending settlement landed");
                Ok(Some(settled))
            }
            Verdict::Released(e) => {
                tracing::warn!(transaction = %s.transaction, reason = e.reason,
                    "x402 pending settlement released: no money moved");
                journal
                    .resolve(&s, &Resolution::Released { reason: e.reason })
                    .await?;
                Err(e)
            }
            Verdict::Pending(e) => {
                let _ = journal.abandon(&key).await;
                Err(e)
            }
        }
    }

    /// The background path: take up to `limit` settlements nobody holds and apply the
    /// chain's verdict to each through the journal.
    pub(super) async fn reconcile_left_behind(&self, limit: u32) -> Result<Reconciled, EvmError> {
        let journal = self.journal();
        let due = journal
            .claim_due(now_unix(), self.lease_until(), limit)
            .await?;
        let mut done = Reconciled::default();
        for s in due {
            let resolution = match self.verdict(&s).await {
                Verdict::Landed(settled) => {
                    done.landed += 1;
                    Resolution::Landed(settled)
                }
                Verdict::Released(e) => {
                    done.released += 1;
                    Resolution::Released { reason: e.reason }
                }
                Verdict::Pending(_) => {
                    done.pending += 1;
                    let _ = journal.abandon(&s.key).await;
                    continue;
                }
            };
            tracing::info!(transaction = %s.transaction, ?resolution, "x402 settlement reconciled");
            journal.resolve(&s, &resolution).await?;
        }
        Ok(done)
    }

    async fn verdict(&self, s: &PendingSettlement) -> Verdict {
        match self.look(s).await {
            Ok(v) => v,
            Err(mut e) => {
                e.transaction = Some(s.transaction.clone());
                Verdict::Pending(e)
            }
        }
    }

    async fn look(&self, s: &PendingSettlement) -> Result<Verdict, EvmError> {
        let failed = |reason: &'static str, message: &str| {
            let mut e = EvmError::new(EvmErrorKind::Rejected, reason, message);
            e.transaction = Some(s.transaction.clone());
            e
        };
        let pending = || {
            let mut e = EvmError::new(
                EvmErrorKind::Unavailable,
                "settlement_pending",
                "the settlement transaction is not confirmed yet",
            );
            e.transaction = Some(s.transaction.clone());
            e
        };
        let Ok(hash) = s.transaction.parse::<B256>() else {
            return Ok(Verdict::Released(failed(
                "settlement_not_found",
                "unreadable transaction hash",
            )));
        };
        let mined = match &self.wallet {
            Some((_, from)) => Some(
                self.provider
                    .get_transaction_count(*from)
                    .latest()
                    .await
                    .map_err(|e| classify("eth_getTransactionCount", &e, OnErrorAnswer::Outage))?,
            ),
            None => None,
        };
        if let Some(r) = self.receipt(hash).await? {
            return Ok(match judge(&s.key, s.transaction.clone(), &r) {
                Ok(settled) => Verdict::Landed(settled),
                Err(e) => Verdict::Released(e),
            });
        }
        if self.knows(hash).await {
            return Ok(Verdict::Pending(pending()));
        }
        if mined.is_some_and(|m| m > s.tx_nonce) {
            return Ok(Verdict::Released(failed(
                "settlement_not_found",
                "the settlement transaction never landed and its nonce was used by another",
            )));
        }
        if now_unix() > s.valid_before.saturating_add(EXPIRY_MARGIN_SECS) {
            return Ok(Verdict::Released(failed(
                "settlement_not_found",
                "the settlement transaction never landed and the authorization expired",
            )));
        }
        self.resend(hash, &s.raw).await;
        Ok(Verdict::Pending(pending()))
    }
}
