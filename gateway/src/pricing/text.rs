//! What a pricer is told about a request, and the key its answer is cached under.
//!
//! Aperture's gRPC pricer receives the URL path and the request as HTTP/1.x text, the form of
//! Go's `httputil.DumpRequest(r, false)` followed by at most the first 64 KiB of the body:
//! `METHOD request-uri HTTP/x.y`, `Host: …`, the other headers sorted by name in canonical
//! case (`Content-Type`), a blank line, the body prefix. gate402 sends the same, except that
//! credential headers (`Authorization`, `X-Payment`, …) are left out: a pricer needs no secret.
//!
//! The cache key is a SHA-256 over the route, method, path, query, the configured `vary`
//! headers and the body (when one was buffered): two requests differing in anything a pricer
//! could be told about the body or query never share a price.

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderName, Request, Version};
use sha2::{Digest, Sha256};

/// Most body bytes put in the request text (Aperture's `maxPricerBodyBytes`).
pub const MAX_BODY_PREFIX: usize = 64 * 1024;

/// Headers never sent to a pricer (credentials; hop-by-hop framing Go leaves out).
const NOT_SENT: [&str; 9] = [
    "authorization",
    "payment-authorization",
    "payment-signature",
    "x-payment",
    "macaroon",
    "grpc-metadata-macaroon",
    "cookie",
    "transfer-encoding",
    "trailer",
];

/// The facts of one request a pricer may price it by.
#[derive(Debug)]
pub struct PriceQuery<'a> {
    /// The route (service) name.
    pub route: &'a str,
    /// HTTP method.
    pub method: &'a str,
    /// URL path.
    pub path: &'a str,
    /// Query string without `?` (empty: none).
    pub query: &'a str,
    /// The configured `vary` headers present on the request (lowercase name, value).
    pub vary: Vec<(&'a str, String)>,
    /// The request as HTTP/1.x text (see the module docs).
    pub text: String,
    body: Option<&'a Bytes>,
}

impl<'a> PriceQuery<'a> {
    /// Describe `req` (with its buffered `body`) on `route`.
    pub fn new(
        route: &'a str,
        req: &'a Request<Body>,
        body: Option<&'a Bytes>,
        vary: &'a [HeaderName],
    ) -> PriceQuery<'a> {
        let vary = vary
            .iter()
            .filter_map(|name| {
                let v = req.headers().get(name)?;
                Some((
                    name.as_str(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                ))
            })
            .collect();
        PriceQuery {
            route,
            method: req.method().as_str(),
            path: req.uri().path(),
            query: req.uri().query().unwrap_or(""),
            vary,
            text: request_text(req, body),
            body,
        }
    }

    /// The cache key (see the module docs).
    pub fn cache_key(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [self.route, self.method, self.path, self.query] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        for (name, value) in &self.vary {
            h.update((name.len() as u64).to_be_bytes());
            h.update(name.as_bytes());
            h.update((value.len() as u64).to_be_bytes());
            h.update(value.as_bytes());
        }
        match self.body {
            Some(b) if !b.is_empty() => {
                h.update([1]);
                h.update(Sha256::digest(b));
            }
            _ => h.update([0]),
        }
        h.finalize().into()
    }
}

/// `req` as Aperture's request text (module docs), with at most [`MAX_BODY_PREFIX`] body bytes.
pub fn request_text(req: &Request<Body>, body: Option<&Bytes>) -> String {
    let version = match req.version() {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    };
    let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let mut out = format!("{} {target} {version}\r\n", req.method());
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    if let Some(host) = host {
        out.push_str(&format!("Host: {host}\r\n"));
    }
    let mut names: Vec<&HeaderName> = req
        .headers()
        .keys()
        .filter(|n| *n != http::header::HOST && !NOT_SENT.contains(&n.as_str()))
        .collect();
    names.sort_by_key(|a| canonical(a.as_str()));
    for name in names {
        for value in req.headers().get_all(name) {
            out.push_str(&canonical(name.as_str()));
            out.push_str(": ");
            out.push_str(&String::from_utf8_lossy(value.as_bytes()));
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    if let Some(b) = body {
        let prefix = &b[..b.len().min(MAX_BODY_PREFIX)];
        out.push_str(&String::from_utf8_lossy(prefix));
    }
    out
}

/// Go's canonical MIME header key: `content-type` → `Content-Type`.
fn canonical(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
        let mut b = Request::builder().method("POST").uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn request_text_is_go_dump_request_form_without_credentials() {
        let r = req(
            "/report?size=big",
            &[
                ("host", "api.example"),
                ("x-tier", "gold"),
                ("content-type", "application/json"),
                ("authorization", "L402 secret:00"),
                ("x-payment", "secret"),
            ],
        );
        let body = Bytes::from_static(b"{\"model\":\"m\"}");
        assert_eq!(
            request_text(&r, Some(&body)),
            "POST /report?size=big HTTP/1.1\r\nHost: api.example\r\n\
             Content-Type: application/json\r\nX-Tier: gold\r\n\r\n{\"model\":\"m\"}"
        );
        let big = Bytes::from(vec![b'a'; MAX_BODY_PREFIX + 10]);
        assert!(request_text(&r, Some(&big)).ends_with(&"a".repeat(MAX_BODY_PREFIX)));
        assert!(!request_text(&r, Some(&big)).ends_with(&"a".repeat(MAX_BODY_PREFIX + 1)));
    }

    #[test]
    fn cache_keys_differ_by_query_vary_headers_and_body() {
        let vary = [HeaderName::from_static("x-tier")];
        let key = |uri: &str, h: &[(&str, &str)], body: Option<&Bytes>| {
            let r = req(uri, h);
            PriceQuery::new("report", &r, body, &vary).cache_key()
        };
        let base = key("/report?size=big", &[], None);
        assert_eq!(base, key("/report?size=big", &[("x-other", "1")], None));
        assert_ne!(base, key("/report?size=small", &[], None));
        assert_ne!(base, key("/report?size=big", &[("x-tier", "gold")], None));
        let body = Bytes::from_static(b"x");
        assert_ne!(base, key("/report?size=big", &[], Some(&body)));
        let r = req("/report?size=big", &[]);
        assert_ne!(base, PriceQuery::new("other", &r, None, &vary).cache_key());
    }
}
