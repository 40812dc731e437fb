//! The Lightning side of MPP rules: a charge's or session's request against its BOLT11
//! invoice (amount, payment hash, network, expiry), its currency, and Alby's `fetchWithMpp`
//! quirks ([`super::l402_clients::alby_params`] reads the joined value as Alby does).

use gate402_protocols::mpp::{self, MppOffer};
use serde_json::Value;

use super::invoice::{self, InvoiceRules};
use super::l402_clients::alby_params;
use super::report::{Finding, Level};
use super::Ctx;

rule!(
    CURRENCY,
    "mpp.currency.sat",
    "draft-lightning-charge-00 §7.1",
    "a Lightning request's currency is \"sat\""
);
rule!(
    INV_DECODE,
    "mpp.invoice.decode",
    "draft-lightning-charge-00 §7.2; BOLT #11",
    "the invoice decodes and its signature is valid"
);
rule!(
    INV_AMOUNT,
    "mpp.invoice.amount",
    "draft-lightning-charge-00 §12.2",
    "the invoice carries an amount"
);
rule!(
    INV_EXPIRY,
    "mpp.invoice.expiry",
    "draft-lightning-charge-00 §10.1",
    "the invoice can still be paid"
);
rule!(
    INV_HASH,
    "mpp.invoice.payment-hash",
    "draft-lightning-charge-00 §7.2",
    "methodDetails.paymentHash is the invoice's payment hash"
);
rule!(
    NETWORK,
    "mpp.invoice.network",
    "draft-lightning-charge-00 §7.2",
    "methodDetails.network matches the invoice's prefix"
);
rule!(
    AMOUNT,
    "mpp.amount.invoice",
    "draft-lightning-charge-00 §7.1, §12.2",
    "the request's amount is the invoice's amount"
);
rule!(
    EXPIRES_INV,
    "mpp.expires.invoice",
    "draft-lightning-charge-00 §10.1",
    "`expires` is not after the invoice's expiry"
);
rule!(
    ALBY_FIRST,
    "mpp.alby.first-scheme",
    "@getalby/lightning-tools 9.0.1 fetchWithMpp; specs/mpp.md §10.1",
    "Alby's fetchWithMpp sees a Payment challenge first"
);
rule!(
    ALBY_LAST,
    "mpp.alby.last-param",
    "@getalby/lightning-tools 9.0.1 fetchWithMpp; specs/mpp.md §10.1",
    "Alby's last-value-wins reading yields this Lightning charge"
);

const INVOICE: InvoiceRules = InvoiceRules {
    decode: &INV_DECODE,
    amount: &INV_AMOUNT,
    expiry: &INV_EXPIRY,
};

/// `mpp.currency.sat` for a Lightning request.
pub fn currency(o: &MppOffer, out: &mut Vec<Finding>) {
    let cur = o
        .request
        .get("currency")
        .and_then(Value::as_str)
        .unwrap_or("");
    out.push(match cur {
        "sat" => Finding::new(&CURRENCY, Level::Pass, "currency \"sat\""),
        "BTC" => Finding::new(
            &CURRENCY,
            Level::Warn,
            "currency \"BTC\": the draft says \"sat\" (some clients accept both)",
        ),
        other => Finding::new(
            &CURRENCY,
            Level::Warn,
            format!("currency {other:?}: the draft says \"sat\""),
        ),
    });
}

