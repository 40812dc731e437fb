//! [`PaywallLayer`] / [`PaywallService`] / [`ResponseFuture`]: the paywall as a tower
//! middleware, usable in front of the reverse proxy or inside any axum app.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{ready, Context, Poll},
};

use axum::body::Body;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::{fast::Fast, Paywall, Receipt};

/// Tower layer that puts a [`Paywall`] in front of a service.
#[derive(Debug, Clone)]
pub struct PaywallLayer {
    paywall: Arc<Paywall>,
    request_receipt: bool,
}

impl PaywallLayer {
    /// Wrap services with `paywall`. Paid requests reach the inner service with their
    /// [`Receipt`] as a request extension.
    pub fn new(paywall: Arc<Paywall>) -> Self {
        PaywallLayer {
            paywall,
            request_receipt: true,
        }
    }

    /// Paid requests reach the inner service without the [`Receipt`] extension (the
    /// response still carries it, for the access log and metrics): for an inner service that
    /// never reads it, such as the gateway's own proxy, it saves a copy per paid request.
    pub fn without_request_receipt(mut self) -> Self {
        self.request_receipt = false;
        self
    }
}

impl<S> Layer<S> for PaywallLayer {
    type Service = PaywallService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PaywallService {
            inner,
            paywall: self.paywall.clone(),
            request_receipt: self.request_receipt,
        }
    }
}

/// A service behind a paywall. Paid requests reach `inner` with a [`Receipt`] extension
/// (unless the layer was built [`PaywallLayer::without_request_receipt`]).
#[derive(Debug, Clone)]
pub struct PaywallService<S> {
    inner: S,
    paywall: Arc<Paywall>,
    request_receipt: bool,
}

type SettleFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

type AuthorizeFuture =
    Pin<Box<dyn Future<Output = Result<(Request<Body>, Option<Receipt>), Response<Body>>> + Send>>;

impl<S> Service<Request<Body>> for PaywallService<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture<S>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The inner service is driven to readiness by the response future, after the
        // (asynchronous) authorization, on its own clone.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let grpc = super::grpc::is_grpc(req.headers());
        let ready = |inner: &S, req, receipt| State::Ready {
            inner: inner.clone(),
            req: Some(req),
            receipt,
        };
        // A free request (no priced route) goes straight to the inner service, and a reused
        // token verified and recorded before is decided here: no boxed authorization future.
        let state = match self.paywall.priced_route(&req) {
            None => ready(&self.inner, req, None),
            Some((table, i)) => {
                match self
                    .paywall
                    .authorize_cached(&table.routes()[i], req, self.request_receipt)
                {
                    Fast::Paid(req, receipt) => ready(&self.inner, req, Some(receipt)),
                    Fast::Answer(resp) => State::Answered {
                        resp: Some(own_answer(grpc, resp)),
                    },
                    Fast::Slow(req) => {
                        let paywall = self.paywall.clone();
                        let request_receipt = self.request_receipt;
                        State::Authorize {
                            fut: Box::pin(async move {
                                let route = &table.routes()[i];
                                paywall.authorize_route(route, req, request_receipt).await
                            }),
                            inner: Some(self.inner.clone()),
                        }
                    }
                }
            }
        };
        ResponseFuture {
            grpc,
            paywall: self.paywall.clone(),
            state,
        }
    }
}

pin_project! {
    /// Response future of [`PaywallService`]: authorize, call the inner service, settle a
    /// pending x402 payment (the response is released only once settled), attach receipts,
    /// and have the response mark its payment served or unserved (`served.rs`). The
    /// paywall's own answers to a gRPC call take the gRPC form ([`super::grpc`]).
    pub struct ResponseFuture<S: Service<Request<Body>>> {
        paywall: Arc<Paywall>,
        grpc: bool,
        #[pin]
        state: State<S>,
    }
}

