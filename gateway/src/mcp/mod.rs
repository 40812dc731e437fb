//! `gate402 mcp`: the buyer client as an MCP server on stdio, so agent frameworks can buy
//! through gate402.
//!
//! * [`protocol`] — JSON-RPC 2.0 framing, error codes, version negotiation (pure).
//! * [`server`] — the session lifecycle, dispatch and the stdin/stdout loop, generic over a
//!   [`server::ToolSet`].
//! * [`tools`] — the three tools (`fetch_paid_url`, `quote_url`, `budget_status`) on top of
//!   [`crate::client`], with [`schema`] (their JSON Schemas), [`quote`] and [`budget`].
//!
//! The wallet, cache and limits come from the same flags and variables as `gate402 get`.
//! stdout carries only protocol messages; logs go to stderr. Secrets (macaroons, preimages,
//! keys) never appear in tool output.

pub mod budget;
pub mod protocol;
pub mod quote;
pub mod schema;
pub mod server;
pub mod tools;

use std::{path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use clap::Args;
use gate402_rails::LightningRail;

use crate::cli::{NoWallet, WalletArgs};
use crate::client::{EvmWallet, Policy, TokenCache};
pub use tools::BuyerTools;

/// Arguments of `gate402 mcp` (the wallet and limits of every tool call).
#[derive(Debug, Clone, Args)]
pub struct McpArgs {
    /// Never pay more than this many satoshis for one request (a tool call's `max_cost_sats`
    /// can only lower it).
    #[arg(long = "max-cost", default_value_t = 1000)]
    pub max_cost_sat: u64,
    /// Maximum routing fee in satoshis.
    #[arg(long = "max-fee", default_value_t = 10)]
    pub max_fee_sat: u64,
    /// Payment timeout in seconds.
    #[arg(long = "payment-timeout", default_value_t = 60)]
    pub payment_timeout_secs: u64,
    /// Credential cache directory (also the spend ledger `budget_status` reads).
    #[arg(long = "cache-dir", env = "GATE402_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    /// The Lightning wallet to pay with.
    pub wallet: WalletArgs,
    /// File holding a hex EVM private key, to pay x402 `exact` offers (or $GATE402_EVM_KEY).
    #[arg(long = "evm-key-file", env = "GATE402_EVM_KEY_FILE")]
    pub evm_key_file: Option<PathBuf>,
    /// Refuse x402 EVM prices above this many token atomic units (USDC: 1000000 = $1).
    #[arg(long = "max-evm-amount", default_value_t = 1_000_000)]
    pub max_evm_amount: u128,
    /// Bodies longer than this many bytes are cut in tool results (`body_truncated: true`).
    #[arg(long = "max-body-bytes", default_value_t = 65_536)]
    pub max_body_bytes: usize,
}

/// The EVM key, from `--evm-key-file` or `$GATE402_EVM_KEY` (the sources `gate402 get` reads).
fn evm_wallet(args: &McpArgs) -> Result<Option<EvmWallet>, String> {
    let text = match &args.evm_key_file {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read --evm-key-file {}: {e}", p.display()))?,
        None => match std::env::var("GATE402_EVM_KEY") {
            Ok(k) => k,
            Err(_) => return Ok(None),
        },
    };
    EvmWallet::from_hex(&text, args.max_evm_amount).map(Some)
}

fn default_cache_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(".gate402")
        .join("tokens")
}

/// Build the tools from `args`: a configured wallet that cannot be reached is an error; no
/// wallet at all still serves `quote_url` and `budget_status` (payments then fail).
pub async fn build_tools(args: McpArgs) -> Result<BuyerTools, String> {
    let evm = evm_wallet(&args)?;
    let wallet: Arc<dyn LightningRail> = if args.wallet.configured() {
        args.wallet
            .connect()
            .await
            .map_err(|e| format!("wallet: {e}"))?
    } else {
        tracing::warn!(
            "no Lightning wallet configured (--lnd-dir): Lightning offers cannot be paid"
        );
        Arc::new(NoWallet)
    };
    let policy = Policy {
        max_cost_msat: args.max_cost_sat.saturating_mul(1000),
        max_fee_msat: args.max_fee_sat.saturating_mul(1000),
        payment_timeout: Duration::from_secs(args.payment_timeout_secs),
    };
    let cache = TokenCache::new(args.cache_dir.clone().unwrap_or_else(default_cache_dir));
    Ok(BuyerTools::new(
        wallet,
        cache,
        policy,
        evm,
        args.max_body_bytes,
    ))
}

/// Run `gate402 mcp` until stdin closes.
pub async fn run(args: McpArgs) -> ExitCode {
    let tools = match build_tools(args).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("gate402 mcp: {e}");
            return ExitCode::from(2);
        }
    };
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    match server::serve(Arc::new(tools), stdin, tokio::io::stdout()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gate402 mcp: {e}");
            ExitCode::FAILURE
        }
    }
}
