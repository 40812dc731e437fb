//! `[admin]`: the admin listener (issue G). Off unless configured; loopback by default. It
//! serves the Prometheus metrics at `/_gate402/metrics` (see [`crate::metrics`]).

use std::net::SocketAddr;

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
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9402))
}

fn yes() -> bool {
    true
}
