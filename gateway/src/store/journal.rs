//! [`StoreJournal`]: the EVM rail's [`SettlementJournal`] on the store's `x402_pending`
//! table, so a settlement left behind by a dropped request, a crash or a restart is
//! reconciled by any gateway sharing the database. The paywall tags each settlement with an
//! [`X402Tag`] (route, nominal price, single-use key): resolving a landed settlement writes
//! its ledger row as `unserved` (its buyer's retry is served from it), resolving a released
//! one frees its single-use key — each in the transaction that drops the journal entry.

use std::sync::Arc;

use async_trait::async_trait;
use gate402_rails::evm::{
    EvmError, EvmErrorKind, PendingSettlement, Resolution, SettlementJournal, SettlementKey,
};
use serde::{Deserialize, Serialize};

use super::{PaymentRecord, PaymentState, PendingRow, Store, StoreError};

/// What the paywall needs to resolve a settlement nobody waits for (JSON in the journal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct X402Tag {
    /// Route the payment was for.
    pub route: String,
    /// The route's nominal price, msat (the ledger's amount column).
    pub amount_msat: u64,
    /// Ledger rail id (`evm:eip155:<chain>`).
    pub rail: String,
    /// The single-use key the payment consumed, hex.
    pub use_key: String,
}

impl X402Tag {
    /// The tag as stored.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A stored tag (`None` for settlements made for others, e.g. the built-in facilitator).
    pub fn decode(text: &str) -> Option<X402Tag> {
        serde_json::from_str(text).ok()
    }

    /// The single-use key's bytes.
    pub fn use_key_bytes(&self) -> Option<Vec<u8>> {
        hex::decode(&self.use_key).ok()
    }
}

/// [`SettlementJournal`] over a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreJournal {
    store: Arc<dyn Store>,
}

impl StoreJournal {
    /// Journal in `store`.
    pub fn new(store: Arc<dyn Store>) -> StoreJournal {
        StoreJournal { store }
    }
}

fn unavailable(e: StoreError) -> EvmError {
    EvmError::new(
        EvmErrorKind::Unavailable,
        "journal_unavailable",
        format!("settlement journal: {e}"),
    )
}

fn to_row(s: &PendingSettlement, lease_until: u64) -> PendingRow {
    PendingRow {
        key: s.key.to_bytes(),
        transaction: s.transaction.clone(),
        raw: s.raw.clone(),
        tx_nonce: s.tx_nonce,
        valid_before: s.valid_before,
        broadcast_at: s.broadcast_at,
        lease_until,
        tag: s.tag.clone(),
    }
}

/// A stored row as the rail's settlement (`None` for an unreadable key).
pub fn from_row(r: PendingRow) -> Option<PendingSettlement> {
    Some(PendingSettlement {
        key: SettlementKey::from_bytes(&r.key)?,
        transaction: r.transaction,
        raw: r.raw,
        tx_nonce: r.tx_nonce,
        valid_before: r.valid_before,
        broadcast_at: r.broadcast_at,
        tag: r.tag,
    })
}

#[async_trait]
impl SettlementJournal for StoreJournal {
    async fn begin(&self, s: &PendingSettlement, lease_until: u64) -> Result<(), EvmError> {
        self.store
            .pending_begin(&to_row(s, lease_until))
            .await
            .map_err(unavailable)
    }

    async fn abandon(&self, key: &SettlementKey) -> Result<(), EvmError> {
        self.store
            .pending_abandon(&key.to_bytes())
            .await
            .map_err(unavailable)
    }

    async fn claim(
        &self,
        key: &SettlementKey,
        now: u64,
        lease_until: u64,
    ) -> Result<Option<PendingSettlement>, EvmError> {
        let row = self
            .store
            .pending_claim(&key.to_bytes(), now, lease_until)
            .await
            .map_err(unavailable)?;
        Ok(row.and_then(from_row))
    }

    async fn claim_due(
        &self,
        now: u64,
        lease_until: u64,
        limit: u32,
    ) -> Result<Vec<PendingSettlement>, EvmError> {
        let rows = self
            .store
            .pending_claim_due(now, lease_until, limit)
            .await
            .map_err(unavailable)?;
        Ok(rows.into_iter().filter_map(from_row).collect())
    }

    async fn resolve(&self, s: &PendingSettlement, r: &Resolution) -> Result<(), EvmError> {
        let tag = X402Tag::decode(&s.tag);
        let use_key = tag.as_ref().and_then(X402Tag::use_key_bytes);
        let key = s.key.to_bytes();
        let result = match (r, tag) {
            (Resolution::Landed(settled), Some(tag)) => {
                let record = PaymentRecord {
                    protocol: "x402".into(),
                    rail: tag.rail,
                    reference: settled.transaction.clone(),
                    token_id: None,
                    route: tag.route,
                    amount_msat: tag.amount_msat,
                    payer: Some(settled.payer.clone()),
                    created_at: crate::clock::now_unix(),
                    state: PaymentState::Unserved,
                    use_key: use_key.clone(),
                };
                self.store.pending_resolve(&key, Some(&record), None).await
            }
            (Resolution::Released { .. }, Some(_)) => {
                self.store
                    .pending_resolve(&key, None, use_key.as_deref())
                    .await
            }
            // Settled for someone else (the built-in facilitator): nothing to record here.
            (_, None) => self.store.pending_resolve(&key, None, None).await,
        };
        result.map_err(unavailable)
    }

    async fn remove(&self, key: &SettlementKey) -> Result<(), EvmError> {
        self.store
            .pending_resolve(&key.to_bytes(), None, None)
            .await
            .map_err(unavailable)
    }

    async fn list(&self) -> Result<Vec<PendingSettlement>, EvmError> {
        let rows = self.store.pending_list().await.map_err(unavailable)?;
        Ok(rows.into_iter().filter_map(from_row).collect())
    }
}
