//! Assembling and serving the gateway: config → paywall + proxy → axum router → listener.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{extract::State, http::StatusCode, routing::get, Router};
use gate402_protocols::x402::{ResourceInfo, X402Route, X402};
use gate402_protocols::{l402::L402, Offer, PaymentProtocol, ProtocolId};
use gate402_rails::evm::{EvmRail, ExactEvmBackend, FacilitatorClient};
use gate402_rails::LightningRail;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tower::ServiceBuilder;

use crate::{
    config::{load_secret, Config, ConfigError},
    facilitator::Facilitator,
    paywall::{Paywall, PaywallLayer, Route, RouteTable, X402Support},
    proxy::Proxy,
};

/// Path prefix reserved for the gateway's own endpoints (never proxied, never priced).
pub const ADMIN_PREFIX: &str = "/_gate402";

/// Build the route table from config.
pub fn route_table(config: &Config) -> RouteTable {
    RouteTable::new(
        config
            .routes
            .iter()
            .map(|r| Route {
                name: r.name.clone(),
                host: r.host.as_ref().map(|h| h.to_ascii_lowercase()),
                path_prefix: r.path_prefix.clone(),
                offer: Offer {
                    service: r.name.clone(),
                    price_msat: r.price_msat(),
                    capabilities: r.capabilities.clone(),
                    valid_for_secs: r.valid_for_secs,
                },
                protocols: r
                    .protocols
                    .iter()
                    .filter_map(|p| ProtocolId::parse(p))
                    .collect(),
            })
            .collect(),
    )
}

/// Build the paywall from a validated config and a Lightning rail.
pub fn paywall(config: &Config, lightning: Arc<dyn LightningRail>) -> Result<Paywall, ConfigError> {
    let secret = load_secret(&config.l402)?;
    paywall_with_secret(config, lightning, &secret)
}

/// Like [`paywall`], with the L402 master secret given directly.
pub fn paywall_with_secret(
    config: &Config,
    lightning: Arc<dyn LightningRail>,
    secret: &[u8],
) -> Result<Paywall, ConfigError> {
    let l402 = L402::new(secret).map_err(|e| ConfigError::Secret(e.to_string()))?;
    let mut protocols: Vec<Arc<dyn PaymentProtocol>> = vec![Arc::new(l402)];
    let x402 = x402_support(config)?;
    if let Some(s) = &x402 {
        protocols.push(s.protocol.clone());
    }
    let mut paywall = Paywall::new(route_table(config), protocols, lightning)
        .with_invoice_expiry(config.l402.invoice_expiry_secs)
        .with_retry_after(config.server.retry_after_secs);
    if let Some(s) = x402 {
        paywall = paywall.with_x402(s);
    }
    Ok(paywall)
}

/// x402 support from config: the protocol over every route with an `x402` table, and the
/// EVM backend from `[evm]` (`None` when no route offers x402).
pub fn x402_support(config: &Config) -> Result<Option<X402Support>, ConfigError> {
    let mut routes = Vec::new();
    for r in &config.routes {
        let Some(x) = &r.x402 else { continue };
        let evm = x.evm_price().map_err(|m| ConfigError::Invalid {
            field: format!("route {}.x402", r.name),
            message: m,
        })?;
        let resource = ResourceInfo {
            url: r.path_prefix.clone(),
            description: x.description.clone(),
            mime_type: None,
        };
        routes.push((
            r.name.clone(),
            X402Route {
                resource,
                evm,
                lightning: x.lightning,
            },
        ));
    }
    if routes.is_empty() {
        return Ok(None);
    }
    Ok(Some(X402Support {
        protocol: Arc::new(X402::new(routes)),
        evm: evm_backend(config)?,
    }))
}

/// The EVM backend configured in `[evm]`: a node (with the settler key) or a facilitator.
pub fn evm_backend(config: &Config) -> Result<Option<Arc<dyn ExactEvmBackend>>, ConfigError> {
    let Some(e) = &config.evm else {
        return Ok(None);
    };
    let timeout = Duration::from_secs(e.rpc_timeout_secs);
    if let Some(url) = &e.facilitator_url {
        let settle = Duration::from_secs(e.confirm_timeout_secs.max(e.rpc_timeout_secs));
        return Ok(Some(Arc::new(FacilitatorClient::new(url, timeout, settle))));
    }
    let url = e.rpc_url.clone().unwrap_or_default();
    let settler = e.settler_key()?;
    let priced = config.routes.iter().any(|r| {
        r.x402
            .as_ref()
            .is_some_and(|x| x.evm_price().ok().flatten().is_some())
    });
    if settler.is_none() && (priced || config.facilitator.as_ref().is_some_and(|f| f.enabled)) {
        return Err(ConfigError::Secret(format!(
            "EVM settlement needs the settler key: set ${} or evm.settler_key_file",
            e.settler_key_env
        )));
    }
    Ok(Some(Arc::new(EvmRail::new(
        &url,
        e.chain_id,
        settler,
        timeout,
        Duration::from_secs(e.confirm_timeout_secs),
    ))))
}

/// The gateway's axum router: admin endpoints, then everything else through the paywall to
/// the upstream proxy.
pub fn router(config: &Config, paywall: Arc<Paywall>) -> Result<Router, ConfigError> {
    let upstream = config
        .server
        .upstream
        .parse()
        .map_err(|_| ConfigError::Parse("server.upstream is not a URL".into()))?;
    let proxy = Proxy::new(
        upstream,
        Duration::from_secs(config.server.upstream_timeout_secs),
    );
    let gated = ServiceBuilder::new()
        .layer(PaywallLayer::new(paywall.clone()))
        .service(proxy);
    let facilitator = facilitator_router(config, &paywall)?;
    let router = Router::new()
        .route(&format!("{ADMIN_PREFIX}/health"), get(|| async { "ok" }))
        .route(&format!("{ADMIN_PREFIX}/ready"), get(ready))
        .with_state(paywall);
    let router = match facilitator {
        Some(f) => router.merge(f),
        None => router,
    };
    Ok(router.fallback_service(gated))
}

/// The built-in facilitator's routes when `[facilitator] enabled`, sharing the paywall's EVM
/// backend (one settler nonce sequence).
fn facilitator_router(config: &Config, paywall: &Paywall) -> Result<Option<Router>, ConfigError> {
    let (Some(f), Some(evm)) = (
        config.facilitator.as_ref().filter(|f| f.enabled),
        &config.evm,
    ) else {
        return Ok(None);
    };
    let backend = match paywall.x402().and_then(|s| s.evm.clone()) {
        Some(b) => b,
        None => match evm_backend(config)? {
            Some(b) => b,
            None => return Ok(None),
        },
    };
    let signer = evm
        .settler_key()?
        .map(|k| gate402_protocols::x402::evm::checksum(&k.address()));
    let fac = Arc::new(Facilitator::new(backend, evm.chain_id, signer));
    Ok(Some(fac.router(&f.prefix)))
}

async fn ready(State(paywall): State<Arc<Paywall>>) -> (StatusCode, String) {
    match paywall.lightning().info().await {
        Ok(info) if info.synced => (StatusCode::OK, format!("ready: {}", info.alias)),
        Ok(info) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {} not synced", info.alias),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: lightning: {e}"),
        ),
    }
}

/// A running gateway.
#[derive(Debug)]
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stop accepting connections and wait for the server task.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Serve `router` on an already-bound listener until shutdown.
pub fn spawn(listener: TcpListener, router: Router) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    Ok(Running {
        addr,
        shutdown: Some(tx),
        task,
    })
}
