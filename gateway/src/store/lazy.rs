//! [`LazyStore`]: a store that is not reachable yet. `gate402 serve` starts with it when the
//! database cannot be reached at start: every call answers [`StoreError::Unavailable`] (paid
//! paths that need the store → 503 + `Retry-After`) while a background task retries; once
//! connected (migrations applied, revocations loaded first, so no revoked token slips through)
//! every call goes to the real store. No restart needed.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use async_trait::async_trait;
use gate402_protocols::VerifyError;

use super::{
    LedgerFilter, MppSessionRecord, PaymentRecord, PaymentState, PendingRow, PooledInvoice,
    Revocations, SessionStore, SettlementStore, Store, StoreError, StoreOptions, StoreResult,
    Totals,
};

/// A store connected in the background; see the module docs.
#[derive(Debug)]
pub struct LazyStore {
    backend: &'static str,
    inner: OnceLock<Arc<dyn Store>>,
}

impl LazyStore {
    /// Start connecting to `options` every `retry` until it works; `revocations` are loaded
    /// before the store is used.
    pub fn connect_in_background(
        options: StoreOptions,
        revocations: Arc<Revocations>,
        retry: Duration,
    ) -> Arc<LazyStore> {
        let backend = match options {
            StoreOptions::Sqlite { .. } => "sqlite",
            StoreOptions::Postgres { .. } => "postgres",
        };
        let me = Arc::new(LazyStore {
            backend,
            inner: OnceLock::new(),
        });
        let weak = Arc::downgrade(&me);
        tokio::spawn(async move {
            let mut attempts = 0u64;
            loop {
                let result = connect(options.clone()).await;
                let Some(me) = weak.upgrade() else { return };
                match result {
                    Ok((store, ids)) => {
                        revocations.replace(ids);
                        let _ = me.inner.set(store);
                        tracing::info!(attempts, "store reachable: paid paths served again");
                        return;
                    }
                    Err(e) => {
                        if attempts == 0 {
                            tracing::error!(error = %e, "store unreachable: paid paths answer 503; retrying in the background");
                        }
                    }
                }
                attempts += 1;
                drop(me);
                tokio::time::sleep(retry).await;
            }
        });
        me
    }

    /// Whether the store is connected.
    pub fn is_connected(&self) -> bool {
        self.inner.get().is_some()
    }

    fn inner(&self) -> StoreResult<&Arc<dyn Store>> {
        self.inner
            .get()
            .ok_or(StoreError::Unavailable(sqlx::Error::PoolTimedOut))
    }
}

/// Open the store and read the revocations. The open future (migrations) is not provably
/// `Send` (an sqlx/rustc higher-ranked lifetime limitation), so it runs on a blocking thread
/// through the runtime's handle: the pool still lives on the gateway's runtime.
async fn connect(options: StoreOptions) -> StoreResult<(Arc<dyn Store>, Vec<[u8; 32]>)> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        handle.block_on(async {
            let store = super::open(&options).await?;
            let ids = store.revoked().await?;
            Ok((store, ids))
        })
    })
    .await
    .map_err(|e| StoreError::Local(format!("store connect task: {e}")))?
}

#[async_trait]
impl SessionStore for LazyStore {
    async fn open(&self, r: MppSessionRecord) -> StoreResult<bool> {
        self.inner()?.open(r).await
    }
    async fn debit(
        &self,
        id: &str,
        route: &str,
        sats: u64,
        now: u64,
    ) -> StoreResult<Result<MppSessionRecord, VerifyError>> {
        self.inner()?.debit(id, route, sats, now).await
    }
    async fn credit(
        &self,
        id: &str,
        sats: u64,
        now: u64,
    ) -> StoreResult<Result<MppSessionRecord, VerifyError>> {
        self.inner()?.credit(id, sats, now).await
    }
    async fn close(&self, id: &str) -> StoreResult<Result<MppSessionRecord, VerifyError>> {
        self.inner()?.close(id).await
    }
    async fn get(&self, id: &str) -> StoreResult<Option<MppSessionRecord>> {
        SessionStore::get(&**self.inner()?, id).await
    }
    async fn claim_idle(&self, now: u64, limit: u32) -> StoreResult<Vec<MppSessionRecord>> {
        self.inner()?.claim_idle(now, limit).await
    }
    async fn open_sessions_of(&self, payer: &str) -> StoreResult<u64> {
        self.inner()?.open_sessions_of(payer).await
    }
}

