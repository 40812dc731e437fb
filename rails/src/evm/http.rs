//! The HTTP client under the chain provider and the facilitator client: reqwest (the version
//! alloy's transport uses) over rustls on the `ring` provider, so `https://` node and
//! facilitator URLs work. Trusted roots: the webpki (Mozilla) set, plus the certificates of an
//! optional PEM file (a private CA, or a test relay's self-signed one). HTTP/1.1, no proxy
//! from the environment, `TCP_NODELAY`, one timeout per request.
//!
//! reqwest is built with `rustls-no-provider` (its `rustls` feature would bring aws-lc-rs):
//! every client must come from [`HttpOptions::client`] — `reqwest::Client::new()` (or alloy's
//! `connect_http`) panics for want of a process-wide crypto provider.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{pem::PemObject, CertificateDer};

use super::{EvmError, EvmErrorKind};

/// How to reach a node or facilitator over HTTP(S).
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Every request (connect + answer) gives up after this.
    pub timeout: Duration,
    /// PEM file of extra trusted CA certificates (added to the webpki roots).
    pub ca_file: Option<PathBuf>,
}

impl HttpOptions {
    /// Webpki roots only, with `timeout`.
    pub fn new(timeout: Duration) -> Self {
        HttpOptions {
            timeout,
            ca_file: None,
        }
    }

    /// Also trust the CA certificates in `path` (PEM).
    pub fn with_ca_file(mut self, path: Option<PathBuf>) -> Self {
        self.ca_file = path;
        self
    }

    /// The reqwest client. Fails with [`EvmErrorKind::Config`] when the CA file is unreadable
    /// or holds no certificate.
    pub fn client(&self) -> Result<reqwest::Client, EvmError> {
        let config = |m: String| EvmError::new(EvmErrorKind::Config, "tls_config", m);
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = &self.ca_file {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| config(format!("CA file {}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(config(format!(
                    "CA file {}: no certificate",
                    path.display()
                )));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| config(format!("CA file {}: {e}", path.display())))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| config(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(self.timeout)
            .tcp_nodelay(true)
            .no_proxy()
            .build()
            .map_err(|e| config(e.to_string()))
    }
}

/// Parse an `http(s)://` URL for reqwest (a bad URL is a configuration error).
pub(crate) fn parse_url(url: &str) -> Result<reqwest::Url, EvmError> {
    reqwest::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            EvmError::new(
                EvmErrorKind::Config,
                "invalid_url",
                format!("not an http(s) URL: {url}"),
            )
        })
}

/// A reqwest failure (refused, reset, TLS, timeout, unreadable body): retry later.
pub(crate) fn unavailable(e: &reqwest::Error) -> EvmError {
    let reason = if e.is_timeout() {
        "timeout"
    } else {
        "rpc_unreachable"
    };
    EvmError::new(EvmErrorKind::Unavailable, reason, crate::error_chain(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_or_https() {
        assert!(parse_url("https://rpc.example.com/v2/key").is_ok());
        assert!(parse_url("http://127.0.0.1:8545").is_ok());
        for bad in ["ftp://x", "127.0.0.1:8545", "https://", ""] {
            assert_eq!(
                parse_url(bad).unwrap_err().kind,
                EvmErrorKind::Config,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_bad_ca_file_is_a_config_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let t = Duration::from_secs(1);
        for path in [empty, dir.join("missing.pem")] {
            let e = HttpOptions::new(t)
                .with_ca_file(Some(path))
                .client()
                .unwrap_err();
            assert_eq!((e.kind, e.reason), (EvmErrorKind::Config, "tls_config"));
        }
        assert!(HttpOptions::new(t).client().is_ok());
    }
}
