//! x402 configuration: the route-level `x402 = {…}` price, the `[evm]` chain section and the
//! built-in `[facilitator]`; the settler key comes from a file or the environment, never TOML.

use std::path::PathBuf;

use gate402_protocols::x402::exact::{parse_dec, parse_network};
use gate402_protocols::x402::{evm, EvmPrice};
use gate402_rails::evm::SettlerKey;
use serde::Deserialize;

use super::ConfigError;

/// `[[route]] x402 = {…}`: what the route accepts over x402.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteX402 {
    /// CAIP-2 network of the EVM price, e.g. `eip155:8453` (with `asset`, `pay_to`, `amount`).
    #[serde(default)]
    pub network: Option<String>,
    /// EIP-3009 token contract address.
    #[serde(default)]
    pub asset: Option<String>,
    /// Payee address.
    #[serde(default)]
    pub pay_to: Option<String>,
    /// Exact price in token atomic units, decimal string (USDC: 10000 = 0.01).
    #[serde(default)]
    pub amount: Option<String>,
    /// Longest authorization window offered, seconds.
    #[serde(default = "default_max_timeout")]
    pub max_timeout_secs: u64,
    /// EIP-712 domain name of the token.
    #[serde(default = "default_name")]
    pub name: String,
    /// EIP-712 domain version of the token.
    #[serde(default = "default_version")]
    pub version: String,
    /// Also offer the Lightning variant (Alby `fetchWithX402`) at the route's msat price.
    #[serde(default)]
    pub lightning: bool,
    /// `resource.description` in the 402.
    #[serde(default)]
    pub description: Option<String>,
}

impl RouteX402 {
    /// The validated EVM price, if one is configured.
    pub fn evm_price(&self) -> Result<Option<EvmPrice>, String> {
        let fields = [&self.network, &self.asset, &self.pay_to, &self.amount];
        if fields.iter().all(|f| f.is_none()) {
            return Ok(None);
        }
        let (Some(network), Some(asset), Some(pay_to), Some(amount)) =
            (&self.network, &self.asset, &self.pay_to, &self.amount)
        else {
            return Err("an EVM price needs network, asset, pay_to and amount".into());
        };
        let chain_id = network
            .strip_prefix("eip155:")
            .and(parse_network(network))
            .ok_or("network must be CAIP-2 `eip155:<chain id>`")?;
        let amount = parse_dec(amount)
            .filter(|a| *a > 0)
            .ok_or("amount must be a positive decimal integer")?;
        if !(6..=86_400).contains(&self.max_timeout_secs) {
            return Err("max_timeout_secs must be between 6 and 86400".into());
        }
        if self.name.is_empty() || self.version.is_empty() {
            return Err("name and version (the token's EIP-712 domain) are required".into());
        }
        Ok(Some(EvmPrice {
            chain_id,
            asset: evm::parse_address(asset).ok_or("asset is not a 0x address")?,
            pay_to: evm::parse_address(pay_to).ok_or("pay_to is not a 0x address")?,
            amount,
            max_timeout_secs: self.max_timeout_secs,
            name: self.name.clone(),
            version: self.version.clone(),
        }))
    }
}

