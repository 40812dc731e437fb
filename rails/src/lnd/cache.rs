//! In-memory invoice states, kept current by a background `SubscribeInvoices` stream.
//!
//! The gateway's hot path asks "is this invoice paid?" for every request; answering from memory
//! avoids one LND round trip per request (as Aperture does). The task resumes from the last
//! `add_index`/`settle_index` it saw, so LND replays whatever happened while the stream was
//! down, and reconnects with exponential backoff (100 ms doubling, capped at
//! [`MAX_BACKOFF`]); it gives up only if LND refuses the call itself (permission denied,
//! unimplemented), leaving every state to `LookupInvoice`. States only move forward (OPEN → ACCEPTED → SETTLED/CANCELED), so a late
//! or replayed event never undoes a settlement.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tonic::Status;

use super::proto::lnrpc::invoice::InvoiceState as PbState;
use super::proto::lnrpc::lightning_client::LightningClient;
use super::proto::lnrpc::{Invoice as PbInvoice, InvoiceSubscription};
use super::transport::LndChannel;
use crate::{InvoiceState, PaymentHash};

/// Longest wait between two reconnection attempts.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(3);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Entries kept before terminal (settled/canceled) ones are dropped; they can be looked up again.
const MAX_ENTRIES: usize = 1 << 20;

/// Invoice states by payment hash, plus the subscription's position and health.
#[derive(Debug)]
pub(crate) struct InvoiceCache {
    states: RwLock<HashMap<PaymentHash, Entry>>,
    add_index: AtomicU64,
    settle_index: AtomicU64,
    /// Whether the subscription stream is established.
    connected: watch::Sender<bool>,
    /// Bumped on every change of `states`.
    version: watch::Sender<u64>,
}

/// One cached invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Last known state.
    pub state: InvoiceState,
    /// Unix seconds of expiry (0: unknown). LND does not stream expiries, so an `Open` entry
    /// past this time must be looked up.
    pub expires_at: u64,
}

/// Unix seconds of expiry of an LND invoice (0 if unknown).
pub(crate) fn expires_at(inv: &PbInvoice) -> u64 {
    let end = inv.creation_date.saturating_add(inv.expiry);
    if inv.creation_date > 0 && inv.expiry > 0 {
        u64::try_from(end).unwrap_or(0)
    } else {
        0
    }
}

/// Order of states: an invoice only moves to a higher rank.
fn rank(s: InvoiceState) -> u8 {
    match s {
        InvoiceState::Open => 0,
        InvoiceState::Accepted => 1,
        InvoiceState::Settled | InvoiceState::Canceled => 2,
    }
}

/// Whether no further transition is possible.
pub(crate) fn is_final(s: InvoiceState) -> bool {
    rank(s) == 2
}

/// Our state for LND's.
pub(crate) fn state_from_pb(s: PbState) -> InvoiceState {
    match s {
        PbState::Open => InvoiceState::Open,
        PbState::Settled => InvoiceState::Settled,
        PbState::Canceled => InvoiceState::Canceled,
        PbState::Accepted => InvoiceState::Accepted,
    }
}

impl InvoiceCache {
    /// Empty cache, not connected.
    pub(crate) fn new() -> Self {
        InvoiceCache {
            states: RwLock::new(HashMap::new()),
            add_index: AtomicU64::new(0),
            settle_index: AtomicU64::new(0),
            connected: watch::channel(false).0,
            version: watch::channel(0).0,
        }
    }

    /// Cached state of `hash`.
    pub(crate) fn get(&self, hash: &PaymentHash) -> Option<Entry> {
        self.states
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .copied()
    }

    /// Record `state` for `hash` unless the cache already knows a later one.
    pub(crate) fn record(&self, hash: PaymentHash, state: InvoiceState, expires_at: u64) {
        let changed = {
            let mut map = self.states.write().unwrap_or_else(|e| e.into_inner());
            if map.len() >= MAX_ENTRIES && !map.contains_key(&hash) {
                map.retain(|_, e| !is_final(e.state));
                if map.len() >= MAX_ENTRIES {
                    map.clear();
                }
            }
            match map.get(&hash) {
                Some(old) if rank(old.state) >= rank(state) => false,
                _ => {
                    map.insert(hash, Entry { state, expires_at });
                    true
                }
            }
        };
        if changed {
            self.version.send_modify(|v| *v = v.wrapping_add(1));
        }
    }

