//! `[server.limits]` and `[server.http2]`: everything a stranger can make the listener spend,
//! bounded by default (request head size and count, idle and first-request time, connections
//! in total and per client address, request bodies on priced routes, HTTP/2 streams, pings and
//! resets). What each limit answers is in `docs/ARCHITECTURE.md` ("Listener limits").

use serde::Deserialize;

use super::ConfigError;

/// `[server.limits]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request head, bytes (HTTP/1.1: request line + headers, as read; HTTP/2: the
    /// decoded header list, advertised as `SETTINGS_MAX_HEADER_LIST_SIZE`). Larger → 431.
    /// At least 8192 (hyper's smallest read buffer).
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    /// Most header fields in an HTTP/1.1 request head; more → 431.
    #[serde(default = "default_max_headers")]
    pub max_headers: usize,
    /// Seconds a connection may stay open without a request in flight (keep-alive idle);
    /// then it is closed (HTTP/2: `GOAWAY`). A new connection must start its first request
    /// within `server.header_read_timeout_secs`, and an HTTP/1.1 keep-alive connection its
    /// next one too: for HTTP/1.1 the smaller applies. Checked once per that time per
    /// connection, so a connection closes between 1× and 2× it after its last request.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    /// Open client connections at most. Beyond it new connections are not accepted: they wait
    /// in the kernel's listen backlog (no memory is spent on them) until one closes.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Open connections per client address (IPv6: per /64). A connection beyond it is closed
    /// as soon as it is accepted, so one address cannot take every slot. 0 = no per-address
    /// cap (e.g. behind a load balancer whose address every connection shares).
    #[serde(default = "default_max_connections_per_ip")]
    pub max_connections_per_ip: usize,
    /// Largest request body on a priced route, bytes. A larger `Content-Length` → 413 before
    /// anything is read or any invoice is minted; a body without a length (chunked, HTTP/2,
    /// gRPC streams) → 413 when it passes the limit while streaming upstream.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_header_bytes: default_max_header_bytes(),
            max_headers: default_max_headers(),
            idle_timeout_secs: default_idle_timeout(),
            max_connections: default_max_connections(),
            max_connections_per_ip: default_max_connections_per_ip(),
            max_body_bytes: default_max_body_bytes(),
        }
    }
}

/// `[server.http2]`: downstream HTTP/2 (h2c prior knowledge, and ALPN `h2` with TLS).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Http2Config {
    /// Accept HTTP/2 next to HTTP/1.1 (needed for gRPC clients).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Concurrent streams per connection (`SETTINGS_MAX_CONCURRENT_STREAMS`).
    #[serde(default = "default_max_streams")]
    pub max_concurrent_streams: u32,
    /// Seconds between keep-alive pings on an HTTP/2 connection (0 = no pings).
    #[serde(default = "default_keepalive_interval")]
    pub keepalive_interval_secs: u64,
    /// Seconds to wait for a ping's acknowledgement before closing the connection.
    #[serde(default = "default_keepalive_timeout")]
    pub keepalive_timeout_secs: u64,
    /// Streams reset by the client before the gateway saw them, pending at once; more closes
    /// the connection (the HTTP/2 "rapid reset" flood, CVE-2023-44487).
    #[serde(default = "default_pending_resets")]
    pub max_pending_accept_reset_streams: usize,
    /// Streams the gateway may reset because the client broke protocol, per connection; more
    /// closes the connection with `ENHANCE_YOUR_CALM`.
    #[serde(default = "default_local_resets")]
    pub max_local_error_reset_streams: usize,
}

impl Default for Http2Config {
    fn default() -> Self {
        Http2Config {
            enabled: true,
            max_concurrent_streams: default_max_streams(),
            keepalive_interval_secs: default_keepalive_interval(),
            keepalive_timeout_secs: default_keepalive_timeout(),
            max_pending_accept_reset_streams: default_pending_resets(),
            max_local_error_reset_streams: default_local_resets(),
        }
    }
}

