//! Transport helpers: a test CA issuing `localhost` certificates (PEM files for
//! `[server] tls_cert` / `upstream_ca_file`), rustls client configs trusting it, a gateway
//! started the way `gate402 serve` starts it (listener options from `[server]`), and paying
//! an L402 challenge over the simnet.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
    sync::Arc,
};

use gate402::{
    config::Config,
    server::{self, ListenerOptions, Running},
    store::Store,
};
use gate402_protocols::l402::{self, L402Credential};
use gate402_rails::{simnet::SimNode, LightningRail, PayLimits};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::pki_types::{pem::PemObject, CertificateDer};
use tokio::net::TcpListener;

use crate::SECRET;

/// A fresh certificate authority.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and key issued by a [`TestCa`], as PEM files.
pub struct Issued {
    /// PEM certificate chain file.
    pub cert: PathBuf,
    /// PEM private key file.
    pub key: PathBuf,
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCa {
    /// A new self-signed CA.
    pub fn new() -> TestCa {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(DnType::CommonName, "gate402 transport test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        TestCa { issuer }
    }

    /// Write the CA certificate to `dir/name` and return the path.
    pub fn write_ca(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, self.issuer.pem()).unwrap();
        path
    }

    /// Issue a `localhost` / `127.0.0.1` server certificate named `cn` into `dir`.
    pub fn issue(&self, dir: &Path, cn: &str) -> Issued {
        let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        leaf.subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        leaf.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let cert = leaf.signed_by(&key, &self.issuer).unwrap();
        let issued = Issued {
            cert: dir.join(format!("{cn}.crt")),
            key: dir.join(format!("{cn}.key")),
        };
        std::fs::write(&issued.cert, cert.pem()).unwrap();
        std::fs::write(&issued.key, key.serialize_pem()).unwrap();
        issued
    }

    /// A rustls client config trusting this CA, offering `alpn`.
    pub fn client_config(&self, alpn: &[&[u8]]) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.issuer.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        cfg
    }

    /// A rustls server config for `issued`, offering `alpn`.
    pub fn server_config(issued: &Issued, alpn: &[&[u8]]) -> rustls::ServerConfig {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&issued.cert)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&issued.key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        cfg
    }
}

/// Start a gateway for `config` (test [`SECRET`], minting on `rail`, recording in `store`)
/// with the listener options of its `[server]` section — TLS, limits, HTTP/2 — as
/// `gate402 serve` does.
pub async fn serve_gateway(
    config: &Config,
    rail: Arc<dyn LightningRail>,
    store: Arc<dyn Store>,
) -> Running {
    let paywall = server::paywall_with_secret(config, rail, &SECRET).unwrap();
    let refresh = config.store.revocation_refresh();
    let paywall = server::attach_store(paywall, store, refresh).await.unwrap();
    let router = server::router(config, Arc::new(paywall)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = ListenerOptions::from_config(&config.server).unwrap();
    server::serve(listener, router, options).unwrap()
}

/// Pay the first L402 challenge among `headers` with `buyer`: the credential.
pub async fn pay_l402(headers: &http::HeaderMap, buyer: &SimNode) -> L402Credential {
    let challenge = l402::parse_challenges(headers)
        .into_iter()
        .find_map(Result::ok)
        .expect("an L402 challenge");
    let paid = buyer
        .pay_invoice(&challenge.invoice, PayLimits::default())
        .await
        .expect("the buyer pays the invoice");
    challenge.credential(paid.preimage)
}

/// The `Grpc-Metadata-Macaroon` / `Macaroon` form of `credential` (Aperture's gRPC client):
/// the hex macaroon with a `preimage=<hex>` caveat appended.
pub fn macaroon_with_preimage(credential: &L402Credential) -> String {
    let mut mac = credential.macaroon.clone();
    mac.add_first_party_caveat(format!("preimage={}", hex::encode(credential.preimage)).as_bytes());
    hex::encode(mac.encode_v2())
}