    /// Apply one invoice from the stream (or a lookup).
    pub(crate) fn apply(&self, inv: &PbInvoice) {
        self.add_index.fetch_max(inv.add_index, Ordering::Relaxed);
        self.settle_index
            .fetch_max(inv.settle_index, Ordering::Relaxed);
        if let Ok(hash) = <PaymentHash>::try_from(inv.r_hash.as_slice()) {
            self.record(hash, state_from_pb(inv.state()), expires_at(inv));
        }
    }

    /// Whether the subscription stream is currently established.
    pub(crate) fn is_connected(&self) -> bool {
        *self.connected.borrow()
    }

    /// Watch the subscription's connection status.
    pub(crate) fn connected_watch(&self) -> watch::Receiver<bool> {
        self.connected.subscribe()
    }

    /// Watch the change counter of the states.
    pub(crate) fn version_watch(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    fn set_connected(&self, up: bool) {
        self.connected
            .send_if_modified(|c| std::mem::replace(c, up) != up);
    }

    fn subscription(&self) -> InvoiceSubscription {
        InvoiceSubscription {
            add_index: self.add_index.load(Ordering::Relaxed),
            settle_index: self.settle_index.load(Ordering::Relaxed),
        }
    }
}

/// Aborts the subscription task when the last [`LndRail`](super::LndRail) clone is dropped.
#[derive(Debug)]
pub(crate) struct TaskGuard(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Spawn the subscription task.
pub(crate) fn spawn(client: LightningClient<LndChannel>, cache: Arc<InvoiceCache>) -> TaskGuard {
    TaskGuard(tokio::spawn(run(client, cache)))
}

async fn run(mut client: LightningClient<LndChannel>, cache: Arc<InvoiceCache>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        match client.subscribe_invoices(cache.subscription()).await {
            Ok(resp) => {
                cache.set_connected(true);
                backoff = MIN_BACKOFF;
                let mut stream = resp.into_inner();
                let end = loop {
                    match stream.message().await {
                        Ok(Some(inv)) => cache.apply(&inv),
                        Ok(None) => break None,
                        Err(status) => break Some(status),
                    }
                };
                cache.set_connected(false);
                log_drop(end.as_ref());
            }
            Err(status) if refused(&status) => {
                cache.set_connected(false);
                tracing::warn!(code = ?status.code(), message = status.message(),
                    "LND refuses SubscribeInvoices (macaroon without invoices:read?); \
                     invoice states will be looked up on each request");
                return;
            }
            Err(status) => {
                cache.set_connected(false);
                tracing::debug!(code = ?status.code(), message = status.message(),
                    "LND SubscribeInvoices failed; retrying in {backoff:?}");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Errors that retrying cannot fix.
fn refused(status: &Status) -> bool {
    use tonic::Code;
    matches!(
        status.code(),
        Code::PermissionDenied | Code::Unauthenticated | Code::Unimplemented
    )
}

fn log_drop(status: Option<&Status>) {
    match status {
        Some(s) => tracing::warn!(code = ?s.code(), message = s.message(),
            "LND invoice subscription dropped; reconnecting"),
        None => tracing::warn!("LND invoice subscription ended by the server; reconnecting"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pb(hash: u8, state: PbState, add: u64, settle: u64) -> PbInvoice {
        let mut inv = PbInvoice {
            r_hash: vec![hash; 32],
            add_index: add,
            settle_index: settle,
            ..PbInvoice::default()
        };
        inv.set_state(state);
        inv
    }

    #[test]
    fn states_only_move_forward_and_indices_track_maxima() {
        let c = InvoiceCache::new();
        c.apply(&pb(1, PbState::Open, 1, 0));
        c.apply(&pb(1, PbState::Settled, 1, 1));
        c.apply(&pb(1, PbState::Open, 1, 0)); // replayed add event
        assert_eq!(
            c.get(&[1; 32]).map(|e| e.state),
            Some(InvoiceState::Settled)
        );
        c.apply(&pb(2, PbState::Open, 2, 0));
        let sub = c.subscription();
        assert_eq!((sub.add_index, sub.settle_index), (2, 1));
        assert_eq!(c.get(&[3; 32]), None);
        let mut timed = pb(4, PbState::Open, 3, 0);
        (timed.creation_date, timed.expiry) = (1_000, 600);
        c.apply(&timed);
        assert_eq!(c.get(&[4; 32]).unwrap().expires_at, 1_600);
        assert_eq!(*c.version_watch().borrow(), 4);
    }
}