pin_project! {
    // The receipt is boxed: every request's future is moved a few times on its way into
    // hyper's dispatcher, and an inline receipt (336 bytes) made it 608 bytes.
    #[project = StateProj]
    enum State<S: Service<Request<Body>>> {
        Authorize { fut: AuthorizeFuture, inner: Option<S> },
        Ready { inner: S, req: Option<Request<Body>>, receipt: Option<Box<Receipt>> },
        Inner { #[pin] fut: S::Future, receipt: Option<Box<Receipt>>, started: Option<std::time::Instant> },
        Settle { fut: SettleFuture },
        Answered { resp: Option<Response<Body>> },
    }
}

impl<S> Future for ResponseFuture<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Authorize { fut, inner } => match ready!(fut.as_mut().poll(cx)) {
                    Ok((req, receipt)) => match inner.take() {
                        Some(inner) => this.state.set(State::Ready {
                            inner,
                            req: Some(req),
                            receipt: receipt.map(Box::new),
                        }),
                        None => return Poll::Ready(Ok(polled_after_completion())),
                    },
                    Err(resp) => return Poll::Ready(Ok(own_answer(*this.grpc, resp))),
                },
                StateProj::Ready {
                    inner,
                    req,
                    receipt,
                } => {
                    ready!(inner.poll_ready(cx))?;
                    let (Some(req), receipt) = (req.take(), receipt.take()) else {
                        return Poll::Ready(Ok(polled_after_completion()));
                    };
                    let started = this.paywall.metrics().map(|_| std::time::Instant::now());
                    let fut = inner.call(req);
                    this.state.set(State::Inner {
                        fut,
                        receipt,
                        started,
                    });
                }
                StateProj::Inner {
                    fut,
                    receipt,
                    started,
                } => {
                    let mut resp = ready!(fut.poll(cx))?;
                    if let (Some(m), Some(t)) = (this.paywall.metrics(), started) {
                        m.upstream_seconds.observe(t.elapsed().as_secs_f64());
                    }
                    let Some(mut receipt) = receipt.take() else {
                        return Poll::Ready(Ok(resp));
                    };
                    // Receipt headers (x402's are added once settled), exposed to
                    // cross-origin pages. A reused L402 token has none: nothing to expose.
                    if !receipt.headers.is_empty() || receipt.pending.is_some() {
                        for (name, value) in &receipt.headers {
                            resp.headers_mut().append(name.clone(), value.clone());
                        }
                        resp.headers_mut().append(
                            http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
                            http::HeaderValue::from_static(super::edge::EXPOSE_RECEIPT),
                        );
                    }
                    let pending = receipt.pending.take();
                    let ledger = receipt.ledger.take();
                    let first_use = receipt.first_use.take();
                    let (route, price) = first_use
                        .as_ref()
                        .map(|_| (receipt.route.clone(), receipt.price_msat))
                        .unwrap_or_default();
                    resp.extensions_mut().insert(*receipt);
                    let paywall = this.paywall.clone();
                    let fut: SettleFuture = match (pending, ledger, first_use) {
                        (Some(p), _, _) => {
                            Box::pin(async move { paywall.x402_finish(p, resp).await })
                        }
                        (None, None, _) => return Poll::Ready(Ok(resp)),
                        (None, Some(entry), Some(f)) => Box::pin(async move {
                            paywall
                                .finish_first_use(f, &route, price, entry, resp)
                                .await
                        }),
                        (None, Some(entry), None) if resp.status().as_u16() < 400 => {
                            return Poll::Ready(Ok(paywall.track(entry, resp)));
                        }
                        (None, Some(entry), None) => {
                            Box::pin(async move { paywall.not_served(entry, resp).await })
                        }
                    };
                    this.state.set(State::Settle { fut });
                }
                StateProj::Answered { resp } => {
                    return Poll::Ready(Ok(resp.take().unwrap_or_else(polled_after_completion)));
                }
                StateProj::Settle { fut } => {
                    let resp = ready!(fut.as_mut().poll(cx));
                    return Poll::Ready(Ok(own_answer(*this.grpc, resp)));
                }
            }
        }
    }
}

/// An answer made by the paywall itself, in gRPC form for a gRPC call.
fn own_answer(grpc: bool, resp: Response<Body>) -> Response<Body> {
    if grpc {
        super::grpc::into_grpc(resp)
    } else {
        resp
    }
}

#[cold]
fn polled_after_completion() -> Response<Body> {
    tracing::error!("paywall response future polled after completion");
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    resp
}
