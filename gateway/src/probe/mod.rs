//! `gate402 probe`: grade any HTTP 402 server against L402, MPP and x402, rule by rule.
//!
//! The probe asks the URL once without paying and grades every challenge it finds. Challenges
//! are read by the same parsers and turned into offers by the same functions as gate402's
//! client ([`crate::client::offers`]) — a probe that read them differently from the client
//! would be wrong — and then graded more finely than the client's pay/refuse: each rule has a
//! stable id (`mpp.id.b64url-unpadded`), a [`Level`] (FAIL: a conforming client cannot pay;
//! WARN: a known client breaks or a SHOULD is missed), a one-line explanation and the upstream
//! spec section. With `--pay` it then pays the cheapest acceptable offer of each protocol
//! within `--max-cost` ([`pay`]) and checks the paid exchange ([`receipts`]). It never pays
//! without `--pay`.
//!
//! Modules: [`http`] (response-wide rules), [`l402`] (+ `l402_clients`: how lnget, Aperture's
//! client, lsat-js and Alby read a challenge), [`mpp`] (+ `mpp_lightning`), [`x402`], `invoice` (BOLT11 checks
//! shared by the three), `raw` (how a challenge is written: quoting, separators), `grade`
//! (one response), [`report`] (findings, report, exit codes).

/// Declare a [`Rule`] constant: `rule!(NAME, "id", "spec section", "summary")`.
macro_rules! rule {
    ($name:ident, $id:literal, $spec:expr, $summary:literal) => {
        #[doc = $summary]
        pub const $name: $crate::probe::report::Rule = $crate::probe::report::Rule {
            id: $id,
            spec: $spec,
            summary: $summary,
        };
    };
}

mod grade;
pub mod http;
mod invoice;
pub mod l402;
mod l402_clients;
pub mod mpp;
mod mpp_lightning;
mod pay;
mod raw;
pub mod receipts;
pub mod report;
pub mod x402;

use ::http::{HeaderMap, Uri};

pub use report::{exit, ChallengeReport, Finding, Level, PayReport, PaymentReport, Report, Rule};

use crate::client::{Client, ClientError, ClientRequest};
use crate::clock::now_unix;

/// What every grader may look at.
pub struct Ctx<'a> {
    /// The URL probed.
    pub url: &'a Uri,
    /// Unix seconds.
    pub now: u64,
    /// Response headers.
    pub headers: &'a HeaderMap,
    /// Response body.
    pub body: &'a [u8],
    /// The probe's request carried a body.
    pub request_has_body: bool,
    /// `WWW-Authenticate` lines, in order.
    pub lines: Vec<String>,
    /// Every challenge of those lines as written.
    pub raw: Vec<raw::RawChallenge>,
    /// Some L402 challenge is payable by gate402's client.
    pub l402_payable: bool,
    /// Ids of the Lightning charge challenges.
    pub mpp_charge_ids: Vec<String>,
}

/// Every rule the probe knows, in report order (for `--list-rules` and the docs).
pub fn rules() -> Vec<&'static Rule> {
    [
        http::RULES,
        l402::RULES,
        mpp::RULES,
        x402::RULES,
        receipts::RULES,
    ]
    .concat()
}

/// Probe `req` with `client` (its policy, budgets and wallets are used only with `pay`).
/// `pay = Some(max_cost_sat)`: also pay each protocol once, all Lightning prices together at
/// most `max_cost_sat`. Errors only when the server cannot be asked at all.
pub async fn probe(
    client: &Client,
    req: &ClientRequest,
    pay: Option<u64>,
) -> Result<Report, ClientError> {
    let now = now_unix();
    let resp = client.send_raw(req, None).await?;
    let graded = grade::grade(&resp, &req.url, !req.body.is_empty(), now);
    let mut report = Report {
        tool: "gate402 probe",
        version: env!("CARGO_PKG_VERSION"),
        url: req.url.to_string(),
        method: req.method.to_string(),
        probed_at: gate402_protocols::mpp::time::format_rfc3339(now),
        status: resp.status().as_u16(),
        level: Level::Pass,
        exit: 0,
        counts: Default::default(),
        general: graded.general,
        challenges: graded.challenges,
        pay: None,
    };
    if let Some(max_cost_sat) = pay {
        let mut protocols: Vec<&'static str> = Vec::new();
        for c in &report.challenges {
            if !protocols.contains(&c.protocol) {
                protocols.push(c.protocol);
            }
        }
        report.pay = Some(pay::run(client, req, &protocols, max_cost_sat).await);
    }
    report.finish();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_and_well_formed() {
        let all = rules();
        let mut ids: Vec<&str> = all.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate rule ids");
        for r in all {
            let parts: Vec<&str> = r.id.split('.').collect();
            assert!(parts.len() >= 2, "{}", r.id);
            assert!(
                ["http", "l402", "mpp", "x402"].contains(&parts[0]),
                "{}",
                r.id
            );
            assert!(
                r.id.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b)),
                "{}",
                r.id
            );
            assert!(!r.spec.is_empty() && !r.summary.is_empty(), "{}", r.id);
        }
    }
}
