//! The upstream: its URL kinds and the pooled hyper clients that reach it.
//!
//! * `http://host:port[/base]` — HTTP/1.1.
//! * `h2c://host:port[/base]` — HTTP/2 over plain TCP with prior knowledge (a gRPC server).
//! * `https://host[:port][/base]` — TLS (rustls on `ring`, the webpki roots plus an optional
//!   CA file), HTTP/2 or HTTP/1.1 as the server picks by ALPN.
//!
//! Protocol upgrades (WebSocket) need HTTP/1.1, so upgrade requests take a second client that
//! speaks only HTTP/1.1 to the same upstream (plain for `h2c://`, ALPN `http/1.1` for
//! `https://`).

use std::{path::Path, sync::Arc, time::Duration};

use axum::body::Body;
use http::Uri;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client, ResponseFuture},
    rt::{TokioExecutor, TokioTimer},
};
use rustls::pki_types::{pem::PemObject, CertificateDer};
use thiserror::Error;

/// A pooled client (HTTP/1.1 or HTTP/2): over plain TCP for `http://` and `h2c://`, over
/// TLS for `https://`. The plain one does not carry the TLS-capable connector, which the
/// pool clones and drops on every request (≈ 0.1 µs per request, issue I).
#[derive(Clone, Debug)]
pub enum UpstreamClient {
    /// `http://`, `h2c://`.
    Plain(Client<HttpConnector, Body>),
    /// `https://`.
    Tls(Client<HttpsConnector<HttpConnector>, Body>),
}

impl UpstreamClient {
    /// Send `req` (an absolute URI on the upstream) on a pooled connection.
    pub fn request(&self, req: http::Request<Body>) -> ResponseFuture {
        match self {
            UpstreamClient::Plain(c) => c.request(req),
            UpstreamClient::Tls(c) => c.request(req),
        }
    }
}

/// How the gateway talks to its upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamKind {
    /// `http://`: HTTP/1.1.
    Http1,
    /// `h2c://`: HTTP/2 prior knowledge over plain TCP.
    H2c,
    /// `https://`: TLS, HTTP/2 or HTTP/1.1 by ALPN.
    Https,
}

/// A bad upstream setting (reported at start).
#[derive(Debug, Error)]
pub enum UpstreamError {
    /// The URL is not `http://`, `h2c://` or `https://` with a host.
    #[error("server.upstream `{0}`: must be an http://, h2c:// or https:// URL with a host")]
    Url(String),
    /// The CA file cannot be read or holds no certificate.
    #[error("server.upstream_ca_file {path}: {message}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the client configuration.
    #[error("upstream TLS: {0}")]
    Tls(String),
}

/// A parsed upstream: kind and the base URI requests are rewritten onto (scheme `http` or
/// `https`, as the connector expects).
#[derive(Debug, Clone)]
pub struct Upstream {
    /// How it is reached.
    pub kind: UpstreamKind,
    /// Scheme, authority and base path.
    pub base: Uri,
}

impl Upstream {
    /// Parse `http://…`, `h2c://…` or `https://…`.
    pub fn parse(url: &str) -> Result<Upstream, UpstreamError> {
        let bad = || UpstreamError::Url(url.to_owned());
        let (kind, rest) = if let Some(rest) = url.strip_prefix("h2c://") {
            (UpstreamKind::H2c, format!("http://{rest}"))
        } else if url.starts_with("http://") {
            (UpstreamKind::Http1, url.to_owned())
        } else if url.starts_with("https://") {
            (UpstreamKind::Https, url.to_owned())
        } else {
            return Err(bad());
        };
        let base: Uri = rest.parse().map_err(|_| bad())?;
        if base.authority().is_none() {
            return Err(bad());
        }
        Ok(Upstream { kind, base })
    }
}

/// The clients for one upstream: `main` for every request, `upgrades` (HTTP/1.1 only) for
/// protocol upgrades.
#[derive(Clone, Debug)]
pub struct Clients {
    /// Ordinary requests.
    pub main: UpstreamClient,
    /// `Connection: upgrade` requests.
    pub upgrades: UpstreamClient,
    /// Connects the client connections' own upstream connections (`http://` only; see
    /// [`super::sticky`]).
    pub sticky: Option<HttpConnector>,
}

impl Clients {
    /// Build the clients for `upstream`; `connect_timeout` bounds TCP connects, `ca_file`
    /// adds trusted CAs for `https://`.
    pub fn new(
        upstream: &Upstream,
        connect_timeout: Duration,
        ca_file: Option<&Path>,
    ) -> Result<Clients, UpstreamError> {
        let tls = tls_config(ca_file)?;
        let mut tcp = HttpConnector::new();
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(connect_timeout));
        tcp.enforce_http(false);
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new());
        let plain_h1 = UpstreamClient::Plain(builder.build(tcp.clone()));
        let sticky = (upstream.kind == UpstreamKind::Http1).then(|| tcp.clone());
        let (main, h1) = match upstream.kind {
            UpstreamKind::Http1 => (plain_h1.clone(), plain_h1),
            UpstreamKind::H2c => (
                UpstreamClient::Plain(builder.clone().http2_only(true).build(tcp)),
                plain_h1,
            ),
            UpstreamKind::Https => {
                let h1 = HttpsConnectorBuilder::new()
                    .with_tls_config(tls.clone())
                    .https_or_http()
                    .enable_http1()
                    .wrap_connector(tcp.clone());
                let any = HttpsConnectorBuilder::new()
                    .with_tls_config(tls)
                    .https_or_http()
                    .enable_all_versions()
                    .wrap_connector(tcp);
                (
                    UpstreamClient::Tls(builder.build(any)),
                    UpstreamClient::Tls(builder.build(h1)),
                )
            }
        };
        Ok(Clients {
            main,
            upgrades: h1,
            sticky,
        })
    }
}

/// Check an upstream setting without building clients: the URL and the CA file.
pub fn check(url: &str, ca_file: Option<&Path>) -> Result<(), UpstreamError> {
    Upstream::parse(url)?;
    tls_config(ca_file).map(|_| ())
}

/// rustls client config on `ring`: webpki roots plus the certificates of `ca_file`.
pub(crate) fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, UpstreamError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let ca = |message: String| UpstreamError::CaFile {
            path: path.display().to_string(),
            message,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| ca(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca("no certificate".into()));
        }
        for c in certs {
            roots.add(c).map_err(|e| ca(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls_by_kind() {
        let h1 = Upstream::parse("http://127.0.0.1:8080/base").unwrap();
        assert_eq!(h1.kind, UpstreamKind::Http1);
        assert_eq!(h1.base.to_string(), "http://127.0.0.1:8080/base");
        let h2c = Upstream::parse("h2c://127.0.0.1:50051").unwrap();
        assert_eq!(h2c.kind, UpstreamKind::H2c);
        assert_eq!(h2c.base.scheme_str(), Some("http"));
        let tls = Upstream::parse("https://api.example.com").unwrap();
        assert_eq!(tls.kind, UpstreamKind::Https);
        for bad in ["ftp://x", "h2c://", "127.0.0.1:80", "https://"] {
            assert!(Upstream::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bad_ca_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        for path in [empty, dir.path().join("missing.pem")] {
            let e = tls_config(Some(&path)).unwrap_err();
            assert!(matches!(e, UpstreamError::CaFile { .. }), "{e}");
        }
    }
}
