//! Gateway configuration: serde structs with `deny_unknown_fields`, an explicit
//! [`Config::validate`], and secrets read from the environment or files, never from the TOML.

mod admin;
mod limits;
mod lnd_nodes;
mod minting;
mod paywall;
mod pricing;
mod rate;
mod secret;
mod secret_file;
mod store;
mod validate;
mod x402;

use std::{net::SocketAddr, path::Path};

use serde::Deserialize;

pub use admin::AdminConfig;
pub use limits::{Http2Config, LimitsConfig};
pub use minting::MintingConfig;
pub use paywall::PaywallPageConfig;
pub use pricing::PricerConfig;
pub use rate::{parse_trusted_proxies, RateLimitConfig};
pub use secret::{load_mpp_secret, load_secret};
pub use secret_file::read_secret_file;
pub use store::{StoreBackend, StoreConfig};
pub use validate::ConfigError;
pub use x402::{EvmConfig, FacilitatorConfig, RouteX402};

pub use crate::lnd_conn::{LndNodeSection, LndSection};

/// The whole gateway configuration (one TOML file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listener, upstream and timeouts.
    pub server: ServerConfig,
    /// L402 settings.
    #[serde(default)]
    pub l402: L402Config,
    /// MPP (`Payment` scheme) settings.
    #[serde(default)]
    pub mpp: MppConfig,
    /// Which Lightning node mints invoices.
    pub lightning: LightningConfig,
    /// Pre-minted invoices per route.
    #[serde(default)]
    pub invoice_pool: InvoicePoolConfig,
    /// Bounds on minting (concurrency, rate, outstanding invoices, challenge wait).
    #[serde(default)]
    pub minting: MintingConfig,
    /// Persistence (ledger, consumed credentials, revocations); SQLite by default.
    #[serde(default)]
    pub store: StoreConfig,
    /// EVM chain access for x402 `exact` prices.
    #[serde(default)]
    pub evm: Option<EvmConfig>,
    /// Built-in x402 facilitator endpoints.
    #[serde(default)]
    pub facilitator: Option<FacilitatorConfig>,
    /// Priced routes; first match wins. Requests matching no route pass through free.
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteConfig>,
    /// The admin listener (metrics); off unless configured.
    #[serde(default)]
    pub admin: Option<AdminConfig>,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on, e.g. `127.0.0.1:8402` (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Base URL of the upstream service: `http://host:port` (HTTP/1.1), `h2c://host:port`
    /// (HTTP/2 prior knowledge, e.g. a gRPC server) or `https://host[:port]` (TLS; HTTP/2 or
    /// HTTP/1.1 by ALPN).
    pub upstream: String,
    /// PEM file of CA certificates trusted for an `https://` upstream, in addition to the
    /// built-in webpki roots (a private CA).
    #[serde(default)]
    pub upstream_ca_file: Option<std::path::PathBuf>,
    /// PEM certificate chain served on `listen` (with `tls_key`: HTTPS, HTTP/1.1 and HTTP/2 by
    /// ALPN); both files are read again on `SIGHUP`.
    #[serde(default)]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `tls_cert`.
    #[serde(default)]
    pub tls_key: Option<std::path::PathBuf>,
    /// Seconds to wait for the upstream's response head.
    #[serde(default = "default_upstream_timeout")]
    pub upstream_timeout_secs: u64,
    /// Seconds a client may take to send its request head: a new connection's first head
    /// must be complete within it; an HTTP/1.1 keep-alive connection with no request for
    /// between 1× and 2× it (or the idle timeout, if smaller) is closed.
    #[serde(default = "default_header_timeout")]
    pub header_read_timeout_secs: u64,
    /// `Retry-After` seconds sent with 503 answers during rail outages.
    #[serde(default = "default_retry_after")]
    pub retry_after_secs: u64,
    /// Peers (addresses or CIDRs) whose `X-Forwarded-For` names the client for rate limits;
    /// from anyone else it is ignored.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// One log event per request (target `gate402::access`: route, protocol, outcome, status,
    /// latency); on by default with `gate402 serve --log-format json`.
    #[serde(default)]
    pub access_log: bool,
    /// Milliseconds between readiness checks of the Lightning backend (a quarter of it
    /// while the backend is down).
    #[serde(default = "default_health_interval")]
    pub health_interval_ms: u64,
    /// Listener bounds (`[server.limits]`).
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Downstream HTTP/2 (`[server.http2]`).
    #[serde(default)]
    pub http2: Http2Config,
    /// The browser paywall (`[server.paywall]`).
    #[serde(default)]
    pub paywall: PaywallPageConfig,
}

