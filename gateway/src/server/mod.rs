//! Assembling and serving the gateway: config → paywall + proxy → axum router → listener.
//!
//! * this module — the assembly (route table, paywall, store, x402 backend, router);
//! * [`listener`] — the accept loop and connection serving (HTTP/1.1, HTTP/2, TLS, shutdown);
//! * [`limits`] — connection caps (total and per client address) and idle tracking;
//! * [`tls`] — the downstream certificate, reloaded on `SIGHUP`.

mod access_log;
mod conn;
mod gateway;
pub mod limits;
pub mod listener;
pub mod tls;
mod watchdog;

use std::{sync::Arc, time::Duration};

use axum::{extract::State, http::StatusCode, routing::get, Router};
use gate402_protocols::x402::{ResourceInfo, X402Route, X402};
use gate402_protocols::{l402::L402, mpp::Mpp, Offer, PaymentProtocol, ProtocolId};
use gate402_rails::evm::{EvmRail, ExactEvmBackend, FacilitatorClient, HttpOptions};
use gate402_rails::LightningRail;
use tower::Layer;

use crate::{
    config::{load_mpp_secret, load_secret, Config, ConfigError},
    facilitator::Facilitator,
    paywall::{pool::PoolConfig, Paywall, PaywallLayer, Route, RouteTable, X402Support},
    proxy::{Proxy, Upstream},
    store::{self, Revocations, Store, StoreError},
};
pub use conn::ConnectionHold;
pub use gateway::Gateway;
pub use listener::{serve, spawn, spawn_with, Https, ListenerOptions, Running};

/// Path prefix reserved for the gateway's own endpoints (never proxied, never priced).
pub const ADMIN_PREFIX: &str = "/_gate402";

/// Build the route table from config (pricers connect lazily, on their first call).
pub fn route_table(config: &Config) -> Result<RouteTable, ConfigError> {
    let mut routes = Vec::with_capacity(config.routes.len());
    for r in &config.routes {
        let pricer = match &r.pricer {
            Some(p) => Some(Arc::new(p.pricer()?)),
            None => None,
        };
        routes.push(Route {
            name: r.name.clone(),
            host: r.host.as_ref().map(|h| h.to_ascii_lowercase()),
            path_prefix: r.path_prefix.clone(),
            offer: Offer {
                service: r.name.clone(),
                price_msat: r.price_msat(),
                capabilities: r.capabilities.clone(),
                valid_for_secs: r.valid_for_secs,
                bind_price: false,
            },
            protocols: r
                .protocols
                .iter()
                .filter_map(|p| ProtocolId::parse(p))
                .collect(),
            uses: r.uses,
            limits: Arc::new(
                r.rate_limit
                    .as_ref()
                    .map(|l| l.limits())
                    .unwrap_or_default(),
            ),
            pricer,
            floor_msat: None,
        });
    }
    Ok(RouteTable::new(routes))
}

/// Build the paywall from a validated config and a Lightning rail.
pub fn paywall(config: &Config, lightning: Arc<dyn LightningRail>) -> Result<Paywall, ConfigError> {
    let secret = load_secret(&config.l402)?;
    paywall_with_secret(config, lightning, &secret)
}

