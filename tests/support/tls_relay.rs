//! [`TlsRelay`]: a TLS-terminating loopback relay in front of a plain-HTTP server (anvil, a
//! facilitator), so tests can reach it as `https://localhost:<port>`. Its certificate is
//! issued by a fresh test CA whose PEM is written to a file for the client to trust
//! (`[evm] ca_file`); a client without that CA must refuse the handshake.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A running TLS relay.
pub struct TlsRelay {
    /// `https://localhost:<port>` (the certificate names `localhost` and `127.0.0.1`).
    pub url: String,
    /// PEM file of the CA that issued the relay's certificate.
    pub ca_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl TlsRelay {
    /// Terminate TLS on `127.0.0.1:0` and relay the plain bytes to `target` (`http://host:port`).
    pub async fn start(target: &str) -> TlsRelay {
        let target: SocketAddr = target
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("target is http://ip:port");
        let (ca_pem, chain, key) = issue();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_pem).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A failed handshake (untrusted CA) just closes the connection.
                    let Ok(mut tls) = acceptor.accept(inbound).await else {
                        return;
                    };
                    if let Ok(mut plain) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    }
                });
            }
        });
        TlsRelay {
            url: format!("https://localhost:{port}"),
            ca_file,
            _dir: dir,
        }
    }
}

/// A test CA (PEM) and a `localhost` / `127.0.0.1` server certificate chain + key it issued.
fn issue() -> (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "gate402 test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf_key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&leaf_key, &ca).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    (ca.pem(), vec![cert.der().clone()], key)
}
