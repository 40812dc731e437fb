//! Waiting for an invoice to settle, bounded.
//!
//! Every browser waiting on the same payment hash shares one watcher task, which asks the
//! rail (`LookupInvoice`) at most once per `poll_interval` and stops when the invoice is
//! settled or cancelled, or when nobody waits any more. Final answers are cached, so a page
//! asking again costs no rail call. Strangers cannot grow this: only hashes named by a
//! ticket the gateway signed are watched, at most `max_watched` hashes at once and
//! `max_waiters` requests waiting in total (beyond → `Busy`, answered 503 + `Retry-After`).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use gate402_rails::{InvoiceState, LightningRail};
use tokio::sync::{watch, Semaphore};

/// What the page is told about its invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayState {
    /// Not paid yet.
    Pending,
    /// Paid.
    Settled,
    /// Cancelled or expired unpaid.
    Expired,
}

impl PayState {
    /// The word sent to the page.
    pub fn as_str(self) -> &'static str {
        match self {
            PayState::Pending => "pending",
            PayState::Settled => "settled",
            PayState::Expired => "expired",
        }
    }
}

/// Too many hashes watched or requests waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Final states remembered, at most (then forgotten all at once: re-asked once each).
const MAX_DONE: usize = 10_000;

/// The shared watchers.
pub(crate) struct Watchers {
    rail: Arc<dyn LightningRail>,
    live: Mutex<HashMap<[u8; 32], watch::Receiver<PayState>>>,
    done: Arc<Mutex<HashMap<[u8; 32], PayState>>>,
    waiters: Arc<Semaphore>,
    max_watched: usize,
    interval: Duration,
}

impl Watchers {
    pub(crate) fn new(
        rail: Arc<dyn LightningRail>,
        max_watched: usize,
        max_waiters: usize,
        interval: Duration,
    ) -> Watchers {
        Watchers {
            rail,
            live: Mutex::default(),
            done: Arc::default(),
            waiters: Arc::new(Semaphore::new(max_waiters)),
            max_watched,
            interval,
        }
    }

    /// Hashes being watched now.
    pub(crate) fn watched(&self) -> usize {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The state of `hash`, waiting up to `wait` for it to leave `Pending`.
    pub(crate) async fn wait(
        self: &Arc<Self>,
        hash: [u8; 32],
        wait: Duration,
    ) -> Result<PayState, Busy> {
        if let Some(s) = self
            .done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&hash)
        {
            return Ok(*s);
        }
        let _permit = self.waiters.clone().try_acquire_owned().map_err(|_| Busy)?;
        let mut rx = self.subscribe(hash)?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let now = *rx.borrow_and_update();
            if now != PayState::Pending {
                return Ok(now);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                // The watcher stopped (nobody else waited, or it ended): what it last saw.
                Ok(Err(_)) => return Ok(*rx.borrow()),
                Err(_) => return Ok(PayState::Pending),
            }
        }
    }

    fn subscribe(self: &Arc<Self>, hash: [u8; 32]) -> Result<watch::Receiver<PayState>, Busy> {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(rx) = live.get(&hash) {
            return Ok(rx.clone());
        }
        if live.len() >= self.max_watched {
            return Err(Busy);
        }
        let (tx, rx) = watch::channel(PayState::Pending);
        live.insert(hash, rx.clone());
        drop(live);
        let me = self.clone();
        tokio::spawn(async move { me.run(hash, tx).await });
        Ok(rx)
    }

    /// One watcher: ask the rail until final or unwatched, then publish and unregister.
    async fn run(self: Arc<Self>, hash: [u8; 32], tx: watch::Sender<PayState>) {
        loop {
            let asked =
                tokio::time::timeout(self.interval * 5, self.rail.invoice_state(&hash)).await;
            let state = match asked {
                Ok(Ok(InvoiceState::Settled)) => PayState::Settled,
                Ok(Ok(InvoiceState::Canceled)) => PayState::Expired,
                Ok(Ok(_)) => PayState::Pending,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "paywall: cannot look the invoice up");
                    PayState::Pending
                }
                Err(_) => PayState::Pending,
            };
            if state != PayState::Pending {
                let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
                if done.len() >= MAX_DONE {
                    done.clear();
                }
                done.insert(hash, state);
                drop(done);
                tx.send_replace(state);
                break;
            }
            // Only the registry's receiver left: nobody waits.
            if tx.receiver_count() <= 1 {
                break;
            }
            tokio::time::sleep(self.interval).await;
        }
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&hash);
    }
}
