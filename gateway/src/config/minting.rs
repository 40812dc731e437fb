//! `[minting]`: bounds on the invoices unpaid requests can make the gateway mint — concurrent
//! `AddInvoice` calls, mints per second, invoices minted and not yet expired, and how long a
//! challenge waits before answering 503 + `Retry-After` (see `paywall::mint_gate`).

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use crate::paywall::mint_gate::MintLimits;

/// `[minting]` (every field optional; defaults suit one LND node).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MintingConfig {
    /// `AddInvoice` calls in flight at once (challenges and pool refills together).
    pub max_concurrent: usize,
    /// Sustained mints per second (0 = unlimited).
    pub per_second: u32,
    /// Mints allowed at once above the sustained rate.
    pub burst: u32,
    /// Minted invoices not yet expired, at most (0 = unlimited). LND keeps every unpaid
    /// invoice until it expires: this bounds what a flood of unpaid requests leaves there.
    pub max_outstanding: usize,
    /// Longest a challenge waits for the rate and a free slot, ms; then 503 + `Retry-After`.
    pub wait_ms: u64,
}

impl Default for MintingConfig {
    fn default() -> Self {
        let d = MintLimits::default();
        MintingConfig {
            max_concurrent: d.max_concurrent,
            per_second: d.per_second,
            burst: d.burst,
            max_outstanding: d.max_outstanding,
            wait_ms: d.wait.as_millis() as u64,
        }
    }
}

impl MintingConfig {
    /// The limits the invoice pool enforces.
    pub fn limits(&self) -> MintLimits {
        MintLimits {
            max_concurrent: self.max_concurrent,
            per_second: self.per_second,
            burst: self.burst,
            max_outstanding: self.max_outstanding,
            wait: Duration::from_millis(self.wait_ms),
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: &str, message: &str| ConfigError::Invalid {
            field: format!("minting.{field}"),
            message: message.into(),
        };
        if self.max_concurrent == 0 || self.max_concurrent > 1024 {
            return Err(invalid("max_concurrent", "must be between 1 and 1024"));
        }
        if self.per_second > 0 && self.burst == 0 {
            return Err(invalid(
                "burst",
                "must be at least 1 when per_second is set",
            ));
        }
        if self.wait_ms > 30_000 {
            return Err(invalid(
                "wait_ms",
                "must be at most 30000 (a challenge waits that long)",
            ));
        }
        Ok(())
    }
}
