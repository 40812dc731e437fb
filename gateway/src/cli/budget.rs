//! `gate402 budget`: today's spend per domain and in total against the policy's daily limits;
//! `gate402 budget reset [--domain D]` forgets spend (cached credentials stay).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::buyer::{cache_dir, load_policy};
use crate::client::{BudgetStatus, TokenCache};
use crate::clock::now_unix;

/// Arguments of `gate402 budget`.
#[derive(Debug, Clone, Args)]
pub struct BudgetArgs {
    /// `reset` to clear spend; nothing to show it.
    #[command(subcommand)]
    pub action: Option<BudgetAction>,
    /// Print JSON.
    #[arg(long = "json", global = true)]
    pub json: bool,
    /// Policy file with the limits (default `<config dir>/policy.toml`).
    #[arg(long = "policy", env = "GATE402_POLICY", global = true)]
    pub policy: Option<PathBuf>,
    /// Credential cache and budget ledger directory.
    #[arg(long = "cache-dir", env = "GATE402_CACHE_DIR", global = true)]
    pub cache_dir: Option<PathBuf>,
}

/// `gate402 budget` actions.
#[derive(Debug, Clone, Subcommand)]
pub enum BudgetAction {
    /// Clear recorded spend (all domains, or one).
    Reset {
        /// Only this domain.
        #[arg(long = "domain")]
        domain: Option<String>,
    },
}

/// Run `gate402 budget`, writing to `out`; the exit code (0, or 2 for usage, 1 for I/O).
pub fn run_with_output(args: &BudgetArgs, out: &mut dyn std::io::Write) -> u8 {
    let cache = TokenCache::new(cache_dir(args.cache_dir.as_ref()));
    if let Some(BudgetAction::Reset { domain }) = &args.action {
        let domain = domain.as_deref().map(str::to_ascii_lowercase);
        return match cache.reset_spend(domain.as_deref()) {
            Ok(n) => {
                let _ = if args.json {
                    writeln!(out, "{}", serde_json::json!({"reset": n, "domain": domain}))
                } else {
                    writeln!(out, "cleared {n} spend record(s)")
                };
                0
            }
            Err(e) => {
                eprintln!("gate402: budget: {e}");
                1
            }
        };
    }
    let policy = match load_policy(args.policy.as_ref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("gate402: {e}");
            return 2;
        }
    };
    match cache.budget_status(&policy, now_unix()) {
        Ok(s) => {
            let _ = if args.json {
                writeln!(out, "{}", serde_json::to_string(&s).unwrap_or_default())
            } else {
                out.write_all(table(&s).as_bytes())
            };
            0
        }
        Err(e) => {
            eprintln!("gate402: budget: {e}");
            1
        }
    }
}

fn limit(l: Option<u128>) -> String {
    l.map_or("unlimited".into(), |l| l.to_string())
}

fn table(s: &BudgetStatus) -> String {
    let mut t = format!("spend on {} (UTC)\n", s.day);
    for d in &s.domains {
        t.push_str(&format!(
            "  {:<30} {:>14} spent {:>10} pending  limit {} {}\n",
            d.domain,
            d.spent,
            d.pending,
            limit(d.limit),
            d.unit
        ));
    }
    for u in &s.totals {
        t.push_str(&format!(
            "  {:<30} {:>14} spent {:>10} pending  limit {} {}\n",
            "total",
            u.spent,
            u.pending,
            limit(u.limit),
            u.unit
        ));
    }
    t
}

/// Run `gate402 budget` on stdout.
pub fn run(args: BudgetArgs) -> ExitCode {
    ExitCode::from(run_with_output(&args, &mut std::io::stdout().lock()))
}
