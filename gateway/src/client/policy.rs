//! The buyer's policy: which offer to pay and how much may be spent.
//!
//! A TOML file (`deny_unknown_fields`, checked by [`BuyerPolicy::validate`]); `gate402 get`
//! reads it from `--policy FILE`, else `$GATE402_POLICY`, else `<config dir>/policy.toml`
//! (`$GATE402_CONFIG_DIR`, default `~/.gate402`) when present; its flags override single
//! fields. Example (`config/policy.example.toml`):
//!
//! ```toml
//! prefer = ["l402", "mpp", "x402/lightning", "x402/evm"]
//! max_cost_sat = 1000          # per request, Lightning
//! max_fee_sat = 10             # routing fee per payment (counts against budgets)
//! allow = ["*.example.com"]    # empty: every domain
//! deny = ["evil.example.com"]  # deny wins
//! [max_cost_evm]               # per request, token atomic units, by asset ("*": any asset)
//! "*" = 1000000
//! [budget]
//! daily_total_sat = 5000
//! daily_per_domain_sat = 1000
//! daily_total_evm = { "*" = 5000000 }
//! daily_per_domain_evm = { "*" = 1000000 }
//! ```
//!
//! A preference entry is `protocol` or `protocol/rail` (`l402`, `mpp`, `x402`,
//! `x402/lightning`, `x402/evm`, `x402/evm:eip155:8453`); offers matching no entry are not
//! paid. MPP sessions are opt-in with `mpp/session` (the client then asks for them in
//! `Accept-Payment`, pays the deposit — checked against the per-request maximum — and reuses
//! the session across runs). The choice ([`super::choose`]) is the first offer in preference order that is
//! payable and within every limit. Days are UTC. The domain lists govern payments: a request to
//! a denied domain is still sent, but its 402 is never paid.

use std::{collections::BTreeMap, time::Duration};

use serde::{Deserialize, Serialize};

/// The buyer's policy (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyerPolicy {
    /// Preference order of `protocol[/rail]` ids.
    #[serde(default = "default_prefer")]
    pub prefer: Vec<String>,
    /// Highest Lightning price for one request, satoshis.
    #[serde(default = "default_max_cost")]
    pub max_cost_sat: u64,
    /// Highest routing fee per payment, satoshis.
    #[serde(default = "default_max_fee")]
    pub max_fee_sat: u64,
    /// Give up on a payment after this many seconds.
    #[serde(default = "default_timeout")]
    pub payment_timeout_secs: u64,
    /// Highest token price for one request, atomic units, by asset address (`*`: any).
    #[serde(default = "default_max_evm")]
    pub max_cost_evm: BTreeMap<String, u64>,
    /// Domains that may be paid (`*.example.com` wildcards); empty: all.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Domains never paid (wins over `allow`).
    #[serde(default)]
    pub deny: Vec<String>,
    /// Daily budgets.
    #[serde(default)]
    pub budget: Budgets,
}

/// Daily spending limits (UTC days), fees included; absent: unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    /// All Lightning spend per day, satoshis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_total_sat: Option<u64>,
    /// Lightning spend per domain and day, satoshis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_per_domain_sat: Option<u64>,
    /// Token spend per day, atomic units, by asset (`*`: each asset).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub daily_total_evm: BTreeMap<String, u64>,
    /// Token spend per domain and day, atomic units, by asset (`*`: each asset).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub daily_per_domain_evm: BTreeMap<String, u64>,
}

fn default_prefer() -> Vec<String> {
    ["l402", "mpp", "x402/lightning", "x402/evm"]
        .map(String::from)
        .to_vec()
}
fn default_max_cost() -> u64 {
    1000
}
fn default_max_fee() -> u64 {
    10
}
fn default_timeout() -> u64 {
    60
}
fn default_max_evm() -> BTreeMap<String, u64> {
    BTreeMap::from([("*".to_string(), 1_000_000)])
}

impl Default for BuyerPolicy {
    fn default() -> Self {
        BuyerPolicy {
            prefer: default_prefer(),
            max_cost_sat: default_max_cost(),
            max_fee_sat: default_max_fee(),
            payment_timeout_secs: default_timeout(),
            max_cost_evm: default_max_evm(),
            allow: Vec::new(),
            deny: Vec::new(),
            budget: Budgets::default(),
        }
    }
}

/// Which limit a unit falls under (`msat` or `evm:<network>:<asset>`).
fn evm_limit(map: &BTreeMap<String, u64>, unit: &str) -> Option<u128> {
    let asset = unit.rsplit(':').next().unwrap_or(unit);
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(asset) || k.eq_ignore_ascii_case(unit))
        .or_else(|| map.get_key_value("*"))
        .map(|(_, v)| u128::from(*v))
}

