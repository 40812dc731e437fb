//! [`MultiNode`]: one [`LightningRail`] over several seller nodes (`[[lightning.node]]`).
//!
//! * Minting: round-robin over the nodes that are up; a node whose call fails with a node
//!   fault (unreachable, timeout, certificate, permission, internal) is marked down and the
//!   next one is tried within the same call. Down nodes are tried again by a mint once their
//!   back-off has passed, and by every [`ready`](LightningRail::ready) (the gateway's health
//!   monitor), which probes all nodes.
//! * Invoice state: asked of the node that minted the invoice (payment hash → node, kept in
//!   memory until the invoice has long expired). A hash minted elsewhere (before a restart,
//!   by another gateway on the shared invoice reserve) is asked of every node: the first
//!   definitive answer wins; "not found" needs every node's answer, otherwise the caller gets
//!   `Unavailable` (503 + `Retry-After`), never a refusal of a payment that may be settled.
//! * Paying (MPP session refunds): the first node that is up; the next one only after an error
//!   that proves nothing moved (no route, insufficient balance, permission denied).

mod health;
mod rail;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use health::NodeStatus;

use health::Health;

use crate::{InvoiceState, LightningRail, PaymentHash, RailError, RailErrorKind};

/// Timeouts and back-off of a [`MultiNode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultiOptions {
    /// Bound on one node's `AddInvoice` / `LookupInvoice` (a hung node fails over).
    pub call_timeout: Duration,
    /// Bound on one node's readiness probe.
    pub probe_timeout: Duration,
    /// How long a down node is skipped by mints before one tries it again.
    pub retry_after: Duration,
}

impl Default for MultiOptions {
    fn default() -> Self {
        MultiOptions {
            call_timeout: Duration::from_secs(2),
            probe_timeout: Duration::from_millis(500),
            retry_after: Duration::from_secs(1),
        }
    }
}

/// Seconds an owner record is kept after its invoice expired (later lookups ask every node).
const OWNER_GRACE_SECS: u64 = 3600;

struct Node {
    name: String,
    rail: Arc<dyn LightningRail>,
    health: Health,
}

/// Several nodes behind one [`LightningRail`]; see the module documentation.
pub struct MultiNode {
    nodes: Vec<Node>,
    next: AtomicUsize,
    /// Payment hash → (node index, invoice expiry, unix seconds).
    owners: Mutex<HashMap<PaymentHash, (usize, u64)>>,
    opts: MultiOptions,
}

impl std::fmt::Debug for MultiNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiNode")
            .field("nodes", &self.status())
            .finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn bounded<T>(
    limit: Duration,
    what: &str,
    call: impl std::future::Future<Output = Result<T, RailError>>,
) -> Result<T, RailError> {
    tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
        let msg = format!("{what} did not answer within {} ms", limit.as_millis());
        Err(RailError::new(RailErrorKind::Timeout, msg))
    })
}

impl MultiNode {
    /// `nodes` as (name, rail), in configuration order; all start as up. Panics if empty.
    pub fn new(nodes: Vec<(String, Arc<dyn LightningRail>)>, opts: MultiOptions) -> Self {
        assert!(!nodes.is_empty(), "MultiNode needs at least one node");
        let nodes = nodes
            .into_iter()
            .map(|(name, rail)| Node {
                health: Health::new(&name),
                name,
                rail,
            })
            .collect();
        MultiNode {
            nodes,
            next: AtomicUsize::new(0),
            owners: Mutex::new(HashMap::new()),
            opts,
        }
    }

    /// Health of every node, in configuration order.
    pub fn status(&self) -> Vec<NodeStatus> {
        self.nodes.iter().map(|n| n.health.status()).collect()
    }

    fn owners(&self) -> std::sync::MutexGuard<'_, HashMap<PaymentHash, (usize, u64)>> {
        self.owners.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remember(&self, hash: PaymentHash, node: usize, expires_at: u64) {
        let mut owners = self.owners();
        if owners.len() >= 4096 && owners.len().is_power_of_two() {
            let now = unix_now();
            owners.retain(|_, (_, exp)| exp.saturating_add(OWNER_GRACE_SECS) > now);
        }
        owners.insert(hash, (node, expires_at));
    }

    /// The node that minted `hash`, if this process knows it.
    pub fn owner_of(&self, hash: &PaymentHash) -> Option<&str> {
        let idx = self.owners().get(hash).map(|(i, _)| *i)?;
        Some(self.name(idx))
    }

    fn name(&self, idx: usize) -> &str {
        &self.nodes[idx].name
    }

    /// Mint order: the nodes that are up, round-robin, then down nodes whose back-off passed.
    fn mint_order(&self) -> Vec<usize> {
        let n = self.nodes.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let rotated = (0..n).map(|i| (start + i) % n);
        let now = Instant::now();
        let up = rotated.clone().filter(|&i| self.nodes[i].health.is_up());
        let due = rotated.filter(|&i| self.nodes[i].health.is_due(now));
        up.chain(due).collect()
    }

    async fn state_on(&self, idx: usize, hash: &PaymentHash) -> Result<InvoiceState, RailError> {
        let node = &self.nodes[idx];
        let r = bounded(
            self.opts.call_timeout,
            "LookupInvoice",
            node.rail.invoice_state(hash),
        )
        .await;
        node.health.observe(&r, self.opts.retry_after);
        r
    }

    /// Ask every node at once; the first definitive answer wins (the other asks are
    /// aborted when the set is dropped).
    async fn state_anywhere(&self, hash: &PaymentHash) -> Result<InvoiceState, RailError> {
        let mut asks = tokio::task::JoinSet::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let (rail, hash, limit) = (node.rail.clone(), *hash, self.opts.call_timeout);
            asks.spawn(async move {
                (
                    i,
                    bounded(limit, "LookupInvoice", rail.invoice_state(&hash)).await,
                )
            });
        }
        let mut unreachable = Vec::new();
        while let Some(joined) = asks.join_next().await {
            let Ok((i, r)) = joined else {
                unreachable.push("a lookup task failed".to_owned());
                continue;
            };
            self.nodes[i].health.observe(&r, self.opts.retry_after);
            match r {
                Ok(state) => {
                    self.remember(*hash, i, unix_now());
                    return Ok(state);
                }
                Err(e) if e.kind == RailErrorKind::NotFound => {}
                Err(e) => unreachable.push(format!("{}: {}", self.name(i), e.message)),
            }
        }
        if unreachable.is_empty() {
            let msg = "no node knows this invoice";
            Err(RailError::new(RailErrorKind::NotFound, msg))
        } else {
            let msg = format!(
                "invoice unknown to the nodes that answered; no answer from {}",
                unreachable.join("; ")
            );
            Err(RailError::new(RailErrorKind::Unavailable, msg))
        }
    }
}
