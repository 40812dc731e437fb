//! A client connection's own upstream connection: HTTP/1.1 requests to an `http://` upstream
//! that arrive on one HTTP/1.1 client connection go out on one upstream connection, driven
//! by the client connection's task itself.
//!
//! The pooled client (`hyper_util`'s legacy `Client`) runs every upstream connection as a
//! task of its own: each request is handed to that task through channels and its answer
//! handed back, a wake-up of another task (often on the other worker thread) each way, plus
//! a checkout from and a return to the shared pool (a lock and a hashed key). A client
//! connection's requests come one after the other, so its upstream connection can live in
//! its [`Slot`] (one per client connection, in the request's extensions) and be polled by the
//! request future while the head is awaited, then by the response body ([`StickyBody`])
//! while it streams: no other task, no pool. The connection goes back to the slot only once
//! its response was read to the end; a body dropped half-read closes it.
//!
//! Bounds: at most one upstream connection per open client connection (which the listener
//! caps), closed with it. What this path does not handle goes through the pool as before:
//! HTTP/2 client connections (concurrent streams), `h2c://` and `https://` upstreams,
//! protocol upgrades, and a request the idle connection could not take (the upstream closed
//! it meanwhile: the request was not sent and is retried on a pooled connection, as the pool
//! itself retries).

use std::{
    future::{poll_fn, Future},
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response, Uri};
use hyper::{
    body::{Frame, Incoming, SizeHint},
    client::conn::{http1, TrySendError},
};
use hyper_util::{client::legacy::connect::HttpConnector, rt::TokioIo};
use tokio::net::TcpStream;
use tower::Service;

/// The upstream connection a client connection keeps between its requests (request
/// extension; one per HTTP/1.1 client connection).
#[derive(Debug, Clone, Default)]
pub struct Slot(Arc<Mutex<Option<Box<Conn>>>>);

impl Slot {
    fn take(&self) -> Option<Box<Conn>> {
        self.0.lock().ok()?.take()
    }

    fn put(&self, conn: Box<Conn>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(conn);
        }
    }
}

/// The I/O half of an upstream connection.
type Io = http1::Connection<TokioIo<TcpStream>, Body>;

/// One upstream HTTP/1.1 connection: the sender and the connection future that does its I/O.
pub struct Conn {
    send: http1::SendRequest<Body>,
    /// `None` once the connection finished (closed).
    io: Option<Pin<Box<Io>>>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("open", &self.io.is_some())
            .finish()
    }
}

impl Conn {
    /// Let the connection do its I/O (write the request, read the answer, notice a close).
    fn drive(&mut self, cx: &mut Context<'_>) {
        if let Some(io) = &mut self.io {
            if io.as_mut().poll(cx).is_ready() {
                self.io = None;
            }
        }
    }

    /// Ready for a request; `false` when the upstream closed it.
    async fn ready(&mut self) -> bool {
        poll_fn(|cx| {
            self.drive(cx);
            if self.io.is_none() {
                return Poll::Ready(false);
            }
            self.send.poll_ready(cx).map(|r| r.is_ok())
        })
        .await
    }
}

/// Why the sticky path did not answer.
pub enum Failed {
    /// Not sent: the caller sends it through the pool.
    NotSent(Box<Request<Body>>),
    /// Connecting to the upstream failed.
    Connect(Box<dyn std::error::Error + Send + Sync>),
    /// The handshake or the exchange failed (the request perhaps written).
    Hyper(hyper::Error),
}

/// Send `req` (origin-form URI, `Host` set) on `slot`'s connection, or on a new one to
/// `upstream` (connected with `connector`), and answer with a body that gives the connection
/// back to the slot once read to the end.
pub async fn send(
    slot: &Slot,
    connector: &HttpConnector,
    upstream: &Uri,
    req: Request<Body>,
) -> Result<Response<Body>, Failed> {
    let idle = match slot.take() {
        Some(mut c) => c.ready().await.then_some(c),
        None => None,
    };
    let mut conn = match idle {
        Some(c) => c,
        None => {
            let mut c = connect(connector, upstream).await?;
            if !c.ready().await {
                return Err(Failed::NotSent(Box::new(req)));
            }
            c
        }
    };
    let mut answer = std::pin::pin!(conn.send.try_send_request(req));
    let answer = poll_fn(|cx| {
        conn.drive(cx);
        answer.as_mut().poll(cx)
    })
    .await;
    match answer {
        Ok(resp) => Ok(resp.map(|body| {
            Body::new(StickyBody {
                body,
                conn: Some(conn),
                slot: slot.clone(),
                ended: false,
            })
        })),
        Err(e) => Err(not_sent(e)),
    }
}

fn not_sent(mut e: TrySendError<Request<Body>>) -> Failed {
    match e.take_message() {
        Some(req) => Failed::NotSent(Box::new(req)),
        None => Failed::Hyper(e.into_error()),
    }
}

/// A new connection to `upstream`, its I/O driven by whoever holds it.
async fn connect(connector: &HttpConnector, upstream: &Uri) -> Result<Box<Conn>, Failed> {
    let mut connector = connector.clone();
    let io = connector
        .call(upstream.clone())
        .await
        .map_err(|e| Failed::Connect(e.into()))?;
    let (send, io) = http1::Builder::new()
        .handshake(io)
        .await
        .map_err(Failed::Hyper)?;
    Ok(Box::new(Conn {
        send,
        io: Some(Box::pin(io)),
    }))
}

pin_project_lite::pin_project! {
    /// The upstream's response body; drives the upstream connection while it streams and
    /// gives it back to the slot when dropped after its end.
    pub struct StickyBody {
        #[pin]
        body: Incoming,
        conn: Option<Box<Conn>>,
        slot: Slot,
        ended: bool,
    }

    impl PinnedDrop for StickyBody {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let ended = *this.ended || hyper::body::Body::is_end_stream(&*this.body);
            if let (true, Some(conn)) = (ended, this.conn.take()) {
                if conn.io.is_some() && !conn.send.is_closed() {
                    this.slot.put(conn);
                }
            }
        }
    }
}

impl hyper::body::Body for StickyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.project();
        if let Some(conn) = this.conn {
            conn.drive(cx);
        }
        let frame = this.body.poll_frame(cx);
        if let Poll::Ready(None) = frame {
            *this.ended = true;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
