//! `gate402 admin token`: mint an admin-API token (JWT) for the `read` or `admin` role.
//!
//! HS256 with the secret in `$GATE402_ADMIN_SECRET` (or the variable `[admin] secret_env` of
//! `--config` names), or EdDSA with `--key` (a PEM Ed25519 private key whose public half is
//! `[admin] public_key_file`). The token goes to stdout and nowhere else.

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Subcommand};

use crate::{
    admin::{AdminAuth, Role},
    clock::now_unix,
    config::{AdminConfig, Config},
};

/// `gate402 admin …`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Mint an admin-API token (JWT) and print it.
    Token(TokenArgs),
}

/// Arguments of `gate402 admin token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// `read` (routes, ledger, stats, status) or `admin` (also prices, revoke, reload).
    #[arg(long, default_value = "read")]
    pub role: String,
    /// Lifetime: seconds, or a number with `s`, `m`, `h` or `d` (e.g. `1h`, `7d`).
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    /// Who the token is for (its `sub`, shown in the audit log).
    #[arg(long, default_value = "operator")]
    pub sub: String,
    /// Sign EdDSA with this PEM Ed25519 private key instead of the HS256 secret.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Read `[admin] secret_env` from this config (default variable: GATE402_ADMIN_SECRET).
    #[arg(short, long)]
    pub config: Option<PathBuf>,
}

/// Parse a lifetime: `3600`, `90s`, `30m`, `1h`, `7d`.
pub fn parse_ttl(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let n: u64 = num.parse().ok()?;
    let mul = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    n.checked_mul(mul).filter(|v| *v > 0)
}

/// Run `gate402 admin …`.
pub fn run(args: AdminArgs) -> ExitCode {
    match args.command {
        AdminCommand::Token(t) => match token(&t) {
            Ok(jwt) => {
                println!("{jwt}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
    }
}

/// Mint the token `args` describe.
pub fn token(args: &TokenArgs) -> Result<String, String> {
    let role = Role::parse(&args.role).ok_or("--role must be read or admin")?;
    let ttl = parse_ttl(&args.ttl).ok_or("--ttl must be like 3600, 30m, 1h or 7d")?;
    let auth = match &args.key {
        Some(key) => AdminAuth::ed25519_private_file(key)?,
        None => {
            let cfg = match &args.config {
                Some(p) => Config::load(p)
                    .map_err(|e| format!("{}: {e}", p.display()))?
                    .admin
                    .unwrap_or_default(),
                None => AdminConfig::default(),
            };
            let cfg = AdminConfig {
                public_key_file: None,
                ..cfg
            };
            AdminAuth::from_config(&cfg)?.ok_or_else(|| {
                format!("set ${} (at least 32 bytes) or pass --key", cfg.secret_env)
            })?
        }
    };
    auth.mint(&args.sub, role, ttl, now_unix())
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("3600"), Some(3600));
        assert_eq!(parse_ttl("1h"), Some(3600));
        assert_eq!(parse_ttl("30m"), Some(1800));
        assert_eq!(parse_ttl("7d"), Some(604_800));
        assert_eq!(parse_ttl("0"), None);
        assert_eq!(parse_ttl("1y"), None);
        assert_eq!(parse_ttl("h"), None);
    }
}
