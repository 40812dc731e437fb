//! Invoice pool: pre-minted invoices per route, so a 402 is answered without waiting for
//! `AddInvoice` (fsync-bound on LND: ≈ 200/s per node, 50 ms+ each under load).
//!
//! Two tiers per route:
//!
//! * the **memory front**: up to `size` invoices this process alone may hand out.
//!   [`InvoicePool::take`] pops one under a mutex (no I/O: the ≤ 1 ms p50 402 path), so an
//!   invoice goes to exactly one challenge; invoices with less than `min_validity_secs` left
//!   are discarded.
//! * with a store attached ([`InvoicePool::attach_store`]), the **durable reserve**: up to
//!   `size` more in the store's `invoice_pool` table, shared by every gateway on the database
//!   and kept across restarts.
//!
//! The refill workers ([`super::pool_refill`]) keep both full: the front is refilled by
//! *claiming* from the reserve (`pool_take`: one atomic `DELETE … RETURNING`, `FOR UPDATE
//! SKIP LOCKED` on PostgreSQL) or, when the reserve is empty or the store unreachable, by
//! minting straight into the front; the reserve is refilled by minting and `pool_add`
//! (committed before the invoice can be claimed).
//!
//! **Never one invoice twice.** An invoice is handed out only from a front, and it entered
//! that front either fresh from the rail (never in the table) or through a committed atomic
//! claim that removed it from the table. So two gateways never both hold it, and a crash
//! cannot resurrect it: the claim's delete is committed before the invoice is in memory.
//! (On SQLite the pool's rows commit with `synchronous = NORMAL`: a claim survives
//! `kill -9`, but a power loss can undo the newest ones and hand such an invoice out again.
//! That is harmless — LND refuses a second payment of a paid invoice, and a preimage opens
//! only tokens of the hash its payer paid, on the route it was minted for — and it spares
//! the `fsync` per claim batch and per minted invoice; see `store::sqlite`.)
//! Write-behind (hand out first, delete from the table later) is *not* used: a crash between
//! the two would leave a handed-out invoice in the table, to be handed out again after the
//! restart. The price of claim-ahead: a crash loses the front's invoices (at most `size` per
//! route, never handed out; they expire unpaid) while the reserve survives.
//!
//! An empty front claims one from the reserve on the request path, then falls back to minting
//! synchronously (a "miss"). Workers back off exponentially while the rail fails.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, OnceLock,
    },
    time::Duration,
};

use gate402_rails::{Invoice, InvoiceRequest, LightningRail, RailError};
use tokio::{sync::Notify, task::JoinHandle};

use super::health::RailHealth;
use super::mint_gate::{Caller, MintGate, MintLimits};
use super::pool_refill::{claim, refill};
use crate::{clock::now_unix, store::Store};

/// Pool settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Invoices kept ready per route in memory, and as many in the store (0 disables both).
    pub size: usize,
    /// Concurrent `AddInvoice` calls per route while refilling.
    pub refill_concurrency: usize,
    /// Invoices with less validity left than this are not handed out.
    pub min_validity_secs: u64,
    /// Bounds on every `AddInvoice` of the process (challenges and refills).
    pub limits: MintLimits,
}

/// Longest wait for one `AddInvoice` (request path and refills): a hung node answers 503 +
/// `Retry-After` after this instead of holding the request (LND's own deadline is 30 s).
pub const MINT_TIMEOUT: Duration = Duration::from_secs(5);

/// `create_invoice` bounded by [`MINT_TIMEOUT`].
pub(crate) async fn mint(
    rail: &dyn gate402_rails::LightningRail,
    req: InvoiceRequest,
) -> Result<Invoice, RailError> {
    tokio::time::timeout(MINT_TIMEOUT, rail.create_invoice(req))
        .await
        .unwrap_or_else(|_| {
            Err(RailError::new(
                gate402_rails::RailErrorKind::Timeout,
                format!("AddInvoice took longer than {} s", MINT_TIMEOUT.as_secs()),
            ))
        })
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            size: 16,
            refill_concurrency: 2,
            min_validity_secs: 300,
            limits: MintLimits::default(),
        }
    }
}

