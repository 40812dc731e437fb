//! Whether a paid request was served: the response decides the state of the ledger row its
//! payment was recorded in (`admitted` before the request went upstream).
//!
//! * A response below 400 whose body is delivered to the end → `served`, written by a
//!   background [`Marker`] in batches (one transaction per batch, off the request path).
//! * A response of 400 or more (the upstream failed; the gateway's own 502/504), or an
//!   upstream body that breaks off → `unserved`, written before the response is released:
//!   the buyer may present the same credential again and is served from the row (a single-use
//!   credential through `claim_unserved`; an L402 token simply works again).
//! * A client that goes away mid-body leaves the row `admitted`: it may have read most of the
//!   response, so it cannot present the payment again, and `gate402 ledger --unserved`
//!   lists it as possibly unserved (refundable). So does a crash before the mark.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::body::Body;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::mpsc;

use crate::store::{PaymentState, Store};

/// Rows waiting to be marked served, at most (more are left admitted: listed, never lost).
const QUEUE: usize = 16_384;
/// Rows marked in one transaction, at most.
const BATCH: usize = 512;
/// Attempts to write one batch while the store is unavailable.
const ATTEMPTS: u32 = 5;

/// A payment row a request recorded: `(protocol, reference)`, and the L402 token id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Protocol id.
    pub protocol: String,
    /// Payment reference.
    pub reference: String,
    /// The L402 token id (a reusable token recorded on its first use).
    pub token_id: Option<[u8; 32]>,
    /// This request wrote the row (a new payment; `false`: an unserved row served again, or
    /// a row another gateway wrote first) — what the payment metrics count.
    pub fresh: bool,
}

/// Marks rows served in the background (see the module docs).
#[derive(Clone)]
pub(crate) struct Marker {
    tx: mpsc::Sender<(String, String)>,
}

impl Marker {
    /// Start the marking task on `store` (outside a Tokio runtime nothing is marked: rows
    /// stay admitted, listed).
    pub(crate) fn spawn(store: Arc<dyn Store>) -> Marker {
        let (tx, mut rx) = mpsc::channel::<(String, String)>(QUEUE);
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return Marker { tx };
        };
        rt.spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                let mut wait = Duration::from_millis(100);
                for attempt in 1..=ATTEMPTS {
                    match store.mark_payments(&batch, PaymentState::Served).await {
                        Ok(_) => break,
                        Err(e) if attempt == ATTEMPTS => {
                            tracing::warn!(error = %e, rows = batch.len(),
                                "cannot mark payments served; they stay listed as admitted");
                        }
                        Err(_) => {
                            tokio::time::sleep(wait).await;
                            wait *= 2;
                        }
                    }
                }
                batch.clear();
            }
        });
        Marker { tx }
    }

    /// Queue `entry` to be marked served.
    pub(crate) fn served(&self, entry: &LedgerEntry) {
        let _ = self
            .tx
            .try_send((entry.protocol.clone(), entry.reference.clone()));
    }
}

/// What a [`Tracked`] body reports when it ends.
pub(crate) struct Report {
    pub(crate) marker: Marker,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) recorded: super::settle::Recorded,
    pub(crate) entry: LedgerEntry,
}

/// A response body that marks its payment served once fully delivered, or unserved when the
/// upstream breaks off mid-body.
pub(crate) struct Tracked {
    inner: Body,
    report: Option<Report>,
}

impl Tracked {
    /// `body`, reporting to `report`.
    pub(crate) fn wrap(body: Body, report: Report) -> Body {
        Body::new(Tracked {
            inner: body,
            report: Some(report),
        })
    }
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => {
                if let Some(r) = self.report.take() {
                    r.marker.served(&r.entry);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some(r) = self.report.take() {
                    tracing::warn!(error = %e, reference = %r.entry.reference,
                        "upstream body broke off: payment left unserved");
                    if let Some(id) = &r.entry.token_id {
                        super::settle::forget_recorded(&r.recorded, id);
                    }
                    tokio::spawn(async move {
                        mark_unserved(&*r.store, &r.entry).await;
                    });
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // The server stops polling once `is_end_stream` says so (a known length, an empty
        // body): delivered in full all the same. Dropped before its end: the client left.
        if let Some(r) = self.report.take() {
            if self.inner.is_end_stream() {
                r.marker.served(&r.entry);
            }
        }
    }
}

/// Mark `entry` unserved (logged on failure: the row then stays admitted, listed).
pub(crate) async fn mark_unserved(store: &dyn Store, entry: &LedgerEntry) {
    let refs = [(entry.protocol.clone(), entry.reference.clone())];
    if let Err(e) = store.mark_payments(&refs, PaymentState::Unserved).await {
        tracing::warn!(error = %e, reference = %entry.reference,
            "cannot mark a payment unserved; it stays listed as admitted");
    }
}

impl super::Paywall {
    /// A response below 400 to a request that recorded `entry`: mark it served once its body
    /// is delivered.
    pub(crate) fn track(
        &self,
        entry: LedgerEntry,
        resp: http::Response<Body>,
    ) -> http::Response<Body> {
        let Some(s) = &self.settlement else {
            return resp;
        };
        let report = Report {
            marker: s.marker.clone(),
            store: s.store.clone(),
            recorded: s.recorded.clone(),
            entry,
        };
        resp.map(|b| Tracked::wrap(b, report))
    }

    /// A response of 400 or more to a request that recorded `entry`: the payment was not
    /// served; mark it so before the response is released.
    pub(crate) async fn not_served(
        &self,
        entry: LedgerEntry,
        resp: http::Response<Body>,
    ) -> http::Response<Body> {
        if let Some(s) = &self.settlement {
            mark_unserved(&*s.store, &entry).await;
            if let Some(id) = &entry.token_id {
                s.unmark_recorded(id);
            }
            tracing::info!(status = resp.status().as_u16(), reference = %entry.reference,
                "paid request not served: the payment may be presented again");
        }
        resp
    }
}
