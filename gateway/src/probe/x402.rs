//! x402 rules, v2 (`PAYMENT-REQUIRED` header) and v1 (JSON body): the document's encoding and
//! shape, each `accepts` entry's required fields, CAIP-2 networks (v2) vs names (v1), EIP-55
//! addresses, decimal amounts, `maxTimeoutSeconds`, the EIP-712 domain in `extra`, `resource`
//! against the URL, and the Lightning variant's invoice.

use gate402_protocols::x402::{evm, exact, wire, X402Challenge};
use gate402_protocols::ParseError;
use serde_json::Value;

use super::invoice::{self, InvoiceRules};
use super::report::{Finding, Level, Rule};
use super::Ctx;
use crate::client::{Offer, PolicyError};

rule!(
    HEADER_B64,
    "x402.header.base64",
    "x402 transports-v2/http.md \"Payment Required Signaling\"; @x402/core safeBase64Decode",
    "PAYMENT-REQUIRED is standard base64 with padding"
);
rule!(
    DOC,
    "x402.header.json",
    "x402-specification-v2 §5.1.2",
    "PAYMENT-REQUIRED is a PaymentRequired object: x402Version 2, non-empty accepts"
);
rule!(
    V1_BODY,
    "x402.v1.body",
    "x402-specification-v1 §5.1",
    "a v1 402 body is a PaymentRequirementsResponse (x402Version 1, error, accepts)"
);
rule!(
    RESOURCE,
    "x402.resource.url",
    "x402-specification-v2 §5.1.2 (ResourceInfo); v1 §5.1",
    "`resource` names the URL requested"
);
rule!(
    FIELDS,
    "x402.entry.fields",
    "x402-specification-v2 §5.1.2; v1 §5.1",
    "the entry has every required field with its type"
);
rule!(
    SCHEME,
    "x402.scheme.known",
    "x402-specification-v2 §6",
    "the scheme is a known one (exact, upto)"
);
rule!(
    CAIP2,
    "x402.network.caip2",
    "x402-specification-v2 §5.1.2",
    "a v2 network is a CAIP-2 id (eip155:8453), not a v1 name"
);
rule!(
    V1_NAME,
    "x402.network.v1-name",
    "x402-specification-v1 §5.1; @x402/evm v1 networks",
    "a v1 network is a name the v1 SDK knows"
);
rule!(
    AMOUNT,
    "x402.amount.decimal",
    "x402-specification-v2 §5.1.2",
    "the amount is a positive decimal string of atomic units"
);
rule!(
    TIMEOUT,
    "x402.timeout",
    "x402-specification-v2 §5.1.2; scheme_exact_evm.md",
    "maxTimeoutSeconds leaves the facilitator's 6 s margin"
);
rule!(
    ASSET,
    "x402.asset.checksum",
    "EIP-55; scheme_exact_evm.md",
    "the EVM asset address is EIP-55 checksummed"
);
rule!(
    PAY_TO,
    "x402.payto.checksum",
    "EIP-55; scheme_exact_evm.md",
    "the EVM payTo address is EIP-55 checksummed"
);
rule!(
    EIP712,
    "x402.extra.eip712",
    "scheme_exact_evm.md; @x402/evm verifyEIP3009",
    "`extra.name` and `extra.version` give the token's EIP-712 domain"
);
rule!(
    LN_FIELDS,
    "x402.lightning.fields",
    "x402-foundation/x402#1311; @getalby/lightning-tools 9.0.1 fetchWithX402",
    "a Lightning entry has extra.invoice, asset BTC, a bip122 network"
);
rule!(
    LN_DECODE,
    "x402.lightning.invoice",
    "x402-foundation/x402#1311; BOLT #11",
    "the Lightning entry's invoice decodes, signature valid"
);
rule!(
    LN_INV_AMOUNT,
    "x402.lightning.invoice-amount",
    "BOLT #11",
    "the Lightning entry's invoice carries an amount"
);
rule!(
    LN_EXPIRY,
    "x402.lightning.expiry",
    "BOLT #11 `x` field",
    "the Lightning entry's invoice can still be paid"
);
rule!(
    LN_AMOUNT,
    "x402.lightning.amount",
    "@getalby/lightning-tools 9.0.1 fetchWithX402 (amount in msat)",
    "the entry's amount (msat) is the invoice's"
);
rule!(
    GATE402,
    "x402.client.gate402",
    "gate402 client::offers",
    "gate402's client would pay this entry"
);

