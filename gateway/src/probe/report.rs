//! What a probe finds: rules with a stable id and a spec section, findings (a rule's level and
//! a one-line explanation for one challenge or response), and the report with its exit code.
//!
//! Levels: `fail` — a conforming client cannot pay; `warn` — a known client breaks or a SHOULD
//! is missed; `pass`. The report's level is the worst finding's; the exit code follows it (see
//! [`Report::exit_code`]). The JSON form is described by `docs/probe-report.schema.json`.

use serde::Serialize;

use crate::client::Amount;

/// A rule's level in one finding (ordered: `Pass < Warn < Fail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The rule holds.
    Pass,
    /// A known client breaks, or a SHOULD is missed; conforming clients can still pay.
    Warn,
    /// A conforming client cannot pay (or the server accepts what it must refuse).
    Fail,
}

impl Level {
    /// `PASS`, `WARN` or `FAIL`.
    pub fn label(self) -> &'static str {
        match self {
            Level::Pass => "PASS",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        }
    }
}

/// A rule: stable id (`<protocol>.<area>.<check>`), the upstream spec section it comes from
/// and what it checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable id, e.g. `mpp.id.b64url-unpadded`.
    pub id: &'static str,
    /// Upstream specification section (or reference implementation) the rule comes from.
    pub spec: &'static str,
    /// What the rule checks, one line.
    pub summary: &'static str,
}

/// One rule applied to one challenge, response or payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Rule id.
    pub id: &'static str,
    /// Level.
    pub level: Level,
    /// One-line explanation of what was seen.
    pub message: String,
    /// Spec section.
    pub spec: &'static str,
}

impl Finding {
    /// A finding of `rule` at `level`.
    pub fn new(rule: &Rule, level: Level, message: impl Into<String>) -> Finding {
        Finding {
            id: rule.id,
            level,
            message: message.into(),
            spec: rule.spec,
        }
    }

    /// `PASS` when `ok`, else `level_if_not` with `bad`.
    pub fn check(
        rule: &Rule,
        ok: bool,
        level_if_not: Level,
        good: impl Into<String>,
        bad: impl Into<String>,
    ) -> Finding {
        if ok {
            Finding::new(rule, Level::Pass, good)
        } else {
            Finding::new(rule, level_if_not, bad)
        }
    }
}

/// The worst level of `findings` (`Pass` when empty).
pub fn worst<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Level {
    findings
        .into_iter()
        .map(|f| f.level)
        .max()
        .unwrap_or(Level::Pass)
}

/// One challenge of the 402, graded.
#[derive(Debug, Clone, Serialize)]
pub struct ChallengeReport {
    /// Position in the report (0-based).
    pub index: usize,
    /// `l402`, `mpp` or `x402`.
    pub protocol: &'static str,
    /// Where it was found, e.g. `WWW-Authenticate line 1, challenge 2`.
    pub source: String,
    /// Short description, e.g. `L402`, `Payment lightning/charge`, `x402 v2 exact eip155:8453`.
    pub label: String,
    /// What it asks (as gate402's client reads it).
    pub amount: Option<Amount>,
    /// Unix seconds after which it cannot be paid, when known.
    pub expires_at: Option<u64>,
    /// Whether gate402's own client would pay it (before its policy).
    pub payable: bool,
    /// Why gate402's client would not pay it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Worst level of `rules`.
    pub level: Level,
    /// Findings, in check order.
    pub rules: Vec<Finding>,
}

/// One payment made (or not) with `--pay`.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentReport {
    /// Protocol paid.
    pub protocol: &'static str,
    /// What was chosen: `l402/token lightning`, `mpp/charge lightning`, …
    pub offer: Option<String>,
    /// Whether money moved (or an authorization was handed over).
    pub paid: bool,
    /// Amount paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<Amount>,
    /// Routing fee, msat.
    pub fee_msat: u64,
    /// Payment hash or transaction hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Status of the paid request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why nothing was paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The price was above `--max-cost` (or another policy limit): nothing paid.
    pub refused_by_policy: bool,
    /// The wallet failed to pay.
    pub payment_failed: bool,
    /// Worst level of `rules`.
    pub level: Level,
    /// Findings about the paid exchange: accepted, receipt, reuse, replay.
    pub rules: Vec<Finding>,
}

