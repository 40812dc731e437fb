//! Settling a verified credential against the store, before the request goes on:
//!
//! 1. a revoked token id is refused (in-memory [`Revocations`], no I/O);
//! 2. a single-use credential (`Verified::single_use_key`) is consumed and its payment recorded
//!    in one transaction — exactly one presentation wins across every replica; a credential
//!    already consumed whose payment is `unserved` (the upstream failed) is taken back by one
//!    presentation ([`SettlementStore::claim_unserved`](crate::store::SettlementStore));
//! 3. a reusable credential (L402) is recorded on its first use (idempotent on the payment
//!    reference, so a token first used on two gateways at once is one ledger row), while the
//!    request goes upstream (`first_use.rs`: the response waits for the write); later uses
//!    in this process skip the database through an in-memory set of recorded token ids.
//!
//! Rows are recorded `admitted`; the response decides whether they become `served` or
//! `unserved` (`paywall/served.rs`).
//!
//! A single-use record is committed before the request is forwarded; a first-use record
//! before the upstream's response is released. If the store cannot be written the request
//! fails with 503 + `Retry-After` (never 200 without the record, never a 402 that a paying
//! client would pay).

use std::{
    collections::HashSet,
    sync::{Arc, RwLock},
};

use gate402_protocols::{Verified, VerifyError};

use crate::{
    clock::now_unix,
    error::GateError,
    store::{PaymentRecord, PaymentState, Revocations, Store},
};

use super::{
    first_use::FirstUse,
    served::{LedgerEntry, Marker},
    Receipt,
};

/// Forget the recorded-token set past this many entries (they are re-recorded idempotently).
const MAX_RECORDED: usize = 100_000;

/// The paywall's handle on the store.
pub(crate) struct Settlement {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) revocations: Arc<Revocations>,
    pub(crate) marker: Marker,
    pub(crate) recorded: Recorded,
}

/// Token ids whose first use this process recorded (shared with response bodies, which
/// forget a token whose response broke off).
pub(crate) type Recorded = Arc<RwLock<HashSet<[u8; 32]>>>;

/// The outcome of settling: the ledger row to mark and a first-use write under way, or why
/// not.
pub(crate) type Settled = Result<(Option<LedgerEntry>, Option<FirstUse>), Unsettled>;

/// Why a verified credential was not accepted after all.
pub(crate) enum Unsettled {
    /// Refused (revoked, already used): answer 402 with a fresh challenge.
    Refused(VerifyError),
    /// The store failed: answer 503/500, no challenge.
    Failed(GateError),
}

impl Settlement {
    pub(crate) fn new(store: Arc<dyn Store>, revocations: Arc<Revocations>) -> Settlement {
        Settlement {
            marker: Marker::spawn(store.clone()),
            store,
            revocations,
            recorded: Recorded::default(),
        }
    }

    /// Whether this process recorded `token_id`'s first use (later uses skip the store).
    fn is_recorded(&self, token_id: &[u8; 32]) -> bool {
        self.recorded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(token_id)
    }

    pub(crate) fn mark_recorded(&self, token_id: [u8; 32]) {
        let mut set = self.recorded.write().unwrap_or_else(|e| e.into_inner());
        if set.len() >= MAX_RECORDED {
            set.clear();
        }
        set.insert(token_id);
    }

    /// Forget that `token_id` is recorded (its first use was not served: the next use
    /// records it again, idempotently, and its response marks it served).
    pub(crate) fn unmark_recorded(&self, token_id: &[u8; 32]) {
        forget_recorded(&self.recorded, token_id);
    }

    /// Steps 1 and 3 without I/O: a revoked token is refused, a reusable token whose first
    /// use is recorded goes on (no ledger row to mark). `None`: [`Settlement::write`] decides.
    pub(crate) fn in_memory(&self, v: &Verified) -> Option<Settled> {
        if let Some(id) = &v.token_id {
            if self.revocations.contains(id) {
                return Some(Err(Unsettled::Refused(VerifyError::Revoked)));
            }
        }
        (v.single_use_key.is_none() && v.token_id.is_some_and(|id| self.is_recorded(&id)))
            .then_some(Ok((None, None)))
    }

    /// Steps 2–3 for a credential [`Settlement::in_memory`] left undecided: the ledger row
    /// this request must mark served or unserved, if it recorded (or took back) one, and a
    /// reusable token's first-use write, still under way ([`FirstUse`]).
    pub(crate) async fn write(&self, receipt: &Receipt, rail: &str) -> Settled {
        let v = &receipt.verified;
        let record = PaymentRecord {
            protocol: v.protocol.as_str().to_string(),
            rail: rail.to_string(),
            reference: v.reference.to_string(),
            token_id: v.token_id.map(hex::encode),
            route: receipt.route.clone(),
            amount_msat: receipt.price_msat,
            payer: None,
            created_at: now_unix(),
            state: PaymentState::Admitted,
            use_key: v.single_use_key.clone(),
        };
        let entry = LedgerEntry {
            protocol: record.protocol.clone(),
            reference: record.reference.clone(),
            token_id: v.token_id,
            fresh: true,
        };
        if let Some(key) = &v.single_use_key {
            let expires_at = v.expires_at.unwrap_or(i64::MAX as u64).min(i64::MAX as u64);
            return match self
                .store
                .consume_and_record(key, expires_at, &record)
                .await
            {
                Ok(true) => Ok((Some(entry), None)),
                Ok(false) => match self.store.claim_unserved(key).await {
                    Ok(Some(row)) => {
                        tracing::info!(reference = %row.reference, "unserved payment presented again: served now");
                        let entry = LedgerEntry {
                            protocol: row.protocol,
                            reference: row.reference,
                            token_id: None,
                            fresh: false,
                        };
                        Ok((Some(entry), None))
                    }
                    Ok(None) => Err(Unsettled::Refused(VerifyError::Replayed)),
                    Err(e) => Err(Unsettled::Failed(GateError::Store(e))),
                },
                Err(e) => Err(Unsettled::Failed(GateError::Store(e))),
            };
        }
        // A reusable token's first use: written while the request goes upstream (see
        // `first_use.rs`); the response waits for the write.
        let store = self.store.clone();
        let write = tokio::spawn(async move { store.record_payment(&record).await });
        Ok((Some(entry), Some(FirstUse::new(write))))
    }
}

impl std::fmt::Debug for Settlement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settlement")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// Forget that `token_id` is recorded in `recorded`.
pub(crate) fn forget_recorded(recorded: &Recorded, token_id: &[u8; 32]) {
    recorded
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .remove(token_id);
}
