//! Grading one response: every challenge parsed by the same protocol parsers and turned into an
//! offer by the same functions as gate402's client ([`crate::client::offers`]), then graded rule
//! by rule by its protocol's module; plus the response-wide rules.

use bytes::Bytes;
use gate402_protocols::l402::{self, L402Challenge};
use gate402_protocols::mpp::{self, MppOffer};
use gate402_protocols::x402::{X402Challenge, PAYMENT_REQUIRED, X402};
use gate402_protocols::{ClientChallenge, ParseError, PaymentProtocol};
use http::{header::WWW_AUTHENTICATE, HeaderMap, Response, StatusCode, Uri};
use serde_json::Value;

use super::report::{worst, ChallengeReport, Finding, Level, Rule};
use super::{http as general, l402 as l402_rules, mpp as mpp_rules, raw, x402 as x402_rules, Ctx};
use crate::cli::NoWallet;
use crate::client::offers::{self, OfferContext, Payload};
use crate::client::{Offer, PolicyError};

/// What one challenge parsed to.
enum Parsed {
    L402(Result<L402Challenge, ParseError>),
    Mpp(Result<MppOffer, ParseError>),
    X402 {
        parsed: Result<X402Challenge, ParseError>,
        raw: Option<Value>,
        version: u8,
        doc: Vec<Finding>,
    },
}

/// One challenge before grading.
struct Item {
    source: String,
    raw: Option<raw::RawChallenge>,
    parsed: Parsed,
    offer: Option<Offer>,
}

/// The graded response.
pub struct Graded {
    /// Response-wide findings.
    pub general: Vec<Finding>,
    /// Every challenge.
    pub challenges: Vec<ChallengeReport>,
}

/// Grade `resp`, the unpaid answer to a request for `url` (`request_has_body`: it carried one).
pub fn grade(resp: &Response<Bytes>, url: &Uri, request_has_body: bool, now: u64) -> Graded {
    let headers = resp.headers();
    let lines = raw::lines(headers);
    let raw_all = raw::challenges(&lines);
    let host = url
        .host()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let octx = OfferContext {
        decoder: &NoWallet,
        lightning: true,
        evm: true,
        host,
        now,
    };
    let mut items = www_authenticate(&lines, &raw_all, &octx);
    items.extend(x402_items(headers, resp.body(), &octx));
    let ctx = Ctx {
        url,
        now,
        headers,
        body: resp.body(),
        request_has_body,
        l402_payable: items.iter().any(|i| {
            matches!(i.parsed, Parsed::L402(_)) && i.offer.as_ref().is_some_and(|o| o.payable)
        }),
        mpp_charge_ids: items
            .iter()
            .filter_map(|i| match &i.parsed {
                Parsed::Mpp(Ok(o)) if o.is_lightning_charge() => Some(o.challenge.id.clone()),
                _ => None,
            })
            .collect(),
        lines,
        raw: raw_all,
    };
    let challenges: Vec<ChallengeReport> = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| report(index, item, &ctx))
        .collect();
    Graded {
        general: response_rules(resp.status(), &challenges, &ctx),
        challenges,
    }
}

fn response_rules(
    status: StatusCode,
    challenges: &[ChallengeReport],
    ctx: &Ctx<'_>,
) -> Vec<Finding> {
    let mut out = vec![general::status(status, challenges.len())];
    if status == StatusCode::SERVICE_UNAVAILABLE {
        out.push(general::retry_after(ctx.headers));
    }
    if status == StatusCode::PAYMENT_REQUIRED {
        out.push(general::present(challenges.len()));
        out.push(general::cache(ctx.headers));
    }
    if challenges.is_empty() {
        return out;
    }
    out.extend(general::cors(ctx.headers));
    if challenges.iter().any(|c| c.protocol == "mpp") && status == StatusCode::PAYMENT_REQUIRED {
        out.push(mpp_rules::problem(ctx));
    }
    out.extend(l402_rules::order(ctx));
    out
}

/// The L402 and Payment challenges of every `WWW-Authenticate` line, parsed line by line
/// with the client's parsers so each result lines up with its written form.
fn www_authenticate(
    lines: &[String],
    raw_all: &[raw::RawChallenge],
    octx: &OfferContext<'_>,
) -> Vec<Item> {
    let mut items = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let mut map = HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_str(line) {
            map.insert(WWW_AUTHENTICATE, v);
        }
        let in_line: Vec<&raw::RawChallenge> = raw_all.iter().filter(|c| c.line == i).collect();
        let pick = |scheme: &[&str], k: usize| {
            in_line
                .iter()
                .filter(|c| scheme.iter().any(|s| c.scheme_is(s)))
                .nth(k)
                .map(|c| (*c).clone())
        };
        for (k, r) in l402::parse_challenges(&map).into_iter().enumerate() {
            let raw = pick(&["L402", "LSAT"], k);
            let source = source(i, raw.as_ref());
            let offer = r.as_ref().ok().map(|c| offers::l402_offer(c.clone(), octx));
            items.push(Item {
                source,
                raw,
                parsed: Parsed::L402(r),
                offer,
            });
        }
        for (k, r) in mpp::client::parse_challenges(&map).into_iter().enumerate() {
            let raw = pick(&["Payment"], k);
            let source = source(i, raw.as_ref());
            let offer = r.as_ref().ok().map(|o| offers::mpp_offer(o.clone(), octx));
            items.push(Item {
                source,
                raw,
                parsed: Parsed::Mpp(r),
                offer,
            });
        }
    }
    items
}