/// Counters, for tests, metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Challenges served from stock (memory front or, when it was empty, the store).
    pub hits: u64,
    /// Challenges that had to mint synchronously.
    pub misses: u64,
    /// Invoices minted by the refill workers.
    pub minted: u64,
    /// Stale invoices thrown away.
    pub discarded: u64,
    /// Invoices claimed from the store's reserve (background or request path).
    pub claimed: u64,
    /// Invoices written to the store's reserve.
    pub stored: u64,
}

pub(super) struct Stock {
    pub(super) req: InvoiceRequest,
    pub(super) queue: VecDeque<Invoice>,
    /// Front refills under way (claims or mints).
    pub(super) inflight: usize,
    /// Reserve refills under way (mints headed for the store).
    pub(super) reserving: usize,
    /// The reserve's size as last counted in the store, kept current with this process's own
    /// adds and claims; recounted (one worker at a time) once older than `reserve_poll`.
    pub(super) reserve_seen: Option<(usize, std::time::Instant)>,
    /// How old the count may get: `RESERVE_POLL`, doubled (to `RESERVE_POLL_MAX`) by each
    /// recount that found what this process expected, back to `RESERVE_POLL` otherwise.
    pub(super) reserve_poll: Duration,
    /// A worker is counting the reserve.
    pub(super) counting: bool,
    pub(super) notify: Arc<Notify>,
}

pub(super) struct Inner {
    pub(super) rail: Arc<dyn LightningRail>,
    pub(super) health: Arc<RailHealth>,
    pub(super) cfg: PoolConfig,
    pub(super) gate: MintGate,
    pub(super) store: OnceLock<Arc<dyn Store>>,
    pub(super) stocks: Mutex<HashMap<String, Stock>>,
    pub(super) hits: AtomicU64,
    pub(super) misses: AtomicU64,
    pub(super) minted: AtomicU64,
    pub(super) discarded: AtomicU64,
    pub(super) claimed: AtomicU64,
    pub(super) stored: AtomicU64,
}

impl Inner {
    /// Unix seconds an invoice must still be valid at to be handed out now.
    pub(super) fn valid_until(&self) -> u64 {
        now_unix() + self.cfg.min_validity_secs
    }
}

/// Pre-minted invoices per route.
pub struct InvoicePool {
    inner: Arc<Inner>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for InvoicePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvoicePool")
            .field("cfg", &self.inner.cfg)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Drop for InvoicePool {
    fn drop(&mut self) {
        for w in self
            .workers
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
        {
            w.abort();
        }
    }
}

impl InvoicePool {
    /// A pool minting on `rail`, reporting rail failures to `health`.
    pub fn new(rail: Arc<dyn LightningRail>, health: Arc<RailHealth>, cfg: PoolConfig) -> Self {
        InvoicePool {
            inner: Arc::new(Inner {
                rail,
                health,
                cfg,
                gate: MintGate::new(cfg.limits),
                store: OnceLock::new(),
                stocks: Mutex::new(HashMap::new()),
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                minted: AtomicU64::new(0),
                discarded: AtomicU64::new(0),
                claimed: AtomicU64::new(0),
                stored: AtomicU64::new(0),
            }),
            workers: Mutex::new(Vec::new()),
        }
    }

    /// Back the pool with `store`'s `invoice_pool` table (the durable, shared reserve). Only
    /// the first store attached is used.
    pub fn attach_store(&self, store: Arc<dyn Store>) {
        let _ = self.inner.store.set(store);
        if let Ok(stocks) = self.inner.stocks.lock() {
            stocks.values().for_each(|s| s.notify.notify_waiters());
        }
    }

    /// Whether a stock is kept under `key`.
    pub fn is_registered(&self, key: &str) -> bool {
        self.inner.stocks.lock().is_ok_and(|s| s.contains_key(key))
    }