/// `[invoice_pool]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoicePoolConfig {
    /// Invoices kept ready per route (0 disables the pool).
    #[serde(default = "default_pool_size")]
    pub size: usize,
    /// Concurrent `AddInvoice` calls per route while refilling.
    #[serde(default = "default_pool_concurrency")]
    pub refill_concurrency: usize,
    /// Pooled invoices with less validity left than this are discarded.
    #[serde(default = "default_pool_min_validity")]
    pub min_validity_secs: u64,
}

impl Default for InvoicePoolConfig {
    fn default() -> Self {
        InvoicePoolConfig {
            size: default_pool_size(),
            refill_concurrency: default_pool_concurrency(),
            min_validity_secs: default_pool_min_validity(),
        }
    }
}

/// `[l402]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L402Config {
    /// Environment variable holding the hex master secret (≥ 32 bytes).
    #[serde(default = "default_secret_env")]
    pub secret_env: String,
    /// File holding the master secret (hex text or ≥ 32 raw bytes); wins over `secret_env`.
    #[serde(default)]
    pub secret_file: Option<std::path::PathBuf>,
    /// Expiry of minted invoices, seconds.
    #[serde(default = "default_invoice_expiry")]
    pub invoice_expiry_secs: u64,
}

impl Default for L402Config {
    fn default() -> Self {
        L402Config {
            secret_env: default_secret_env(),
            secret_file: None,
            invoice_expiry_secs: default_invoice_expiry(),
        }
    }
}

/// `[mpp]`: the `Payment` HTTP authentication scheme (Lightning charge and session).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MppConfig {
    /// Protection space sent in every challenge (usually the public host name).
    #[serde(default = "default_realm")]
    pub realm: String,
    /// Environment variable holding the HMAC secret (hex, or ≥ 32 raw bytes). When neither it
    /// nor `secret_file` is set, the secret is derived from the L402 master secret.
    #[serde(default = "default_mpp_secret_env")]
    pub secret_env: String,
    /// File holding the HMAC secret; wins over `secret_env`.
    #[serde(default)]
    pub secret_file: Option<std::path::PathBuf>,
    /// Challenge lifetime, seconds (never beyond the invoice expiry).
    #[serde(default = "default_mpp_ttl")]
    pub challenge_ttl_secs: u64,
    /// `description` auth-param of every challenge (display only).
    #[serde(default)]
    pub description: Option<String>,
    /// Deprecated and ignored (sessions live in the store, `[store]`); accepted so that
    /// existing files still load.
    #[serde(default)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Largest request body the gateway buffers to bind an MPP challenge to it (`digest`);
    /// larger bodies on MPP routes answer 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Lightning sessions (prepaid deposit, bearer use, top-up, close with refund).
    #[serde(default)]
    pub session: MppSessionConfig,
}

impl Default for MppConfig {
    fn default() -> Self {
        MppConfig {
            realm: default_realm(),
            secret_env: default_mpp_secret_env(),
            secret_file: None,
            challenge_ttl_secs: default_mpp_ttl(),
            description: None,
            data_dir: None,
            max_body_bytes: default_max_body_bytes(),
            session: MppSessionConfig::default(),
        }
    }
}

fn default_max_body_bytes() -> usize {
    1 << 20
}

/// `[mpp.session]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MppSessionConfig {
    /// Offer a `session` challenge next to the `charge` one on MPP routes.
    #[serde(default)]
    pub enabled: bool,
    /// Deposit asked at open and per top-up, in units of the route price.
    #[serde(default = "default_deposit_units")]
    pub deposit_units: u64,
    /// Advertised idle timeout, seconds.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    /// Open sessions per payer at most (the payee node of the session's return invoice, else
    /// the client address); an open beyond it answers 429 and its credential stays valid
    /// until its challenge expires. 0 = unlimited.
    #[serde(default = "default_max_open_per_payer")]
    pub max_open_per_payer: u64,
}