fn source(line: usize, raw: Option<&raw::RawChallenge>) -> String {
    match raw {
        Some(r) => format!(
            "WWW-Authenticate line {}, challenge {}",
            line + 1,
            r.pos + 1
        ),
        None => format!("WWW-Authenticate line {}", line + 1),
    }
}

/// The x402 entries: `PAYMENT-REQUIRED` (v2) and a v1 JSON body (read by v1 clients even next
/// to a v2 header).
fn x402_items(headers: &HeaderMap, body: &[u8], octx: &OfferContext<'_>) -> Vec<Item> {
    let x = X402::new([]);
    let mut items = Vec::new();
    if let Some(v) = headers.get(PAYMENT_REQUIRED) {
        let mut doc = Vec::new();
        let json = x402_rules::header(v.as_bytes(), &mut doc);
        let mut only = HeaderMap::new();
        only.insert(PAYMENT_REQUIRED, v.clone());
        let entries = x.parse_challenges(&only, &[]);
        let raws: Vec<Value> = json
            .as_ref()
            .and_then(|d| d.get("accepts"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if entries.is_empty() || json.is_none() {
            items.push(x402_item(
                "PAYMENT-REQUIRED".into(),
                Err(ParseError::Json("PAYMENT-REQUIRED")),
                None,
                2,
                doc,
                octx,
            ));
        } else {
            for (k, e) in entries.into_iter().enumerate() {
                let doc = if k == 0 {
                    std::mem::take(&mut doc)
                } else {
                    Vec::new()
                };
                items.push(x402_item(
                    format!("PAYMENT-REQUIRED accepts[{k}]"),
                    unwrap(e),
                    raws.get(k).cloned(),
                    2,
                    doc,
                    octx,
                ));
            }
        }
    }
    let v1: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(v1) = v1.filter(|v| v.get("x402Version").and_then(Value::as_u64) == Some(1)) {
        let mut doc = Vec::new();
        x402_rules::v1_body(&v1, &mut doc);
        let raws = v1
            .get("accepts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (k, e) in x
            .parse_challenges(&HeaderMap::new(), body)
            .into_iter()
            .enumerate()
        {
            let doc = if k == 0 {
                std::mem::take(&mut doc)
            } else {
                Vec::new()
            };
            items.push(x402_item(
                format!("body accepts[{k}] (v1)"),
                unwrap(e),
                raws.get(k).cloned(),
                1,
                doc,
                octx,
            ));
        }
    }
    items
}

fn unwrap(e: Result<ClientChallenge, ParseError>) -> Result<X402Challenge, ParseError> {
    match e? {
        ClientChallenge::X402(c) => Ok(c),
        _ => Err(ParseError::Syntax("not an x402 entry")),
    }
}

fn x402_item(
    source: String,
    parsed: Result<X402Challenge, ParseError>,
    raw: Option<Value>,
    version: u8,
    doc: Vec<Finding>,
    octx: &OfferContext<'_>,
) -> Item {
    let offer = parsed
        .as_ref()
        .ok()
        .map(|c| offers::x402_offer(c.clone(), octx));
    Item {
        source,
        raw: None,
        parsed: Parsed::X402 {
            parsed,
            raw,
            version,
            doc,
        },
        offer,
    }
}

fn report(index: usize, item: Item, ctx: &Ctx<'_>) -> ChallengeReport {
    let (protocol, label, mut rules, client_rule) = match &item.parsed {
        Parsed::L402(r) => {
            let label = r.as_ref().map_or("L402".into(), |c| c.scheme.clone());
            (
                "l402",
                label,
                l402_rules::grade(r, item.raw.as_ref(), ctx),
                &l402_rules::GATE402,
            )
        }
        Parsed::Mpp(r) => {
            let label = r.as_ref().map_or("Payment".into(), |o| {
                format!("Payment {}/{}", o.challenge.method, o.challenge.intent)
            });
            let f = mpp_rules::grade(r, item.raw.as_ref(), item.offer.as_ref(), ctx);
            ("mpp", label, f, &mpp_rules::GATE402)
        }
        Parsed::X402 {
            parsed,
            raw,
            version,
            doc,
        } => {
            let label = parsed.as_ref().map_or(format!("x402 v{version}"), |c| {
                let rail = if c.is_lightning() {
                    "lightning"
                } else {
                    c.requirement.network.as_str()
                };
                format!("x402 v{version} {} {rail}", c.requirement.scheme)
            });
            let mut f = doc.clone();
            f.extend(x402_rules::grade(
                parsed,
                raw.as_ref(),
                *version,
                item.offer.as_ref(),
                ctx,
            ));
            ("x402", label, f, &x402_rules::GATE402)
        }
    };
    if let Some(o) = &item.offer {
        rules.push(client_finding(client_rule, o, &item.parsed, ctx.now));
    }
    let offer = item.offer.as_ref();
    let sign = client_can_sign(&item.parsed, ctx.now);
    ChallengeReport {
        index,
        protocol,
        source: item.source,
        label,
        amount: offer.and_then(|o| o.amount.clone()),
        expires_at: offer.and_then(|o| o.expires_at),
        payable: offer.is_some_and(|o| o.payable) && sign.is_ok(),
        refused: offer.and_then(|o| o.refused.clone()).or(sign.err()),
        level: worst(&rules),
        rules,
    }
}

/// For an x402 EVM entry: whether the client can build the EIP-3009 authorization it signs.
fn client_can_sign(parsed: &Parsed, now: u64) -> Result<(), String> {
    match parsed {
        Parsed::X402 { parsed: Ok(c), .. } if !c.is_lightning() => c
            .authorization([0; 20], [0; 32], now)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        _ => Ok(()),
    }
}

/// gate402's own client's verdict on the offer.
fn client_finding(rule: &Rule, o: &Offer, parsed: &Parsed, now: u64) -> Finding {
    let other_rail = match &o.payload {
        Payload::MppOther(_) => true,
        Payload::X402(c) => {
            !c.is_lightning()
                && c.requirement.network.contains(':')
                && !c.requirement.network.starts_with("eip155:")
        }
        _ => false,
    };
    if other_rail {
        return Finding::new(
            rule,
            Level::Pass,
            format!(
                "{}/{} on {}: not a rail gate402's client pays (not graded)",
                o.protocol, o.intent, o.rail
            ),
        );
    }
    if let Err(e) = client_can_sign(parsed, now) {
        return Finding::new(
            rule,
            Level::Fail,
            format!("gate402's client cannot build the EIP-3009 authorization: {e}"),
        );
    }
    match &o.problem {
        None => Finding::new(rule, Level::Pass, "gate402's client would pay it"),
        Some(p @ PolicyError::Unsupported(_)) => Finding::new(
            rule,
            Level::Warn,
            format!("gate402's client would not pay it: {p}"),
        ),
        Some(p) => Finding::new(
            rule,
            Level::Fail,
            format!("gate402's client refuses it: {p}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    /// Deterministic xorshift, so a failure reproduces.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[(self.next() % from.len() as u64) as usize]
        }
    }

    const PIECES: &[&str] = &[
        "L402",
        "LSAT",
        "Payment",
        "Basic",
        " ",
        ", ",
        ",",
        "=",
        "\"",
        "\\",
        "macaroon=",
        "token=",
        "invoice=",
        "version=\"0\"",
        "id=\"",
        "realm=",
        "method=\"lightning\"",
        "intent=charge",
        "request=",
        "expires=\"2030-01-01T00:00:00Z\"",
        "header=x",
        "é",
        "AgEEbHNhdAJCAAA",
        "lnbcrt1",
        "eyJhbW91bnQiOiIxMCJ9",
        "====",
        "\t",
    ];
    const JSON: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "\"x402Version\":",
        "2",
        "1",
        "\"accepts\":",
        "\"scheme\":\"exact\"",
        "\"network\":\"eip155:1\"",
        "\"amount\":\"1\"",
        "\"extra\":{\"paymentMethod\":\"lightning\",\"invoice\":\"lnbc1\"}",
        ",",
        "\"resource\":{\"url\":\"http://x\"}",
        "null",
        "\"payTo\":\"0x1\"",
        "\"maxTimeoutSeconds\":0",
    ];

    #[test]
    fn hostile_responses_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let url: Uri = "http://127.0.0.1:1/p".parse().unwrap();
        for _ in 0..600 {
            let mut b = Response::builder().status(402);
            for _ in 0..(rng.next() % 3) {
                let line: String = (0..rng.next() % 12).map(|_| rng.pick(PIECES)).collect();
                b = b.header(WWW_AUTHENTICATE, line.as_bytes());
            }
            let json: String = (0..rng.next() % 14).map(|_| rng.pick(JSON)).collect();
            if rng.next().is_multiple_of(2) {
                let enc = base64::engine::general_purpose::STANDARD.encode(&json);
                b = b.header(PAYMENT_REQUIRED, enc);
            }
            let resp = b.body(Bytes::from(json)).unwrap();
            let g = grade(&resp, &url, rng.next().is_multiple_of(2), 1_800_000_000);
            assert!(!g.general.is_empty());
        }
    }
}
