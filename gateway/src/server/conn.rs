//! One client connection: TLS handshake (bounded by the header timeout), protocol choice
//! (ALPN `h2` / `http/1.1`, or the h2c preface on plain TCP), hyper serving, and the
//! connection's deadlines:
//!
//! * the first request's head must be complete within the header timeout of the connection
//!   being ready (else it is asked to close, and dropped one header timeout later if it
//!   still has not: hyper's graceful close waits for a first head in progress);
//! * afterwards, a connection with no request in flight and none started for its idle time
//!   is closed (after between 1× and 2× that time). The idle time of HTTP/1.1 is the smaller
//!   of the idle and header timeouts (a keep-alive connection's next head — also one trickled
//!   in byte by byte — must come within about the header timeout), of HTTP/2 the idle
//!   timeout. hyper's own head timer is off: it armed a timer for every request
//!   (`docs/benchmarks.md`, session 12); one deadline per connection does the same work;
//! * on server shutdown, every connection is asked to close.
//!
//! Closing is hyper's *graceful* shutdown: HTTP/1.1 finishes the response in flight (or
//! closes an idle connection, also one halfway through a later request's head), HTTP/2 sends
//! `GOAWAY` and lets open streams finish — a deadline never cuts a request. Only a connection
//! still idle one period after being asked to close is dropped. Request-head size and count are hyper's own
//! checks (431), configured in [`super::listener`].
//!
//! "In flight" lasts until the response body has been sent ([`TrackedBody`]), so a long gRPC
//! stream keeps its connection; the tracking is two atomics per request, no allocation. The
//! connection's slot in the caps lives as long as the connection — and, for a protocol
//! upgrade, as long as the upgraded tunnel ([`ConnectionHold`]).

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, HttpBody},
    extract::ConnectInfo,
};
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::{net::TcpStream, sync::watch};
use tower::ServiceExt;

use super::{
    limits::{ConnectionSlot, Throttle},
    listener::Https,
    tls::ServerTls,
    watchdog::{Close, Watchdog},
};

/// What every connection of one listener shares.
pub(super) struct Shared {
    pub router: super::Gateway,
    /// HTTP/1.1 and h2c by preface (HTTP/1.1 only when HTTP/2 is off).
    pub auto: auto::Builder<TokioExecutor>,
    /// After ALPN `http/1.1`.
    pub h1: auto::Builder<TokioExecutor>,
    /// After ALPN `h2`.
    pub h2: auto::Builder<TokioExecutor>,
    pub tls: Option<Arc<ServerTls>>,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub shutdown: watch::Receiver<bool>,
    /// Log throttles for what strangers can trigger in bulk.
    pub logs: Logs,
}

/// One log line per second at most for each limit hit on connections.
#[derive(Debug, Default)]
pub(super) struct Logs {
    head_too_large: Throttle,
    pub(super) no_request: Throttle,
    h2_goaway: Throttle,
}

/// Requests of one connection: started so far, and in flight (head received, body of the
/// response not yet fully sent). It owns the connection's slot in the caps: the slot is freed
/// when the last holder (the connection task, a response body, an upgraded tunnel) lets go.
#[derive(Debug)]
pub(super) struct Activity {
    pub(super) started: AtomicU64,
    pub(super) in_flight: AtomicUsize,
    /// An HTTP/2 connection (its idle time is the idle timeout alone).
    pub(super) h2: AtomicBool,
    _slot: ConnectionSlot,
}

