//! The reverse proxy: forwards a request to the upstream and streams the answer back.
//!
//! Hop-by-hop headers are dropped both ways (`TE: trailers` is kept for gRPC), `X-Forwarded-*`
//! are set, the upstream's response head must arrive within the configured timeout (504
//! otherwise) and connection failures answer 502 — through the same edge mapping as every
//! other gateway error (in gRPC form for gRPC requests: `grpc-status` 14 / 4).
//!
//! Bodies stream both ways frame by frame, trailers included (gRPC's `grpc-status` /
//! `grpc-message`): nothing is buffered. The upstream is HTTP/1.1, HTTP/2 prior knowledge or
//! TLS with ALPN ([`upstream`]). A request body that passes the paid-route limit while
//! streaming (see `paywall::body`) answers 413. An HTTP/1.1 client connection to an
//! `http://` upstream keeps its own upstream connection ([`sticky`]); the rest is pooled.
//!
//! Protocol upgrades (`Connection: upgrade` + `Upgrade: websocket`, ...) are forwarded: when the
//! upstream answers `101 Switching Protocols`, both connections are upgraded and bytes are
//! copied both ways until either side closes. The paywall has already run on the upgrade
//! request, so a paid WebSocket is paid once, at its opening handshake.

pub mod headers;
pub mod sticky;
pub mod upstream;

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    path::Path,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{body::Body, extract::ConnectInfo};
use http::{header, uri::PathAndQuery, HeaderValue, Request, Response, Uri, Version};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tower::Service;

use crate::{
    error::GateError,
    paywall::{edge, grpc, StreamedBodyLimit},
    server::{ConnectionHold, Https},
};
use headers::{set_forwarded, strip_hop_by_hop, upgrade_protocol};
pub use upstream::{Upstream, UpstreamError, UpstreamKind};

/// A reverse proxy to one upstream (HTTP/1.1, h2c or https). Cloning it (once per
/// request, as a tower service) is one `Arc` increment.
#[derive(Clone, Debug)]
pub struct Proxy {
    inner: Arc<Inner>,
    retry_after_secs: u64,
}

#[derive(Debug)]
struct Inner {
    clients: upstream::Clients,
    upstream: Upstream,
    timeout: Duration,
    /// The base URI's path without its trailing `/` (empty for most upstreams).
    base_path: String,
    /// `Host` for an `http://` upstream, made once (else hyper's client formats it from the
    /// URI per request).
    host: Option<HeaderValue>,
}

