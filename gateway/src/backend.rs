//! Connecting the configured Lightning backend at startup.
//!
//! Configuration mistakes stop the gateway with an error naming the file: an unreadable or
//! invalid certificate or macaroon, a certificate that does not match the node (TLS failure),
//! a macaroon the node rejects. An unreachable node does not: the gateway starts, logs it,
//! reports not-ready on `/_gate402/ready` and answers 503 + `Retry-After` until the node is
//! back (the channel reconnects by itself). Several `[[lightning.node]]` entries are connected
//! one by one (the same checks, messages naming the node) behind one
//! [`MultiNode`] rail.

use std::sync::Arc;

use gate402_rails::{
    lnd::{CertSource, LndRail, MacaroonSource},
    multi::{MultiNode, MultiOptions},
    simnet::SimNetwork,
    LightningRail, RailErrorKind,
};

use crate::config::{LightningConfig, LndSection};
pub use crate::lnd_conn::{lnd_config, BUYER_MACAROON, SELLER_MACAROON};

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
        LightningConfig::Lnd(section) if section.is_multi() => {
            let mut nodes: Vec<(String, Arc<dyn LightningRail>)> = Vec::new();
            for node in &section.node {
                let rail = connect_lnd(&node.as_section(section), default_macaroon, &node.name)
                    .await
                    .map_err(|e| format!("lightning node {}: {e}", node.name))?;
                nodes.push((node.name.clone(), Arc::new(rail)));
            }
            let multi = MultiNode::new(nodes, MultiOptions::default());
            // Record each node's health before the first request (unreachable ones are
            // skipped by mints until a probe finds them back).
            if let Err(e) = multi.ready().await {
                tracing::warn!(error = %e, "no LND node is reachable; starting anyway");
            }
            Ok(Arc::new(multi))
        }
        LightningConfig::Lnd(section) => Ok(Arc::new(
            connect_lnd(section, default_macaroon, "lnd").await?,
        )),
    }
}

/// Connect one LND node (`name` labels it in messages): configuration mistakes are errors,
/// an unreachable node only a warning.
async fn connect_lnd(
    section: &LndSection,
    default_macaroon: &str,
    name: &str,
) -> Result<LndRail, String> {
    let cfg = lnd_config(section, default_macaroon).map_err(|e| format!("node {name}: {e}"))?;
    // Least privilege (issue #16 "L"): refunds pay, so they need `offchain:write`.
    let refunds = default_macaroon == BUYER_MACAROON;
    match crate::least_privilege::seller(&cfg, refunds, section.require_least_privilege)? {
        crate::least_privilege::SellerCheck::Ok => {}
        crate::least_privilege::SellerCheck::Warn(w) => tracing::warn!(node = %name, "{w}"),
    }
    let (cert, mac) = (
        describe_cert(&cfg.tls_cert),
        describe_macaroon(&cfg.macaroon),
    );
    let address = cfg.address.clone();
    let rail = LndRail::connect_lazy(cfg).await.map_err(|e| e.message)?;
    match rail.ready().await {
        Ok(()) => tracing::info!(node = %name, %address, "connected to LND"),
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
            node = %name,
            %address,
            error = %e,
            "LND is unreachable; starting anyway (not ready, answering 503 until it is back)"
        ),
    }
    Ok(rail)
}
