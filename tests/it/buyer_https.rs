//! The buyer client over `https://`: a TLS-terminating relay (fresh self-signed certificate
//! for `localhost`, trusted by the client as its only root) in front of the gateway; the L402
//! is paid over TLS and the token, cached under `https://host:port`, is reused.

use std::sync::Arc;

use gate402::client::{ClientError, ClientRequest, Policy};
use gate402_tests::{Harness, BUYER_MSAT};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Listen on loopback with TLS and relay every connection to `backend`; the port and the
/// certificate (DER).
async fn tls_relay(backend: std::net::SocketAddr) -> (u16, Vec<u8>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let der = cert.cert.der().to_vec();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone().into()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut up) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    (port, der)
}

#[tokio::test]
async fn pays_and_reuses_a_token_over_https() {
    let h = Harness::start().await;
    let (port, der) = tls_relay(h.gateway.addr).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.into()).unwrap();
    let client = h.client("tls", Policy::default()).with_tls_roots(roots);
    let req = ClientRequest::get(format!("https://localhost:{port}/api/a").parse().unwrap());
    let first = client.send(&req).await.unwrap();
    assert_eq!(first.response.status(), 200);
    assert_eq!(first.payment.unwrap().amount_msat, 10_000);
    let again = client.send(&req).await.unwrap();
    assert!(again.reused_credential && again.payment.is_none());
    assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT - 10_000));
    assert!(client
        .cache()
        .get(&format!("https://localhost:{port}"), 0)
        .is_some());
    // The built-in roots do not trust the test certificate: a TLS error, nothing paid.
    let untrusted = h.client("tls2", Policy::default());
    let err = untrusted.send(&req).await.unwrap_err();
    assert!(
        matches!(err, ClientError::Http(ref m) if m.contains("certificate")),
        "{err}"
    );
    assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT - 10_000));
}
