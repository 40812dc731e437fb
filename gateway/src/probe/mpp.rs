//! MPP (`Payment` scheme) rules: the challenge parameters (id, realm, method, intent,
//! `request` as base64url of JCS JSON, `expires`, `digest`, `header`), the Lightning charge /
//! session request against its invoice, and Alby's `fetchWithMpp` quirks
//! ([`super::l402_clients::alby_params`] reads the joined value as Alby does).

use gate402_protocols::mpp::{self, b64url, jcs, MppOffer};
use gate402_protocols::ParseError;
use serde_json::Value;

use super::invoice::{self, InvoiceRules};
use super::l402_clients::alby_params;
use super::raw::RawChallenge;
use super::report::{Finding, Level, Rule};
use super::Ctx;
use crate::client::{Offer, PolicyError};

const CORE: &str = "draft-ryan-httpauth-payment-01";

rule!(
    GRAMMAR,
    "mpp.header.grammar",
    "draft-ryan-httpauth-payment-01 §5.1",
    "the challenge parses (auth-params, lowercase method, intent token)"
);
rule!(
    REQUIRED,
    "mpp.params.required",
    "draft-ryan-httpauth-payment-01 §5.1.1",
    "id, realm, method, intent and request are present and non-empty"
);
rule!(
    DUPLICATE,
    "mpp.params.duplicate",
    "draft-ryan-httpauth-payment-01 §5.1; mpp-tools www-authenticate.json",
    "no parameter appears twice"
);
rule!(
    ID,
    "mpp.id.b64url-unpadded",
    "draft-ryan-httpauth-payment-01 §5.1.2.1.1",
    "the id is base64url without padding, 43 characters (HMAC-SHA256)"
);
rule!(
    REALM,
    "mpp.realm.host",
    "draft-ryan-httpauth-payment-01 §5.1.1; mppx validate",
    "a host-shaped realm names the requested host"
);
rule!(
    METHOD,
    "mpp.method.known",
    "draft-ryan-httpauth-payment-01 §6",
    "the method is a registered (known) payment method"
);
rule!(
    INTENT,
    "mpp.intent.known",
    "draft-ryan-httpauth-payment-01 §7",
    "the intent is a known intent (charge, session, subscription)"
);
rule!(
    REQUEST_B64,
    "mpp.request.b64url",
    "draft-ryan-httpauth-payment-01 §5.1.1",
    "`request` is base64url without padding"
);
rule!(
    JCS,
    "mpp.request.jcs",
    "draft-ryan-httpauth-payment-01 §5.1.1; RFC 8785",
    "`request` is JCS-canonical JSON"
);
rule!(
    FIELDS,
    "mpp.request.fields",
    "draft-lightning-charge-00 §7",
    "the request has its method's required fields"
);
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
    EXPIRES,
    "mpp.expires.rfc3339",
    "draft-ryan-httpauth-payment-01 §5.1.2",
    "`expires` is present and RFC 3339"
);
rule!(
    FUTURE,
    "mpp.expires.future",
    "draft-ryan-httpauth-payment-01 §5.1.2",
    "`expires` is in the future"
);
rule!(
    EXPIRES_INV,
    "mpp.expires.invoice",
    "draft-lightning-charge-00 §10.1",
    "`expires` is not after the invoice's expiry"
);
rule!(
    DIGEST,
    "mpp.digest.body",
    "draft-ryan-httpauth-payment-01 §5.1.3",
    "a challenge for a request with a body carries `digest`"
);
rule!(
    HEADER,
    "mpp.header.param",
    "draft-ryan-httpauth-payment-01 §5.2",
    "a `header` parameter is `Payment-Authorization`"
);
rule!(
    SIZE,
    "mpp.header.size",
    "draft-ryan-httpauth-payment-01 §9.4",
    "the challenge is under 8 KB"
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
rule!(
    GATE402,
    "mpp.client.gate402",
    "gate402 client::offers",
    "gate402's client would pay this challenge"
);
rule!(
    PROBLEM,
    "mpp.problem.body",
    "draft-ryan-httpauth-payment-01 §8.1; RFC 9457",
    "the 402 body is problem+json with a paymentauth type"
);

/// Every MPP rule.
pub const RULES: &[&Rule] = &[
    &GRAMMAR,
    &REQUIRED,
    &DUPLICATE,
    &ID,
    &REALM,
    &METHOD,
    &INTENT,
    &REQUEST_B64,
    &JCS,
    &FIELDS,
    &CURRENCY,
    &INV_DECODE,
    &INV_AMOUNT,
    &INV_EXPIRY,
    &INV_HASH,
    &NETWORK,
    &AMOUNT,
    &EXPIRES,
    &FUTURE,
    &EXPIRES_INV,
    &DIGEST,
    &HEADER,
    &SIZE,
    &ALBY_FIRST,
    &ALBY_LAST,
    &GATE402,
    &PROBLEM,
];

const INVOICE: InvoiceRules = InvoiceRules {
    decode: &INV_DECODE,
    amount: &INV_AMOUNT,
    expiry: &INV_EXPIRY,
};

/// Methods with a published spec or SDK (mpp-specs `specs/methods/`).
const KNOWN_METHODS: &[&str] = &[
    "lightning",
    "tempo",
    "stripe",
    "evm",
    "solana",
    "hedera",
    "x402",
];

/// Grade one `Payment` challenge; `offer` is gate402's client reading of it.
pub fn grade(
    parsed: &Result<MppOffer, ParseError>,
    raw: Option<&RawChallenge>,
    offer: Option<&Offer>,
    ctx: &Ctx<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let o = match parsed {
        Ok(o) => o,
        Err(e) => {
            let rule = match e {
                ParseError::MissingParam(_) => &REQUIRED,
                ParseError::Syntax("duplicate Payment parameter") => &DUPLICATE,
                ParseError::Base64(_) => &REQUEST_B64,
                _ => &GRAMMAR,
            };
            out.push(Finding::new(
                rule,
                Level::Fail,
                format!("the challenge does not parse: {e}"),
            ));
            return out;
        }
    };
    let ch = &o.challenge;
    out.push(Finding::new(
        &GRAMMAR,
        Level::Pass,
        "parses; required parameters present",
    ));
    let id_ok = ch.id.len() == 43
        && ch
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    out.push(Finding::check(
        &ID,
        id_ok,
        Level::Warn,
        "43-character base64url id",
        if ch.id.ends_with('=') {
            format!(
                "id `{}` is padded: ids are base64url without padding",
                ch.id
            )
        } else {
            format!(
                "id `{}` ({} chars) is not a 43-character unpadded base64url HMAC-SHA256",
                ch.id,
                ch.id.len()
            )
        },
    ));
    out.push(match offer.and_then(|o| o.problem.as_ref()) {
        Some(PolicyError::ForeignHost { bound, requested }) => Finding::new(
            &REALM,
            Level::Fail,
            format!("realm names {bound}, the request went to {requested}: clients refuse it"),
        ),
        _ => Finding::new(&REALM, Level::Pass, format!("realm \"{}\"", ch.realm)),
    });
    out.push(Finding::check(
        &METHOD,
        KNOWN_METHODS.contains(&ch.method.as_str()),
        Level::Warn,
        format!("method {}", ch.method),
        format!("method {} has no published spec or SDK", ch.method),
    ));
    let intent_ok = matches!(ch.intent.as_str(), "charge" | "session" | "subscription");
    out.push(Finding::check(
        &INTENT,
        intent_ok,
        Level::Warn,
        format!("intent {}", ch.intent),
        format!(
            "intent {}: clients treat unknown intents as unsupported",
            ch.intent
        ),
    ));
    request(o, &mut out);
    expires(o, ctx, &mut out);
    if ctx.request_has_body || ch.digest.is_some() {
        out.push(Finding::check(&DIGEST, ch.digest.is_some(), Level::Warn, "digest binds the request body",
            "the request had a body but the challenge has no digest: the payment is not bound to it"));
    }
    if let Some(h) = &ch.header {
        out.push(Finding::check(
            &HEADER,
            h.eq_ignore_ascii_case("Payment-Authorization"),
            Level::Fail,
            "header=\"Payment-Authorization\"",
            format!("header=\"{h}\": clients must not pay it"),
        ));
    }
    if let Some(raw) = raw {
        let size: usize = raw.scheme.len()
            + raw
                .params
                .iter()
                .map(|p| p.name.len() + p.value.len() + 5)
                .sum::<usize>();
        out.push(Finding::check(
            &SIZE,
            size <= 8192,
            Level::Warn,
            format!("{size} bytes"),
            format!("{size} bytes: over the 8 KB servers should stay under"),
        ));
    }
    if o.is_lightning_charge() {
        alby(o, ctx, &mut out);
    }
    out
}

fn request(o: &MppOffer, out: &mut Vec<Finding>) {
    let wire = &o.challenge.request;
    out.push(Finding::check(
        &REQUEST_B64,
        !wire.ends_with('='),
        Level::Warn,
        "base64url without padding",
        "`request` is padded: padding MUST NOT be included",
    ));
    if let Some(bytes) = b64url::decode(wire) {
        let canonical = jcs::canonicalize(&o.request);
        out.push(Finding::check(&JCS, canonical.as_bytes() == bytes.as_slice(), Level::Warn,
            "JCS-canonical JSON",
            "`request` JSON is not JCS-canonical (key order or whitespace): SDKs that re-serialise it (mppx) compute another id"));
    }
    let s = |k: &str| o.request.get(k).and_then(Value::as_str);
    let positive = |v: Option<&str>| {
        v.is_some_and(|a| {
            !a.is_empty()
                && a.bytes().all(|b| b.is_ascii_digit())
                && !a.trim_start_matches('0').is_empty()
        })
    };
    match o.challenge.intent.as_str() {
        "charge" => out.push(Finding::check(&FIELDS, positive(s("amount")) && s("currency").is_some(), Level::Fail,
            "amount (positive integer string) and currency present",
            format!("charge request needs a positive integer `amount` string and a `currency` (amount {:?}, currency {:?})", o.request.get("amount"), o.request.get("currency")))),
        "session" if o.challenge.method == mpp::METHOD => out.push(Finding::check(&FIELDS,
            positive(s("amount")) && s("depositInvoice").is_some(), Level::Fail,
            "session amount and depositInvoice present", "session request needs `amount` and `depositInvoice`")),
        _ => {}
    }
    if o.challenge.method == mpp::METHOD {
        lightning(o, out);
    }
}

fn lightning(o: &MppOffer, out: &mut Vec<Finding>) {
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

fn expires(o: &MppOffer, ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let Some(e) = o.challenge.expires.as_deref() else {
        out.push(Finding::new(
            &EXPIRES,
            Level::Warn,
            "no `expires`: mppx and the mpp crate refuse credentials without it",
        ));
        return;
    };
    let Some(at) = mpp::time::parse_rfc3339(e) else {
        out.push(Finding::new(
            &EXPIRES,
            Level::Fail,
            format!("expires={e:?} is not RFC 3339"),
        ));
        return;
    };
    out.push(Finding::new(&EXPIRES, Level::Pass, format!("expires {e}")));
    out.push(Finding::check(
        &FUTURE,
        at > ctx.now,
        Level::Fail,
        format!("expires in {} s", at.saturating_sub(ctx.now)),
        format!(
            "expired {} s ago: clients must not pay it",
            ctx.now.saturating_sub(at)
        ),
    ));
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
fn alby(o: &MppOffer, ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
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

/// `mpp.problem.body` for a 402 carrying Payment challenges.
pub fn problem(ctx: &Ctx<'_>) -> Finding {
    let ct = ctx
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let body: Option<Value> = serde_json::from_slice(ctx.body).ok();
    let ty = body
        .as_ref()
        .and_then(|b| b.get("type"))
        .and_then(Value::as_str);
    match (ct.starts_with("application/problem+json"), ty) {
        (true, Some(t)) if t.starts_with(mpp::problem::BASE) => Finding::new(&PROBLEM, Level::Pass, format!("problem+json, type {t}")),
        (true, Some(t)) => Finding::new(&PROBLEM, Level::Warn, format!("problem type {t} is not under {}", mpp::problem::BASE)),
        _ => Finding::new(&PROBLEM, Level::Warn, format!("402 body is not RFC 9457 problem+json (Content-Type {ct:?}); {CORE} §8.1 says SHOULD")),
    }
}