fn default_max_open_per_payer() -> u64 {
    16
}

impl Default for MppSessionConfig {
    fn default() -> Self {
        MppSessionConfig {
            enabled: false,
            deposit_units: default_deposit_units(),
            idle_timeout_secs: default_idle_timeout(),
            max_open_per_payer: default_max_open_per_payer(),
        }
    }
}

/// `[lightning]`: the seller's Lightning backend.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "backend", rename_all = "lowercase", deny_unknown_fields)]
pub enum LightningConfig {
    /// An embedded simulated network (demo and tests).
    Simnet {
        /// Name of the seller's node.
        #[serde(default = "default_seller")]
        node: String,
    },
    /// An LND node over gRPC (TLS with a pinned `tls.cert`, macaroon in metadata).
    Lnd(LndSection),
}

/// `[[route]]`: one priced resource.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Service name, bound into credentials. Letters, digits, `-`, `_`, `.`, `/`.
    pub name: String,
    /// Host to match (case-insensitive, port ignored); absent = any host.
    #[serde(default)]
    pub host: Option<String>,
    /// Path prefix to match, e.g. `/api/`.
    #[serde(default = "default_prefix")]
    pub path_prefix: String,
    /// Price per access in satoshis (exclusive with `price_msat`).
    #[serde(default)]
    pub price_sat: Option<u64>,
    /// Price per access in millisatoshis (exclusive with `price_sat`).
    #[serde(default)]
    pub price_msat: Option<u64>,
    /// Protocols offered on this route, by stable id.
    #[serde(default = "default_protocols")]
    pub protocols: Vec<String>,
    /// Capabilities granted by a paid credential.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Lifetime of a paid credential, seconds; absent = no expiry.
    #[serde(default)]
    pub valid_for_secs: Option<u64>,
    /// What the route accepts over x402 (needed when `protocols` lists `x402`).
    #[serde(default)]
    pub x402: Option<RouteX402>,
    /// Sell an L402 token for this many requests instead of unlimited reuse until it expires;
    /// uses are counted atomically in the store (every gateway sharing it), the next one gets
    /// a fresh 402 with reason `quota_spent`.
    #[serde(default)]
    pub uses: Option<u64>,
    /// Rate limits of this route (`[route.rate_limit]`).
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
    /// Price each request with a pricing service instead of `price_sat`/`price_msat`
    /// (`[route.pricer]`, Aperture's `pricesrpc` or an HTTP JSON pricer).
    #[serde(default)]
    pub pricer: Option<PricerConfig>,
}

impl RouteConfig {
    /// The route's price in millisatoshis (after validation exactly one price is set).
    pub fn price_msat(&self) -> u64 {
        self.price_msat
            .or_else(|| self.price_sat.map(|s| s.saturating_mul(1000)))
            .unwrap_or(0)
    }
}

impl Config {
    /// Parse TOML text (no validation).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// Read, parse and validate a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let config = Config::from_toml(&text)?;
        config.validate()?;
        Ok(config)
    }
}

fn default_upstream_timeout() -> u64 {
    30
}
fn default_header_timeout() -> u64 {
    15
}
fn default_retry_after() -> u64 {
    5
}
fn default_health_interval() -> u64 {
    1000
}
fn default_pool_size() -> usize {
    16
}
fn default_pool_concurrency() -> usize {
    2
}
fn default_pool_min_validity() -> u64 {
    300
}
fn default_secret_env() -> String {
    "GATE402_L402_SECRET".into()
}
fn default_invoice_expiry() -> u64 {
    3600
}
fn default_seller() -> String {
    "seller".into()
}
fn default_prefix() -> String {
    "/".into()
}
fn default_protocols() -> Vec<String> {
    vec!["l402".into()]
}
fn default_realm() -> String {
    "gate402".into()
}
fn default_mpp_secret_env() -> String {
    "GATE402_MPP_SECRET".into()
}
fn default_mpp_ttl() -> u64 {
    300
}
fn default_deposit_units() -> u64 {
    20
}
fn default_idle_timeout() -> u64 {
    300
}
