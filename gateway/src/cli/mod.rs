//! The `gate402` command line: `demo`, `serve`, `check-config`, `get`, `budget`, `ledger`,
//! `revoke`, `simnet`.

mod admin;
mod budget;
mod demo;
mod demo_mpp;
mod get;
mod get_output;
mod serve;
mod simnet;
mod wallet;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

pub use admin::{LedgerArgs, RevokeArgs};
pub use budget::{run_with_output as run_budget, BudgetAction, BudgetArgs};
pub use demo::run_demo;
pub use get::{
    cache_dir, config_dir, load_policy, run as run_get, run_with_output as run_get_with_output,
    Exit, GetArgs,
};
pub use get_output::exit_for;

/// gate402 — multi-protocol HTTP 402 payment gateway and buyer client.
#[derive(Debug, Parser)]
#[command(name = "gate402", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the embedded end-to-end demo on a simulated Lightning network (no setup).
    Demo,
    /// Run the gateway from a config file.
    Serve {
        /// Path of the TOML config.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Parse and validate a config file (and its secrets), then exit.
    CheckConfig {
        /// Path of the TOML config.
        config: PathBuf,
    },
    /// Fetch a URL, paying a 402 challenge within the buyer policy (curl-like; exit codes:
    /// 0 ok, 1 error, 2 usage, 3 refused by policy, 4 payment failed, 5 HTTP error).
    Get(Box<GetArgs>),
    /// Show today's spend against the daily budgets, or `reset` it.
    Budget(BudgetArgs),
    /// Serve a simulated Lightning network whose nodes speak LND's gRPC API (TLS + macaroons).
    Simnet(simnet::SimnetArgs),
    /// List settled payments and totals per route and protocol from the gateway's store.
    Ledger(LedgerArgs),
    /// Revoke an L402 token id on every gateway sharing the store.
    Revoke(RevokeArgs),
}

/// Parse the command line and run; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(matches!(
        cli.command,
        Command::Serve { .. } | Command::Simnet(_)
    ));
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
            Command::Demo => run_demo().await,
            Command::Serve { config } => serve::run(&config).await,
            Command::CheckConfig { config } => serve::check(&config),
            Command::Get(args) => ExitCode::from(get::run(*args).await as u8),
            Command::Budget(args) => budget::run(args),
            Command::Simnet(args) => simnet::run(args).await,
            Command::Ledger(args) => admin::ledger(args).await,
            Command::Revoke(args) => admin::revoke(args).await,
        }
    })
}

fn init_tracing(verbose_default: bool) {
    let default = if verbose_default { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATE402_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
