//! `gate402 get URL`: a curl-like client that pays 402 challenges within the buyer policy.
//!
//! The policy, wallet and cache flags are [`BuyerArgs`] (shared with `gate402 mcp`).
//! Output and progress live in [`super::get_output`].

use std::{io::Write, path::PathBuf};

use bytes::Bytes;
use clap::Args;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use super::buyer::BuyerArgs;
use super::get_output::{self, Progress};
use crate::client::ClientRequest;

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
    #[command(flatten)]
    /// Policy, wallets and cache.
    pub buyer: BuyerArgs,
}

fn request(args: &GetArgs) -> Result<ClientRequest, String> {
    build_request(&args.url, &args.method, &args.headers, args.data.as_deref())
}

/// A request from curl-like flags: `url`, `-X method`, `-H "Name: value"`, `-d body`
/// (`@file` reads a file). Shared by `get` and `probe`.
pub(super) fn build_request(
    url: &str,
    method: &str,
    header_flags: &[String],
    data: Option<&str>,
) -> Result<ClientRequest, String> {
    let url: Uri = url.parse().map_err(|_| format!("invalid URL `{url}`"))?;
    let method =
        Method::from_bytes(method.as_bytes()).map_err(|_| format!("invalid method `{method}`"))?;
    let mut headers = HeaderMap::new();
    for h in header_flags {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| format!("header `{h}` is not `Name: value`"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("invalid header name in `{h}`"))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| format!("invalid header value in `{h}`"))?;
        headers.append(name, value);
    }
    let body = match data {
        None => Bytes::new(),
        Some(d) => match d.strip_prefix('@') {
            Some(path) => std::fs::read(path)
                .map_err(|e| format!("cannot read {path}: {e}"))?
                .into(),
            None => Bytes::from(d.to_string()),
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
    let client = match args.buyer.client(args.dry_run).await {
        Ok(c) => c,
        Err(e) => return usage(e, out),
    };
    let progress = Progress::new(args.silent, args.verbose);
    let client = client.on_event(move |e| progress.on(e));
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
