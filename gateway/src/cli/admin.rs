//! `gate402 ledger` (payments with their state, totals per route and protocol, x402
//! settlements still waiting for reconciliation; `--unserved`: only what was paid but not
//! known to be served — refundable or reconcilable) and `gate402 revoke` (refuse an L402
//! token id on every gateway sharing the store, within the revocation refresh bound).

use std::{path::PathBuf, process::ExitCode};

use clap::Args;
use serde_json::json;

use crate::{
    clock::now_unix,
    config::Config,
    server,
    store::{LedgerFilter, Store},
};

/// Arguments of `gate402 ledger`.
#[derive(Debug, Args)]
pub struct LedgerArgs {
    /// Path of the gateway's TOML config (its `[store]` section is read).
    #[arg(short, long)]
    pub config: PathBuf,
    /// Print JSON (`{"payments": [...], "totals": [...]}`).
    #[arg(long)]
    pub json: bool,
    /// Only this route.
    #[arg(long)]
    pub route: Option<String>,
    /// Only this protocol.
    #[arg(long)]
    pub protocol: Option<String>,
    /// Only payments at or after this Unix second.
    #[arg(long)]
    pub since: Option<u64>,
    /// List at most this many payments (newest first); totals always cover all of them.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Only payments not known to be served: `admitted` (a crash or a dropped client before
    /// the response was seen delivered: possibly unserved, refundable) and `unserved` (the
    /// upstream failed: the buyer may present the payment again); plus x402 settlements
    /// still waiting in the journal.
    #[arg(long)]
    pub unserved: bool,
}

/// Arguments of `gate402 revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Path of the gateway's TOML config (its `[store]` section is read).
    #[arg(short, long)]
    pub config: PathBuf,
    /// The L402 token id, 64 hex digits.
    pub token_id: String,
}

async fn open(path: &std::path::Path) -> Result<std::sync::Arc<dyn Store>, ExitCode> {
    let config = Config::load(path).map_err(|e| {
        eprintln!("{}: {e}", path.display());
        ExitCode::from(2)
    })?;
    server::open_store(&config).await.map_err(|e| {
        eprintln!("cannot open the store: {e}");
        ExitCode::FAILURE
    })
}

/// Run `gate402 ledger`.
pub async fn ledger(args: LedgerArgs) -> ExitCode {
    let store = match open(&args.config).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let filter = LedgerFilter {
        route: args.route,
        protocol: args.protocol,
        since: args.since,
        limit: args.limit,
        unserved: args.unserved,
    };
    let (payments, totals, pending) = match ledger_rows(&*store, &filter).await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("cannot read the ledger: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        println!(
            "{}",
            json!({ "payments": payments, "totals": totals, "pending_settlements": pending })
        );
        return ExitCode::SUCCESS;
    }
    println!(
        "{:<12} {:<16} {:<8} {:>14}  {:<9} reference",
        "time", "route", "protocol", "msat", "state"
    );
    for p in &payments {
        println!(
            "{:<12} {:<16} {:<8} {:>14}  {:<9} {}",
            p.created_at,
            p.route,
            p.protocol,
            p.amount_msat,
            p.state.as_str(),
            p.reference
        );
    }
    if !pending.is_empty() {
        println!();
        println!("x402 settlements waiting for reconciliation (sent, outcome not yet known):");
        for s in &pending {
            println!(
                "{:<12} {:<16} {:<8} {:>14}  {:<9} {}",
                s["broadcast_at"],
                s["route"].as_str().unwrap_or("-"),
                "x402",
                s["amount_msat"],
                "pending",
                s["transaction"].as_str().unwrap_or_default()
            );
        }
    }
    println!();
    println!(
        "{:<16} {:<8} {:>10} {:>16}",
        "route", "protocol", "payments", "msat"
    );
    let (mut n, mut sum) = (0u64, 0u64);
    for t in &totals {
        println!(
            "{:<16} {:<8} {:>10} {:>16}",
            t.route, t.protocol, t.payments, t.amount_msat
        );
        n += t.payments;
        sum = sum.saturating_add(t.amount_msat);
    }
    println!("{:<16} {:<8} {:>10} {:>16}", "total", "", n, sum);
    ExitCode::SUCCESS
}

type LedgerRows = (
    Vec<crate::store::PaymentRecord>,
    Vec<crate::store::Totals>,
    Vec<serde_json::Value>,
);

async fn ledger_rows(
    store: &dyn Store,
    filter: &LedgerFilter,
) -> Result<LedgerRows, crate::store::StoreError> {
    let (payments, totals, pending) = tokio::try_join!(
        store.ledger(filter),
        store.totals(filter),
        store.pending_list()
    )?;
    Ok((
        payments,
        totals,
        pending.into_iter().map(pending_json).collect(),
    ))
}

/// What `gate402 ledger --json` prints: `{"payments": [...], "totals": [...],
/// "pending_settlements": [...]}` for `filter`.
pub async fn ledger_json(
    store: &dyn Store,
    filter: &LedgerFilter,
) -> Result<serde_json::Value, crate::store::StoreError> {
    let (payments, totals, pending) = ledger_rows(store, filter).await?;
    Ok(json!({ "payments": payments, "totals": totals, "pending_settlements": pending }))
}

/// A journal entry as printed: transaction, payer, route and price from its tag, times.
fn pending_json(r: crate::store::PendingRow) -> serde_json::Value {
    let tag = crate::store::X402Tag::decode(&r.tag);
    let payer = r
        .key
        .get(20..40)
        .and_then(|b| <[u8; 20]>::try_from(b).ok())
        .map(|a| gate402_protocols::x402::evm::checksum(&a));
    json!({
        "transaction": r.transaction,
        "payer": payer,
        "route": tag.as_ref().map(|t| t.route.clone()),
        "amount_msat": tag.as_ref().map_or(0, |t| t.amount_msat),
        "tx_nonce": r.tx_nonce,
        "broadcast_at": r.broadcast_at,
        "lease_until": r.lease_until,
    })
}

/// Run `gate402 revoke`.
pub async fn revoke(args: RevokeArgs) -> ExitCode {
    let Some(id) = hex::decode(args.token_id.trim())
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
    else {
        eprintln!("token id must be 64 hex digits");
        return ExitCode::from(2);
    };
    let store = match open(&args.config).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    match store.revoke(&id, now_unix()).await {
        Ok(fresh) => {
            println!(
                "{} {}",
                if fresh { "revoked" } else { "already revoked" },
                hex::encode(id)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot revoke: {e}");
            ExitCode::FAILURE
        }
    }
}