#[async_trait]
impl SettlementStore for LazyStore {
    async fn mark_payments(
        &self,
        refs: &[(String, String)],
        state: PaymentState,
    ) -> StoreResult<u64> {
        self.inner()?.mark_payments(refs, state).await
    }
    async fn claim_unserved(&self, use_key: &[u8]) -> StoreResult<Option<PaymentRecord>> {
        self.inner()?.claim_unserved(use_key).await
    }
    async fn record_settled(&self, p: &PaymentRecord, pending_key: &[u8]) -> StoreResult<bool> {
        self.inner()?.record_settled(p, pending_key).await
    }
    async fn pending_begin(&self, row: &PendingRow) -> StoreResult<()> {
        self.inner()?.pending_begin(row).await
    }
    async fn pending_abandon(&self, key: &[u8]) -> StoreResult<()> {
        self.inner()?.pending_abandon(key).await
    }
    async fn pending_claim(
        &self,
        key: &[u8],
        now: u64,
        lease_until: u64,
    ) -> StoreResult<Option<PendingRow>> {
        self.inner()?.pending_claim(key, now, lease_until).await
    }
    async fn pending_claim_due(
        &self,
        now: u64,
        lease_until: u64,
        limit: u32,
    ) -> StoreResult<Vec<PendingRow>> {
        self.inner()?
            .pending_claim_due(now, lease_until, limit)
            .await
    }
    async fn pending_resolve(
        &self,
        key: &[u8],
        payment: Option<&PaymentRecord>,
        release: Option<&[u8]>,
    ) -> StoreResult<()> {
        self.inner()?.pending_resolve(key, payment, release).await
    }
    async fn pending_list(&self) -> StoreResult<Vec<PendingRow>> {
        self.inner()?.pending_list().await
    }
}

#[async_trait]
impl Store for LazyStore {
    fn backend(&self) -> &'static str {
        self.backend
    }
    async fn consume(&self, key: &[u8], protocol: &str, expires_at: u64) -> StoreResult<bool> {
        self.inner()?.consume(key, protocol, expires_at).await
    }
    async fn release(&self, key: &[u8]) -> StoreResult<bool> {
        self.inner()?.release(key).await
    }
    async fn consume_and_record(
        &self,
        key: &[u8],
        expires_at: u64,
        payment: &PaymentRecord,
    ) -> StoreResult<bool> {
        self.inner()?
            .consume_and_record(key, expires_at, payment)
            .await
    }
    async fn record_payment(&self, payment: &PaymentRecord) -> StoreResult<bool> {
        self.inner()?.record_payment(payment).await
    }
    async fn ledger(&self, filter: &LedgerFilter) -> StoreResult<Vec<PaymentRecord>> {
        self.inner()?.ledger(filter).await
    }
    async fn totals(&self, filter: &LedgerFilter) -> StoreResult<Vec<Totals>> {
        self.inner()?.totals(filter).await
    }
    async fn revoke(&self, token_id: &[u8; 32], now: u64) -> StoreResult<bool> {
        self.inner()?.revoke(token_id, now).await
    }
    async fn is_revoked(&self, token_id: &[u8; 32]) -> StoreResult<bool> {
        self.inner()?.is_revoked(token_id).await
    }
    async fn revoked(&self) -> StoreResult<Vec<[u8; 32]>> {
        self.inner()?.revoked().await
    }
    async fn purge_expired(&self, now: u64) -> StoreResult<u64> {
        self.inner()?.purge_expired(now).await
    }
    async fn pool_add(&self, invoice: &PooledInvoice, now: u64) -> StoreResult<bool> {
        self.inner()?.pool_add(invoice, now).await
    }
    async fn pool_take(
        &self,
        route: &str,
        amount_msat: u64,
        valid_until: u64,
    ) -> StoreResult<Option<PooledInvoice>> {
        self.inner()?
            .pool_take(route, amount_msat, valid_until)
            .await
    }
    async fn pool_take_many(
        &self,
        route: &str,
        amount_msat: u64,
        valid_until: u64,
        limit: u32,
    ) -> StoreResult<Vec<PooledInvoice>> {
        self.inner()?
            .pool_take_many(route, amount_msat, valid_until, limit)
            .await
    }
    async fn pool_count(&self, route: &str, valid_until: u64) -> StoreResult<u64> {
        self.inner()?.pool_count(route, valid_until).await
    }
    async fn use_quota(&self, token_id: &[u8; 32], max: u64, expires_at: u64) -> StoreResult<bool> {
        self.inner()?.use_quota(token_id, max, expires_at).await
    }
}

#[async_trait]
impl super::admin::AdminStore for LazyStore {
    async fn route_prices(&self) -> StoreResult<Vec<super::admin::RoutePrice>> {
        self.inner()?.route_prices().await
    }
    async fn set_route_price(
        &self,
        route: &str,
        config_msat: u64,
        new_msat: u64,
        grace_secs: u64,
        now: u64,
    ) -> StoreResult<super::admin::RoutePrice> {
        self.inner()?
            .set_route_price(route, config_msat, new_msat, grace_secs, now)
            .await
    }
    async fn ledger_page(
        &self,
        q: &super::admin::LedgerQuery,
    ) -> StoreResult<Vec<super::admin::LedgerEntry>> {
        self.inner()?.ledger_page(q).await
    }
    async fn daily_totals(
        &self,
        q: &super::admin::LedgerQuery,
    ) -> StoreResult<Vec<super::admin::DailyTotal>> {
        self.inner()?.daily_totals(q).await
    }
}
