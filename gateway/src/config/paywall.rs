//! `[server.paywall]`: the browser paywall (the HTML 402 page and its session cookie).

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use crate::paywall::browser::BrowserSettings;

/// `[server.paywall]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PaywallPageConfig {
    /// Answer browser navigations (`Accept: text/html`) on routes offering L402 with the
    /// paywall page (the same 402 headers), and accept its session cookie.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Session cookie lifetime on routes without `valid_for_secs`, seconds.
    #[serde(default = "default_session_secs")]
    pub session_secs: u64,
    /// How long one settlement request of the page waits before answering `pending`.
    #[serde(default = "default_wait_secs")]
    pub wait_secs: u64,
    /// How often a watched invoice is looked up on the Lightning node, ms (one lookup per
    /// interval per invoice, however many pages wait on it).
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Invoices watched at once, at most (beyond: 503 + `Retry-After`).
    #[serde(default = "default_max_watched")]
    pub max_watched: usize,
    /// Settlement requests waiting at once, at most (beyond: 503 + `Retry-After`).
    #[serde(default = "default_max_waiters")]
    pub max_waiters: usize,
}

impl Default for PaywallPageConfig {
    fn default() -> Self {
        PaywallPageConfig {
            enabled: true,
            session_secs: default_session_secs(),
            wait_secs: default_wait_secs(),
            poll_interval_ms: default_poll_interval_ms(),
            max_watched: default_max_watched(),
            max_waiters: default_max_waiters(),
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_session_secs() -> u64 {
    86_400
}
fn default_wait_secs() -> u64 {
    25
}
fn default_poll_interval_ms() -> u64 {
    1000
}
fn default_max_watched() -> usize {
    256
}
fn default_max_waiters() -> usize {
    1024
}

fn invalid(field: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        field: format!("server.paywall.{field}"),
        message: message.into(),
    }
}

impl PaywallPageConfig {
    /// Check ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(60..=31_536_000).contains(&self.session_secs) {
            return Err(invalid("session_secs", "must be 60 s to 1 year"));
        }
        if !(1..=120).contains(&self.wait_secs) {
            return Err(invalid("wait_secs", "must be between 1 and 120"));
        }
        if !(100..=60_000).contains(&self.poll_interval_ms) {
            return Err(invalid("poll_interval_ms", "must be between 100 and 60000"));
        }
        if !(1..=100_000).contains(&self.max_watched) {
            return Err(invalid("max_watched", "must be between 1 and 100000"));
        }
        if !(1..=100_000).contains(&self.max_waiters) {
            return Err(invalid("max_waiters", "must be between 1 and 100000"));
        }
        Ok(())
    }

    /// The paywall's settings (`secure`: the listener serves TLS).
    pub fn settings(&self, secure: bool) -> BrowserSettings {
        BrowserSettings {
            session_secs: self.session_secs,
            wait: Duration::from_secs(self.wait_secs),
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            max_watched: self.max_watched,
            max_waiters: self.max_waiters,
            secure,
        }
    }
}
