//! Health of one node behind a [`MultiNode`](super::MultiNode): up or down, since when, why,
//! and when a down node may be tried again by a mint.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{RailError, RailErrorKind};

/// A snapshot of one node's health (for `/_gate402/ready` and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// The node's configured name.
    pub name: String,
    /// Whether the node answered its last call.
    pub up: bool,
    /// The error that took it down, while it is down.
    pub last_error: Option<String>,
    /// Invoices minted on it by this process.
    pub minted: u64,
}

#[derive(Debug)]
struct State {
    up: bool,
    retry_at: Option<Instant>,
    last_error: Option<String>,
    minted: u64,
}

/// Shared, lock-protected health of one node.
#[derive(Debug)]
pub(super) struct Health {
    name: String,
    state: Mutex<State>,
}

/// Whether `e` says the node itself is unusable (as opposed to a refusal of this request).
pub(super) fn node_fault(e: &RailError) -> bool {
    e.retryable()
        || matches!(
            e.kind,
            RailErrorKind::Certificate | RailErrorKind::PermissionDenied | RailErrorKind::Internal
        )
}

impl Health {
    pub(super) fn new(name: &str) -> Self {
        Health {
            name: name.to_owned(),
            state: Mutex::new(State {
                up: true,
                retry_at: None,
                last_error: None,
                minted: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn is_up(&self) -> bool {
        self.lock().up
    }

    /// Down, and its back-off has passed: a mint may try it (a probe with real work).
    pub(super) fn is_due(&self, now: Instant) -> bool {
        let s = self.lock();
        !s.up && s.retry_at.is_none_or(|t| now >= t)
    }

    pub(super) fn minted(&self) {
        self.lock().minted += 1;
    }

    /// Record the outcome of a call: node faults mark the node down (retry after `backoff`),
    /// anything else (an answer, or a refusal of this request) marks it up. Transitions are
    /// logged once.
    pub(super) fn observe<T>(&self, result: &Result<T, RailError>, backoff: Duration) {
        let mut s = self.lock();
        match result {
            Err(e) if node_fault(e) => {
                if s.up {
                    tracing::warn!(
                        node = %self.name,
                        error = %e,
                        "lightning node unavailable; minting on the other nodes"
                    );
                }
                s.up = false;
                s.retry_at = Some(Instant::now() + backoff);
                s.last_error = Some(e.to_string());
            }
            _ => {
                if !s.up {
                    tracing::info!(node = %self.name, "lightning node is available again");
                }
                s.up = true;
                s.retry_at = None;
                s.last_error = None;
            }
        }
    }

    pub(super) fn status(&self) -> NodeStatus {
        let s = self.lock();
        NodeStatus {
            name: self.name.clone(),
            up: s.up,
            last_error: s.last_error.clone(),
            minted: s.minted,
        }
    }
}