/// `[evm]`: how EVM payments are verified and settled.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvmConfig {
    /// Chain id every EVM price must use.
    pub chain_id: u64,
    /// JSON-RPC URL of a node (local verification + settlement from the settler key).
    #[serde(default)]
    pub rpc_url: Option<String>,
    /// Or: an external x402 facilitator base URL (exclusive with `rpc_url`).
    #[serde(default)]
    pub facilitator_url: Option<String>,
    /// Environment variable holding the settler's hex private key.
    #[serde(default = "default_key_env")]
    pub settler_key_env: String,
    /// File holding the settler's hex private key; wins over `settler_key_env`.
    #[serde(default)]
    pub settler_key_file: Option<PathBuf>,
    /// Extra CA certificates (PEM) trusted for `https://` `rpc_url` / `facilitator_url`, in
    /// addition to the built-in webpki (Mozilla) roots — for a private CA or a self-signed
    /// node. Public providers need nothing here.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Seconds to wait for a node/facilitator answer.
    #[serde(default = "default_rpc_timeout")]
    pub rpc_timeout_secs: u64,
    /// Seconds to wait for a settlement receipt.
    #[serde(default = "default_confirm_timeout")]
    pub confirm_timeout_secs: u64,
    /// Blocks a settlement's block needs (itself included) before the response is released:
    /// 1 = the receipt; more rides out reorgs that deep (a settlement reorganised away is
    /// sent again and waited for).
    #[serde(default = "default_confirmations")]
    pub confirmations: u64,
    /// Largest upstream response buffered before an x402 EVM payment is settled (the
    /// response is released only once settled). Above it nothing is settled and the buyer
    /// gets 502 `upstream_response_too_large` (raise it for routes selling large bodies).
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
}

impl EvmConfig {
    /// Check the section on its own.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| ConfigError::Invalid {
            field: "evm".into(),
            message: m.into(),
        };
        let http = |u: &str| {
            (u.starts_with("http://") || u.starts_with("https://"))
                && u.parse::<http::Uri>().is_ok_and(|u| u.host().is_some())
        };
        match (&self.rpc_url, &self.facilitator_url) {
            (Some(u), None) | (None, Some(u)) if http(u) => {}
            (Some(_), Some(_)) => return Err(bad("set rpc_url or facilitator_url, not both")),
            (None, None) => return Err(bad("rpc_url or facilitator_url is required")),
            _ => return Err(bad("URLs must be http(s)://host[:port][/path]")),
        }
        if self.rpc_timeout_secs == 0 || self.confirm_timeout_secs == 0 {
            return Err(bad("timeouts must be at least 1 second"));
        }
        if !(1..=64).contains(&self.confirmations) {
            return Err(bad("confirmations must be between 1 and 64"));
        }
        if self.max_response_bytes == 0 {
            return Err(bad("max_response_bytes must be at least 1"));
        }
        Ok(())
    }

    /// Load the settler key from `settler_key_file` or `$settler_key_env`; `Ok(None)` when
    /// neither is set. The key is never printed.
    pub fn settler_key(&self) -> Result<Option<SettlerKey>, ConfigError> {
        let text = if let Some(path) = &self.settler_key_file {
            let raw = super::read_secret_file(path, "evm.settler_key_file")?;
            String::from_utf8(raw).map_err(|_| {
                ConfigError::Secret(format!("settler_key_file {} is not text", path.display()))
            })?
        } else {
            match std::env::var(&self.settler_key_env) {
                Ok(v) => v,
                Err(_) => return Ok(None),
            }
        };
        SettlerKey::from_hex(&text)
            .map(Some)
            .map_err(|_| ConfigError::Secret("settler key is not a 32-byte hex key".into()))
    }
}

/// `[facilitator]`: serve `POST verify`, `POST settle`, `GET supported` for other x402 servers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacilitatorConfig {
    /// Serve the endpoints (needs `[evm] rpc_url` and a settler key).
    #[serde(default)]
    pub enabled: bool,
    /// Path prefix of the endpoints.
    #[serde(default = "default_facilitator_prefix")]
    pub prefix: String,
}

fn default_max_timeout() -> u64 {
    60
}
fn default_name() -> String {
    "USD Coin".into()
}
fn default_version() -> String {
    "2".into()
}
fn default_key_env() -> String {
    "GATE402_EVM_SETTLER_KEY".into()
}
fn default_rpc_timeout() -> u64 {
    10
}
fn default_confirm_timeout() -> u64 {
    30
}
fn default_confirmations() -> u64 {
    1
}
fn default_max_response_bytes() -> usize {
    8 << 20
}
fn default_facilitator_prefix() -> String {
    "/_gate402/facilitator".into()
}