fn invalid(field: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl LimitsConfig {
    /// Check ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(8192..=(1 << 20)).contains(&self.max_header_bytes) {
            return Err(invalid(
                "server.limits.max_header_bytes",
                "must be 8192 B to 1 MiB",
            ));
        }
        if !(1..=1000).contains(&self.max_headers) {
            return Err(invalid(
                "server.limits.max_headers",
                "must be between 1 and 1000",
            ));
        }
        if !(1..=86_400).contains(&self.idle_timeout_secs) {
            return Err(invalid(
                "server.limits.idle_timeout_secs",
                "must be between 1 and 86400",
            ));
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err(invalid(
                "server.limits.max_connections",
                "must be between 1 and 1000000",
            ));
        }
        if self.max_connections_per_ip > self.max_connections {
            return Err(invalid(
                "server.limits.max_connections_per_ip",
                "must not exceed max_connections (0 = no per-address cap)",
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(invalid(
                "server.limits.max_body_bytes",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

impl Http2Config {
    /// Check ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=10_000).contains(&self.max_concurrent_streams) {
            return Err(invalid(
                "server.http2.max_concurrent_streams",
                "must be between 1 and 10000",
            ));
        }
        if self.keepalive_interval_secs > 0 && self.keepalive_timeout_secs == 0 {
            return Err(invalid(
                "server.http2.keepalive_timeout_secs",
                "must be at least 1 when pings are on",
            ));
        }
        if self.max_pending_accept_reset_streams == 0 || self.max_local_error_reset_streams == 0 {
            return Err(invalid(
                "server.http2",
                "reset-stream limits must be at least 1",
            ));
        }
        Ok(())
    }
}

fn default_true() -> bool {
    true
}
fn default_max_header_bytes() -> usize {
    16 << 10
}
fn default_max_headers() -> usize {
    100
}
fn default_idle_timeout() -> u64 {
    60
}
fn default_max_connections() -> usize {
    10_000
}
fn default_max_connections_per_ip() -> usize {
    256
}
fn default_max_body_bytes() -> usize {
    10 << 20
}
fn default_max_streams() -> u32 {
    100
}
fn default_keepalive_interval() -> u64 {
    30
}
fn default_keepalive_timeout() -> u64 {
    20
}
fn default_pending_resets() -> usize {
    20
}
fn default_local_resets() -> usize {
    1024
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};

    fn check(server: &str) -> Result<Config, ConfigError> {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n{server}\n[lightning]\nbackend = \"simnet\"\n"
        );
        let c = Config::from_toml(&text)?;
        c.validate().map(|()| c)
    }

    fn field(e: ConfigError) -> String {
        match e {
            ConfigError::Invalid { field, .. } => field,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn defaults_are_safe_and_valid() {
        let c = check("upstream = \"h2c://127.0.0.1:50051\"").unwrap();
        let l = &c.server.limits;
        assert_eq!(l.max_header_bytes, 16384);
        assert_eq!(l.max_connections_per_ip, 256);
        assert_eq!(l.max_body_bytes, 10 << 20);
        assert!(c.server.http2.enabled);
        assert!(check("upstream = \"https://api.example.com\"").is_ok());
    }

    #[test]
    fn out_of_range_limits_and_half_tls_settings_name_their_field() {
        let up = "upstream = \"http://127.0.0.1:1\"";
        let cases = [
            (
                "[server.limits]\nmax_header_bytes = 4096",
                "server.limits.max_header_bytes",
            ),
            (
                "[server.limits]\nmax_headers = 0",
                "server.limits.max_headers",
            ),
            (
                "[server.limits]\nidle_timeout_secs = 0",
                "server.limits.idle_timeout_secs",
            ),
            (
                "[server.limits]\nmax_connections = 10\nmax_connections_per_ip = 11",
                "server.limits.max_connections_per_ip",
            ),
            (
                "[server.limits]\nmax_body_bytes = 0",
                "server.limits.max_body_bytes",
            ),
            (
                "[server.http2]\nmax_concurrent_streams = 0",
                "server.http2.max_concurrent_streams",
            ),
            (
                "[server.http2]\nkeepalive_timeout_secs = 0",
                "server.http2.keepalive_timeout_secs",
            ),
        ];
        for (extra, want) in cases {
            assert_eq!(
                field(check(&format!("{up}\n{extra}")).unwrap_err()),
                want,
                "{extra}"
            );
        }
        let half = check(&format!("{up}\ntls_cert = \"/x.pem\"")).unwrap_err();
        assert_eq!(field(half), "server.tls_cert");
        let bad = check("upstream = \"ftp://127.0.0.1:1\"").unwrap_err();
        assert_eq!(field(bad), "server.upstream");
        let unknown = check(&format!("{up}\n[server.limits]\nmax_bogus = 1")).unwrap_err();
        assert!(unknown.to_string().contains("max_bogus"), "{unknown}");
    }
}
