//! `gate402 mcp`: the buyer client as an MCP server on stdio, so agent frameworks can buy
//! through gate402.
//!
//! * [`protocol`] — JSON-RPC 2.0 framing, error codes, version negotiation (pure).
//! * [`server`] — the session lifecycle, dispatch and the stdin/stdout loop, generic over a
//!   [`server::ToolSet`].
//! * [`tools`] — the three tools (`fetch_paid_url`, `quote_url`, `budget_status`) on one
//!   shared [`crate::client::Client`], with [`schema`] (their JSON Schemas) and [`trace`]
//!   (what a call paid, for failures).
//!
//! The client is built from the same flags, variables and policy file as `gate402 get`
//! ([`BuyerArgs`]): policy, preference order, per-request maximum, daily budgets, domain
//! lists, wallets, cache directory. stdout carries only protocol messages; logs go to
//! stderr. Secrets (macaroons, preimages, keys) never appear in tool output.

pub mod node_lists;
pub mod node_tools;
pub mod protocol;
pub mod schema;
pub mod server;
pub mod tools;
pub mod trace;

use std::{process::ExitCode, sync::Arc};

use clap::Args;

use crate::cli::BuyerArgs;
pub use tools::BuyerTools;

/// Arguments of `gate402 mcp`: the client of every tool call, and the result size.
#[derive(Debug, Clone, Args)]
pub struct McpArgs {
    #[command(flatten)]
    /// Policy, wallets and cache (as `gate402 get`).
    pub buyer: BuyerArgs,
    /// Bodies longer than this many bytes are cut in tool results (`body_truncated: true`).
    #[arg(long = "max-body-bytes", default_value_t = 65_536)]
    pub max_body_bytes: usize,
    /// Also serve read-only Lightning node tools (`node_info`, `channel_balance`,
    /// `decode_invoice`) on the `--lnd-*` node.
    #[arg(long = "node-tools")]
    pub node_tools: bool,
    /// Read-only macaroon for the node tools (default: the wallet's, which is refused when
    /// it can pay unless `--allow-spending-macaroon`).
    #[arg(long = "node-macaroon", env = "GATE402_NODE_MACAROON")]
    pub node_macaroon: Option<std::path::PathBuf>,
    /// Let the node tools run with a macaroon that can pay.
    #[arg(long = "allow-spending-macaroon")]
    pub allow_spending_macaroon: bool,
}

/// Build the tools from `args`: a bad policy, or a configured wallet that cannot be reached,
/// is an error; no wallet at all still serves `quote_url` and `budget_status` (Lightning
/// payments then fail).
pub async fn build_tools(args: McpArgs) -> Result<BuyerTools, String> {
    if !args.buyer.wallet.configured() {
        tracing::warn!(
            "no Lightning wallet configured (--lnd-dir): Lightning offers cannot be paid"
        );
    }
    // The wallet first: its connection warns about an admin macaroon.
    let client = args.buyer.client(true).await?;
    let node = if args.node_tools {
        let mut cfg = args.buyer.wallet.lnd_config()?;
        if let Some(p) = &args.node_macaroon {
            cfg.macaroon = gate402_rails::lnd::MacaroonSource::Path(p.clone());
        }
        Some(node_tools::NodeTools::connect(cfg, args.allow_spending_macaroon).await?)
    } else {
        None
    };
    let tools = BuyerTools::new(client, args.max_body_bytes);
    Ok(match node {
        Some(n) => tools.with_node_tools(n),
        None => tools,
    })
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
