//! Bounds on what unpaid strangers can make the gateway mint (`[minting]`).
//!
//! Every `AddInvoice` of the process — a challenge's synchronous mint when the pool is empty,
//! and the pool's refill workers — goes through one [`MintGate`]:
//!
//! * **concurrency**: at most `max_concurrent` calls in flight (a semaphore);
//! * **rate**: at most `per_second` mints a second with bursts of `burst` (GCRA, `governor`);
//! * **outstanding**: at most `max_outstanding` minted invoices not yet expired (LND keeps
//!   every unpaid invoice until it expires: this bounds what a flood leaves on the node);
//! * **wait**: a challenge waits at most `wait_ms` for the rate and a slot, then answers
//!   503 + `Retry-After` ([`RailErrorKind::Busy`]) instead of queueing without bound.
//!
//! Refill workers wait for the rate and a slot without a deadline (they are few and in the
//! background) but respect the outstanding cap like challenges. Paid requests never mint, so
//! a saturated gate does not slow them. A refusal is logged at most once a second, with the
//! count since the last line.

use std::{
    collections::VecDeque,
    num::NonZeroU32,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::{Duration, Instant},
};

use gate402_rails::{Invoice, InvoiceRequest, LightningRail, RailError, RailErrorKind};
use governor::{clock::Clock, DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

use crate::clock::now_unix;

/// `[minting]` limits (0 disables the rate limit or the outstanding cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MintLimits {
    /// `AddInvoice` calls in flight at once.
    pub max_concurrent: usize,
    /// Sustained mints per second (0: unlimited).
    pub per_second: u32,
    /// Mints allowed at once above the sustained rate.
    pub burst: u32,
    /// Minted invoices not yet expired (0: unlimited).
    pub max_outstanding: usize,
    /// Longest a challenge waits for the rate and a slot.
    pub wait: Duration,
}

impl Default for MintLimits {
    fn default() -> Self {
        MintLimits {
            max_concurrent: 8,
            per_second: 200,
            burst: 400,
            max_outstanding: 100_000,
            wait: Duration::from_millis(1_000),
        }
    }
}

/// Who is minting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A challenge on the request path: bounded wait.
    Challenge,
    /// A pool refill worker: waits, in the background.
    Refill,
}

/// The process-wide minting bounds.
pub struct MintGate {
    limits: MintLimits,
    permits: Semaphore,
    rate: Option<DefaultDirectRateLimiter>,
    /// Expiry (Unix s) of each minted invoice still counted, oldest first.
    outstanding: Mutex<VecDeque<u64>>,
    refused: AtomicU64,
    logged_at: AtomicU64,
}

impl std::fmt::Debug for MintGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintGate")
            .field("limits", &self.limits)
            .field("outstanding", &self.outstanding())
            .field("refused", &self.refused())
            .finish()
    }
}

