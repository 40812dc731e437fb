//! The refill workers of the [`InvoicePool`](super::pool::InvoicePool), and claiming from the
//! store's reserve (see the pool's module docs for the two tiers and why an invoice is never
//! handed out twice).
//!
//! Each worker loops: fill the memory front (claim from the reserve, else mint), else top up
//! the reserve (mint, then `pool_add`), else wait for a take — or, with a store, at most
//! [`RESERVE_POLL`], since other gateways drain the shared reserve without telling us.

use std::{
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use gate402_rails::{Invoice, InvoiceRequest};
use tokio::sync::Notify;

use super::pool::Inner;
use crate::{
    clock::now_unix,
    store::{PooledInvoice, Store},
};

/// How often an idle worker re-counts the shared reserve.
const RESERVE_POLL: Duration = Duration::from_secs(1);

/// What a worker does next.
enum Job {
    Front(InvoiceRequest),
    Reserve(InvoiceRequest, Arc<dyn Store>),
    Wait,
}

/// Claim one invoice for `key` from the store's reserve (atomic across gateways), checked
/// against its row. `None` when the reserve is empty or unreachable.
pub(super) async fn claim(
    inner: &Inner,
    store: &dyn Store,
    key: &str,
    req: &InvoiceRequest,
) -> Option<Invoice> {
    loop {
        let row = match store
            .pool_take(key, req.amount_msat, inner.valid_until())
            .await
        {
            Ok(Some(row)) => row,
            Ok(None) => return None,
            Err(e) => {
                tracing::debug!(route = key, error = %e, "invoice reserve unavailable");
                return None;
            }
        };
        inner.claimed.fetch_add(1, Ordering::Relaxed);
        match inner.rail.decode(&row.bolt11) {
            Ok(d)
                if d.payment_hash == row.payment_hash && d.amount_msat == Some(row.amount_msat) =>
            {
                return Some(Invoice {
                    bolt11: row.bolt11,
                    payment_hash: row.payment_hash,
                    amount_msat: row.amount_msat,
                    created_at: d.created_at,
                    expires_at: d.expires_at,
                });
            }
            _ => {
                // Claimed, so nobody else gets it either: drop the bad row.
                inner.discarded.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(route = key, "discarding a malformed pooled invoice");
            }
        }
    }
}

/// Mint one invoice on the rail (counted, health observed).
async fn mint(inner: &Inner, req: InvoiceRequest) -> Option<Invoice> {
    let result = inner
        .gate
        .mint(&*inner.rail, req, super::mint_gate::Caller::Refill)
        .await;
    if !matches!(&result, Err(e) if e.kind == gate402_rails::RailErrorKind::Busy) {
        inner.health.observe(&result);
    }
    let inv = result.ok()?;
    inner.minted.fetch_add(1, Ordering::Relaxed);
    Some(inv)
}

fn next_job(inner: &Inner, key: &str) -> Option<Job> {
    let mut stocks = inner.stocks.lock().ok()?;
    let stock = stocks.get_mut(key)?;
    if stock.queue.len() + stock.inflight < inner.cfg.size {
        stock.inflight += 1;
        return Some(Job::Front(stock.req.clone()));
    }
    Some(match inner.store.get() {
        Some(store) => Job::Reserve(stock.req.clone(), store.clone()),
        None => Job::Wait,
    })
}

/// Put one invoice into the front: claimed from the reserve, else freshly minted.
async fn fill_front(inner: &Inner, key: &str, req: InvoiceRequest) -> bool {
    let inv = match inner.store.get() {
        Some(store) => claim(inner, &**store, key, &req).await,
        None => None,
    };
    let inv = match inv {
        Some(inv) => Some(inv),
        None => mint(inner, req).await,
    };
    let ok = inv.is_some();
    if let Ok(mut stocks) = inner.stocks.lock() {
        if let Some(stock) = stocks.get_mut(key) {
            stock.inflight -= 1;
            stock.queue.extend(inv);
        }
    }
    ok
}

/// Top up the reserve by one if it holds fewer than `size` valid invoices for `key`.
/// `Some(progress)`, or `None` when it is full.
async fn fill_reserve(
    inner: &Inner,
    key: &str,
    req: InvoiceRequest,
    store: &dyn Store,
) -> Option<bool> {
    let count = match store.pool_count(key, inner.valid_until()).await {
        Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
        Err(_) => return Some(false),
    };
    {
        let mut stocks = inner.stocks.lock().ok()?;
        let stock = stocks.get_mut(key)?;
        if count.saturating_add(stock.reserving) >= inner.cfg.size {
            return None;
        }
        stock.reserving += 1;
    }
    let inv = mint(inner, req).await;
    let ok = match &inv {
        Some(inv) => {
            let row = PooledInvoice {
                payment_hash: inv.payment_hash,
                route: key.to_string(),
                amount_msat: inv.amount_msat,
                bolt11: inv.bolt11.clone(),
                expires_at: inv.expires_at,
            };
            let added = store.pool_add(&row, now_unix()).await;
            if added.is_ok() {
                inner.stored.fetch_add(1, Ordering::Relaxed);
            }
            added.is_ok()
        }
        None => false,
    };
    if let Ok(mut stocks) = inner.stocks.lock() {
        if let Some(stock) = stocks.get_mut(key) {
            stock.reserving -= 1;
        }
    }
    // A minted invoice the store refused is simply not used (it was never handed out).
    Some(ok)
}

/// One refill worker for `key`.
pub(super) async fn refill(inner: Arc<Inner>, key: String, notify: Arc<Notify>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let Some(job) = next_job(&inner, &key) else {
            return;
        };
        let ok = match job {
            Job::Front(req) => fill_front(&inner, &key, req).await,
            Job::Reserve(req, store) => match fill_reserve(&inner, &key, req, &*store).await {
                Some(ok) => ok,
                None => {
                    let _ = tokio::time::timeout(RESERVE_POLL, notified).await;
                    continue;
                }
            },
            Job::Wait => {
                notified.await;
                continue;
            }
        };
        if ok {
            backoff = Duration::from_millis(100);
        } else {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}