/// Request extension on protocol-upgrade requests (`Upgrade:` present): holding it keeps the
/// client connection counted against the listener's caps, so the proxy keeps it for as long
/// as the upgraded tunnel runs.
#[derive(Debug, Clone)]
pub struct ConnectionHold(#[allow(dead_code)] Arc<Activity>);

/// One request in flight; ends when dropped (with the response body, or with the handler).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> InFlight {
        activity.started.fetch_add(1, Ordering::Relaxed);
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request counted as in flight until it is dropped.
    pub(super) struct TrackedBody {
        #[pin]
        inner: Body,
        guard: InFlight,
    }
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serve one accepted connection until it closes.
pub(super) async fn serve(
    stream: TcpStream,
    remote: SocketAddr,
    shared: Arc<Shared>,
    slot: ConnectionSlot,
) {
    let _ = stream.set_nodelay(true);
    let Some(tls) = &shared.tls else {
        drive(
            TokioIo::new(stream),
            &shared.auto,
            remote,
            false,
            &shared,
            slot,
        )
        .await;
        return;
    };
    let stream =
        match tokio::time::timeout(shared.header_timeout, tls.acceptor().accept(stream)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(peer = %remote, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(peer = %remote, "TLS handshake timed out");
                return;
            }
        };
    let builder = match stream.get_ref().1.alpn_protocol() {
        Some(b"h2") => &shared.h2,
        Some(b"http/1.1") => &shared.h1,
        _ => &shared.auto,
    };
    drive(TokioIo::new(stream), builder, remote, true, &shared, slot).await;
}

async fn drive<I>(
    io: I,
    builder: &auto::Builder<TokioExecutor>,
    remote: SocketAddr,
    https: bool,
    shared: &Shared,
    slot: ConnectionSlot,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity {
        started: AtomicU64::new(0),
        in_flight: AtomicUsize::new(0),
        h2: AtomicBool::new(false),
        _slot: slot,
    });
    let router = shared.router.clone();
    let counted = activity.clone();
    // The connection's own upstream connection (HTTP/1.1; see `proxy::sticky`).
    let sticky = crate::proxy::sticky::Slot::default();
    let svc = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
        let guard = InFlight::start(&counted);
        let h2 = req.version() == http::Version::HTTP_2;
        let ext = req.extensions_mut();
        ext.insert(ConnectInfo(remote));
        if h2 {
            counted.h2.store(true, Ordering::Relaxed);
        } else {
            ext.insert(sticky.clone());
        }
        if https {
            ext.insert(Https);
        }
        if req.headers().contains_key(http::header::UPGRADE) {
            req.extensions_mut().insert(ConnectionHold(counted.clone()));
        }
        let call = router.clone().oneshot(req.map(Body::new));
        async move {
            let resp = call.await?;
            Ok::<_, Infallible>(resp.map(|inner| TrackedBody { inner, guard }))
        }
    });
    let conn = builder.serve_connection_with_upgrades(io, svc);
    tokio::pin!(conn);
    let mut watch = Watchdog::new(shared, &activity, remote);
    let done = std::future::poll_fn(|cx| {
        watch.wake_to(cx);
        loop {
            if let Poll::Ready(done) = conn.as_mut().poll(cx) {
                return Poll::Ready(done);
            }
            match watch.check(cx) {
                Close::No => return Poll::Pending,
                // Graceful: hyper finishes what is in flight; poll it again to let it act.
                Close::Graceful => conn.as_mut().graceful_shutdown(),
                Close::Now => return Poll::Ready(Ok(())),
            }
        }
    })
    .await;
    if let Err(e) = done {
        log_connection_error(&shared.logs, remote, &*e);
    }
}

/// The one log line of a connection that ended in error: limit hits (head too large → 431,
/// an HTTP/2 `GOAWAY` the gateway sent) at `info`, throttled; anything else (resets, TLS or
/// protocol errors of a peer) at `debug`. Head deadlines are the watchdog's (it logs a
/// connection that sent no request itself): hyper's head timer is off.
fn log_connection_error(
    logs: &Logs,
    remote: SocketAddr,
    e: &(dyn std::error::Error + Send + Sync + 'static),
) {
    let hyper_err = e.downcast_ref::<hyper::Error>();
    if hyper_err.is_some_and(hyper::Error::is_parse_too_large) {
        if let Some(times) = logs.head_too_large.hit() {
            tracing::info!(peer = %remote, times, "request head over the limit: 431");
        }
    } else if let Some(reason) = local_h2_goaway(hyper_err) {
        if let Some(times) = logs.h2_goaway.hit() {
            tracing::info!(
                peer = %remote,
                %reason,
                times,
                "HTTP/2 connection closed by the gateway (flood or protocol error)"
            );
        }
    } else {
        tracing::debug!(peer = %remote, error = %e, "connection closed with an error");
    }
}

/// The reason of a `GOAWAY` the gateway's HTTP/2 stack sent (reset flood →
/// `ENHANCE_YOUR_CALM`, oversized header block → `COMPRESSION_ERROR`, …), if that ended the
/// connection.
fn local_h2_goaway(e: Option<&hyper::Error>) -> Option<h2::Reason> {
    use std::error::Error as _;
    let h2 = e?.source()?.downcast_ref::<h2::Error>()?;
    (h2.is_go_away() && !h2.is_remote())
        .then(|| h2.reason())
        .flatten()
}
