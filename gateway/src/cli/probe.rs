//! `gate402 probe URL`: grade any 402 server against L402, MPP and x402 ([`crate::probe`]).
//!
//! Pays nothing unless `--pay` is given, and then never more than `--max-cost` satoshis for
//! all its Lightning payments together (`--pay` without `--max-cost` is a usage error); token
//! prices are capped by the policy / `--max-evm-amount` as in `gate402 get`. Wallet, policy and
//! cache flags are `get`'s ([`BuyerArgs`]). Output: grouped per challenge (colours only on a
//! terminal), or one JSON report with `--json` (`docs/probe-report.schema.json`).

use std::io::Write;

use clap::Args;
use serde_json::json;

use super::buyer::BuyerArgs;
use super::get::build_request;
use super::get_output::Progress;
use super::probe_output;
use crate::probe::{self, exit};

/// Arguments of `gate402 probe`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Exit codes: 0 every rule PASS, 5 worst WARN, 6 worst FAIL; with --pay \
also 3 an offer refused by --max-cost (nothing paid for it) and 4 a payment failed (the most \
severe wins: 6 > 5 > 4 > 3 > 0); 1 the server could not be probed, 2 usage."
)]
pub struct ProbeArgs {
    /// URL to probe (http:// or https://).
    #[arg(required_unless_present = "list_rules")]
    pub url: Option<String>,
    /// HTTP method.
    #[arg(short = 'X', long = "request", default_value = "GET")]
    pub method: String,
    /// Extra header `Name: value` (repeatable), e.g. `Accept-Payment: lightning/charge`.
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body; `@file` reads a file.
    #[arg(short = 'd', long = "data")]
    pub data: Option<String>,
    /// Also pay the cheapest acceptable offer of each protocol (needs --max-cost: the most
    /// all payments of this probe may cost together, satoshis) and check receipts, token
    /// reuse and replay refusal.
    #[arg(long = "pay")]
    pub pay: bool,
    /// Print the full report as one JSON object (docs/probe-report.schema.json).
    #[arg(long = "json")]
    pub json: bool,
    /// List every rule (id, spec section, what it checks) and exit.
    #[arg(long = "list-rules")]
    pub list_rules: bool,
    #[command(flatten)]
    /// Policy, wallets and cache (as `gate402 get`).
    pub buyer: BuyerArgs,
}

/// Run `gate402 probe`, printing to stdout; returns the exit code.
pub async fn run(args: ProbeArgs) -> u8 {
    let mut out = std::io::stdout().lock();
    let color = probe_output::color_for_stdout();
    let code = run_with_output(args, &mut out, color).await;
    let _ = out.flush();
    code
}

fn fail(args: &ProbeArgs, out: &mut dyn Write, msg: &str, code: u8) -> u8 {
    eprintln!("gate402 probe: {msg}");
    if args.json {
        let v = json!({"url": args.url, "error": msg, "exit": code});
        let _ = writeln!(out, "{v}");
    }
    code
}

/// Run `gate402 probe`, writing what would go to stdout into `out` (`color`: ANSI colours).
pub async fn run_with_output(args: ProbeArgs, out: &mut dyn Write, color: bool) -> u8 {
    if args.list_rules {
        probe_output::rules(out, args.json);
        return exit::PASS;
    }
    let url = args.url.clone().unwrap_or_default();
    let req = match build_request(&url, &args.method, &args.headers, args.data.as_deref()) {
        Ok(r) => r,
        Err(e) => return fail(&args, out, &e, exit::USAGE),
    };
    let pay = match (args.pay, args.buyer.max_cost_sat) {
        (true, None) => {
            return fail(
                &args,
                out,
                "--pay needs --max-cost (satoshis, all payments together)",
                exit::USAGE,
            )
        }
        (true, Some(max)) => Some(max),
        (false, _) => None,
    };
    let client = match args.buyer.client(pay.is_none()).await {
        Ok(c) => c,
        Err(e) => return fail(&args, out, &e, exit::USAGE),
    };
    let client = if pay.is_some() {
        let progress = Progress::new(false, false);
        client.on_event(move |e| progress.on(e))
    } else {
        client
    };
    match probe::probe(&client, &req, pay).await {
        Ok(report) => {
            if args.json {
                let text = serde_json::to_string_pretty(&report).unwrap_or_default();
                let _ = writeln!(out, "{text}");
            } else {
                probe_output::human(out, &report, color);
            }
            report.exit
        }
        Err(e) => fail(&args, out, &format!("cannot probe {url}: {e}"), exit::ERROR),
    }
}
