//! `gate402 get URL`: a curl-like client that pays 402 challenges within the buyer policy.
//!
//! The policy comes from `--policy FILE`, `$GATE402_POLICY`, or `<config dir>/policy.toml`
//! (`$GATE402_CONFIG_DIR`, default `~/.gate402`) when present; flags override single fields.
//! Secrets (EVM key, macaroons) come from files or the environment only and are never printed.
//! Output and progress live in [`super::get_output`].

use std::{io::Write, path::PathBuf, sync::Arc};

use bytes::Bytes;
use clap::Args;
use gate402_rails::LightningRail;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use super::get_output::{self, Progress};
use super::wallet::NoWallet;
use crate::client::{BuyerPolicy, Client, ClientRequest, EvmWallet, TokenCache};

/// Process exit codes of `gate402 get` (stable; agents branch on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success (2xx/3xx), paid or not; `--dry-run`: something payable (or nothing to pay).
    Ok = 0,
    /// Network or local error.
    Error = 1,
    /// Bad usage (flags, URL, headers, policy file).
    Usage = 2,
    /// Refused to pay by policy (over max cost or budget, denied domain, hostile or
    /// unpayable 402); nothing was paid.
    Policy = 3,
    /// The payment itself failed (no route, balance, timeout, ...).
    PaymentFailed = 4,
    /// The server answered with an error status (4xx/5xx) after any payment.
    HttpError = 5,
}

/// Arguments of `gate402 get`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Exit codes: 0 ok (or --dry-run: payable), 1 network/local error, \
2 usage, 3 refused by policy (nothing paid), 4 payment failed, 5 HTTP error status."
)]
pub struct GetArgs {
    /// URL to fetch (http:// or https://).
    pub url: String,
    /// HTTP method.
    #[arg(short = 'X', long = "request", default_value = "GET")]
    pub method: String,
    /// Extra header `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body; `@file` reads a file.
    #[arg(short = 'd', long = "data")]
    pub data: Option<String>,
    /// Write the body to this file instead of stdout.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Print the exchange (statuses, headers, payments) to stderr.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// No progress on stderr.
    #[arg(short = 's', long = "silent")]
    pub silent: bool,
    /// Print one JSON object on stdout (status, protocol, amount, receipt, body).
    #[arg(long = "json")]
    pub json: bool,
    /// Quote only: show every offer and what would be paid; pay nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
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
    pub wallet: super::wallet::WalletArgs,
    /// File holding a hex EVM private key, to pay x402 `exact` (EIP-3009) offers. The key may
    /// also come from $GATE402_EVM_KEY; never from the command line, never printed.
    #[arg(long = "evm-key-file", env = "GATE402_EVM_KEY_FILE")]
    pub evm_key_file: Option<PathBuf>,
    /// Refuse x402 EVM prices above this many token atomic units (USDC: 1000000 = $1).
    #[arg(long = "max-evm-amount")]
    pub max_evm_amount: Option<u128>,
}

fn evm_wallet(args: &GetArgs) -> Result<Option<EvmWallet>, String> {
    let text = match &args.evm_key_file {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read --evm-key-file {}: {e}", p.display()))?,
        None => match std::env::var("GATE402_EVM_KEY") {
            Ok(k) => k,
            Err(_) => return Ok(None),
        },
    };
    EvmWallet::from_hex(&text, args.max_evm_amount.unwrap_or(u128::MAX)).map(Some)
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

/// The policy with the command line's overrides applied, validated.
fn policy(args: &GetArgs) -> Result<BuyerPolicy, String> {
    let mut p = load_policy(args.policy.as_ref())?;
    if !args.prefer.is_empty() {
        p.prefer = args.prefer.iter().map(|s| s.trim().to_string()).collect();
    }
    if let Some(v) = args.max_cost_sat {
        p.max_cost_sat = v;
    }
    if let Some(v) = args.max_fee_sat {
        p.max_fee_sat = v;
    }
    if let Some(v) = args.payment_timeout_secs {
        p.payment_timeout_secs = v;
    }
    if let Some(v) = args.max_evm_amount {
        p.max_cost_evm = [("*".to_string(), u64::try_from(v).unwrap_or(u64::MAX))].into();
    }
    if let Some(v) = args.budget_daily_sat {
        p.budget.daily_total_sat = Some(v);
    }
    if let Some(v) = args.budget_domain_daily_sat {
        p.budget.daily_per_domain_sat = Some(v);
    }
    p.allow.extend(args.allow.iter().cloned());
    p.deny.extend(args.deny.iter().cloned());
    p.validate().map_err(|e| format!("policy: {e}"))?;
    Ok(p)
}

fn request(args: &GetArgs) -> Result<ClientRequest, String> {
    let url: Uri = args
        .url
        .parse()
        .map_err(|_| format!("invalid URL `{}`", args.url))?;
    let method = Method::from_bytes(args.method.as_bytes())
        .map_err(|_| format!("invalid method `{}`", args.method))?;
    let mut headers = HeaderMap::new();
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| format!("header `{h}` is not `Name: value`"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("invalid header name in `{h}`"))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| format!("invalid header value in `{h}`"))?;
        headers.append(name, value);
    }
    let body = match &args.data {
        None => Bytes::new(),
        Some(d) => match d.strip_prefix('@') {
            Some(path) => std::fs::read(path)
                .map_err(|e| format!("cannot read {path}: {e}"))?
                .into(),
            None => Bytes::from(d.clone()),
        },
    };
    Ok(ClientRequest {
        method,
        url,
        headers,
        body,
        max_cost: None,
    })
}

/// Run `gate402 get`, writing the body (or JSON) to stdout; returns the exit code.
pub async fn run(args: GetArgs) -> Exit {
    let mut out = std::io::stdout().lock();
    let code = run_with_output(args, &mut out).await;
    let _ = out.flush();
    code
}

/// Run `gate402 get`, writing what would go to stdout into `out`.
pub async fn run_with_output(args: GetArgs, out: &mut dyn Write) -> Exit {
    let usage = |e: String, out: &mut dyn Write| {
        get_output::error(&args, out, &e, Exit::Usage);
        Exit::Usage
    };
    let req = match request(&args) {
        Ok(r) => r,
        Err(e) => return usage(e, out),
    };
    let policy = match policy(&args) {
        Ok(p) => p,
        Err(e) => return usage(e, out),
    };
    let evm = match evm_wallet(&args) {
        Ok(w) => w,
        Err(e) => return usage(e, out),
    };
    let wallet: Arc<dyn LightningRail> = match args.wallet.connect().await {
        Ok(w) => w,
        Err(_) if (evm.is_some() || args.dry_run) && !args.wallet.configured() => {
            Arc::new(NoWallet)
        }
        Err(e) => return usage(format!("wallet: {e}"), out),
    };
    let cache = TokenCache::new(cache_dir(args.cache_dir.as_ref()));
    let progress = Progress::new(args.silent, args.verbose);
    let mut client = Client::new(wallet, cache, crate::client::Policy::default())
        .with_policy(policy)
        .on_event(move |e| progress.on(e));
    if let Some(w) = evm {
        client = client.with_evm_wallet(w);
    }
    if args.dry_run {
        return match client.quote(&req).await {
            Ok(q) => get_output::quote(&args, out, &q),
            Err(e) => get_output::failure(&args, out, &e),
        };
    }
    match client.send(&req).await {
        Ok(resp) => get_output::response(&args, out, resp),
        Err(e) => get_output::failure(&args, out, &e),
    }
}
