//! The reverse proxy: forwards a request to the upstream and streams the answer back.
//!
//! Hop-by-hop headers are dropped both ways, `X-Forwarded-*` are set, the upstream's response
//! head must arrive within the configured timeout (504 otherwise) and connection failures
//! answer 502 — through the same edge mapping as every other gateway error.
//!
//! Protocol upgrades (`Connection: upgrade` + `Upgrade: websocket`, ...) are forwarded: when the
//! upstream answers `101 Switching Protocols`, both connections are upgraded and bytes are
//! copied both ways until either side closes. The paywall has already run on the upgrade
//! request, so a paid WebSocket is paid once, at its opening handshake.

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::{body::Body, extract::ConnectInfo};
use http::{header, uri::PathAndQuery, HeaderMap, HeaderName, HeaderValue, Request, Response, Uri};
use hyper::upgrade::OnUpgrade;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::{TokioExecutor, TokioIo},
};
use tower::Service;

use crate::{error::GateError, paywall::edge};

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

/// A pooled HTTP/1.1 reverse proxy to one upstream.
#[derive(Clone, Debug)]
pub struct Proxy {
    client: Client<HttpConnector, Body>,
    upstream: Uri,
    timeout: Duration,
    retry_after_secs: u64,
}

impl Proxy {
    /// Proxy to `upstream` (an `http://host:port[/base]` URL).
    pub fn new(upstream: Uri, timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Proxy {
            client,
            upstream,
            timeout,
            retry_after_secs: 1,
        }
    }

    /// `Retry-After` seconds on 502/504 answers (default 1).
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = secs;
        self
    }

    fn target(&self, uri: &Uri) -> Result<Uri, GateError> {
        let base = self.upstream.path().trim_end_matches('/');
        let pq = uri.path_and_query().map_or("/", PathAndQuery::as_str);
        let mut parts = self.upstream.clone().into_parts();
        parts.path_and_query = Some(
            format!("{base}{pq}")
                .parse()
                .map_err(|_| GateError::Upstream("invalid request path".into()))?,
        );
        Uri::from_parts(parts).map_err(|_| GateError::Upstream("invalid upstream URI".into()))
    }

    async fn forward(self, mut req: Request<Body>) -> Result<Response<Body>, GateError> {
        let target = self.target(req.uri())?;
        let client_ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let host = req.headers().get(header::HOST).cloned();
        let upgrade = upgrade_protocol(req.headers());
        let client_side = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
        strip_hop_by_hop(req.headers_mut());
        let headers = req.headers_mut();
        if let Some(protocol) = &upgrade {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, protocol.clone());
        }
        if let Some(ip) = client_ip {
            let xff = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
                Some(prev) => format!("{prev}, {ip}"),
                None => ip.to_string(),
            };
            if let Ok(v) = HeaderValue::from_str(&xff) {
                headers.insert("x-forwarded-for", v);
            }
        }
        if let Some(h) = host {
            headers.insert("x-forwarded-host", h);
        }
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        headers.remove(header::HOST);
        *req.uri_mut() = target;
        *req.version_mut() = http::Version::HTTP_11;

        let mut resp = match tokio::time::timeout(self.timeout, self.client.request(req)).await {
            Err(_) => return Err(GateError::UpstreamTimeout),
            Ok(Err(e)) => return Err(GateError::Upstream(e.to_string())),
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
            tokio::spawn(tunnel(client_side, upstream_side));
            return Ok(Response::from_parts(parts, Body::empty()));
        }
        let (mut parts, body) = resp.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, Body::new(body)))
    }
}

/// The protocol a request asks to switch to: its `Upgrade` value when `Connection` lists
/// `upgrade`.
fn upgrade_protocol(headers: &HeaderMap) -> Option<HeaderValue> {
    let asked = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    asked
        .then(|| headers.get(header::UPGRADE).cloned())
        .flatten()
}

/// Copy bytes both ways between the upgraded client and upstream connections.
async fn tunnel(client: OnUpgrade, upstream: OnUpgrade) {
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

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
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
        let retry_after = self.retry_after_secs;
        Box::pin(async move {
            Ok(this.forward(req).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "upstream request failed");
                edge::error_response(&e, Vec::new(), retry_after)
            }))
        })
    }
}