/// Like [`paywall`], with the L402 master secret given directly (the MPP secret is then read
/// as configured in `[mpp]`, or derived from it).
pub fn paywall_with_secret(
    config: &Config,
    lightning: Arc<dyn LightningRail>,
    secret: &[u8],
) -> Result<Paywall, ConfigError> {
    let l402 = L402::new(secret).map_err(|e| ConfigError::Secret(e.to_string()))?;
    let protocols: Vec<Arc<dyn PaymentProtocol>> = vec![Arc::new(l402)];
    let pool = &config.invoice_pool;
    let lightning_for_page = lightning.clone();
    let mut builder = Paywall::builder(route_table(config)?, protocols, lightning);
    if config.admin.as_ref().is_some_and(|a| a.metrics) {
        builder = builder.metrics(Arc::new(crate::metrics::Metrics::new()));
    }
    let mut builder = builder
        .invoice_expiry(config.l402.invoice_expiry_secs)
        .retry_after(config.server.retry_after_secs)
        .trusted_proxies(
            crate::config::parse_trusted_proxies(&config.server.trusted_proxies)
                .unwrap_or_default(),
        )
        .max_request_body(config.server.limits.max_body_bytes)
        .health_interval(Duration::from_millis(config.server.health_interval_ms))
        .pool(PoolConfig {
            size: pool.size,
            refill_concurrency: pool.refill_concurrency,
            min_validity_secs: pool.min_validity_secs,
            limits: config.minting.limits(),
        });
    let uses_mpp = config
        .routes
        .iter()
        .flat_map(|r| &r.protocols)
        .any(|p| ProtocolId::parse(p) == Some(ProtocolId::Mpp));
    if uses_mpp {
        let m = &config.mpp;
        let mpp_secret = load_mpp_secret(m, secret)?;
        let mpp = Mpp::new(&mpp_secret, &m.realm)
            .map_err(|e| ConfigError::Secret(e.to_string()))?
            .with_ttl(m.challenge_ttl_secs)
            .with_description(m.description.clone())
            .with_session_terms(m.session.deposit_units, m.session.idle_timeout_secs);
        if let Some(dir) = &m.data_dir {
            tracing::warn!(
                dir = %dir.display(),
                "[mpp] data_dir is ignored: sessions live in the store ([store])"
            );
        }
        builder = builder
            .mpp(Arc::new(mpp), m.session.enabled)
            .max_sessions_per_payer(m.session.max_open_per_payer)
            .max_body_bytes(m.max_body_bytes);
    }
    if let Some(x402) = x402_support(config)? {
        builder = builder.x402(x402);
    }
    let page = &config.server.paywall;
    if page.enabled {
        let settings = page.settings(config.server.tls_cert.is_some());
        let browser = crate::paywall::browser::Browser::new(secret, lightning_for_page, settings)
            .map_err(|e| ConfigError::Secret(e.to_string()))?;
        builder = builder.browser(browser);
    }
    if let Some(e) = &config.evm {
        let timeout = Duration::from_secs(config.server.upstream_timeout_secs);
        builder = builder.x402_buffer(e.max_response_bytes, timeout);
    }
    Ok(builder.build())
}

/// Open the store configured in `[store]` and apply its migrations.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StoreError> {
    let options = config
        .store
        .options()
        .map_err(|e| StoreError::Config(e.to_string()))?;
    store::open(&options).await
}

/// Attach `store` to `paywall`: load the revocations and the run-time route prices and keep
/// them fresh every `refresh`.
pub async fn attach_store(
    paywall: Paywall,
    store: Arc<dyn Store>,
    refresh: Duration,
) -> Result<Paywall, StoreError> {
    let revocations = Revocations::load(&*store).await?;
    revocations.spawn_refresh(store.clone(), refresh);
    paywall.prices().replace(store.route_prices().await?);
    paywall.prices().spawn_refresh(store.clone(), refresh);
    Ok(paywall.with_store(store, revocations))
}