/// The invoice checks of a Lightning charge or session: decodes, amount and payment hash as
/// the request states, network, and the challenge's `expires` not after the invoice's.
pub fn invoice_rules(o: &MppOffer, ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    if o.challenge.method != mpp::METHOD {
        return;
    }
    let session = o.challenge.intent == mpp::SESSION;
    let Some(inv) = invoice::check(&INVOICE, o.invoice.as_deref(), ctx.now, out) else {
        return;
    };
    let stated = if session { "depositAmount" } else { "amount" };
    let sats = o
        .request
        .get(stated)
        .and_then(Value::as_str)
        .and_then(|a| a.parse::<u64>().ok());
    if let (Some(sats), Some(msat)) = (sats, inv.amount_msat) {
        out.push(Finding::check(
            &AMOUNT,
            sats.saturating_mul(1000) == msat,
            Level::Fail,
            format!("{stated} {sats} sat = invoice {msat} msat"),
            format!("{stated} is {sats} sat but the invoice asks {msat} msat: clients refuse it"),
        ));
    }
    match o.payment_hash() {
        Some(h) => out.push(Finding::check(
            &INV_HASH,
            h == inv.payment_hash,
            Level::Fail,
            "paymentHash is the invoice's",
            "paymentHash differs from the invoice's: clients MUST reject it",
        )),
        None if o.request.pointer("/methodDetails/paymentHash").is_some()
            || o.request.get("paymentHash").is_some() =>
        {
            out.push(Finding::new(
                &INV_HASH,
                Level::Fail,
                "paymentHash is not 64 hex digits",
            ))
        }
        None => {}
    }
    if let Some(n) = o
        .request
        .pointer("/methodDetails/network")
        .and_then(Value::as_str)
    {
        let want = mpp::charge::network_of(o.invoice.as_deref().unwrap_or(""));
        out.push(Finding::check(
            &NETWORK,
            n == want,
            Level::Fail,
            format!("network {n}"),
            format!("network {n} but the invoice is {want}: clients MUST reject it"),
        ));
    }
    if let Some(at) = o
        .challenge
        .expires
        .as_deref()
        .and_then(mpp::time::parse_rfc3339)
    {
        out.push(Finding::check(
            &EXPIRES_INV,
            at <= inv.expires_at,
            Level::Warn,
            "expires ≤ invoice expiry",
            format!(
                "expires {} s after the invoice does: MUST NOT be later",
                at.saturating_sub(inv.expires_at)
            ),
        ));
    }
}

/// Alby's `fetchWithMpp`: the joined value must start with `Payment`, and its last-value-wins
/// reading must give one Lightning charge's parameters.
pub fn alby(o: &MppOffer, ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let joined = ctx.lines.join(", ");
    let head = joined
        .trim_start()
        .get(..7)
        .unwrap_or("")
        .to_ascii_lowercase();
    let l402_first = ctx
        .raw
        .first()
        .is_some_and(|c| c.scheme_is("L402") || c.scheme_is("LSAT"));
    out.push(if head == "payment" {
        Finding::new(&ALBY_FIRST, Level::Pass, "the joined WWW-Authenticate value starts with Payment")
    } else if l402_first && ctx.l402_payable {
        Finding::new(&ALBY_FIRST, Level::Pass, "an L402 challenge comes first: Alby's fetch402 pays it instead (fetchWithMpp alone would not)")
    } else {
        Finding::new(&ALBY_FIRST, Level::Warn, "the joined WWW-Authenticate value does not start with Payment: Alby's fetchWithMpp returns the 402 unpaid")
    });
    let params = alby_params(&joined, true);
    let last = |k: &str| {
        params
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let ch = &o.challenge;
    let this = [
        ("id", ch.id.as_str()),
        ("realm", &ch.realm),
        ("method", &ch.method),
        ("intent", &ch.intent),
        ("request", &ch.request),
        ("expires", ch.expires.as_deref().unwrap_or("")),
    ];
    let mismatched: Vec<&str> = this
        .iter()
        .filter(|(k, v)| last(k).unwrap_or("") != *v)
        .map(|(k, _)| *k)
        .collect();
    let others_ok = ctx
        .mpp_charge_ids
        .iter()
        .any(|id| last("id") == Some(id.as_str()) && id != &ch.id)
        && last("method") == Some("lightning")
        && last("intent") == Some("charge");
    out.push(if mismatched.is_empty() {
        Finding::new(&ALBY_LAST, Level::Pass, "Alby's last-value-wins reading gives this challenge")
    } else if others_ok {
        Finding::new(&ALBY_LAST, Level::Pass, "Alby pays another Lightning charge of this 402 (the last one)")
    } else {
        Finding::new(&ALBY_LAST, Level::Warn, format!("Alby takes the last value of each parameter: its {} come from another challenge (put the Lightning charge last, no escapes in values)", mismatched.join(", ")))
    });
}
