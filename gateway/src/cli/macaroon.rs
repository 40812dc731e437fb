//! `gate402 macaroon bake --role {invoice,pay,read-only} --lnd-dir D [--out FILE]`: bake a
//! least-privilege macaroon with LND's `BakeMacaroon`, authenticated by `D/admin.macaroon`
//! (the only default macaroon with `macaroon:generate`). The result is written in binary to
//! `--out` (mode 0600) or printed as hex; the permissions baked are reported on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use gate402_rails::lnd::permissions::BakeRole;
use gate402_rails::lnd::LndRail;

use crate::lnd_conn::{self, LndSection};

/// `gate402 macaroon ...`.
#[derive(Debug, Args)]
pub struct MacaroonArgs {
    #[command(subcommand)]
    action: MacaroonAction,
}

#[derive(Debug, Subcommand)]
enum MacaroonAction {
    /// Bake a least-privilege macaroon via LND's `BakeMacaroon`.
    Bake {
        /// `invoice` (seller), `pay` (buyer) or `read-only` (MCP node tools).
        #[arg(long)]
        role: String,
        /// LND directory holding `rpc.addr`, `tls.cert` and `admin.macaroon`.
        #[arg(long = "lnd-dir")]
        lnd_dir: PathBuf,
        /// Write the binary macaroon here (mode 0600) instead of printing its hex.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Bake a macaroon of `role` on the node of `lnd_dir`; returns its binary bytes.
pub async fn bake(role: &str, lnd_dir: &Path) -> Result<Vec<u8>, String> {
    let role = BakeRole::parse(role)
        .ok_or_else(|| format!("unknown role {role:?}: use invoice, pay or read-only"))?;
    let section = LndSection {
        dir: Some(lnd_dir.to_path_buf()),
        ..LndSection::default()
    };
    let cfg = lnd_conn::lnd_config(&section, lnd_conn::BUYER_MACAROON)?;
    let rail = LndRail::connect_lazy(cfg)
        .await
        .map_err(|e| e.to_string())?;
    rail.bake_macaroon(&role.perms())
        .await
        .map_err(|e| format!("BakeMacaroon: {e}"))
}

/// Write a secret file readable by its owner only.
fn write_secret(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    std::io::Write::write_all(&mut opts.open(path)?, bytes)
}

/// Run `gate402 macaroon`.
pub async fn run(args: MacaroonArgs) -> ExitCode {
    let MacaroonAction::Bake { role, lnd_dir, out } = args.action;
    let mac = match bake(&role, &lnd_dir).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let perms = BakeRole::parse(&role)
        .map(|r| {
            r.perms()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    match out {
        Some(path) => {
            if let Err(e) = write_secret(&path, &mac) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!("wrote {} ({})", path.display(), perms.join(" "));
        }
        None => {
            println!("{}", hex::encode(&mac));
            eprintln!("baked: {}", perms.join(" "));
        }
    }
    ExitCode::SUCCESS
}