/// Every x402 rule.
pub const RULES: &[&Rule] = &[
    &HEADER_B64,
    &DOC,
    &V1_BODY,
    &RESOURCE,
    &FIELDS,
    &SCHEME,
    &CAIP2,
    &V1_NAME,
    &AMOUNT,
    &TIMEOUT,
    &ASSET,
    &PAY_TO,
    &EIP712,
    &LN_FIELDS,
    &LN_DECODE,
    &LN_INV_AMOUNT,
    &LN_EXPIRY,
    &LN_AMOUNT,
    &GATE402,
];

const LN_INVOICE: InvoiceRules = InvoiceRules {
    decode: &LN_DECODE,
    amount: &LN_INV_AMOUNT,
    expiry: &LN_EXPIRY,
};

/// Document-level findings of a `PAYMENT-REQUIRED` header; the decoded JSON when it decodes.
pub fn header(value: &[u8], out: &mut Vec<Finding>) -> Option<Value> {
    let text = std::str::from_utf8(value).unwrap_or("").trim();
    let url_safe = text.contains(['-', '_']);
    out.push(if url_safe {
        Finding::new(
            &HEADER_B64,
            Level::Fail,
            "URL-safe base64: the reference client's decoder (`^[A-Za-z0-9+/]*={0,2}$`) rejects it",
        )
    } else if !text.len().is_multiple_of(4) {
        Finding::new(
            &HEADER_B64,
            Level::Warn,
            "base64 without padding: the transport says standard base64",
        )
    } else {
        Finding::new(&HEADER_B64, Level::Pass, "standard base64 with padding")
    });
    let doc: Value = match wire::decode_header(value, "PAYMENT-REQUIRED") {
        Ok(v) => v,
        Err(e) => {
            out.push(Finding::new(
                &DOC,
                Level::Fail,
                format!("does not decode: {e}"),
            ));
            return None;
        }
    };
    let version = doc.get("x402Version").and_then(Value::as_u64);
    let accepts = doc
        .get("accepts")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    out.push(match (version, accepts) {
        (Some(2), n) if n > 0 => Finding::new(
            &DOC,
            Level::Pass,
            format!(
                "x402Version 2, {n} accepts entr{}",
                if n == 1 { "y" } else { "ies" }
            ),
        ),
        (Some(2), _) => Finding::new(
            &DOC,
            Level::Fail,
            "accepts is missing or empty: nothing to pay",
        ),
        (v, _) => Finding::new(
            &DOC,
            Level::Fail,
            format!("x402Version {v:?} in PAYMENT-REQUIRED (must be 2)"),
        ),
    });
    Some(doc)
}

/// Document-level findings of a v1 JSON body.
pub fn v1_body(doc: &Value, out: &mut Vec<Finding>) {
    let accepts = doc
        .get("accepts")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let error = doc.get("error").is_some_and(Value::is_string);
    out.push(Finding::check(
        &V1_BODY,
        accepts > 0 && error,
        Level::Warn,
        format!("x402Version 1 body with {accepts} accepts entries"),
        "a v1 body needs `error` (string) and a non-empty `accepts`",
    ));
}

