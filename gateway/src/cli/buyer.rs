//! Flags shared by the buyer commands `gate402 get` and `gate402 mcp`: the policy (file and
//! single-field overrides), the wallets and the cache directory, and the [`Client`] they build.
//!
//! The policy comes from `--policy FILE`, `$GATE402_POLICY`, or `<config dir>/policy.toml`
//! (`$GATE402_CONFIG_DIR`, default `~/.gate402`) when present; flags override single fields.
//! Secrets (EVM key, macaroons) come from files or the environment only and are never printed.

use std::{path::PathBuf, sync::Arc};

use clap::Args;
use gate402_rails::LightningRail;

use super::wallet::{NoWallet, WalletArgs};
use crate::client::{BuyerPolicy, Client, EvmWallet, Policy, TokenCache};

/// Policy, wallet and cache flags of the buyer commands.
#[derive(Debug, Clone, Args)]
pub struct BuyerArgs {
    /// Do not try the next offer of a 402 when paying the chosen one fails.
    #[arg(long = "no-failover")]
    pub no_failover: bool,
    /// Policy file (TOML).
    #[arg(long = "policy", env = "GATE402_POLICY")]
    pub policy: Option<PathBuf>,
    /// Preference order, comma-separated (`l402,mpp,x402/lightning,x402/evm`).
    #[arg(long = "prefer", value_delimiter = ',')]
    pub prefer: Vec<String>,
    /// Refuse to pay more than this many satoshis for one request (policy default 1000).
    #[arg(long = "max-cost")]
    pub max_cost_sat: Option<u64>,
    /// Maximum routing fee in satoshis (policy default 10).
    #[arg(long = "max-fee")]
    pub max_fee_sat: Option<u64>,
    /// Payment timeout in seconds (policy default 60).
    #[arg(long = "payment-timeout")]
    pub payment_timeout_secs: Option<u64>,
    /// Daily Lightning budget over all domains, satoshis (fees included).
    #[arg(long = "budget-daily")]
    pub budget_daily_sat: Option<u64>,
    /// Daily Lightning budget per domain, satoshis (fees included).
    #[arg(long = "budget-domain-daily")]
    pub budget_domain_daily_sat: Option<u64>,
    /// Only pay these domains (`*.example.com` wildcards; repeatable).
    #[arg(long = "allow")]
    pub allow: Vec<String>,
    /// Never pay these domains (repeatable; wins over --allow).
    #[arg(long = "deny")]
    pub deny: Vec<String>,
    /// Credential cache and budget ledger directory.
    #[arg(long = "cache-dir", env = "GATE402_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    /// The Lightning wallet to pay with.
    pub wallet: WalletArgs,
    /// File holding a hex EVM private key, to pay x402 `exact` (EIP-3009) offers. The key may
    /// also come from $GATE402_EVM_KEY; never from the command line, never printed.
    #[arg(long = "evm-key-file", env = "GATE402_EVM_KEY_FILE")]
    pub evm_key_file: Option<PathBuf>,
    /// Refuse x402 EVM prices above this many token atomic units (USDC: 1000000 = $1).
    #[arg(long = "max-evm-amount")]
    pub max_evm_amount: Option<u128>,
}

/// `$GATE402_CONFIG_DIR`, else `~/.gate402`.
pub fn config_dir() -> PathBuf {
    std::env::var_os("GATE402_CONFIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".gate402"))
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// The cache directory: `--cache-dir`, else `<config dir>/tokens`.
pub fn cache_dir(flag: Option<&PathBuf>) -> PathBuf {
    flag.cloned().unwrap_or_else(|| config_dir().join("tokens"))
}

/// The policy file given, or `<config dir>/policy.toml` if present, or the defaults.
pub fn load_policy(path: Option<&PathBuf>) -> Result<BuyerPolicy, String> {
    match path {
        Some(p) => BuyerPolicy::load(p),
        None => {
            let p = config_dir().join("policy.toml");
            if p.is_file() {
                BuyerPolicy::load(&p)
            } else {
                Ok(BuyerPolicy::default())
            }
        }
    }
}

impl BuyerArgs {
    /// The policy with the command line's overrides applied, validated.
    pub fn policy(&self) -> Result<BuyerPolicy, String> {
        let mut p = load_policy(self.policy.as_ref())?;
        if !self.prefer.is_empty() {
            p.prefer = self.prefer.iter().map(|s| s.trim().to_string()).collect();
        }
        if let Some(v) = self.max_cost_sat {
            p.max_cost_sat = v;
        }
        if let Some(v) = self.max_fee_sat {
            p.max_fee_sat = v;
        }
        if let Some(v) = self.payment_timeout_secs {
            p.payment_timeout_secs = v;
        }
        if let Some(v) = self.max_evm_amount {
            p.max_cost_evm = [("*".to_string(), u64::try_from(v).unwrap_or(u64::MAX))].into();
        }
        if let Some(v) = self.budget_daily_sat {
            p.budget.daily_total_sat = Some(v);
        }
        if let Some(v) = self.budget_domain_daily_sat {
            p.budget.daily_per_domain_sat = Some(v);
        }
        p.allow.extend(self.allow.iter().cloned());
        p.deny.extend(self.deny.iter().cloned());
        p.validate().map_err(|e| format!("policy: {e}"))?;
        Ok(p)
    }

    /// The EVM key, from `--evm-key-file` or `$GATE402_EVM_KEY`.
    pub fn evm_wallet(&self) -> Result<Option<EvmWallet>, String> {
        let text = match &self.evm_key_file {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read --evm-key-file {}: {e}", p.display()))?,
            None => match std::env::var("GATE402_EVM_KEY") {
                Ok(k) => k,
                Err(_) => return Ok(None),
            },
        };
        EvmWallet::from_hex(&text, self.max_evm_amount.unwrap_or(u128::MAX)).map(Some)
    }

    /// The client these flags describe. Without any Lightning wallet flag, the client cannot
    /// pay Lightning offers; that is an error unless an EVM key is configured or
    /// `no_wallet_ok` (quotes, budgets). A configured wallet that cannot be reached is an error.
    pub async fn client(&self, no_wallet_ok: bool) -> Result<Client, String> {
        let policy = self.policy()?;
        let evm = self.evm_wallet()?;
        let no_wallet_ok = no_wallet_ok || evm.is_some();
        let wallet: Arc<dyn LightningRail> = if no_wallet_ok && !self.wallet.configured() {
            Arc::new(NoWallet)
        } else {
            self.wallet
                .connect()
                .await
                .map_err(|e| format!("wallet: {e}"))?
        };
        let cache = TokenCache::new(cache_dir(self.cache_dir.as_ref()));
        let client = Client::new(wallet, cache, Policy::default())
            .with_policy(policy)
            .with_failover(!self.no_failover);
        Ok(match evm {
            Some(w) => client.with_evm_wallet(w),
            None => client,
        })
    }
}