/// Open the configured store and attach it, like [`open_store`] + [`attach_store`]; when the
/// database is unreachable (a retryable error) the paywall gets a [`store::LazyStore`] instead
/// — paid paths that need the store answer 503 + `Retry-After` while it connects in the
/// background every `retry` — rather than failing. Other errors (bad config, a failed
/// migration) are returned.
pub async fn attach_store_or_retry(
    paywall: Paywall,
    config: &Config,
    retry: Duration,
) -> Result<(Paywall, Arc<dyn Store>), StoreError> {
    let refresh = config.store.revocation_refresh();
    match open_store(config).await {
        Ok(store) => Ok((attach_store(paywall, store.clone(), refresh).await?, store)),
        Err(e) if e.retryable() => {
            tracing::error!(error = %e, "cannot reach the store at start; serving 503 on paid paths until it is reachable");
            let options = config
                .store
                .options()
                .map_err(|e| StoreError::Config(e.to_string()))?;
            let revocations = Arc::new(Revocations::default());
            let lazy = store::LazyStore::connect_in_background(options, revocations.clone(), retry);
            let store: Arc<dyn Store> = lazy;
            revocations.spawn_refresh(store.clone(), refresh);
            paywall.prices().spawn_refresh(store.clone(), refresh);
            Ok((paywall.with_store(store.clone(), revocations), store))
        }
        Err(e) => Err(e),
    }
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
    let http =
        HttpOptions::new(Duration::from_secs(e.rpc_timeout_secs)).with_ca_file(e.ca_file.clone());
    let rail_config = |err: gate402_rails::evm::EvmError| ConfigError::Invalid {
        field: "evm".into(),
        message: err.to_string(),
    };
    if let Some(url) = &e.facilitator_url {
        let settle = Duration::from_secs(e.confirm_timeout_secs.max(e.rpc_timeout_secs));
        let client = FacilitatorClient::new(url, &http, settle).map_err(rail_config)?;
        return Ok(Some(Arc::new(client)));
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
    let rail = EvmRail::new(
        &url,
        e.chain_id,
        settler,
        &http,
        Duration::from_secs(e.confirm_timeout_secs),
    )
    .map_err(rail_config)?
    .with_confirmations(e.confirmations);
    Ok(Some(Arc::new(rail)))
}

/// The gateway's service: its own endpoints (`/_gate402/…`, the facilitator's) on an axum
/// router, everything else through the paywall to the upstream proxy ([`Gateway`]).
pub fn router(config: &Config, paywall: Arc<Paywall>) -> Result<Gateway, ConfigError> {
    let proxy_err = |e: crate::proxy::UpstreamError| ConfigError::Invalid {
        field: "server.upstream".into(),
        message: e.to_string(),
    };
    let upstream = Upstream::parse(&config.server.upstream).map_err(proxy_err)?;
    let proxy = Proxy::new(
        upstream,
        Duration::from_secs(config.server.upstream_timeout_secs),
        config.server.upstream_ca_file.as_deref(),
    )
    .map_err(proxy_err)?
    .with_retry_after(config.server.retry_after_secs);
    // The proxy never reads the request's receipt (the response carries it).
    let gated = PaywallLayer::new(paywall.clone())
        .without_request_receipt()
        .layer(proxy);
    let facilitator = facilitator_router(config, &paywall)?;
    let mut prefixes = vec![ADMIN_PREFIX.to_owned()];
    if let (Some(_), Some(f)) = (&facilitator, &config.facilitator) {
        prefixes.push(f.prefix.clone());
    }
    let observe = access_log::ObserveLayer(Arc::new(access_log::Observe {
        log: config.server.access_log,
        metrics: paywall.metrics().cloned(),
    }));
    let router = Router::new()
        .route(&format!("{ADMIN_PREFIX}/health"), get(|| async { "ok" }))
        .route(&format!("{ADMIN_PREFIX}/ready"), get(ready))
        .route(
            &format!("{ADMIN_PREFIX}/paywall/{{ticket}}"),
            get(paywall_wait),
        )
        .with_state(paywall);
    let router = match facilitator {
        Some(f) => router.merge(f),
        None => router,
    };
    // Unmatched paths under the prefixes are proxied too, as they always were.
    let router = router
        .fallback_service(gated.clone())
        .layer(observe.clone());
    Ok(Gateway::new(router, observe.layer(gated), prefixes))
}

/// The admin listener's router (`[admin] listen`) without an API key or reloads: metrics and
/// the dashboard page (its API answers 503). `gate402 serve` uses [`crate::admin::router`].
pub fn admin_router(paywall: Arc<Paywall>) -> Router {
    crate::admin::router(crate::admin::AdminState {
        paywall,
        auth: None,
        reloader: None,
        started_at: crate::clock::now_unix(),
    })
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

/// The browser paywall's settlement endpoint (`GET /_gate402/paywall/<ticket>`).
async fn paywall_wait(
    State(paywall): State<Arc<Paywall>>,
    axum::extract::Path(ticket): axum::extract::Path<String>,
    headers: http::HeaderMap,
) -> axum::response::Response {
    paywall.browser_wait(&ticket, &headers).await
}

async fn ready(State(paywall): State<Arc<Paywall>>) -> (StatusCode, String) {
    let rail = paywall.lightning();
    let check = tokio::time::timeout(Duration::from_secs(2), rail.ready()).await;
    let result = check.unwrap_or_else(|_| {
        Err(gate402_rails::RailError::new(
            gate402_rails::RailErrorKind::Timeout,
            "readiness check timed out",
        ))
    });
    paywall.rail_health().observe(&result);
    // Several nodes: one line each (`node bob: up`, `node carol: down: <error>`).
    let nodes: String = rail
        .nodes()
        .iter()
        .map(|n| match &n.last_error {
            _ if n.up => format!("\nnode {}: up", n.name),
            Some(e) => format!("\nnode {}: down: {e}", n.name),
            None => format!("\nnode {}: down", n.name),
        })
        .collect();
    match result {
        Ok(()) => (
            StatusCode::OK,
            format!("ready: lightning ({}){nodes}", rail.rail_id()),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: lightning ({}): {e}{nodes}", rail.rail_id()),
        ),
    }
}
