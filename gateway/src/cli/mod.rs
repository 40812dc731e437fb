//! The `gate402` command line: `demo`, `serve`, `check-config`, `get`, `budget`, `mcp`,
//! `probe`, `simnet`, `ledger`, `revoke`, `admin token`. Seller commands need the `server` feature, buyer commands
//! `client`, `demo` both.

#[cfg(feature = "server")]
mod admin;
#[cfg(feature = "server")]
pub mod admin_token;
#[cfg(feature = "client")]
mod budget;
#[cfg(feature = "client")]
mod buyer;
#[cfg(all(feature = "server", feature = "client"))]
mod demo;
#[cfg(all(feature = "server", feature = "client"))]
mod demo_mpp;
#[cfg(feature = "client")]
mod get;
#[cfg(feature = "client")]
mod get_output;
#[cfg(feature = "client")]
pub mod macaroon;
#[cfg(feature = "client")]
mod probe;
#[cfg(feature = "client")]
mod probe_output;
#[cfg(feature = "server")]
mod serve;
#[cfg(feature = "server")]
mod simnet;
#[cfg(feature = "client")]
mod wallet;

#[cfg(feature = "server")]
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[cfg(feature = "server")]
pub use admin::{ledger_json, LedgerArgs, RevokeArgs};
#[cfg(feature = "client")]
pub use budget::{run_with_output as run_budget, BudgetAction, BudgetArgs};
#[cfg(feature = "client")]
pub use buyer::{cache_dir, config_dir, load_policy, BuyerArgs};
#[cfg(all(feature = "server", feature = "client"))]
pub use demo::run_demo;
#[cfg(feature = "client")]
pub use get::{run as run_get, run_with_output as run_get_with_output, Exit, GetArgs};
#[cfg(feature = "client")]
pub use get_output::exit_for;
#[cfg(feature = "client")]
pub use probe::{run_with_output as run_probe_with_output, ProbeArgs};
#[cfg(feature = "client")]
pub use wallet::{NoWallet, WalletArgs};

/// gate402 — multi-protocol HTTP 402 payment gateway and buyer client.
#[derive(Debug, Parser)]
#[command(name = "gate402", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[cfg(all(feature = "server", feature = "client"))]
    /// Run the embedded end-to-end demo on a simulated Lightning network (no setup).
    Demo,
    #[cfg(feature = "server")]
    /// Run the gateway from a config file.
    Serve {
        /// Path of the TOML config.
        #[arg(short, long)]
        config: PathBuf,
        /// Log format: `text` (human) or `json` (one JSON object per line; with it one
        /// access event per request, as `[server] access_log = true`).
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    #[cfg(feature = "server")]
    /// Parse and validate a config file (and its secrets), then exit.
    CheckConfig {
        /// Path of the TOML config.
        config: PathBuf,
    },
    #[cfg(feature = "client")]
    /// Fetch a URL, paying a 402 challenge within the buyer policy (curl-like; exit codes:
    /// 0 ok, 1 error, 2 usage, 3 refused by policy, 4 payment failed, 5 HTTP error).
    Get(Box<GetArgs>),
    #[cfg(feature = "client")]
    /// Show today's spend against the daily budgets, or `reset` it.
    Budget(BudgetArgs),
    #[cfg(feature = "client")]
    /// Serve the buyer client to AI agents over MCP (JSON-RPC on stdin/stdout): tools
    /// `fetch_paid_url`, `quote_url`, `budget_status`.
    Mcp(Box<crate::mcp::McpArgs>),
    #[cfg(feature = "client")]
    /// Bake least-privilege LND macaroons (`macaroon bake --role invoice|pay|read-only`).
    Macaroon(macaroon::MacaroonArgs),
    #[cfg(feature = "client")]
    /// Grade any 402 server against L402, MPP and x402, rule by rule; with `--pay --max-cost N`
    /// also pay each protocol once and check receipts and replay refusal (exit codes: 0 all
    /// PASS, 5 WARN, 6 FAIL, 3 refused by --max-cost, 4 payment failed, 1 error, 2 usage).
    Probe(Box<ProbeArgs>),
    #[cfg(feature = "server")]
    /// Serve a simulated Lightning network whose nodes speak LND's gRPC API (TLS + macaroons).
    Simnet(simnet::SimnetArgs),
    #[cfg(feature = "server")]
    /// List settled payments and totals per route and protocol from the gateway's store.
    Ledger(LedgerArgs),
    #[cfg(feature = "server")]
    /// Revoke an L402 token id on every gateway sharing the store.
    Revoke(RevokeArgs),
    #[cfg(feature = "server")]
    /// Admin API tools: `admin token --role read|admin --ttl 1h` mints a token.
    Admin(admin_token::AdminArgs),
}

/// Parse the command line and run; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.command.verbose_logs(), cli.command.json_logs());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        match cli.command {
            #[cfg(all(feature = "server", feature = "client"))]
            Command::Demo => run_demo().await,
            #[cfg(feature = "server")]
            Command::Serve { config, log_format } => {
                serve::run(&config, log_format == LogFormat::Json).await
            }
            #[cfg(feature = "server")]
            Command::CheckConfig { config } => serve::check(&config),
            #[cfg(feature = "client")]
            Command::Get(args) => ExitCode::from(get::run(*args).await as u8),
            #[cfg(feature = "client")]
            Command::Budget(args) => budget::run(args),
            #[cfg(feature = "client")]
            Command::Mcp(args) => crate::mcp::run(*args).await,
            #[cfg(feature = "client")]
            Command::Macaroon(args) => macaroon::run(args).await,
            #[cfg(feature = "client")]
            Command::Probe(args) => ExitCode::from(probe::run(*args).await),
            #[cfg(feature = "server")]
            Command::Simnet(args) => simnet::run(args).await,
            #[cfg(feature = "server")]
            Command::Admin(args) => admin_token::run(args),
            #[cfg(feature = "server")]
            Command::Ledger(args) => admin::ledger(args).await,
            #[cfg(feature = "server")]
            Command::Revoke(args) => admin::revoke(args).await,
        }
    })
}

impl Command {
    /// Whether logs are JSON lines (`serve --log-format json`).
    fn json_logs(&self) -> bool {
        #[cfg(feature = "server")]
        if let Command::Serve { log_format, .. } = self {
            return *log_format == LogFormat::Json;
        }
        false
    }

    /// Servers log at `info` by default; one-shot commands and `mcp` only warnings.
    fn verbose_logs(&self) -> bool {
        #[cfg(feature = "server")]
        if matches!(self, Command::Serve { .. } | Command::Simnet(_)) {
            return true;
        }
        false
    }
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (tracing-subscriber's JSON formatter).
    Json,
}

/// Logs always go to stderr (stdout carries `get` bodies and the MCP protocol).
fn init_tracing(verbose_default: bool, json: bool) {
    let default = if verbose_default { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATE402_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    if json {
        let _ = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