/// Grade one `accepts` entry (`raw`: the entry's JSON; `resource`: v2 top-level resource).
pub fn grade(
    parsed: &Result<X402Challenge, ParseError>,
    raw: Option<&Value>,
    version: u8,
    offer: Option<&Offer>,
    ctx: &Ctx<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let c = match parsed {
        Ok(c) => c,
        Err(e) => {
            let missing = raw.map(|r| missing_fields(r, version)).unwrap_or_default();
            out.push(Finding::new(
                &FIELDS,
                Level::Fail,
                if missing.is_empty() {
                    format!("the entry does not parse: {e}")
                } else {
                    format!("missing or mistyped: {}", missing.join(", "))
                },
            ));
            return out;
        }
    };
    out.push(Finding::new(
        &FIELDS,
        Level::Pass,
        "required fields present",
    ));
    resource(c, offer, ctx, &mut out);
    let r = &c.requirement;
    out.push(Finding::check(
        &SCHEME,
        matches!(r.scheme.as_str(), "exact" | "upto"),
        Level::Warn,
        format!("scheme {}", r.scheme),
        format!("scheme {}: not one the reference SDKs implement", r.scheme),
    ));
    network(c, version, &mut out);
    let amount = exact::parse_dec(&r.amount);
    out.push(Finding::check(
        &AMOUNT,
        amount.is_some_and(|a| a > 0),
        Level::Fail,
        format!("amount \"{}\"", r.amount),
        format!(
            "amount {:?} is not a positive decimal string of atomic units",
            r.amount
        ),
    ));
    out.push(if r.max_timeout_seconds == 0 {
        Finding::new(
            &TIMEOUT,
            Level::Fail,
            "maxTimeoutSeconds is 0: no authorization can be valid",
        )
    } else if r.max_timeout_seconds <= exact::VALID_BEFORE_MARGIN_SECS {
        Finding::new(
            &TIMEOUT,
            Level::Warn,
            format!(
                "maxTimeoutSeconds {} ≤ the facilitator's 6 s margin",
                r.max_timeout_seconds
            ),
        )
    } else {
        Finding::new(
            &TIMEOUT,
            Level::Pass,
            format!("maxTimeoutSeconds {}", r.max_timeout_seconds),
        )
    });
    if c.is_lightning() {
        lightning(c, ctx, &mut out);
    } else if r.network.starts_with("eip155:") || exact::parse_network(&r.network).is_some() {
        out.push(address(&ASSET, "asset", &r.asset));
        out.push(address(&PAY_TO, "payTo", &r.pay_to));
        let (name, ver) = (r.extra_str("name"), r.extra_str("version"));
        out.push(Finding::check(
            &EIP712,
            name.is_some() && ver.is_some(),
            Level::Fail,
            format!(
                "EIP-712 domain \"{}\" version \"{}\"",
                name.unwrap_or(""),
                ver.unwrap_or("")
            ),
            format!(
                "extra.{} missing: the reference client refuses to sign (no EIP-712 domain)",
                if name.is_none() { "name" } else { "version" }
            ),
        ));
    }
    out
}

fn missing_fields(raw: &Value, version: u8) -> Vec<&'static str> {
    let strings: &[&'static str] = if version == 1 {
        &["scheme", "network", "maxAmountRequired", "asset", "payTo"]
    } else {
        &["scheme", "network", "amount", "asset", "payTo"]
    };
    let mut m: Vec<&'static str> = strings
        .iter()
        .copied()
        .filter(|k| !raw.get(*k).is_some_and(Value::is_string))
        .collect();
    if !raw.get("maxTimeoutSeconds").is_some_and(Value::is_u64) {
        m.push("maxTimeoutSeconds");
    }
    m
}

