//! Connection settings for [`LndRail`](super::LndRail): address, pinned TLS certificate and
//! macaroon, and their loading.
//!
//! Both the certificate and the macaroon come either from a file (LND's `tls.cert`,
//! `invoice.macaroon`, …) or inline as hex/base64 text (what users put in env vars; resolving
//! env vars is the caller's job). Every loading error names the offending file or source, so a
//! misconfigured gateway says *which* file is wrong at startup.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::{RailError, RailErrorKind};

/// Where the node's TLS certificate (LND `tls.cert`) comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum CertSource {
    /// A file holding the certificate as PEM (LND's `tls.cert`) or DER.
    Path(PathBuf),
    /// The certificate inline: PEM text, or hex/base64 of the PEM or DER bytes.
    Inline(String),
}

impl fmt::Debug for CertSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertSource::Path(p) => f.debug_tuple("Path").field(p).finish(),
            CertSource::Inline(s) => write!(f, "Inline({} chars)", s.len()),
        }
    }
}

impl fmt::Display for CertSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertSource::Path(p) => write!(f, "TLS certificate file {}", p.display()),
            CertSource::Inline(_) => f.write_str("inline TLS certificate"),
        }
    }
}

/// Where the macaroon comes from. Secret: its `Debug` output redacts inline values.
#[derive(Clone, PartialEq, Eq)]
pub enum MacaroonSource {
    /// A file holding the binary macaroon (LND's `admin.macaroon`, `invoice.macaroon`, …);
    /// a file holding its hex text is accepted too.
    Path(PathBuf),
    /// The macaroon inline as hex or base64.
    Inline(String),
}

impl fmt::Debug for MacaroonSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MacaroonSource::Path(p) => f.debug_tuple("Path").field(p).finish(),
            MacaroonSource::Inline(_) => f.write_str("Inline(<redacted>)"),
        }
    }
}

impl fmt::Display for MacaroonSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MacaroonSource::Path(p) => write!(f, "macaroon file {}", p.display()),
            MacaroonSource::Inline(_) => f.write_str("inline macaroon"),
        }
    }
}

/// How to reach and authenticate to an LND node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LndConfig {
    /// gRPC address as `host:port` (LND's default port is 10009); an `https://` prefix is
    /// tolerated.
    pub address: String,
    /// The node's TLS certificate, pinned byte for byte.
    pub tls_cert: CertSource,
    /// Macaroon sent (hex) in the `macaroon` metadata of every call.
    pub macaroon: MacaroonSource,
}

impl LndConfig {
    /// Settings from an address and the paths of `tls.cert` and a macaroon file.
    pub fn from_files(
        address: impl Into<String>,
        tls_cert: impl Into<PathBuf>,
        macaroon: impl Into<PathBuf>,
    ) -> Self {
        LndConfig {
            address: address.into(),
            tls_cert: CertSource::Path(tls_cert.into()),
            macaroon: MacaroonSource::Path(macaroon.into()),
        }
    }

    /// `host:port` without any URI scheme.
    pub(crate) fn host_port(&self) -> &str {
        let a = self.address.trim();
        a.strip_prefix("https://")
            .or_else(|| a.strip_prefix("http://"))
            .unwrap_or(a)
            .trim_end_matches('/')
    }
}

fn config_error(message: String) -> RailError {
    RailError::new(RailErrorKind::Internal, message)
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, RailError> {
    std::fs::read(path)
        .map_err(|e| config_error(format!("cannot read {what} {}: {e}", path.display())))
}

/// Decode hex or base64 (standard or URL-safe, padded or not) text.
fn decode_text(s: &str) -> Option<Vec<u8>> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if s.is_empty() {
        return None;
    }
    if s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(&s).ok();
    }
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines.iter().find_map(|e| e.decode(&s).ok())
}

