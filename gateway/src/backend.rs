//! Connecting the configured Lightning backend at startup.
//!
//! Configuration mistakes stop the gateway with an error naming the file: an unreadable or
//! invalid certificate or macaroon, a certificate that does not match the node (TLS failure),
//! a macaroon the node rejects. An unreachable node does not: the gateway starts, logs it,
//! reports not-ready on `/_gate402/ready` and answers 503 + `Retry-After` until the node is
//! back (the channel reconnects by itself).

use std::sync::Arc;

use gate402_rails::{
    lnd::{CertSource, LndConfig, LndRail, MacaroonSource},
    simnet::SimNetwork,
    LightningRail, RailErrorKind,
};

use crate::config::{LightningConfig, LndSection};

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

fn describe_macaroon(src: &MacaroonSource) -> String {
    match src {
        MacaroonSource::Path(p) => p.display().to_string(),
        MacaroonSource::Inline(_) => "the configured macaroon value".into(),
    }
}

fn describe_cert(src: &CertSource) -> String {
    match src {
        CertSource::Path(p) => p.display().to_string(),
        CertSource::Inline(_) => "the configured certificate value".into(),
    }
}

/// Connect the configured backend. `Err` only for configuration mistakes.
pub async fn connect(config: &LightningConfig) -> Result<Arc<dyn LightningRail>, String> {
    connect_with(config, SELLER_MACAROON).await
}

/// The macaroon a seller takes from an LND directory: [`SELLER_MACAROON`], or
/// [`BUYER_MACAROON`] when it refunds MPP session balances (`SendPaymentV2` needs
/// `offchain:write`, which `invoice.macaroon` lacks). An explicit `macaroon` always wins.
pub fn seller_macaroon(refunds: bool) -> &'static str {
    if refunds {
        BUYER_MACAROON
    } else {
        SELLER_MACAROON
    }
}

/// [`connect`] with `default_macaroon` as the macaroon file of an LND directory.
pub async fn connect_with(
    config: &LightningConfig,
    default_macaroon: &str,
) -> Result<Arc<dyn LightningRail>, String> {
    match config {
        LightningConfig::Simnet { node } => Ok(Arc::new(SimNetwork::new().add_node(node, 0))),
        LightningConfig::Lnd(section) => {
            let cfg = lnd_config(section, default_macaroon)?;
            let (cert, mac) = (
                describe_cert(&cfg.tls_cert),
                describe_macaroon(&cfg.macaroon),
            );
            let address = cfg.address.clone();
            let rail = LndRail::connect_lazy(cfg).await.map_err(|e| e.message)?;
            match rail.ready().await {
                Ok(()) => tracing::info!(%address, "connected to LND"),
                Err(e) if e.kind == RailErrorKind::Certificate => {
                    return Err(format!(
                        "LND at {address} does not present the certificate in {cert}: {}",
                        e.message
                    ))
                }
                Err(e) if e.kind == RailErrorKind::PermissionDenied => {
                    return Err(format!(
                        "LND at {address} rejects the macaroon {mac}: {}",
                        e.message
                    ))
                }
                Err(e) => tracing::warn!(
                    %address,
                    error = %e,
                    "LND is unreachable; starting anyway (not ready, answering 503 until it is back)"
                ),
            }
            Ok(Arc::new(rail))
        }
    }
}
