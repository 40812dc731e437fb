//! The connection task's watch over one connection (`conn.rs`): its deadline (first head,
//! idle time; see `conn.rs`'s module docs) and the server's shutdown signal, polled through a
//! waker of their own only when one of them fired — not on every wake-up hyper causes (a
//! `select!` polled the `Sleep` and the `watch` each time, ≈ 0.5 µs per request;
//! `docs/benchmarks.md` finding 26).

use std::{
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::{Context, Wake, Waker},
    time::Duration,
};

use futures_util::task::AtomicWaker;
use tokio::time::Instant;

use super::conn::{Activity, Shared};

/// The connection's deadline and the server's shutdown signal, polled only when one of them
/// woke the connection task (through [`SideWaker`]), not on every wake-up hyper causes — a
/// `select!` polled the `Sleep` and the `watch` each time, ≈ 0.5 µs per request.
pub(super) struct Watchdog<'a> {
    shared: &'a Shared,
    activity: &'a Activity,
    remote: SocketAddr,
    side: Arc<SideWaker>,
    waker: Waker,
    sleep: Pin<Box<tokio::time::Sleep>>,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// Requests started at the last deadline.
    seen: u64,
    /// Shutting down: nothing more to watch.
    closing: bool,
    /// Asked to close for being idle: still idle at the next deadline → closed at once.
    asked: bool,
    /// The task waker last registered in `side`.
    registered: Option<Waker>,
}

/// What the connection task does after a [`Watchdog::check`].
pub(super) enum Close {
    No,
    Graceful,
    /// Drop the connection (no request in flight).
    Now,
}

/// Wakes the connection task for its deadline or shutdown and notes that it did.
#[derive(Default)]
struct SideWaker {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for SideWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl<'a> Watchdog<'a> {
    pub(super) fn new(shared: &'a Shared, activity: &'a Activity, remote: SocketAddr) -> Self {
        let side = Arc::new(SideWaker::default());
        // Poll both once, to register them.
        side.woken.store(true, Ordering::Relaxed);
        let mut rx = shared.shutdown.clone();
        Watchdog {
            shared,
            activity,
            remote,
            waker: Waker::from(side.clone()),
            side,
            sleep: Box::pin(tokio::time::sleep_until(
                Instant::now() + shared.header_timeout,
            )),
            shutdown: Box::pin(async move {
                let _ = rx.changed().await;
            }),
            seen: 0,
            closing: false,
            asked: false,
            registered: None,
        }
    }

    /// Where the deadline and shutdown wake the task: its current waker, registered again
    /// only when it changed (a task's waker rarely does; registering costs atomics per
    /// wake-up). A side wake takes the registered waker: [`Watchdog::check`] registers it
    /// again then.
    pub(super) fn wake_to(&mut self, cx: &Context<'_>) {
        if self
            .registered
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            return;
        }
        self.side.task.register(cx.waker());
        self.registered = Some(cx.waker().clone());
    }

    /// Whether the connection is to close: the server shuts down, or the connection stayed
    /// idle past its deadline. Cheap (one atomic swap) unless the deadline or the shutdown
    /// woke the task.
    pub(super) fn check(&mut self, task: &Context<'_>) -> Close {
        if self.closing || !self.side.woken.swap(false, Ordering::AcqRel) {
            return Close::No;
        }
        self.side.task.register(task.waker());
        let waker = self.waker.clone();
        let mut cx = Context::from_waker(&waker);
        if self.shutdown.as_mut().poll(&mut cx).is_ready() {
            self.closing = true;
            return Close::Graceful;
        }
        while self.sleep.as_mut().poll(&mut cx).is_ready() {
            if !self.idle() {
                continue;
            }
            if self.asked {
                // Still idle one period after being asked: a head hyper is still waiting
                // for (its graceful close waits for a first request's head to complete).
                return Close::Now;
            }
            self.asked = true;
            let started = self.activity.started.load(Ordering::Relaxed);
            let wait = if started == 0 {
                self.shared.header_timeout
            } else {
                self.period()
            };
            self.sleep.as_mut().reset(Instant::now() + wait);
            return Close::Graceful;
        }
        Close::No
    }

    /// The idle time of this connection (see the module docs).
    fn period(&self) -> Duration {
        let s = self.shared;
        if self.activity.h2.load(Ordering::Relaxed) {
            s.idle_timeout
        } else {
            s.idle_timeout.min(s.header_timeout)
        }
    }

    /// At the deadline: whether the connection was idle since the last one (no request
    /// started, none in flight); if not, the next deadline is set.
    fn idle(&mut self) -> bool {
        let a = self.activity;
        let started = a.started.load(Ordering::Relaxed);
        if started != self.seen || a.in_flight.load(Ordering::Relaxed) != 0 {
            self.seen = started;
            let period = self.period();
            self.sleep.as_mut().reset(Instant::now() + period);
            return false;
        }
        if self.asked {
            return true;
        }
        if started == 0 {
            if let Some(times) = self.shared.logs.no_request.hit() {
                tracing::info!(
                    peer = %self.remote,
                    times,
                    "closing a connection that sent no request within the header timeout"
                );
            }
        } else {
            tracing::debug!(
                peer = %self.remote,
                requests = started,
                "closing an idle connection"
            );
        }
        true
    }
}
