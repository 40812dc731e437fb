//! Recording a reusable token's first use while its request goes upstream.
//!
//! The first presentation of an L402 token (or a browser session) writes its ledger row
//! (`record_payment`, idempotent on the payment reference). That write used to complete
//! before the request was forwarded, adding a store round trip (an SQLite commit, ≈ 0.1–1 ms;
//! a PostgreSQL round trip) to the first response. Now the write is spawned and the request
//! is forwarded at once; the response is released only after the write finished:
//!
//! * written → the token is marked recorded (later uses skip the store), the payment is
//!   counted, and the response marks the row served or unserved as before;
//! * failed → 503 + `Retry-After` instead of the upstream's answer (never a 200 without its
//!   ledger row); the token is not marked recorded, so the buyer's retry writes it again.
//!
//! The response waits for max(upstream, store) instead of their sum. The payment itself is
//! final before either starts (the preimage was verified), so nothing is lost if the write
//! fails: the row is written by the next use.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use http::Response;
use tokio::task::JoinHandle;

use super::{edge, served::LedgerEntry, Paywall};
use crate::{error::GateError, store::StoreError};

/// The spawned `record_payment` (`Ok(inserted)`).
type Write = JoinHandle<Result<bool, StoreError>>;

/// A first-use write under way (shared by the receipt's clones; taken once, by the layer).
#[derive(Clone)]
pub struct FirstUse(Arc<Mutex<Option<Write>>>);

impl std::fmt::Debug for FirstUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FirstUse")
    }
}

impl FirstUse {
    pub(crate) fn new(handle: Write) -> FirstUse {
        FirstUse(Arc::new(Mutex::new(Some(handle))))
    }

    /// The write's outcome (`Ok(inserted)`); `Ok(false)` if another clone already took it.
    async fn outcome(&self) -> Result<bool, StoreError> {
        let handle = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        match handle {
            Some(h) => h
                .await
                .unwrap_or_else(|e| Err(StoreError::Config(format!("first-use write: {e}")))),
            None => Ok(false),
        }
    }
}

impl Paywall {
    /// Finish the first use recorded for `entry` on route `route`, then release `resp`
    /// (tracked to mark its row served, or marked unserved) — or answer 503 if the ledger
    /// row could not be written.
    pub(crate) async fn finish_first_use(
        &self,
        first_use: FirstUse,
        route: &str,
        price_msat: u64,
        entry: LedgerEntry,
        resp: Response<Body>,
    ) -> Response<Body> {
        match first_use.outcome().await {
            Ok(inserted) => {
                if let (Some(s), Some(id)) = (&self.settlement, entry.token_id) {
                    s.mark_recorded(id);
                }
                if let (Some(m), true) = (&self.metrics, inserted) {
                    m.payment(route, &entry.protocol, self.lightning.rail_id(), price_msat);
                }
                let entry = LedgerEntry {
                    fresh: inserted,
                    ..entry
                };
                if resp.status().as_u16() < 400 {
                    self.track(entry, resp)
                } else {
                    self.not_served(entry, resp).await
                }
            }
            Err(e) => {
                tracing::warn!(route, error = %e, "cannot record a token's first use: 503");
                let mut resp =
                    edge::error_response(&GateError::Store(e), Vec::new(), self.retry_after_secs);
                resp.extensions_mut()
                    .insert(super::RouteTag(route.to_owned()));
                resp
            }
        }
    }
}