impl BuyerPolicy {
    /// Parse and validate TOML.
    pub fn from_toml(text: &str) -> Result<BuyerPolicy, String> {
        let p: BuyerPolicy = toml::from_str(text).map_err(|e| e.to_string())?;
        p.validate()?;
        Ok(p)
    }

    /// Read, parse and validate a policy file.
    pub fn load(path: &std::path::Path) -> Result<BuyerPolicy, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read policy {}: {e}", path.display()))?;
        BuyerPolicy::from_toml(&text).map_err(|e| format!("policy {}: {e}", path.display()))
    }

    /// Check the fields make sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.prefer.is_empty() {
            return Err("prefer: at least one protocol".into());
        }
        for (i, p) in self.prefer.iter().enumerate() {
            if !valid_pref(p) {
                return Err(format!(
                    "prefer: unknown `{p}` (l402, mpp, x402, x402/lightning, x402/evm[:<caip2>])"
                ));
            }
            if self.prefer[..i].contains(p) {
                return Err(format!("prefer: `{p}` listed twice"));
            }
        }
        if self.payment_timeout_secs == 0 {
            return Err("payment_timeout_secs must be > 0".into());
        }
        for d in self.allow.iter().chain(&self.deny) {
            if !valid_pattern(d) {
                return Err(format!(
                    "domain pattern `{d}`: a host name, optionally `*.` in front"
                ));
            }
        }
        Ok(())
    }

    /// Position of an offer's `protocol/rail` in the preference list (`None`: not listed).
    /// MPP session offers rank with rail `session` and match only an explicit `mpp/session`.
    pub fn rank(&self, protocol: &str, rail: &str) -> Option<usize> {
        let kind = rail.split(':').next().unwrap_or(rail);
        self.prefer.iter().position(|p| {
            let p = p.to_ascii_lowercase();
            let p = p.as_str();
            let alias = match p {
                "lsat" => "l402",
                "payment" => "mpp",
                other => other,
            };
            (alias == protocol && rail != "session")
                || alias
                    .strip_prefix(protocol)
                    .and_then(|r| r.strip_prefix('/'))
                    .is_some_and(|r| r == kind || r == rail)
        })
    }

    /// Whether `host` may be paid: not denied, and allowed when an allow list exists.
    pub fn domain_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        if self.deny.iter().any(|p| matches_domain(p, &host)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|p| matches_domain(p, &host))
    }

    /// Highest price for one request in `unit`.
    pub fn max_cost(&self, unit: &str) -> Option<u128> {
        if unit == super::offers::MSAT {
            Some(u128::from(self.max_cost_sat) * 1000)
        } else {
            evm_limit(&self.max_cost_evm, unit)
        }
    }

    /// Daily limit over all domains in `unit`.
    pub fn daily_total(&self, unit: &str) -> Option<u128> {
        if unit == super::offers::MSAT {
            self.budget.daily_total_sat.map(|s| u128::from(s) * 1000)
        } else {
            evm_limit(&self.budget.daily_total_evm, unit)
        }
    }

    /// Daily limit per domain in `unit`.
    pub fn daily_per_domain(&self, unit: &str) -> Option<u128> {
        if unit == super::offers::MSAT {
            self.budget
                .daily_per_domain_sat
                .map(|s| u128::from(s) * 1000)
        } else {
            evm_limit(&self.budget.daily_per_domain_evm, unit)
        }
    }

    /// Maximum routing fee, msat.
    pub fn max_fee_msat(&self) -> u64 {
        self.max_fee_sat.saturating_mul(1000)
    }

    /// Payment timeout.
    pub fn payment_timeout(&self) -> Duration {
        Duration::from_secs(self.payment_timeout_secs)
    }
}

fn valid_pref(p: &str) -> bool {
    let p = p.to_ascii_lowercase();
    matches!(
        p.as_str(),
        "l402"
            | "lsat"
            | "mpp"
            | "payment"
            | "x402"
            | "l402/lightning"
            | "mpp/lightning"
            | "x402/lightning"
            | "x402/evm"
    ) || p
        .strip_prefix("x402/evm:")
        .is_some_and(|n| n.contains(':') && !n.contains(char::is_whitespace))
}

fn valid_pattern(p: &str) -> bool {
    let name = p.strip_prefix("*.").unwrap_or(p);
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':')
}

/// `*.example.com` matches subdomains of example.com (not example.com itself); other
/// patterns match exactly (case-insensitive).
pub fn matches_domain(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        None => pattern == host,
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
