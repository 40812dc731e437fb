//! Rail health: is the Lightning backend usable right now?
//!
//! Updated from every rail call the paywall makes (invoice minting) and by a monitor task that
//! calls [`LightningRail::ready`] periodically (more often while down). While the rail is down
//! unpaid requests get 503 + `Retry-After` instead of a challenge the client could not pay —
//! never a 402 it would pay again, never a 200. Paid L402 requests need no rail and go on.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use gate402_rails::{LightningRail, RailError};

/// Shared health state of one rail.
#[derive(Debug)]
pub struct RailHealth {
    up: AtomicBool,
    last_error: Mutex<Option<RailError>>,
}

impl Default for RailHealth {
    fn default() -> Self {
        RailHealth {
            up: AtomicBool::new(true),
            last_error: Mutex::new(None),
        }
    }
}

impl RailHealth {
    /// Whether the rail answered its last call.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// The error that took the rail down, if it is down.
    pub fn last_error(&self) -> Option<RailError> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// Record the outcome of a rail call: outages (retryable errors) mark it down, any
    /// answer marks it up. Transitions are logged once.
    pub fn observe<T>(&self, result: &Result<T, RailError>) {
        match result {
            Ok(_) => self.set_up(),
            Err(e) if e.retryable() || e.kind == gate402_rails::RailErrorKind::Certificate => {
                self.set_down(e.clone())
            }
            Err(_) => self.set_up(),
        }
    }

    fn set_up(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!("lightning backend is available again");
        }
        if let Ok(mut e) = self.last_error.lock() {
            *e = None;
        }
    }

    fn set_down(&self, err: RailError) {
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(error = %err, "lightning backend unavailable; answering 503 until it is back");
        }
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(err);
        }
    }
}

/// Check `rail.ready()` every `every` while up and every `every / 4` while down, until the
/// returned handle is aborted.
pub fn spawn_monitor(
    rail: Arc<dyn LightningRail>,
    health: Arc<RailHealth>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let result = tokio::time::timeout(every.max(Duration::from_secs(1)), rail.ready())
                .await
                .unwrap_or_else(|_| {
                    Err(RailError::new(
                        gate402_rails::RailErrorKind::Timeout,
                        "readiness check timed out",
                    ))
                });
            health.observe(&result);
            let pause = if health.is_up() { every } else { every / 4 };
            tokio::time::sleep(pause).await;
        }
    })
}
