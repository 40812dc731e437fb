//! What the payment of one tool call did, read from the client's progress [`Event`]s.
//!
//! The one shared [`crate::client::Client`] reports events to [`record`]; each tool call runs
//! inside [`traced`], which gives it its own [`Trace`] (a task-local, so concurrent calls do
//! not see each other's events). A failed call uses it to say whether money moved.

use std::{cell::RefCell, future::Future};

use crate::client::{Attempt, ClientError, Event, PaymentInfo};

tokio::task_local! {
    static TRACE: RefCell<Trace>;
}

/// The payment events of one call.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// A Lightning payment was sent or an x402 authorization signed.
    pub started: bool,
    /// The payment the client completed, if any.
    pub paid: Option<PaymentInfo>,
    /// Offers whose payment failed without moving money before the next was tried.
    pub attempts: Vec<Attempt>,
}

impl Trace {
    /// Whether money was (or may have been) spent by a call that failed with `e`.
    pub fn paid_before(&self, e: &ClientError) -> bool {
        self.paid.is_some() || (self.started && !e.nothing_moved())
    }
}

/// The client's event sink: notes the event in the current call's trace and logs it (stderr).
pub fn record(e: &Event) {
    match e {
        Event::Paying(msat) => tracing::info!(amount_msat = msat, "paying"),
        Event::Signing(a) => tracing::info!(amount = %a.value, unit = %a.unit, "signing"),
        Event::Paid(p) => tracing::info!(protocol = p.protocol.as_str(), "paid"),
        Event::Failed(why) => tracing::info!(%why, "not paid"),
        Event::FailedOver(a) => {
            tracing::info!(protocol = a.protocol.as_str(), error = %a.error, "trying the next offer")
        }
        Event::Challenged(_) => {}
    }
    let _ = TRACE.try_with(|t| {
        let mut t = t.borrow_mut();
        match e {
            Event::Paying(_) | Event::Signing(_) => t.started = true,
            Event::Paid(p) => t.paid = Some(p.clone()),
            Event::FailedOver(a) => t.attempts.push(a.clone()),
            Event::Challenged(_) | Event::Failed(_) => {}
        }
    });
}

/// Run `f` with a fresh trace; its output and what it paid.
pub async fn traced<F: Future>(f: F) -> (F::Output, Trace) {
    TRACE
        .scope(RefCell::new(Trace::default()), async move {
            let out = f.await;
            (out, TRACE.with(|t| t.borrow().clone()))
        })
        .await
}
