//! MPP (`Payment` scheme) rules: the challenge parameters (id, realm, method, intent,
//! `request` as base64url of JCS JSON, `expires`, `digest`, `header`), the Lightning charge /
//! session request against its invoice and Alby's `fetchWithMpp` quirks
//! ([`super::mpp_lightning`]).

use gate402_protocols::mpp::{self, b64url, jcs, MppOffer};
use gate402_protocols::ParseError;
use serde_json::Value;

use super::mpp_lightning::{
    self as ln, ALBY_FIRST, ALBY_LAST, AMOUNT, CURRENCY, EXPIRES_INV, INV_AMOUNT, INV_DECODE,
    INV_EXPIRY, INV_HASH, NETWORK,
};
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
    ln::invoice_rules(o, ctx, &mut out);
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
        ln::alby(o, ctx, &mut out);
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
        ln::currency(o, out);
    }
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
