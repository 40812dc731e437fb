//! A plain HTTP JSON pricer: `POST <url>` with the request's facts, answer `{"price_sats": N}`.
//!
//! Request body (`application/json`):
//!
//! ```json
//! {"route": "report", "method": "GET", "path": "/report", "query": "size=big",
//!  "headers": {"x-tier": "gold"}, "http_request_text": "GET /report?size=big HTTP/1.1\r\n…"}
//! ```
//!
//! `headers` holds the route's `vary` headers present on the request; `http_request_text` is
//! what Aperture's gRPC pricer receives ([`super::text`]). The answer must be HTTP 200 with a
//! JSON object whose `price_sats` is an integer; anything else (other status, no or non-integer
//! `price_sats`, a body over 64 KiB) is an error and the request answers 503. `http://` and
//! `https://` (web PKI roots plus `ca_file`); HTTP/1.1, connections kept alive.

use std::{path::Path, time::Duration};

use async_trait::async_trait;
use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde_json::{json, Map, Value};

use super::{PriceQuery, PriceSource, PricingError, PricingErrorKind};

/// Largest answer read from an HTTP pricer.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// An HTTP JSON pricer client.
#[derive(Debug, Clone)]
pub struct HttpPricer {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    url: http::Uri,
}

impl HttpPricer {
    /// A client for the pricer at `url` (`http://` or `https://`).
    pub fn new(url: &str, ca_file: Option<&Path>) -> Result<HttpPricer, String> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("invalid URL {url:?}: {e}"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(format!(
                "{url:?}: an HTTP pricer URL is http(s)://host[:port]/path"
            ));
        }
        let tls = crate::proxy::upstream::tls_config(ca_file).map_err(|e| e.to_string())?;
        let mut tcp = HttpConnector::new();
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(Duration::from_secs(3)));
        tcp.enforce_http(false);
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(HttpPricer { client, url: uri })
    }

    fn failed(&self, kind: PricingErrorKind, why: impl std::fmt::Display) -> PricingError {
        PricingError::new(kind, format!("HTTP pricer {}: {why}", self.url))
    }
}

#[async_trait]
impl PriceSource for HttpPricer {
    async fn price_sats(&self, query: &PriceQuery<'_>) -> Result<i64, PricingError> {
        let headers: Map<String, Value> = query
            .vary
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
            .collect();
        let body = json!({
            "route": query.route,
            "method": query.method,
            "path": query.path,
            "query": query.query,
            "headers": headers,
            "http_request_text": query.text,
        });
        let req = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| self.failed(PricingErrorKind::Unavailable, e))?;
        let resp = self.client.request(req).await.map_err(|e| {
            self.failed(
                PricingErrorKind::Unavailable,
                gate402_rails::error_chain(&e),
            )
        })?;
        let status = resp.status();
        let bytes = Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| {
                self.failed(
                    PricingErrorKind::Unavailable,
                    format!("reading the answer: {e}"),
                )
            })?
            .to_bytes();
        if status != StatusCode::OK {
            return Err(self.failed(
                PricingErrorKind::Unavailable,
                format!("answered HTTP {status}"),
            ));
        }
        let answer: Value = serde_json::from_slice(&bytes)
            .map_err(|_| self.failed(PricingErrorKind::InvalidPrice, "the answer is not JSON"))?;
        answer
            .get("price_sats")
            .and_then(Value::as_i64)
            .ok_or_else(|| {
                self.failed(
                    PricingErrorKind::InvalidPrice,
                    "the answer has no integer `price_sats`",
                )
            })
    }
}