    /// Keep a stock of invoices like `req` under `key` and start its refill workers (needs a
    /// Tokio runtime; without one, or with `size == 0`, every take mints synchronously).
    pub fn register(&self, key: &str, req: InvoiceRequest) {
        let notify = Arc::new(Notify::new());
        let stock = Stock {
            req,
            queue: VecDeque::new(),
            inflight: 0,
            reserving: 0,
            reserve_seen: None,
            reserve_poll: super::pool_refill::RESERVE_POLL,
            counting: false,
            notify: notify.clone(),
        };
        if let Ok(mut stocks) = self.inner.stocks.lock() {
            stocks.insert(key.to_string(), stock);
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.inner.cfg.size == 0 {
            return;
        }
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..self.inner.cfg.refill_concurrency.max(1) {
            let inner = self.inner.clone();
            let key = key.to_string();
            let notify = notify.clone();
            workers.push(rt.spawn(async move { refill(inner, key, notify).await }));
        }
    }

    /// An invoice for `key` that no other challenge (of any gateway sharing the store) has
    /// received: from the memory front, else claimed from the store's reserve, else minted.
    ///
    /// `request` makes the `AddInvoice` request of `amount_msat`, needed only when the front
    /// is empty (most 402s never build one).
    pub async fn take(
        &self,
        key: &str,
        amount_msat: u64,
        request: impl FnOnce() -> InvoiceRequest,
    ) -> Result<Invoice, RailError> {
        if let Some(inv) = self.pop(key, amount_msat) {
            self.inner.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(inv);
        }
        let req = &request();
        let pooled = !key.is_empty() && self.inner.cfg.size > 0;
        if let Some(store) = self.inner.store.get().filter(|_| pooled) {
            if let Some(inv) = claim(&self.inner, &**store, key, req).await {
                self.inner.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(inv);
            }
        }
        self.inner.misses.fetch_add(1, Ordering::Relaxed);
        let result = self
            .inner
            .gate
            .mint(&*self.inner.rail, req.clone(), Caller::Challenge)
            .await;
        if !matches!(&result, Err(e) if e.kind == gate402_rails::RailErrorKind::Busy) {
            // Our own bound refused it: the node was not asked, its health is unknown.
            self.inner.health.observe(&result);
        }
        result
    }

    /// A valid invoice of `amount_msat` from `key`'s front. A different amount than the
    /// stock's re-prices it (a run-time price change): invoices of the old amount are
    /// discarded as they come up and refills mint the new one.
    fn pop(&self, key: &str, amount_msat: u64) -> Option<Invoice> {
        let deadline = self.inner.valid_until();
        let mut stocks = self.inner.stocks.lock().ok()?;
        let stock = stocks.get_mut(key)?;
        if stock.req.amount_msat != amount_msat {
            stock.req.amount_msat = amount_msat;
        }
        let mut found = None;
        while let Some(inv) = stock.queue.pop_front() {
            if inv.expires_at >= deadline && inv.amount_msat == amount_msat {
                found = Some(inv);
                break;
            }
            self.inner.discarded.fetch_add(1, Ordering::Relaxed);
        }
        stock.notify.notify_waiters();
        found
    }

    /// Invoices in the memory front for `key`.
    pub fn stock(&self, key: &str) -> usize {
        self.inner
            .stocks
            .lock()
            .ok()
            .and_then(|s| s.get(key).map(|s| s.queue.len()))
            .unwrap_or(0)
    }

    /// Invoices in the store's reserve for `key`, as the refill workers last counted them
    /// (kept current with this process's own adds and claims); `None` without a store or
    /// before the first count.
    pub fn reserve(&self, key: &str) -> Option<usize> {
        self.inner.store.get()?;
        let stocks = self.inner.stocks.lock().ok()?;
        stocks.get(key)?.reserve_seen.map(|(n, _)| n)
    }

    /// The minting bounds (outstanding invoices, refusals).
    pub fn mint_gate(&self) -> &MintGate {
        &self.inner.gate
    }

    /// Counters so far.
    pub fn stats(&self) -> PoolStats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        PoolStats {
            hits: load(&self.inner.hits),
            misses: load(&self.inner.misses),
            minted: load(&self.inner.minted),
            discarded: load(&self.inner.discarded),
            claimed: load(&self.inner.claimed),
            stored: load(&self.inner.stored),
        }
    }
}
