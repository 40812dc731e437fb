//! LND connection settings shared by the seller backend (`[lightning] backend = "lnd"`) and the
//! buyer wallet (`--lnd-dir` and friends): an LND-style directory and/or explicit parts,
//! resolved into [`LndConfig`]. Compiled with either the `server` or the `client` feature.

use std::path::PathBuf;

use gate402_rails::lnd::{CertSource, LndConfig, MacaroonSource};
use serde::Deserialize;

/// `[lightning] backend = "lnd"`: where the node is and how to authenticate.
///
/// `dir` names an LND-style directory (`tls.cert`, `invoice.macaroon` — `admin.macaroon` when
/// `[mpp.session]` is enabled, since refunds pay —, and `rpc.addr` as written by
/// `gate402 simnet`); the other keys override single parts. Secrets may instead
/// come from environment variables holding hex or base64 (`tls_cert_env`, `macaroon_env`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LndSection {
    /// gRPC address `host:port`.
    #[serde(default)]
    pub address: Option<String>,
    /// LND-style directory.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Path of `tls.cert`.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// Environment variable holding the certificate (PEM text, or hex/base64 of PEM/DER).
    #[serde(default)]
    pub tls_cert_env: Option<String>,
    /// Path of the macaroon (the seller needs only `invoice.macaroon`, or one that can pay
    /// — `offchain:write` — when MPP sessions refund balances).
    #[serde(default)]
    pub macaroon: Option<PathBuf>,
    /// Environment variable holding the macaroon as hex or base64.
    #[serde(default)]
    pub macaroon_env: Option<String>,
    /// Refuse to start when the macaroon grants more than the seller needs (see
    /// `least_privilege`); otherwise that is only a warning.
    #[serde(default)]
    pub require_least_privilege: bool,
    /// Several nodes (`[[lightning.node]]`), instead of the single node described by the
    /// keys above (seller only): invoices are minted round-robin on the nodes that are up.
    #[serde(default)]
    pub node: Vec<LndNodeSection>,
}

/// `[[lightning.node]]`: one of several seller nodes; the same keys as the single form, plus
/// a `name` for logs and `/_gate402/ready`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LndNodeSection {
    /// Name of the node (letters, digits, `-`, `_`), unique among the nodes.
    pub name: String,
    /// gRPC address `host:port`.
    #[serde(default)]
    pub address: Option<String>,
    /// LND-style directory.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Path of `tls.cert`.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// Environment variable holding the certificate.
    #[serde(default)]
    pub tls_cert_env: Option<String>,
    /// Path of the macaroon.
    #[serde(default)]
    pub macaroon: Option<PathBuf>,
    /// Environment variable holding the macaroon as hex or base64.
    #[serde(default)]
    pub macaroon_env: Option<String>,
}

impl LndSection {
    /// Whether the section lists `[[lightning.node]]` entries.
    pub fn is_multi(&self) -> bool {
        !self.node.is_empty()
    }

    /// Whether any single-node connection key is set at the top level.
    pub fn has_single_keys(&self) -> bool {
        self.address.is_some()
            || self.dir.is_some()
            || self.tls_cert.is_some()
            || self.tls_cert_env.is_some()
            || self.macaroon.is_some()
            || self.macaroon_env.is_some()
    }
}

impl LndNodeSection {
    /// This node as a single-node section inheriting the parent's policy.
    pub fn as_section(&self, parent: &LndSection) -> LndSection {
        LndSection {
            address: self.address.clone(),
            dir: self.dir.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_cert_env: self.tls_cert_env.clone(),
            macaroon: self.macaroon.clone(),
            macaroon_env: self.macaroon_env.clone(),
            require_least_privilege: parent.require_least_privilege,
            node: Vec::new(),
        }
    }
}

/// Macaroon a seller uses from an LND directory (least privilege: invoices only).
pub const SELLER_MACAROON: &str = "invoice.macaroon";
/// Macaroon a buyer uses from an LND directory (must be able to pay).
pub const BUYER_MACAROON: &str = "admin.macaroon";

/// Resolve an LND section into connection settings (reads `rpc.addr` and environment
/// variables; certificate and macaroon files are read on connect). `default_macaroon` is the
/// file taken from `dir` when no macaroon is given.
pub fn lnd_config(section: &LndSection, default_macaroon: &str) -> Result<LndConfig, String> {
    let dir = section.dir.as_ref();
    let address = match (&section.address, dir) {
        (Some(a), _) => a.clone(),
        (None, Some(d)) => {
            let p = d.join("rpc.addr");
            std::fs::read_to_string(&p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?
                .trim()
                .to_string()
        }
        (None, None) => return Err("an LND address or directory is required".into()),
    };
    let from_env = |var: &String| {
        std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))
    };
    let in_dir = |name: &str| dir.map(|d| d.join(name));
    let tls_cert = match (&section.tls_cert, &section.tls_cert_env) {
        (Some(p), _) => CertSource::Path(p.clone()),
        (None, Some(var)) => CertSource::Inline(from_env(var)?),
        (None, None) => {
            CertSource::Path(in_dir("tls.cert").ok_or("lightning.tls_cert is required")?)
        }
    };
    let macaroon = match (&section.macaroon, &section.macaroon_env) {
        (Some(p), _) => MacaroonSource::Path(p.clone()),
        (None, Some(var)) => MacaroonSource::Inline(from_env(var)?),
        (None, None) => {
            MacaroonSource::Path(in_dir(default_macaroon).ok_or("a macaroon is required")?)
        }
    };
    Ok(LndConfig {
        address,
        tls_cert,
        macaroon,
    })
}