/// The `--pay` part of a report.
#[derive(Debug, Clone, Serialize)]
pub struct PayReport {
    /// `--max-cost`, satoshis: the most all Lightning payments of this probe may cost together.
    pub max_cost_sat: u64,
    /// Lightning amount paid in total, msat (fees apart).
    pub spent_msat: u64,
    /// Lightning routing fees paid in total, msat.
    pub fees_msat: u64,
    /// One entry per protocol offered.
    pub payments: Vec<PaymentReport>,
}

/// Counts of findings per level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// `pass` findings.
    pub pass: usize,
    /// `warn` findings.
    pub warn: usize,
    /// `fail` findings.
    pub fail: usize,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `gate402 probe`.
    pub tool: &'static str,
    /// gate402's version.
    pub version: &'static str,
    /// URL probed.
    pub url: String,
    /// Method used.
    pub method: String,
    /// When, RFC 3339.
    pub probed_at: String,
    /// Status of the unpaid request.
    pub status: u16,
    /// Worst level of every finding.
    pub level: Level,
    /// Process exit code (see [`Report::exit_code`]).
    pub exit: u8,
    /// Findings per level.
    pub counts: Counts,
    /// Response-wide findings (status, caching, CORS, problem body…).
    pub general: Vec<Finding>,
    /// Every challenge, graded.
    pub challenges: Vec<ChallengeReport>,
    /// With `--pay`: what was paid and how the server behaved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pay: Option<PayReport>,
}

/// Exit codes of `gate402 probe` (stable; documented in README and `--help`).
pub mod exit {
    /// Every finding PASS (and, with `--pay`, every payment made and checked).
    pub const PASS: u8 = 0;
    /// The probe could not run (network or local error); no report.
    pub const ERROR: u8 = 1;
    /// Bad usage; no report.
    pub const USAGE: u8 = 2;
    /// `--pay`: an offer was refused by `--max-cost` (or the policy); nothing paid for it.
    pub const REFUSED: u8 = 3;
    /// `--pay`: the wallet failed to pay.
    pub const PAYMENT_FAILED: u8 = 4;
    /// The worst finding is WARN.
    pub const WARN: u8 = 5;
    /// The worst finding is FAIL.
    pub const FAIL: u8 = 6;
}

impl Report {
    /// Every finding of the report.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        let pay = self.pay.iter().flat_map(|p| &p.payments);
        self.general
            .iter()
            .chain(self.challenges.iter().flat_map(|c| &c.rules))
            .chain(pay.flat_map(|p| &p.rules))
    }

    /// Fill `level`, `counts` and `exit` from the findings and payments.
    pub fn finish(&mut self) {
        let mut counts = Counts::default();
        for f in self.findings() {
            match f.level {
                Level::Pass => counts.pass += 1,
                Level::Warn => counts.warn += 1,
                Level::Fail => counts.fail += 1,
            }
        }
        self.counts = counts;
        self.level = worst(self.findings());
        self.exit = self.exit_code();
    }

    /// The exit code: the most severe of the worst level (`0` PASS, `5` WARN, `6` FAIL) and,
    /// with `--pay`, `4` when a payment failed or `3` when an offer was refused by
    /// `--max-cost` — so `6 > 5 > 4 > 3 > 0`.
    pub fn exit_code(&self) -> u8 {
        let grade = match worst(self.findings()) {
            Level::Pass => exit::PASS,
            Level::Warn => exit::WARN,
            Level::Fail => exit::FAIL,
        };
        let payments = self.pay.iter().flat_map(|p| &p.payments);
        let pay = payments
            .map(|p| {
                if p.payment_failed {
                    exit::PAYMENT_FAILED
                } else if p.refused_by_policy {
                    exit::REFUSED
                } else {
                    exit::PASS
                }
            })
            .max()
            .unwrap_or(exit::PASS);
        grade.max(pay)
    }

    /// Ids of the rules that are not PASS, sorted and deduplicated.
    pub fn flagged(&self) -> Vec<&'static str> {
        let mut ids: Vec<_> = self
            .findings()
            .filter(|f| f.level > Level::Pass)
            .map(|f| f.id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}
