//! The gRPC transport to LND: TCP with `TCP_NODELAY`, TLS pinned to the node's exact
//! certificate, HTTP/2 via a tonic [`Channel`], and the macaroon on every call.
//!
//! LND's `tls.cert` is self-signed and flagged as a CA, which webpki refuses as an end-entity
//! certificate (`CaUsedAsEndEntity`). So instead of a root store, [`PinnedCert`] accepts the
//! server only if it presents exactly the configured certificate (byte comparison of the
//! end-entity DER), and still verifies the handshake signature with that certificate's key.
//! Names and validity dates are not checked: the pin is the identity.
//!
//! LND regenerates `tls.cert` (expiry, new `tlsextraip`, the operator deleting it): when the
//! node presents another certificate and the pin came from a file, the file is read again
//! (at most once per [`RELOAD_EVERY`]) and a certificate equal to what the node presents
//! becomes the new pin — so a gateway pointed at LND's directory follows a rotation without
//! a restart, and a node presenting anything else is still refused.
//!
//! Without `TCP_NODELAY`, Nagle's algorithm and delayed ACKs add ≈ 44 ms to every unary call
//! on loopback; the connector sets it on every socket.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::{RailError, RailErrorKind};

/// The channel type all LND clients use.
pub(crate) type LndChannel = InterceptedService<Channel, MacaroonInterceptor>;

/// Timeout of TCP connect plus TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Shortest time between two re-reads of the pinned certificate's file.
pub(crate) const RELOAD_EVERY: Duration = Duration::from_secs(1);

/// Server certificate verifier that accepts exactly one certificate (re-read from its file
/// when the node presents another one: see the module docs).
#[derive(Debug)]
pub(crate) struct PinnedCert {
    pin: Mutex<Pin>,
    /// Where the pin came from, for error messages.
    source: String,
    /// The file it came from, if any.
    file: Option<PathBuf>,
    provider: Arc<CryptoProvider>,
}

#[derive(Debug)]
struct Pin {
    cert: CertificateDer<'static>,
    last_reload: Option<Instant>,
}

