//! `--pay`: for each protocol the 402 offers, ask again unpaid (a fresh challenge, as a client
//! would), let gate402's client choose the cheapest acceptable offer of that protocol within
//! what is left of `--max-cost`, pay it (policy, budget reservation and wallet code of the
//! client), then check the paid exchange ([`super::receipts`]): served, receipt, L402 token
//! reuse, refusal of a replayed single-use credential. Each protocol is paid at most once;
//! replays never pay. MPP sessions are not opened (their deposit is many prices).

use super::receipts;
use super::report::{worst, PayReport, PaymentReport};
use crate::client::offers::Payload;
use crate::client::{Client, ClientError, ClientRequest, MaxCost, Offer, PolicyError};

/// Pay each protocol of `protocols` once, all Lightning prices together at most
/// `max_cost_sat`.
pub async fn run(
    client: &Client,
    req: &ClientRequest,
    protocols: &[&'static str],
    max_cost_sat: u64,
) -> PayReport {
    let mut report = PayReport {
        max_cost_sat,
        spent_msat: 0,
        fees_msat: 0,
        payments: Vec::new(),
    };
    for &p in protocols {
        let left = (max_cost_sat.saturating_mul(1000)).saturating_sub(report.spent_msat);
        let mut r = req.clone();
        let evm = r.max_cost.and_then(|m| m.evm);
        r.max_cost = Some(MaxCost {
            msat: Some(left),
            evm,
        });
        let pr = pay_one(client, &r, p).await;
        if pr.paid && pr.amount.as_ref().is_some_and(|a| a.is_msat()) {
            report.spent_msat += pr.amount.as_ref().map_or(0, |a| a.value as u64);
            report.fees_msat += pr.fee_msat;
        }
        report.payments.push(pr);
    }
    report
}

fn empty(protocol: &'static str) -> PaymentReport {
    PaymentReport {
        protocol,
        offer: None,
        paid: false,
        amount: None,
        fee_msat: 0,
        reference: None,
        status: None,
        skipped: None,
        refused_by_policy: false,
        payment_failed: false,
        level: super::Level::Pass,
        rules: Vec::new(),
    }
}

fn over_limit(p: &PolicyError) -> bool {
    matches!(
        p,
        PolicyError::OverMaxCost { .. }
            | PolicyError::OverMaxEvmAmount { .. }
            | PolicyError::BudgetExceeded { .. }
    )
}

/// Whether the probe pays this kind of offer (charges and tokens, not sessions).
fn payable_kind(o: &Offer) -> bool {
    matches!(
        o.payload,
        Payload::L402(_) | Payload::MppCharge(_) | Payload::X402(_)
    )
}

async fn pay_one(client: &Client, req: &ClientRequest, protocol: &'static str) -> PaymentReport {
    let mut pr = empty(protocol);
    let fresh = match client.send_raw(req, None).await {
        Ok(r) if r.status() == http::StatusCode::PAYMENT_REQUIRED => r,
        Ok(r) => {
            return skip(
                pr,
                format!("asked again, the server answered {}", r.status()),
            )
        }
        Err(e) => return skip(pr, format!("asking again failed: {e}")),
    };
    let quote = match client.quote_response(req, &fresh) {
        Ok(q) => q,
        Err(e) => return skip(pr, e.to_string()),
    };
    let mine: Vec<&Offer> = quote
        .offers
        .iter()
        .filter(|o| o.protocol == protocol && payable_kind(o))
        .collect();
    let Some(offer) = cheapest(&mine) else {
        let problems: Vec<PolicyError> = mine.iter().filter_map(|o| o.problem.clone()).collect();
        let why = problems
            .iter()
            .find(|p| over_limit(p))
            .or(problems.first())
            .cloned();
        pr.refused_by_policy = why.as_ref().is_some_and(over_limit);
        let text = why.map_or(
            "no offer of this protocol that the probe pays".to_string(),
            |p| p.to_string(),
        );
        return skip(pr, format!("not paid: {text}"));
    };
    pr.offer = Some(format!(
        "{}/{} {}",
        offer.protocol, offer.intent, offer.rail
    ));
    pr.amount = offer.amount.clone();
    let (hash, id, method, network) = facts(offer);
    let attempt = match client.pay_quoted(req, offer.clone()).await {
        Ok(a) => a,
        Err(e) => {
            if let ClientError::Policy(p) = &e {
                pr.refused_by_policy = over_limit(p);
            }
            pr.payment_failed = !pr.refused_by_policy && !e.nothing_moved();
            pr.paid = !e.nothing_moved();
            return skip(pr, format!("not paid: {e}"));
        }
    };
    let info = attempt.paid.payment.clone();
    pr.paid = true;
    pr.fee_msat = info.as_ref().map_or(0, |i| i.fee_msat);
    pr.reference = info.map(|i| i.payment_hash).filter(|h| !h.is_empty());
    let resp = &attempt.paid.response;
    pr.status = Some(resp.status().as_u16());
    pr.rules.push(receipts::accepted(protocol, resp));
    let served = resp.status().is_success() || resp.status().is_redirection();
    match protocol {
        "l402" if served => {
            if let Ok(again) = client.send_raw(req, Some(attempt.credential())).await {
                pr.rules.push(receipts::l402_reuse(&again));
            }
        }
        "mpp" => {
            if served {
                let h = hash.clone().or_else(|| pr.reference.clone());
                pr.rules
                    .extend(receipts::mpp_receipt(resp, &method, &id, h.as_deref()));
            }
            replay(client, req, &attempt, protocol, &mut pr).await;
        }
        "x402" => {
            if served {
                pr.rules.extend(receipts::x402_receipt(resp, &network));
            }
            replay(client, req, &attempt, protocol, &mut pr).await;
        }
        _ => {}
    }
    pr.level = worst(&pr.rules);
    pr
}

async fn replay(
    client: &Client,
    req: &ClientRequest,
    attempt: &crate::client::PaidAttempt,
    protocol: &'static str,
    pr: &mut PaymentReport,
) {
    match client.send_raw(req, Some(attempt.credential())).await {
        Ok(again) => pr.rules.push(receipts::replay(protocol, &again)),
        Err(e) => pr.skipped = Some(format!("replay not checked: {e}")),
    }
}

fn skip(mut pr: PaymentReport, why: String) -> PaymentReport {
    pr.skipped = Some(why);
    pr.level = worst(&pr.rules);
    pr
}

/// The acceptable offer with the smallest amount (Lightning amounts first, then tokens).
fn cheapest<'a>(offers: &[&'a Offer]) -> Option<&'a Offer> {
    offers
        .iter()
        .copied()
        .filter(|o| o.refused.is_none() && o.amount.is_some())
        .min_by_key(|o| {
            let a = o.amount.as_ref().map_or(u128::MAX, |a| a.value);
            (!o.amount.as_ref().is_some_and(|a| a.is_msat()), a)
        })
}

/// Payment hash, MPP challenge id and method, x402 network of an offer.
fn facts(o: &Offer) -> (Option<String>, String, String, String) {
    match &o.payload {
        Payload::MppCharge(m) => (
            m.payment_hash().map(hex::encode),
            m.challenge.id.clone(),
            m.challenge.method.clone(),
            String::new(),
        ),
        Payload::X402(c) => (
            None,
            String::new(),
            String::new(),
            c.requirement.network.clone(),
        ),
        _ => (None, String::new(), String::new(), String::new()),
    }
}
