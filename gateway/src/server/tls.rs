//! Downstream TLS: rustls on the workspace's `ring` provider, a certificate chain and key from
//! PEM files (`[server] tls_cert` / `tls_key`), ALPN `h2` then `http/1.1`.
//!
//! The certificate lives behind a resolver that [`ServerTls::reload`] swaps atomically: new
//! handshakes get the new certificate, connections already open keep theirs. A new pair that
//! cannot be read, parsed or does not match (key ≠ certificate) is refused with an error and
//! the old one stays in service. `gate402 serve` calls it on `SIGHUP`
//! ([`spawn_reload_on_sighup`]).

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, PoisonError, RwLock,
    },
};

use rustls::{
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use thiserror::Error;
use tokio_rustls::TlsAcceptor;

/// Largest PEM file read (a chain of a few certificates is a few KiB).
const MAX_PEM_BYTES: u64 = 1 << 20;

/// Why a certificate/key pair was refused.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// OS error.
        message: String,
    },
    /// A file is not PEM of the expected kind, or is empty.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the pair (unsupported key, key not matching the certificate).
    #[error("certificate {cert} with key {key}: {message}")]
    Pair {
        /// Certificate file.
        cert: String,
        /// Key file.
        key: String,
        /// rustls' reason.
        message: String,
    },
}

/// The served certificate, swappable at run time.
#[derive(Debug)]
struct Resolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// The listener's TLS: acceptor + the files it reloads from.
pub struct ServerTls {
    cert: PathBuf,
    key: PathBuf,
    resolver: Arc<Resolver>,
    acceptor: TlsAcceptor,
    reloaded: AtomicU64,
    refused: AtomicU64,
}

/// Reload attempts since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadStats {
    /// New pairs put in service.
    pub reloaded: u64,
    /// Attempts refused (old pair kept).
    pub refused: u64,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Load `cert` (PEM chain, leaf first) and `key` (PEM PKCS#8, PKCS#1 or SEC1). `http2`
    /// adds ALPN `h2` before `http/1.1`.
    pub fn load(cert: &Path, key: &Path, http2: bool) -> Result<ServerTls, TlsError> {
        let certified = load_pair(cert, key)?;
        warn_if_world_readable(key);
        let resolver = Arc::new(Resolver {
            current: RwLock::new(Arc::new(certified)),
        });
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Pair {
                cert: cert.display().to_string(),
                key: key.display().to_string(),
                message: e.to_string(),
            })?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = if http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Ok(ServerTls {
            cert: cert.to_owned(),
            key: key.to_owned(),
            resolver,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            reloaded: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        })
    }

    /// Read the files again and serve the new pair to new handshakes; on any error the
    /// current pair stays and the error is returned.
    pub fn reload(&self) -> Result<(), TlsError> {
        let certified = load_pair(&self.cert, &self.key).inspect_err(|_| {
            self.refused.fetch_add(1, Ordering::Relaxed);
        })?;
        *self
            .resolver
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(certified);
        self.reloaded.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// How many reloads succeeded and were refused so far.
    pub fn reload_stats(&self) -> ReloadStats {
        ReloadStats {
            reloaded: self.reloaded.load(Ordering::Acquire),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    /// The acceptor for new connections.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// The leaf certificate currently served (DER).
    pub fn certificate(&self) -> CertificateDer<'static> {
        self.resolver
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .cert[0]
            .clone()
    }
}

/// Reload `tls` on every `SIGHUP` for as long as the process runs; a refused pair is logged
/// and the old one kept. (Config reload registers its own `SIGHUP` listener: tokio delivers
/// the signal to both.)
#[cfg(unix)]
pub fn spawn_reload_on_sighup(tls: Arc<ServerTls>) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!(
                    cert = %tls.cert.display(),
                    "SIGHUP: TLS certificate reloaded"
                ),
                Err(e) => tracing::error!(
                    error = %e,
                    "SIGHUP: TLS reload refused; keeping the current certificate"
                ),
            }
        }
    }))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    use std::io::Read;
    let err = |e: std::io::Error| TlsError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut out = Vec::new();
    std::fs::File::open(path)
        .map_err(err)?
        .take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(err)?;
    if out.len() as u64 > MAX_PEM_BYTES {
        return Err(TlsError::Pem {
            path: path.display().to_string(),
            message: "larger than 1 MiB".into(),
        });
    }
    Ok(out)
}

fn load_pair(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let pem = |path: &Path, message: String| TlsError::Pem {
        path: path.display().to_string(),
        message,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<_, _>>()
        .map_err(|e| pem(cert, format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(pem(cert, "no CERTIFICATE block".into()));
    }
    // The key's parse error is not shown: it could quote key material.
    let key_der = PrivateKeyDer::from_pem_slice(&read(key)?)
        .map_err(|_| pem(key, "no PEM private key (PKCS#8, PKCS#1 or SEC1)".into()))?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(chain, key_der, &provider).map_err(|e| TlsError::Pair {
        cert: cert.display().to_string(),
        key: key.display().to_string(),
        message: e.to_string(),
    })
}

#[cfg(unix)]
fn warn_if_world_readable(key: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(key) {
        if meta.permissions().mode() & 0o004 != 0 {
            tracing::warn!(key = %key.display(), "the TLS private key file is world-readable; chmod 600 it");
        }
    }
}

#[cfg(not(unix))]
fn warn_if_world_readable(_key: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        let (c, k) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&c, cert.cert.pem()).unwrap();
        std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
        (c, k)
    }

    #[test]
    fn reload_swaps_the_pair_and_a_broken_one_keeps_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let (a_cert, a_key) = pair(dir.path(), "a.test");
        let (b_cert, b_key) = pair(dir.path(), "b.test");
        let tls = ServerTls::load(&a_cert, &a_key, true).unwrap();
        let first = tls.certificate();

        std::fs::copy(&b_cert, &a_cert).unwrap();
        std::fs::copy(&b_key, &a_key).unwrap();
        tls.reload().unwrap();
        let second = tls.certificate();
        assert_ne!(first, second);

        std::fs::write(&a_cert, "not pem").unwrap();
        assert!(matches!(tls.reload(), Err(TlsError::Pem { .. })));
        let (_, other_key) = pair(dir.path(), "c.test");
        std::fs::copy(&b_cert, &a_cert).unwrap();
        std::fs::copy(&other_key, &a_key).unwrap();
        let mismatch = tls.reload().unwrap_err();
        assert!(matches!(mismatch, TlsError::Pair { .. }), "{mismatch}");
        std::fs::remove_file(&a_key).unwrap();
        assert!(matches!(tls.reload(), Err(TlsError::Read { .. })));
        assert_eq!(
            tls.certificate(),
            second,
            "a refused reload changed the certificate"
        );
    }

    #[test]
    fn a_key_file_that_is_not_a_key_is_refused_without_quoting_it() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = pair(dir.path(), "a.test");
        let key = dir.path().join("bad.key");
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let e = ServerTls::load(&cert, &key, false).unwrap_err().to_string();
        assert!(!e.contains("c2VjcmV0"), "{e}");
    }
}
