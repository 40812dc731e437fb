//! The fault suite: each dependency of the gateway fails under it, one module per dependency
//! — the Lightning node ([`lnd`]: killed, hung mid-call, slow, TLS certificate rotated), the
//! EVM node ([`evm`]: down, a reorganised settlement block, a nonce gap), the database
//! ([`postgres`], [`sqlite`]: down, slow, disk full) and the upstream ([`upstream`]: down,
//! hung, reset mid-body, 5xx). Every test checks the same three things: the gateway answers
//! 503 (502/504 for the upstream) with `Retry-After`, never a 200 without payment (the
//! upstream's hit counter) and never a 402 a paying client would pay again; no settled
//! payment is lost (the ledger agrees with the money the buyer moved and with what it was
//! served); and it recovers without a restart.

mod evm;
mod lnd;
mod postgres;
mod sqlite;
mod upstream;

use std::sync::{
    atomic::{AtomicU8, AtomicUsize, Ordering},
    Arc,
};

use axum::{body::Body, response::IntoResponse, Router};
use bytes::Bytes;
use gate402::store::{LedgerFilter, PaymentRecord, PaymentState, Store};
use gate402_tests::{eventually, serve};
use http::StatusCode;

/// What [`Upstream`] does with the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// `200 paid content`.
    Ok = 0,
    /// `500 upstream broke`.
    Fail = 1,
    /// Never answers.
    Hang = 2,
    /// A `200` head, part of the body, then the connection breaks.
    Reset = 3,
    /// `200` with a 64 KiB body.
    Big = 4,
}

/// An upstream whose behaviour the test switches at run time, counting what reaches it.
#[derive(Clone)]
pub struct Upstream {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    mode: Arc<AtomicU8>,
    hits: Arc<AtomicUsize>,
}

impl Upstream {
    /// Start it in [`Mode::Ok`].
    pub async fn start() -> Upstream {
        let mode = Arc::new(AtomicU8::new(Mode::Ok as u8));
        let hits = Arc::new(AtomicUsize::new(0));
        let (m, h) = (mode.clone(), hits.clone());
        let app = Router::new().fallback(move || {
            let (m, h) = (m.clone(), h.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                match m.load(Ordering::SeqCst) {
                    1 => (StatusCode::INTERNAL_SERVER_ERROR, "upstream broke").into_response(),
                    2 => std::future::pending().await,
                    3 => {
                        // The head and a first chunk go out; 50 ms later the body fails.
                        let body = futures_util::stream::unfold(0u8, |step| async move {
                            match step {
                                0 => Some((Ok(Bytes::from_static(b"partial ")), 1)),
                                1 => {
                                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                                    Some((Err(std::io::Error::other("upstream died mid-body")), 2))
                                }
                                _ => None,
                            }
                        });
                        Body::from_stream(body).into_response()
                    }
                    4 => vec![b'x'; 64 << 10].into_response(),
                    _ => "paid content".into_response(),
                }
            }
        });
        Upstream {
            url: format!("http://{}", serve(app).await),
            mode,
            hits,
        }
    }

    /// Switch behaviour.
    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Requests that reached it so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// GET `url` with `headers`: status, headers, and the body unless it broke off.
pub async fn fetch(
    url: &http::Uri,
    headers: &[(&str, &str)],
) -> (StatusCode, http::HeaderMap, Option<Bytes>) {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut req = http::Request::builder().uri(url.clone());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client
        .request(req.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.ok().map(|c| c.to_bytes());
    (parts.status, parts.headers, body)
}

/// Every ledger row.
pub async fn ledger(store: &dyn Store) -> Vec<PaymentRecord> {
    store.ledger(&LedgerFilter::default()).await.unwrap()
}

/// Wait (≤ 10 s) until the ledger row `reference` is in `state`.
pub async fn until_state(store: &dyn Store, reference: &str, state: PaymentState) {
    eventually(10, &format!("{reference} {state:?}"), || async {
        ledger(store)
            .await
            .iter()
            .any(|p| p.reference == reference && p.state == state)
            .then_some(())
    })
    .await;
}
