//! The refill workers of the [`InvoicePool`](super::pool::InvoicePool), and claiming from the
//! store's reserve (see the pool's module docs for the two tiers and why an invoice is never
//! handed out twice).
//!
//! Each worker loops: fill the memory front (claim from the reserve, else mint), else top up
//! the reserve (mint, then `pool_add`), else wait for a take — or, with a store, at most
//! [`RESERVE_POLL`], since other gateways drain the shared reserve without telling us (the
//! recount itself backs off while it keeps finding what this process expected).

use std::{
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use gate402_rails::{Invoice, InvoiceRequest};
use tokio::sync::Notify;

use super::pool::Inner;
use crate::{
    clock::now_unix,
    store::{PooledInvoice, Store},
};

/// How often an idle worker re-counts the shared reserve, at first.
pub(super) const RESERVE_POLL: Duration = Duration::from_secs(1);
/// How seldom, at most, once recounts keep finding what this process expected (no other
/// gateway drained the reserve): a `COUNT(*)` over a full 100,000-row reserve costs
/// ≈ 20 ms of CPU, 2% of a core at one per second (issue I).
const RESERVE_POLL_MAX: Duration = Duration::from_secs(16);

/// What a worker does next.
enum Job {
    Front(InvoiceRequest, usize),
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
        if let Some(inv) = checked(inner, key, req, row) {
            return Some(inv);
        }
    }
}

/// Claim up to `n` invoices for `key` from the reserve in one transaction, checked against
/// their rows (empty when the reserve is empty or unreachable).
async fn claim_many(
    inner: &Inner,
    store: &dyn Store,
    key: &str,
    req: &InvoiceRequest,
    n: usize,
) -> Vec<Invoice> {
    let limit = u32::try_from(n).unwrap_or(u32::MAX);
    match store
        .pool_take_many(key, req.amount_msat, inner.valid_until(), limit)
        .await
    {
        Ok(rows) => rows
            .into_iter()
            .filter_map(|row| checked(inner, key, req, row))
            .collect(),
        Err(e) => {
            tracing::debug!(route = key, error = %e, "invoice reserve unavailable");
            Vec::new()
        }
    }
}

/// A claimed row as an invoice. Its fields were read from the invoice when it was minted
/// (the rail decodes and checks every invoice it creates, signature included) and written
/// with it in one row of the gateway's own store, so they are not re-derived here: decoding
/// the BOLT11 string again (two ECDSA recoveries and an allocation-heavy parse, ≈ 3–8 µs)
/// was most of the cost of keeping a warm pool full (`docs/benchmarks.md`). A row that is
/// plainly not a BOLT11 string is dropped (the claim's SQL matched route, amount and
/// validity).
fn checked(
    inner: &Inner,
    key: &str,
    req: &InvoiceRequest,
    row: crate::store::PooledInvoice,
) -> Option<Invoice> {
    inner.claimed.fetch_add(1, Ordering::Relaxed);
    adjust_reserve(inner, key, false);
    let plausible = row.bolt11.len() <= gate402_rails::invoice::MAX_BOLT11_LEN
        && row
            .bolt11
            .get(..2)
            .is_some_and(|p| p.eq_ignore_ascii_case("ln"));
    if !plausible {
        // Claimed, so nobody else gets it either: drop the bad row.
        inner.discarded.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(route = key, "discarding a malformed pooled invoice");
        return None;
    }
    Some(Invoice {
        created_at: row.expires_at.saturating_sub(req.expiry_secs),
        bolt11: row.bolt11,
        payment_hash: row.payment_hash,
        amount_msat: row.amount_msat,
        expires_at: row.expires_at,
    })
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

/// Invoices claimed from the reserve per transaction, at most.
const CLAIM_BATCH: usize = 32;

fn next_job(inner: &Inner, key: &str) -> Option<Job> {
    let mut stocks = inner.stocks.lock().ok()?;
    let stock = stocks.get_mut(key)?;
    let room = inner
        .cfg
        .size
        .saturating_sub(stock.queue.len() + stock.inflight);
    if room > 0 {
        // With a store, a batch of claims; without one, mints go one at a time.
        let n = if inner.store.get().is_some() {
            room.min(CLAIM_BATCH)
        } else {
            1
        };
        stock.inflight += n;
        return Some(Job::Front(stock.req.clone(), n));
    }
    Some(match inner.store.get() {
        Some(store) => Job::Reserve(stock.req.clone(), store.clone()),
        None => Job::Wait,
    })
}

/// Put up to `n` invoices into the front: claimed from the reserve, else one freshly minted.
async fn fill_front(inner: &Inner, key: &str, req: InvoiceRequest, n: usize) -> bool {
    let mut invs = match inner.store.get() {
        Some(store) => claim_many(inner, &**store, key, &req, n).await,
        None => Vec::new(),
    };
    if invs.is_empty() {
        invs.extend(mint(inner, req).await);
    }
    let ok = !invs.is_empty();
    if let Ok(mut stocks) = inner.stocks.lock() {
        if let Some(stock) = stocks.get_mut(key) {
            stock.inflight -= n;
            stock.queue.extend(invs);
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
    let count = match reserve_count(inner, key, store).await {
        Some(n) => n,
        None => return None,
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
                adjust_reserve(inner, key, true);
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

/// The reserve's size for `key`: the cached count while younger than its poll interval
/// ([`RESERVE_POLL`] up to [`RESERVE_POLL_MAX`]), else
/// counted in the store by this worker. `None` (treat as full, wait) while another worker
/// counts. A `COUNT(*)` per invoice made filling a large reserve quadratic, and idle workers
/// re-counting every second kept a core busy with 60,000 rows (issue I).
async fn reserve_count(inner: &Inner, key: &str, store: &dyn Store) -> Option<usize> {
    {
        let mut stocks = inner.stocks.lock().ok()?;
        let stock = stocks.get_mut(key)?;
        match stock.reserve_seen {
            Some((n, at)) if at.elapsed() < stock.reserve_poll => return Some(n),
            _ if stock.counting => return None,
            _ => stock.counting = true,
        }
    }
    let counted = store.pool_count(key, inner.valid_until()).await;
    let mut stocks = inner.stocks.lock().ok()?;
    let stock = stocks.get_mut(key)?;
    stock.counting = false;
    match counted {
        Ok(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            stock.reserve_poll = match stock.reserve_seen {
                Some((seen, _)) if seen == n => (stock.reserve_poll * 2).min(RESERVE_POLL_MAX),
                _ => RESERVE_POLL,
            };
            stock.reserve_seen = Some((n, Instant::now()));
            Some(n)
        }
        // Unreachable store: treated as full (the worker waits for the next poll or take).
        Err(_) => Some(usize::MAX),
    }
}

/// Keep the cached reserve count current with this process's own add (`true`) or claim.
fn adjust_reserve(inner: &Inner, key: &str, added: bool) {
    if let Ok(mut stocks) = inner.stocks.lock() {
        if let Some((n, _)) = stocks.get_mut(key).and_then(|s| s.reserve_seen.as_mut()) {
            *n = if added {
                n.saturating_add(1)
            } else {
                n.saturating_sub(1)
            };
        }
    }
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
            Job::Front(req, n) => fill_front(&inner, &key, req, n).await,
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