impl MintGate {
    /// A gate enforcing `limits`.
    pub fn new(limits: MintLimits) -> Self {
        let rate = NonZeroU32::new(limits.per_second).map(|per_second| {
            let burst = NonZeroU32::new(limits.burst).unwrap_or(per_second);
            RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst))
        });
        MintGate {
            permits: Semaphore::new(limits.max_concurrent.max(1)),
            rate,
            outstanding: Mutex::new(VecDeque::new()),
            refused: AtomicU64::new(0),
            logged_at: AtomicU64::new(0),
            limits,
        }
    }

    /// Minted invoices not yet expired.
    pub fn outstanding(&self) -> usize {
        let mut q = self.outstanding.lock().unwrap_or_else(|e| e.into_inner());
        prune(&mut q, now_unix());
        q.len()
    }

    /// Mints refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// `AddInvoice` on `rail` within the bounds (the call itself bounded by
    /// [`super::pool::MINT_TIMEOUT`]).
    pub async fn mint(
        &self,
        rail: &dyn LightningRail,
        req: InvoiceRequest,
        caller: Caller,
    ) -> Result<Invoice, RailError> {
        let deadline = Instant::now() + self.limits.wait;
        if self.limits.max_outstanding > 0 && self.outstanding() >= self.limits.max_outstanding {
            return Err(self.refuse("outstanding invoices"));
        }
        // A slot first (a fair FIFO queue: waiters sleep until their turn), then the rate,
        // among the at most `max_concurrent` slot holders only. Checking the rate first made
        // every waiting challenge wake for every freed rate cell (a thundering herd: with a
        // flood of 1,000 unpaid connections and a 50 ms `AddInvoice`, paid requests dropped to
        // 0.09× their rate, issue I).
        let _permit = match caller {
            Caller::Refill => self.permits.acquire().await.ok(),
            Caller::Challenge => {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, self.permits.acquire()).await {
                    Ok(p) => p.ok(),
                    Err(_) => return Err(self.refuse("concurrent mints")),
                }
            }
        };
        if let Some(rate) = &self.rate {
            while let Err(not_until) = rate.check() {
                // The limiter's own clock (`DefaultClock::default()` calibrates a new quanta
                // clock with CPUID on every call: 44% of the gateway's CPU under that flood).
                let wait = not_until.wait_time_from(rate.clock().now());
                if caller == Caller::Challenge && Instant::now() + wait > deadline {
                    return Err(self.refuse("mints per second"));
                }
                tokio::time::sleep(wait).await;
            }
        }
        let inv = super::pool::mint(rail, req).await?;
        if self.limits.max_outstanding > 0 {
            let mut q = self.outstanding.lock().unwrap_or_else(|e| e.into_inner());
            // Expiries arrive nearly in order (one expiry setting per gateway): keep the
            // queue sorted so pruning from the front stays exact.
            let at = q.partition_point(|&e| e <= inv.expires_at);
            q.insert(at, inv.expires_at);
        }
        Ok(inv)
    }

    fn refuse(&self, what: &'static str) -> RailError {
        let n = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let now = now_unix();
        let last = self.logged_at.load(Ordering::Relaxed);
        if now > last
            && self
                .logged_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                limit = what,
                refused_total = n,
                "minting limit reached: answering 503 + Retry-After"
            );
        }
        RailError::new(
            RailErrorKind::Busy,
            format!("minting limit reached ({what}); retry later"),
        )
    }
}

fn prune(q: &mut VecDeque<u64>, now: u64) {
    while q.front().is_some_and(|&e| e <= now) {
        q.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gate402_rails::simnet::{Faults, SimNetwork};

    fn req() -> InvoiceRequest {
        InvoiceRequest {
            amount_msat: 1_000,
            memo: "t".into(),
            expiry_secs: 3600,
        }
    }

    #[tokio::test]
    async fn outstanding_cap_refuses_with_busy() {
        let net = SimNetwork::new();
        let node = net.add_node("seller", 0);
        let gate = MintGate::new(MintLimits {
            max_outstanding: 3,
            ..MintLimits::default()
        });
        for _ in 0..3 {
            gate.mint(&node, req(), Caller::Challenge).await.unwrap();
        }
        let e = gate
            .mint(&node, req(), Caller::Challenge)
            .await
            .unwrap_err();
        assert_eq!(e.kind, RailErrorKind::Busy);
        assert!(e.retryable());
        assert_eq!((gate.outstanding(), gate.refused()), (3, 1));
    }

    #[tokio::test]
    async fn rate_past_the_wait_is_refused_not_queued() {
        let net = SimNetwork::new();
        let node = net.add_node("seller", 0);
        let gate = MintGate::new(MintLimits {
            per_second: 1,
            burst: 2,
            wait: Duration::from_millis(10),
            ..MintLimits::default()
        });
        gate.mint(&node, req(), Caller::Challenge).await.unwrap();
        gate.mint(&node, req(), Caller::Challenge).await.unwrap();
        let e = gate
            .mint(&node, req(), Caller::Challenge)
            .await
            .unwrap_err();
        assert_eq!(e.kind, RailErrorKind::Busy, "{e}");
        assert!(e.message.contains("per second"), "{e}");
    }

    #[tokio::test]
    async fn concurrency_past_the_wait_is_refused() {
        let net = SimNetwork::new();
        let node = net.add_node("seller", 0);
        net.set_faults(
            "seller",
            Faults {
                add_invoice_delay: Some(Duration::from_secs(3)),
                ..Faults::default()
            },
        );
        let gate = std::sync::Arc::new(MintGate::new(MintLimits {
            max_concurrent: 1,
            wait: Duration::from_millis(50),
            ..MintLimits::default()
        }));
        let (g, n) = (gate.clone(), node.clone());
        let slow = tokio::spawn(async move { g.mint(&n, req(), Caller::Challenge).await });
        // The first call holds the only slot until its (3 s) mint returns.
        while gate.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let e = gate
            .mint(&node, req(), Caller::Challenge)
            .await
            .unwrap_err();
        assert!(e.message.contains("concurrent"), "{e}");
        slow.abort();
    }
}