impl PinnedCert {
    /// Whether `presented` is the pinned certificate, re-reading the file (rate-limited)
    /// when it is not.
    fn accepts(&self, presented: &[u8]) -> bool {
        let mut pin = self.pin.lock().unwrap_or_else(|p| p.into_inner());
        if pin.cert.as_ref() == presented {
            return true;
        }
        let Some(file) = &self.file else { return false };
        if pin.last_reload.is_some_and(|t| t.elapsed() < RELOAD_EVERY) {
            return false;
        }
        pin.last_reload = Some(Instant::now());
        let Ok(fresh) = super::config::load_cert(&super::CertSource::Path(file.clone())) else {
            return false;
        };
        if fresh.as_ref() != presented {
            return false;
        }
        tracing::warn!(file = %file.display(), "LND presented a new TLS certificate, matching its file: pin updated");
        pin.cert = fresh;
        true
    }
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.accepts(end_entity.as_ref()) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "server certificate does not match the pinned {}",
                self.source
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Client TLS config (ring provider, ALPN `h2`) trusting only `pinned` (re-read from
/// `file`, when given, after the node presents another certificate).
pub(crate) fn client_tls(
    pinned: CertificateDer<'static>,
    source: String,
    file: Option<PathBuf>,
) -> Result<ClientConfig, RailError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = PinnedCert {
        pin: Mutex::new(Pin {
            cert: pinned,
            last_reload: None,
        }),
        source,
        file,
        provider: provider.clone(),
    };
    let mut cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RailError::new(RailErrorKind::Internal, format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(cfg)
}

/// Build the channel to `host_port`; `eager` connects now (and fails if that fails), otherwise
/// the first call connects. Either way the channel reconnects by itself after failures.
pub(crate) async fn channel(
    host_port: &str,
    tls: ClientConfig,
    eager: bool,
) -> Result<Channel, RailError> {
    let host = host_of(host_port);
    let server_name = ServerName::try_from(host.to_owned()).map_err(|e| {
        RailError::new(
            RailErrorKind::Internal,
            format!("invalid LND address {host_port}: {e}"),
        )
    })?;
    // The URI only sets `:authority`; the connector below does TCP + TLS itself.
    let endpoint = Endpoint::from_shared(format!("http://{host_port}"))
        .map_err(|e| {
            RailError::new(
                RailErrorKind::Internal,
                format!("invalid LND address {host_port}: {e}"),
            )
        })?
        .connect_timeout(CONNECT_TIMEOUT)
        // LND refuses pings more often than every 5 s, and (by default) pings without an
        // open stream: ping only while a call or the invoice subscription is open.
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(false);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let addr = host_port.to_owned();
    let connect = tower::service_fn(move |_: Uri| {
        let (connector, addr, name) = (connector.clone(), addr.clone(), server_name.clone());
        async move {
            let tcp = TcpStream::connect(&addr).await?;
            tcp.set_nodelay(true)?;
            let tls = connector.connect(name, tcp).await?;
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    if eager {
        endpoint
            .connect_with_connector(connect)
            .await
            .map_err(|e| unavailable(host_port, &e))
    } else {
        Ok(endpoint.connect_with_connector_lazy(connect))
    }
}

/// `host` of `host:port` (IPv6 brackets removed).
fn host_of(host_port: &str) -> &str {
    let host = match host_port.rfind(':') {
        Some(i) if !host_port[i + 1..].contains(']') => &host_port[..i],
        _ => host_port,
    };
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Connection failure, with the whole error chain (which names the pinned cert on a mismatch).
/// A TLS failure is [`RailErrorKind::Certificate`] (wrong pin or not LND: retrying cannot
/// help); anything else is [`RailErrorKind::Unavailable`].
pub(crate) fn unavailable(addr: &str, e: &(dyn std::error::Error + 'static)) -> RailError {
    let kind = if is_tls_failure(e) {
        RailErrorKind::Certificate
    } else {
        RailErrorKind::Unavailable
    };
    RailError::new(
        kind,
        format!(
            "cannot connect to LND at {addr}: {}",
            super::errors::chain(e)
        ),
    )
}

/// Whether a rustls error sits anywhere in the chain (also inside `io::Error`s, whose
/// `source()` skips the wrapped error itself).
pub(crate) fn is_tls_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if is_tls_failure(inner) {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// Adds `macaroon: <hex>` to every request. Its `Debug` output redacts the macaroon.
#[derive(Clone)]
pub(crate) struct MacaroonInterceptor {
    value: MetadataValue<Ascii>,
}

impl MacaroonInterceptor {
    /// Interceptor sending `macaroon` (binary) hex-encoded.
    pub(crate) fn new(macaroon: &[u8]) -> Result<Self, RailError> {
        let value = MetadataValue::try_from(hex::encode(macaroon)).map_err(|_| {
            RailError::new(RailErrorKind::Internal, "macaroon is not valid metadata")
        })?;
        Ok(MacaroonInterceptor { value })
    }
}

impl std::fmt::Debug for MacaroonInterceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacaroonInterceptor(<redacted>)")
    }
}

impl tonic::service::Interceptor for MacaroonInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("macaroon", self.value.clone());
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_parsing() {
        assert_eq!(host_of("127.0.0.1:10009"), "127.0.0.1");
        assert_eq!(host_of("localhost:1"), "localhost");
        assert_eq!(host_of("[::1]:10009"), "::1");
        assert_eq!(host_of("node.example"), "node.example");
    }

    #[test]
    fn interceptor_debug_is_redacted() {
        let i = MacaroonInterceptor::new(&[2, 0xab, 0xcd]).unwrap();
        assert!(!format!("{i:?}").contains("abcd"));
    }
}