impl Proxy {
    /// Proxy to `upstream`; `timeout` bounds the connect and the response head; `ca_file`
    /// adds trusted CAs for an `https://` upstream.
    pub fn new(
        upstream: Upstream,
        timeout: Duration,
        ca_file: Option<&Path>,
    ) -> Result<Self, UpstreamError> {
        let clients = upstream::Clients::new(&upstream, timeout, ca_file)?;
        let base_path = upstream.base.path().trim_end_matches('/').to_owned();
        // HTTP/2 upstreams take `:authority` from the URI; only HTTP/1.1 needs `Host`.
        let host = (upstream.kind == UpstreamKind::Http1)
            .then(|| upstream.base.authority())
            .flatten()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok());
        Ok(Proxy {
            inner: Arc::new(Inner {
                clients,
                upstream,
                timeout,
                base_path,
                host,
            }),
            retry_after_secs: 1,
        })
    }

    /// `Retry-After` seconds on 502/504 answers (default 1).
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = secs;
        self
    }

    /// The upstream's path and query for a request to `uri` (its own, after the upstream's
    /// base path if there is one).
    fn path(&self, uri: &Uri) -> Result<PathAndQuery, GateError> {
        let base = self.inner.base_path.as_str();
        match uri.path_and_query() {
            // No base path: the request's own path and query, as parsed (no copy).
            Some(pq) if base.is_empty() => Ok(pq.clone()),
            pq => format!("{base}{}", pq.map_or("/", PathAndQuery::as_str))
                .parse()
                .map_err(|_| GateError::Upstream("invalid request path".into())),
        }
    }

    /// The absolute URI of `path` on the upstream (what the pooled client takes).
    fn absolute(&self, path: PathAndQuery) -> Result<Uri, GateError> {
        let mut parts = self.inner.upstream.base.clone().into_parts();
        parts.path_and_query = Some(path);
        Uri::from_parts(parts).map_err(|_| GateError::Upstream("invalid upstream URI".into()))
    }

    /// Send `req` (its URI still to be set) on the client connection's own upstream
    /// connection when there is a [`sticky::Slot`] for it, else on a pooled connection.
    async fn exchange(
        &self,
        mut req: Request<Body>,
        client: &upstream::UpstreamClient,
        slot: Option<sticky::Slot>,
        path: PathAndQuery,
    ) -> Result<Response<Body>, GateError> {
        if let (Some(slot), Some(connector)) = (slot, &self.inner.clients.sticky) {
            *req.uri_mut() = Uri::from(path.clone());
            match sticky::send(&slot, connector, &self.inner.upstream.base, req).await {
                Ok(resp) => return Ok(resp),
                Err(sticky::Failed::NotSent(r)) => req = *r,
                Err(sticky::Failed::Connect(e)) => return Err(upstream_error(&*e)),
                Err(sticky::Failed::Hyper(e)) => return Err(upstream_error(&e)),
            }
        }
        *req.uri_mut() = self.absolute(path)?;
        match client.request(req).await {
            Ok(resp) => Ok(resp.map(Body::new)),
            Err(e) => Err(upstream_error(&e)),
        }
    }

    async fn forward(self, mut req: Request<Body>) -> Result<Response<Body>, GateError> {
        let path = self.path(req.uri())?;
        let client_ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let https = req.extensions().get::<Https>().is_some();
        let authority = req.uri().authority().cloned();
        let upgrade = upgrade_protocol(req.headers());
        let client_side = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
        let hold = req.extensions_mut().remove::<ConnectionHold>();
        let slot = req
            .extensions_mut()
            .remove::<sticky::Slot>()
            .filter(|_| upgrade.is_none());
        let headers = req.headers_mut();
        strip_hop_by_hop(headers);
        if let Some(protocol) = &upgrade {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, protocol.clone());
        }
        set_forwarded(
            headers,
            client_ip,
            authority.as_ref().map(|a| a.as_str()),
            https,
        );
        if let Some(host) = &self.inner.host {
            headers.insert(header::HOST, host.clone());
        }
        // The client picks the wire version: HTTP/1.1 for http:// and upgrades,
        // prior-knowledge HTTP/2 for h2c://, ALPN for https://.
        *req.version_mut() = Version::HTTP_11;
        let client = match upgrade {
            Some(_) => &self.inner.clients.upgrades,
            None => &self.inner.clients.main,
        };
        let limit = req.extensions().get::<StreamedBodyLimit>().cloned();

        let exchange = self.exchange(req, client, slot, path);
        let mut resp = match tokio::time::timeout(self.inner.timeout, exchange).await {
            Err(_) => return Err(GateError::UpstreamTimeout),
            Ok(Err(e)) => {
                return Err(match limit.and_then(|l| l.exceeded()) {
                    Some(limit) => GateError::BodyTooLarge { limit },
                    None => e,
                })
            }
            Ok(Ok(resp)) => resp,
        };
        if resp.status() == http::StatusCode::SWITCHING_PROTOCOLS {
            let Some(client_side) = client_side else {
                return Err(GateError::Upstream(
                    "upstream switched protocols without being asked to".into(),
                ));
            };
            let upstream_side = hyper::upgrade::on(&mut resp);
            let protocol = resp.headers().get(header::UPGRADE).cloned();
            let (mut parts, _) = resp.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            parts
                .headers
                .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            if let Some(p) = protocol {
                parts.headers.insert(header::UPGRADE, p);
            }
            tokio::spawn(tunnel(client_side, upstream_side, hold));
            return Ok(Response::from_parts(parts, Body::empty()));
        }
        strip_hop_by_hop(resp.headers_mut());
        Ok(resp)
    }
}

/// A failed upstream exchange, with its causes.
fn upstream_error(e: &(dyn std::error::Error + 'static)) -> GateError {
    GateError::Upstream(error_chain(e))
}

/// `e` and its sources, `: `-joined (hyper's top-level messages alone say little).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(err) = cur {
        out.push_str(": ");
        out.push_str(&err.to_string());
        cur = err.source();
    }
    out
}

/// Copy bytes both ways between the upgraded client and upstream connections; `_hold` keeps
/// the client connection counted against the listener's caps meanwhile.
async fn tunnel(client: OnUpgrade, upstream: OnUpgrade, _hold: Option<ConnectionHold>) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::debug!(error = %e, "protocol upgrade failed");
            return;
        }
    };
    let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(error = %e, "upgraded connection closed with an error");
    }
}

impl Service<Request<Body>> for Proxy {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let this = self.clone();
        let grpc = grpc::is_grpc(req.headers());
        let retry_after = self.retry_after_secs;
        Box::pin(async move {
            Ok(this.forward(req).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "upstream request failed");
                let resp = edge::error_response(&e, Vec::new(), retry_after);
                if grpc {
                    grpc::into_grpc(resp)
                } else {
                    resp
                }
            }))
        })
    }
}
