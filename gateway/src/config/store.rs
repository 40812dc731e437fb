//! `[store]`: where the gateway keeps its ledger, consumed credentials and revocations.
//!
//! ```toml
//! [store]
//! backend = "sqlite"                 # default; file under the data dir, zero setup
//! path = "/var/lib/gate402/gate402.sqlite"
//!
//! # or, for several gateways behind a load balancer:
//! backend = "postgres"
//! database_url_env = "DATABASE_URL"  # default; or database_url = "postgres://…" here
//! ```

use std::{path::PathBuf, time::Duration};

use serde::Deserialize;

use super::ConfigError;
use crate::store::StoreOptions;

/// Which database backs the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// Embedded SQLite file (default).
    #[default]
    Sqlite,
    /// Shared PostgreSQL.
    Postgres,
}

/// `[store]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite` (default) or `postgres`.
    #[serde(default)]
    pub backend: StoreBackend,
    /// SQLite file; default `$GATE402_DATA_DIR/gate402.sqlite`, else `gate402-data/gate402.sqlite`
    /// relative to the working directory.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// PostgreSQL URL (`postgres://user@host:5432/db`); prefer `database_url_env` for passwords.
    #[serde(default)]
    pub database_url: Option<String>,
    /// Environment variable holding the PostgreSQL URL when `database_url` is absent.
    #[serde(default = "default_url_env")]
    pub database_url_env: String,
    /// PostgreSQL pool size.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// How long a paid request waits for a database connection — on SQLite also for the
    /// database lock (`busy_timeout`) — before answering 503, ms.
    #[serde(default = "default_acquire_timeout")]
    pub acquire_timeout_ms: u64,
    /// How often revocations are reloaded from the database, ms (the staleness bound across
    /// gateways is this plus one query).
    #[serde(default = "default_refresh")]
    pub revocation_refresh_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: StoreBackend::Sqlite,
            path: None,
            database_url: None,
            database_url_env: default_url_env(),
            max_connections: default_max_connections(),
            acquire_timeout_ms: default_acquire_timeout(),
            revocation_refresh_ms: default_refresh(),
        }
    }
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("backend", &self.backend)
            .field("path", &self.path)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<redacted>"),
            )
            .field("database_url_env", &self.database_url_env)
            .finish_non_exhaustive()
    }
}

fn invalid(field: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        field: format!("store.{field}"),
        message: message.into(),
    }
}

impl StoreConfig {
    /// Range and consistency checks (the URL from the environment is checked by
    /// [`StoreConfig::options`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.backend {
            StoreBackend::Sqlite if self.database_url.is_some() => {
                return Err(invalid("database_url", "only for backend = \"postgres\""))
            }
            StoreBackend::Postgres if self.path.is_some() => {
                return Err(invalid("path", "only for backend = \"sqlite\""))
            }
            _ => {}
        }
        if let Some(url) = &self.database_url {
            check_url(url).map_err(|m| invalid("database_url", m))?;
        }
        if !(1..=1000).contains(&self.max_connections) {
            return Err(invalid("max_connections", "must be between 1 and 1000"));
        }
        if !(100..=60_000).contains(&self.acquire_timeout_ms) {
            return Err(invalid(
                "acquire_timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        if !(100..=60_000).contains(&self.revocation_refresh_ms) {
            return Err(invalid(
                "revocation_refresh_ms",
                "must be between 100 and 60000",
            ));
        }
        Ok(())
    }

    /// How often to reload revocations.
    pub fn revocation_refresh(&self) -> Duration {
        Duration::from_millis(self.revocation_refresh_ms)
    }

    /// The SQLite file this config designates.
    pub fn sqlite_path(&self) -> PathBuf {
        self.path.clone().unwrap_or_else(|| {
            std::env::var_os("GATE402_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("gate402-data"))
                .join("gate402.sqlite")
        })
    }

    /// Resolve the options to open the store with (reads `database_url_env` for PostgreSQL).
    pub fn options(&self) -> Result<StoreOptions, ConfigError> {
        Ok(match self.backend {
            StoreBackend::Sqlite => StoreOptions::Sqlite {
                path: self.sqlite_path(),
                busy_timeout: Duration::from_millis(self.acquire_timeout_ms),
            },
            StoreBackend::Postgres => {
                let url = match &self.database_url {
                    Some(u) => u.clone(),
                    None => std::env::var(&self.database_url_env).map_err(|_| {
                        invalid(
                            "database_url",
                            &format!("not set here nor in ${}", self.database_url_env),
                        )
                    })?,
                };
                check_url(&url).map_err(|m| invalid("database_url", m))?;
                StoreOptions::Postgres {
                    url,
                    max_connections: self.max_connections,
                    acquire_timeout: Duration::from_millis(self.acquire_timeout_ms),
                }
            }
        })
    }
}

fn check_url(url: &str) -> Result<(), &'static str> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(())
    } else {
        Err("must be a postgres:// URL")
    }
}

fn default_url_env() -> String {
    "DATABASE_URL".into()
}
fn default_max_connections() -> u32 {
    8
}
fn default_acquire_timeout() -> u64 {
    2000
}
fn default_refresh() -> u64 {
    1000
}