fn resource(c: &X402Challenge, offer: Option<&Offer>, ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let url = c
        .resource
        .as_ref()
        .and_then(|r| r.get("url"))
        .or_else(|| c.raw.get("resource"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(PolicyError::ForeignHost { bound, requested }) =
        offer.and_then(|o| o.problem.as_ref())
    {
        out.push(Finding::new(
            &RESOURCE,
            Level::Fail,
            format!("resource names {bound}, the request went to {requested}: clients refuse it"),
        ));
        return;
    }
    let absolute = url
        .parse::<http::Uri>()
        .ok()
        .filter(|u| u.scheme().is_some() && u.host().is_some());
    out.push(match absolute {
        None if url.is_empty() => Finding::new(&RESOURCE, Level::Warn, "no resource URL"),
        None => Finding::new(
            &RESOURCE,
            Level::Warn,
            format!("resource {url:?} is not an absolute URL: clients cannot tell (or check) which resource and host it names"),
        ),
        Some(u) if u.path() == ctx.url.path() => {
            Finding::new(&RESOURCE, Level::Pass, format!("resource {url}"))
        }
        Some(u) => Finding::new(
            &RESOURCE,
            Level::Warn,
            format!(
                "resource path {} differs from the requested {}",
                u.path(),
                ctx.url.path()
            ),
        ),
    });
}

fn network(c: &X402Challenge, version: u8, out: &mut Vec<Finding>) {
    let n = &c.requirement.network;
    if version == 1 {
        let named = exact::parse_network(n).is_some() && !n.contains(':');
        let caip_without_name =
            exact::parse_network(n).is_some_and(|id| exact::v1_network_name(id).is_none());
        out.push(if named || caip_without_name || c.is_lightning() {
            Finding::new(&V1_NAME, Level::Pass, format!("network {n}"))
        } else {
            Finding::new(
                &V1_NAME,
                Level::Warn,
                format!("network {n}: legacy v1 clients know only names (base, base-sepolia, …)"),
            )
        });
        return;
    }
    let caip2 = n.split_once(':').is_some_and(|(ns, r)| {
        (3..=8).contains(&ns.len())
            && ns
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && (1..=32).contains(&r.len())
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    out.push(Finding::check(
        &CAIP2,
        caip2,
        Level::Fail,
        format!("network {n}"),
        match exact::parse_network(n) {
            Some(id) => format!("network {n:?} is a v1 name: v2 uses CAIP-2 (eip155:{id})"),
            None => format!("network {n:?} is not a CAIP-2 id"),
        },
    ));
}

fn address(rule: &Rule, what: &str, text: &str) -> Finding {
    let Some(a) = evm::parse_address(text) else {
        return Finding::new(
            rule,
            Level::Fail,
            format!("{what} {text:?} is not a 0x-prefixed 20-byte address"),
        );
    };
    let sum = evm::checksum(&a);
    let hex = &text[2..];
    if text == sum {
        Finding::new(rule, Level::Pass, format!("{what} {text}"))
    } else if hex == hex.to_ascii_lowercase() || hex == hex.to_ascii_uppercase() {
        Finding::new(rule, Level::Warn, format!("{what} {text} is not EIP-55 checksummed ({sum}): clients comparing addresses as strings mismatch"))
    } else {
        Finding::new(
            rule,
            Level::Fail,
            format!("{what} {text} has a wrong EIP-55 checksum ({sum}): viem's getAddress throws"),
        )
    }
}

fn lightning(c: &X402Challenge, ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let r = &c.requirement;
    let mut bad = Vec::new();
    if r.asset != "BTC" {
        bad.push(format!("asset {:?} (BTC expected)", r.asset));
    }
    if !(r.network.starts_with("bip122:") || r.network.starts_with("lnbtc:")) {
        bad.push(format!(
            "network {:?} (bip122:<genesis> expected)",
            r.network
        ));
    }
    let invoice = c.invoice();
    if invoice.is_none() {
        out.push(Finding::new(
            &LN_FIELDS,
            Level::Fail,
            "no extra.invoice: nothing to pay",
        ));
        return;
    }
    out.push(Finding::check(
        &LN_FIELDS,
        bad.is_empty(),
        Level::Warn,
        "extra.paymentMethod lightning with an invoice",
        bad.join("; "),
    ));
    let Some(inv) = invoice::check(&LN_INVOICE, invoice, ctx.now, out) else {
        return;
    };
    if let (Some(stated), Some(msat)) = (exact::parse_dec(&r.amount), inv.amount_msat) {
        out.push(Finding::check(
            &LN_AMOUNT,
            stated == u128::from(msat),
            Level::Fail,
            format!("amount {stated} msat = invoice"),
            format!("amount {stated} but the invoice asks {msat} msat: clients refuse it"),
        ));
    }
}
