//! Invoice pool: pre-minted invoices per route, so a 402 is answered without waiting for
//! `AddInvoice` (fsync-bound on LND: ≈ 200/s per node, 50 ms+ each under load).
//!
//! Each route has a stock of up to `size` invoices, kept full by `refill_concurrency`
//! background workers. [`InvoicePool::take`] pops one under a mutex, so an invoice is handed
//! to exactly one challenge; invoices with less than `min_validity_secs` left are discarded.
//! An empty stock falls back to minting synchronously (a "miss"). Workers back off
//! exponentially while the rail fails.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use gate402_rails::{Invoice, InvoiceRequest, LightningRail, RailError};
use tokio::{sync::Notify, task::JoinHandle};

use super::health::RailHealth;
use crate::clock::now_unix;

/// Pool settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Invoices kept ready per route (0 disables the pool).
    pub size: usize,
    /// Concurrent `AddInvoice` calls per route while refilling.
    pub refill_concurrency: usize,
    /// Invoices with less validity left than this are not handed out.
    pub min_validity_secs: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            size: 16,
            refill_concurrency: 2,
            min_validity_secs: 300,
        }
    }
}

/// Counters, for tests, metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Challenges served from stock.
    pub hits: u64,
    /// Challenges that had to mint synchronously.
    pub misses: u64,
    /// Invoices minted by the refill workers.
    pub minted: u64,
    /// Stale invoices thrown away.
    pub discarded: u64,
}

struct Stock {
    req: InvoiceRequest,
    queue: VecDeque<Invoice>,
    inflight: usize,
    notify: Arc<Notify>,
}

struct Inner {
    rail: Arc<dyn LightningRail>,
    health: Arc<RailHealth>,
    cfg: PoolConfig,
    stocks: Mutex<HashMap<String, Stock>>,
    hits: AtomicU64,
    misses: AtomicU64,
    minted: AtomicU64,
    discarded: AtomicU64,
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
                stocks: Mutex::new(HashMap::new()),
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                minted: AtomicU64::new(0),
                discarded: AtomicU64::new(0),
            }),
            workers: Mutex::new(Vec::new()),
        }
    }

    /// Keep a stock of invoices like `req` under `key` and start its refill workers (needs a
    /// Tokio runtime; without one, or with `size == 0`, every take mints synchronously).
    pub fn register(&self, key: &str, req: InvoiceRequest) {
        let notify = Arc::new(Notify::new());
        let stock = Stock {
            req,
            queue: VecDeque::new(),
            inflight: 0,
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

    /// An invoice for `key` that no other challenge has received.
    pub async fn take(&self, key: &str, req: &InvoiceRequest) -> Result<Invoice, RailError> {
        if let Some(inv) = self.pop(key) {
            self.inner.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(inv);
        }
        self.inner.misses.fetch_add(1, Ordering::Relaxed);
        let result = self.inner.rail.create_invoice(req.clone()).await;
        self.inner.health.observe(&result);
        result
    }

    fn pop(&self, key: &str) -> Option<Invoice> {
        let deadline = now_unix() + self.inner.cfg.min_validity_secs;
        let mut stocks = self.inner.stocks.lock().ok()?;
        let stock = stocks.get_mut(key)?;
        let mut found = None;
        while let Some(inv) = stock.queue.pop_front() {
            if inv.expires_at >= deadline {
                found = Some(inv);
                break;
            }
            self.inner.discarded.fetch_add(1, Ordering::Relaxed);
        }
        stock.notify.notify_waiters();
        found
    }

    /// Invoices in stock for `key`.
    pub fn stock(&self, key: &str) -> usize {
        self.inner
            .stocks
            .lock()
            .ok()
            .and_then(|s| s.get(key).map(|s| s.queue.len()))
            .unwrap_or(0)
    }

    /// Counters so far.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            hits: self.inner.hits.load(Ordering::Relaxed),
            misses: self.inner.misses.load(Ordering::Relaxed),
            minted: self.inner.minted.load(Ordering::Relaxed),
            discarded: self.inner.discarded.load(Ordering::Relaxed),
        }
    }
}

/// One refill worker: mint while the stock (plus in-flight mints) is below `size`.
async fn refill(inner: Arc<Inner>, key: String, notify: Arc<Notify>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let req = {
            let Ok(mut stocks) = inner.stocks.lock() else {
                return;
            };
            let Some(stock) = stocks.get_mut(&key) else {
                return;
            };
            if stock.queue.len() + stock.inflight >= inner.cfg.size {
                None
            } else {
                stock.inflight += 1;
                Some(stock.req.clone())
            }
        };
        let Some(req) = req else {
            notified.await;
            continue;
        };
        let result = inner.rail.create_invoice(req).await;
        inner.health.observe(&result);
        let ok = result.is_ok();
        if let Ok(mut stocks) = inner.stocks.lock() {
            if let Some(stock) = stocks.get_mut(&key) {
                stock.inflight -= 1;
                if let Ok(inv) = result {
                    stock.queue.push_back(inv);
                    inner.minted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if ok {
            backoff = Duration::from_millis(100);
        } else {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}