/// Certificate DER from PEM or DER bytes.
fn cert_der(bytes: &[u8]) -> Result<CertificateDer<'static>, String> {
    let trimmed = bytes.trim_ascii_start();
    if trimmed.starts_with(b"-----BEGIN") {
        return CertificateDer::from_pem_slice(trimmed)
            .map_err(|e| format!("no valid PEM CERTIFICATE block ({e})"));
    }
    // DER: an X.509 certificate is an ASN.1 SEQUENCE.
    if bytes.len() > 64 && bytes[0] == 0x30 {
        return Ok(CertificateDer::from(bytes.to_vec()));
    }
    Err("neither a PEM certificate nor DER".to_owned())
}

/// Load the certificate to pin.
pub(crate) fn load_cert(src: &CertSource) -> Result<CertificateDer<'static>, RailError> {
    let bytes = match src {
        CertSource::Path(p) => read_file(p, "TLS certificate file")?,
        CertSource::Inline(s) if s.trim_start().starts_with("-----BEGIN") => s.as_bytes().to_vec(),
        CertSource::Inline(s) => decode_text(s)
            .ok_or_else(|| config_error(format!("invalid {src}: neither hex nor base64")))?,
    };
    cert_der(&bytes).map_err(|e| config_error(format!("invalid {src}: {e}")))
}

/// Load the macaroon's binary bytes.
pub(crate) fn load_macaroon(src: &MacaroonSource) -> Result<Vec<u8>, RailError> {
    let bytes = match src {
        MacaroonSource::Path(p) => {
            let raw = read_file(p, "macaroon file")?;
            let text = std::str::from_utf8(&raw).ok().map(str::trim);
            match text.and_then(decode_text) {
                // A file holding hex (or base64) text of the macaroon.
                Some(b) if raw.first() != Some(&0x02) => b,
                _ => raw,
            }
        }
        MacaroonSource::Inline(s) => decode_text(s)
            .ok_or_else(|| config_error(format!("invalid {src}: neither hex nor base64")))?,
    };
    // LND writes binary V2 macaroons: version byte 0x02, then packets.
    if bytes.len() < 8 || bytes[0] != 0x02 {
        return Err(config_error(format!(
            "invalid {src}: not a binary (V2) macaroon"
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_decoding_accepts_hex_and_base64() {
        assert_eq!(decode_text("0201ff").unwrap(), vec![2, 1, 0xff]);
        assert_eq!(decode_text("AgH/").unwrap(), vec![2, 1, 0xff]);
        assert_eq!(decode_text("AgH_").unwrap(), vec![2, 1, 0xff]);
        assert!(decode_text("  ").is_none());
        assert!(decode_text("not base64 !").is_none());
    }

    #[test]
    fn inline_macaroon_is_validated_and_redacted() {
        let mac = "02".to_owned() + &"ab".repeat(20);
        assert_eq!(
            load_macaroon(&MacaroonSource::Inline(mac.clone())).unwrap()[0],
            2
        );
        let e = load_macaroon(&MacaroonSource::Inline("abcd".repeat(8))).unwrap_err();
        assert!(e.message.contains("inline macaroon"), "{e}");
        let dbg = format!("{:?}", MacaroonSource::Inline(mac.clone()));
        assert!(!dbg.contains(&mac) && dbg.contains("redacted"));
    }

    #[test]
    fn errors_name_the_file() {
        let p = PathBuf::from("/nonexistent/gate402/tls.cert");
        let e = load_cert(&CertSource::Path(p)).unwrap_err();
        assert!(e.message.contains("/nonexistent/gate402/tls.cert"), "{e}");
        let p = PathBuf::from("/nonexistent/gate402/invoice.macaroon");
        let e = load_macaroon(&MacaroonSource::Path(p)).unwrap_err();
        assert!(
            e.message.contains("/nonexistent/gate402/invoice.macaroon"),
            "{e}"
        );
    }

    #[test]
    fn host_port_strips_scheme() {
        let cfg = LndConfig::from_files("https://127.0.0.1:10009/", "c", "m");
        assert_eq!(cfg.host_port(), "127.0.0.1:10009");
    }
}
