//! `gate402 get URL`: a curl-like client that pays 402 challenges within `--max-cost`.

use std::{io::Write, path::PathBuf, sync::Arc, time::Duration};

use bytes::Bytes;
use clap::Args;
use gate402_rails::LightningRail;

use super::wallet::NoWallet;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use crate::client::{
    Client, ClientError, ClientRequest, Event, EvmWallet, PaidResponse, Policy, TokenCache,
};

/// Process exit codes of `gate402 get` (stable; agents branch on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success (2xx/3xx), paid or not.
    Ok = 0,
    /// Network or local error.
    Error = 1,
    /// Bad usage (flags, URL, headers).
    Usage = 2,
    /// Refused to pay by policy (over `--max-cost`, invoice disagrees with the offer, ...).
    Policy = 3,
    /// The payment itself failed (no route, balance, timeout, ...).
    PaymentFailed = 4,
    /// The server answered with an error status (4xx/5xx) after any payment.
    HttpError = 5,
}

/// Arguments of `gate402 get`.
#[derive(Debug, Clone, Args)]
pub struct GetArgs {
    /// URL to fetch (http://).
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
    /// Refuse to pay more than this many satoshis for one request.
    #[arg(long = "max-cost", default_value_t = 1000)]
    pub max_cost_sat: u64,
    /// Maximum routing fee in satoshis.
    #[arg(long = "max-fee", default_value_t = 10)]
    pub max_fee_sat: u64,
    /// Payment timeout in seconds.
    #[arg(long = "payment-timeout", default_value_t = 60)]
    pub payment_timeout_secs: u64,
    /// Credential cache directory.
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
    #[arg(long = "max-evm-amount", default_value_t = 1_000_000)]
    pub max_evm_amount: u128,
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
    EvmWallet::from_hex(&text, args.max_evm_amount).map(Some)
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
    })
}

fn default_cache_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(".gate402")
        .join("tokens")
}

/// Run `gate402 get`; returns the exit code.
pub async fn run(args: GetArgs) -> Exit {
    let req = match request(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gate402: {e}");
            return Exit::Usage;
        }
    };
    let evm = match evm_wallet(&args) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("gate402: {e}");
            return Exit::Usage;
        }
    };
    let wallet: Arc<dyn LightningRail> = match args.wallet.connect().await {
        Ok(w) => w,
        Err(_) if evm.is_some() && !args.wallet.configured() => Arc::new(NoWallet),
        Err(e) => {
            eprintln!("gate402: wallet: {e}");
            return Exit::Usage;
        }
    };
    let policy = Policy {
        max_cost_msat: args.max_cost_sat.saturating_mul(1000),
        max_fee_msat: args.max_fee_sat.saturating_mul(1000),
        payment_timeout: Duration::from_secs(args.payment_timeout_secs),
    };
    let cache = TokenCache::new(args.cache_dir.clone().unwrap_or_else(default_cache_dir));
    let verbose = args.verbose;
    let mut client = Client::new(wallet, cache, policy);
    if let Some(w) = evm {
        client = client.with_evm_wallet(w);
    }
    let client = client.on_event(move |e| match e {
        Event::Challenged(p) if verbose => eprintln!("< 402 Payment Required (offers: {p:?})"),
        Event::Paying(msat) => eprintln!("* paying {} sat ...", msat.div_ceil(1000)),
        Event::Paid(info) if verbose => eprintln!(
            "* paid {} msat (+{} msat fee), payment hash {}",
            info.amount_msat, info.fee_msat, info.payment_hash
        ),
        _ => {}
    });
    match client.send(&req).await {
        Ok(resp) => output(&args, resp),
        Err(e) => {
            eprintln!("gate402: {e}");
            exit_for(&e)
        }
    }
}

fn exit_for(e: &ClientError) -> Exit {
    match e {
        ClientError::Usage(_) => Exit::Usage,
        ClientError::Policy(_) | ClientError::NoPayableChallenge(_) | ClientError::Invoice(_) => {
            Exit::Policy
        }
        ClientError::Payment(_) | ClientError::BadPreimage => Exit::PaymentFailed,
        ClientError::Http(_) | ClientError::Cache(_) => Exit::Error,
    }
}

fn output(args: &GetArgs, resp: PaidResponse) -> Exit {
    let status = resp.response.status();
    if args.verbose {
        eprintln!("< {status}");
        for (k, v) in resp.response.headers() {
            eprintln!("< {k}: {}", v.to_str().unwrap_or("<binary>"));
        }
        if resp.reused_credential {
            eprintln!("* reused cached credential (nothing paid)");
        }
    }
    let body = resp.response.body();
    let written = match &args.output {
        Some(path) => std::fs::write(path, body),
        None => std::io::stdout().write_all(body),
    };
    if let Err(e) = written {
        eprintln!("gate402: cannot write output: {e}");
        return Exit::Error;
    }
    if status.is_client_error() || status.is_server_error() {
        Exit::HttpError
    } else {
        Exit::Ok
    }
}
