//! `[admin]`: the admin listener (issue G). Off unless configured; loopback by default. It
//! serves the Prometheus metrics at `/_gate402/metrics` (see [`crate::metrics`]), the admin
//! API under `/api/` and the dashboard at `/` (see [`crate::admin`]); the API needs a JWT
//! key: an HS256 secret in `$GATE402_ADMIN_SECRET` (`secret_env`) or an Ed25519 public key.

use std::{net::SocketAddr, path::PathBuf};

use serde::Deserialize;

/// `[admin]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of the admin listener (keep it on loopback or a private network: the metrics
    /// endpoint has no authentication of its own).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Count and serve Prometheus metrics.
    #[serde(default = "yes")]
    pub metrics: bool,
    /// Serve the admin API (`/api/…`) and the dashboard (`/`). They answer 503 until a key
    /// is configured.
    #[serde(default = "yes")]
    pub api: bool,
    /// Environment variable holding the HS256 secret of admin tokens (at least 32 bytes).
    #[serde(default = "default_secret_env")]
    pub secret_env: String,
    /// PEM file with an Ed25519 public key (`openssl genpkey -algorithm ed25519`, then
    /// `openssl pkey -pubout`): admin tokens are then EdDSA-signed by its private key
    /// (`gate402 admin token --key`) and the HS256 secret is not used.
    #[serde(default)]
    pub public_key_file: Option<PathBuf>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: default_listen(),
            metrics: true,
            api: true,
            secret_env: default_secret_env(),
            public_key_file: None,
        }
    }
}

fn default_secret_env() -> String {
    "GATE402_ADMIN_SECRET".into()
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9402))
}

fn yes() -> bool {
    true
}
