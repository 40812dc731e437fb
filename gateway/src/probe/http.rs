//! Response-wide rules: the status, at least one challenge a client recognises, caching of
//! 402s, `Retry-After` on 503, and CORS exposure of the payment headers for browser clients.

use http::{header, HeaderMap, StatusCode};

use super::report::{Finding, Level, Rule};

rule!(
    STATUS,
    "http.status.402",
    "RFC 9110 §15.5.3; draft-ryan-httpauth-payment-01 §4.4; specs/l402.md §3",
    "the unpaid request is answered 402 Payment Required"
);
rule!(
    PRESENT,
    "http.challenge.present",
    "draft-ryan-httpauth-payment-01 §4.4; x402 transports-v2/http.md",
    "the 402 carries a challenge a client recognises (L402, Payment or x402)"
);
rule!(
    CACHE,
    "http.cache-control.no-store",
    "draft-ryan-httpauth-payment-01 §11.10; draft-lightning-charge-00 §10",
    "a 402 carries Cache-Control: no-store"
);
rule!(
    RETRY,
    "http.retry-after",
    "RFC 9110 §10.2.3; draft-ryan-httpauth-payment-01 §8.3",
    "a 503 carries Retry-After"
);
rule!(
    CORS,
    "http.cors.expose-headers",
    "Fetch standard §3.2.6 (CORS-safelisted response headers); Aperture CORS",
    "Access-Control-Expose-Headers exposes the challenge headers to browser clients"
);

/// Every general rule.
pub const RULES: &[&Rule] = &[&STATUS, &PRESENT, &CACHE, &RETRY, &CORS];

/// The status finding.
pub fn status(status: StatusCode, challenges: usize) -> Finding {
    match status.as_u16() {
        402 => Finding::new(&STATUS, Level::Pass, "402 Payment Required"),
        401 if challenges > 0 => Finding::new(
            &STATUS,
            Level::Warn,
            "401 with payment challenges: lnget and Alby pay only on 402",
        ),
        503 => Finding::new(
            &STATUS,
            Level::Warn,
            "503 Service Unavailable: no challenge to grade now",
        ),
        s if s < 400 => Finding::new(
            &STATUS,
            Level::Warn,
            format!("{status}: the URL did not ask for payment, nothing to grade"),
        ),
        _ => Finding::new(
            &STATUS,
            Level::Fail,
            format!("{status}: not a payment challenge"),
        ),
    }
}

/// Whether the 402 holds any recognised challenge.
pub fn present(challenges: usize) -> Finding {
    Finding::check(
        &PRESENT,
        challenges > 0,
        Level::Fail,
        format!("{challenges} challenge(s)"),
        "no L402, Payment or x402 challenge: no client can pay this 402",
    )
}

/// `Cache-Control: no-store` on a 402.
pub fn cache(headers: &HeaderMap) -> Finding {
    let values: Vec<&str> = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let no_store = values
        .iter()
        .flat_map(|v| v.split(','))
        .any(|d| d.trim().eq_ignore_ascii_case("no-store"));
    Finding::check(
        &CACHE,
        no_store,
        Level::Warn,
        "Cache-Control: no-store",
        if values.is_empty() {
            "no Cache-Control: a shared cache may hand this one-time challenge to other clients"
                .to_string()
        } else {
            format!(
                "Cache-Control: {} (no-store expected): caches may reuse the challenge",
                values.join(", ")
            )
        },
    )
}

/// `Retry-After` on a 503.
pub fn retry_after(headers: &HeaderMap) -> Finding {
    let v = headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok());
    Finding::check(
        &RETRY,
        v.is_some_and(|v| !v.trim().is_empty()),
        Level::Warn,
        format!("Retry-After: {}", v.unwrap_or("")),
        "503 without Retry-After: clients cannot tell when to retry (and may hammer the server)",
    )
}

/// The challenge headers present must be listed in `Access-Control-Expose-Headers` (or `*`).
pub fn cors(headers: &HeaderMap) -> Option<Finding> {
    let present: Vec<&str> = ["www-authenticate", "payment-required"]
        .into_iter()
        .filter(|h| headers.contains_key(*h))
        .collect();
    if present.is_empty() {
        return None;
    }
    let exposed: Vec<String> = headers
        .get_all(header::ACCESS_CONTROL_EXPOSE_HEADERS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let missing: Vec<&str> = present
        .iter()
        .copied()
        .filter(|h| !exposed.iter().any(|e| e == h || e == "*"))
        .collect();
    let origin = headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN);
    let note = if origin {
        ""
    } else {
        " (no Access-Control-Allow-Origin on this response: cross-origin pages also need their origin allowed)"
    };
    Some(Finding::check(
        &CORS,
        missing.is_empty(),
        Level::Warn,
        format!("exposes {}{note}", present.join(", ")),
        format!(
            "Access-Control-Expose-Headers lacks {}: browser clients (fetch) cannot read the challenge",
            missing.join(", ")
        ),
    ))
}
