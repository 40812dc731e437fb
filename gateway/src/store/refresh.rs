//! The background reload shared by the in-memory copies of store tables the paywall reads
//! without I/O ([`Revocations`](super::Revocations), [`Prices`](super::Prices)): every
//! interval, load the table and replace the copy; while the store fails, keep the last copy
//! (one `warn` when it starts failing, one `info` when it is back). Stops when the copy is
//! dropped.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Weak},
    time::Duration,
};

use super::{Store, StoreResult};

/// A store read as `async_trait` returns it.
pub(crate) type Load<'a, R> = Pin<Box<dyn Future<Output = StoreResult<R>> + Send + 'a>>;

/// Reload `target` from `store` every `every` with `load`, applying rows with `apply`; `what`
/// names the table in the logs.
pub(crate) fn spawn<T, R, L, A>(
    target: &Arc<T>,
    store: Arc<dyn Store>,
    every: Duration,
    what: &'static str,
    load: L,
    apply: A,
) -> tokio::task::JoinHandle<()>
where
    T: Send + Sync + 'static,
    R: Send + 'static,
    L: for<'a> Fn(&'a dyn Store) -> Load<'a, R> + Send + 'static,
    A: Fn(&T, R) + Send + 'static,
{
    let weak: Weak<T> = Arc::downgrade(target);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            let Some(me) = weak.upgrade() else { return };
            match load(&*store).await {
                Ok(rows) => {
                    if failing {
                        tracing::info!(table = what, "store reachable again: refreshed");
                    }
                    failing = false;
                    apply(&me, rows);
                }
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(table = what, error = %e, "cannot refresh from the store; keeping the last copy");
                }
                Err(_) => {}
            }
        }
    })
}
