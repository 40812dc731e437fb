//! L402 / LSAT rules: header grammar and quoting, the macaroon (base64, V1/V2, the 66-byte
//! identifier bound to the invoice's payment hash, caveats), the invoice, and which known
//! clients can read the challenge ([`super::l402_clients`]).

use gate402_protocols::l402::{self, Identifier, L402Challenge, IDENTIFIER_LEN, LATEST_VERSION};
use gate402_protocols::ParseError;

use super::invoice::{self, InvoiceRules};
use super::l402_clients as clients;
use super::raw::{RawChallenge, Sep};
use super::report::{Finding, Level, Rule};
use super::Ctx;

rule!(
    GRAMMAR,
    "l402.header.grammar",
    "RFC 9110 §11.6.1; L402 protocol-specification.md \"Server Flow\"",
    "the challenge parses as an RFC 9110 auth-param list"
);
rule!(
    QUOTING,
    "l402.header.quoting",
    "bLIP-0026; Aperture auth/authenticator.go (PR #20)",
    "macaroon and invoice values are quoted-strings"
);
rule!(
    MACAROON_PARAM,
    "l402.header.macaroon-param",
    "L402 protocol-specification.md \"Backwards Compatibility\"; specs/l402.md §1.2",
    "`macaroon=` is present and first, `invoice=` right after it"
);
rule!(
    VERSION,
    "l402.header.version",
    "L402 protocol-specification.md (PR #21)",
    "a `version` parameter, when present, is 0"
);
rule!(
    BASE64,
    "l402.macaroon.base64",
    "L402 macaroon-spec.md \"HTTP Header Encoding\"",
    "the macaroon is standard base64 with padding (Go StdEncoding)"
);
rule!(
    DECODE,
    "l402.macaroon.decode",
    "libmacaroons doc/format.txt; gopkg.in/macaroon.v2",
    "the macaroon decodes as libmacaroons V2 (or V1)"
);
rule!(
    ID_VERSION,
    "l402.identifier.version",
    "L402 macaroon-spec.md \"Identifier Structure\"; Aperture l402/identifier.go",
    "the identifier is 66 bytes, version 0"
);
rule!(
    ID_HASH,
    "l402.identifier.payment-hash",
    "L402 macaroon-spec.md \"Identifier Structure\"",
    "the identifier's payment hash is the invoice's"
);
rule!(
    INV_DECODE,
    "l402.invoice.decode",
    "BOLT #11",
    "the invoice decodes and its signature is valid"
);
rule!(
    INV_AMOUNT,
    "l402.invoice.amount",
    "BOLT #11; lnget l402/handler.go",
    "the invoice carries an amount"
);
rule!(
    INV_EXPIRY,
    "l402.invoice.expiry",
    "BOLT #11 `x` field",
    "the invoice can still be paid"
);
rule!(
    CAVEATS,
    "l402.caveat.grammar",
    "L402 macaroon-spec.md \"Caveats\"; Aperture l402/caveat.go",
    "first-party caveats are `condition=value`, no third-party caveats"
);
rule!(
    VALID_UNTIL,
    "l402.caveat.valid-until",
    "Aperture l402/satisfier.go",
    "`<service>_valid_until` caveats are Unix seconds in the future"
);
rule!(
    ORDER,
    "l402.order.first",
    "specs/l402.md §1.2 (aperture PR #135); lnget l402/header.go",
    "an L402/LSAT challenge is the first WWW-Authenticate challenge"
);
rule!(
    LNGET,
    "l402.client.lnget",
    "lnget v1.1.0 l402/header.go",
    "lnget reads this challenge"
);
rule!(
    APERTURE,
    "l402.client.aperture",
    "Aperture l402/client_interceptor.go",
    "Aperture's Go client (Loop, Pool) reads this challenge"
);
rule!(
    LSAT_JS,
    "l402.client.lsat-js",
    "lsat-js 2.0.6 src/lsat.ts fromChallenge",
    "lsat-js reads this challenge"
);
rule!(
    ALBY,
    "l402.client.alby",
    "@getalby/lightning-tools 9.0.1 src/402/l402",
    "Alby's fetch402/fetchWithL402 reads this challenge"
);
rule!(
    GATE402,
    "l402.client.gate402",
    "gate402 client::offers",
    "gate402's client would pay this challenge"
);

/// Every L402 rule.
pub const RULES: &[&Rule] = &[
    &GRAMMAR,
    &QUOTING,
    &MACAROON_PARAM,
    &VERSION,
    &BASE64,
    &DECODE,
    &ID_VERSION,
    &ID_HASH,
    &INV_DECODE,
    &INV_AMOUNT,
    &INV_EXPIRY,
    &CAVEATS,
    &VALID_UNTIL,
    &ORDER,
    &LNGET,
    &APERTURE,
    &LSAT_JS,
    &ALBY,
    &GATE402,
];

const INVOICE: InvoiceRules = InvoiceRules {
    decode: &INV_DECODE,
    amount: &INV_AMOUNT,
    expiry: &INV_EXPIRY,
};

/// Grade one L402 challenge (`raw`: how it is written, when the line parsed).
pub fn grade(
    parsed: &Result<L402Challenge, ParseError>,
    raw: Option<&RawChallenge>,
    ctx: &Ctx<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let c = match parsed {
        Ok(c) => c,
        Err(e) => {
            let rule = match e {
                ParseError::Syntax("unsupported L402 version") => &VERSION,
                ParseError::Base64(_) | ParseError::Macaroon(_) => &DECODE,
                _ => &GRAMMAR,
            };
            out.push(Finding::new(
                rule,
                Level::Fail,
                format!("the challenge does not parse: {e}"),
            ));
            // The header itself parsed: how it is written still tells which clients read it.
            if let Some(raw) = raw.filter(|_| rule.id != GRAMMAR.id) {
                style(raw, &mut out);
                known_clients(raw, ctx, &mut out);
            }
            return out;
        }
    };
    if let Some(raw) = raw {
        style(raw, &mut out);
    }
    macaroon(c, raw, &mut out);
    let inv = invoice::check(&INVOICE, Some(&c.invoice), ctx.now, &mut out);
    if let (Some(inv), Some(hash)) = (&inv, c.payment_hash()) {
        out.push(Finding::check(
            &ID_HASH,
            inv.payment_hash == hash,
            Level::Fail,
            "the identifier's payment hash is the invoice's",
            format!(
                "the identifier binds payment hash {}…, the invoice pays {}…: the paid token would be refused",
                &hex::encode(hash)[..12],
                &hex::encode(inv.payment_hash)[..12]
            ),
        ));
    }
    caveats(c, ctx.now, &mut out);
    if let Some(raw) = raw {
        known_clients(raw, ctx, &mut out);
    }
    out
}

fn style(raw: &RawChallenge, out: &mut Vec<Finding>) {
    let spaces = raw.params.iter().any(|p| p.sep == Sep::Space);
    out.push(Finding::check(
        &GRAMMAR,
        !spaces,
        Level::Warn,
        "parameters are a comma-separated auth-param list",
        "parameters separated by spaces only: not RFC 9110, strict clients misread it",
    ));
    let values = ["macaroon", "token", "invoice"];
    let unquoted: Vec<&str> = raw
        .params
        .iter()
        .filter(|p| !p.quoted && values.iter().any(|v| p.name.eq_ignore_ascii_case(v)))
        .map(|p| p.name.as_str())
        .collect();
    out.push(Finding::check(
        &QUOTING,
        unquoted.is_empty(),
        Level::Warn,
        "macaroon and invoice are quoted-strings",
        format!(
            "unquoted {}: lnget, Aperture's client and lsat-js need quotes",
            unquoted.join(", ")
        ),
    ));
    let names: Vec<String> = raw
        .params
        .iter()
        .map(|p| p.name.to_ascii_lowercase())
        .collect();
    let has_mac = names.iter().any(|n| n == "macaroon");
    let first_two =
        names.iter().map(String::as_str).take(2).collect::<Vec<_>>() == ["macaroon", "invoice"];
    out.push(if !has_mac && names.iter().any(|n| n == "token") {
        Finding::new(&MACAROON_PARAM, Level::Warn, "`token=` only: lnget, Aperture's client, lsat-js and l402-requests read `macaroon=` (only Alby reads `token=`)")
    } else if !first_two {
        Finding::new(&MACAROON_PARAM, Level::Warn, format!("parameters are `{}`: lnget and Aperture's client need `macaroon=\"…\", invoice=\"…\"` first", names.join(", ")))
    } else {
        Finding::new(&MACAROON_PARAM, Level::Pass, "`macaroon=\"…\", invoice=\"…\"` first")
    });
    if let Some(v) = raw.param("version") {
        out.push(Finding::check(
            &VERSION,
            v.value == "0",
            Level::Fail,
            "version=\"0\"",
            format!("version={}", v.value),
        ));
    }
}

fn macaroon(c: &L402Challenge, raw: Option<&RawChallenge>, out: &mut Vec<Finding>) {
    if let Some(text) = raw.and_then(|r| r.param("macaroon").or_else(|| r.param("token"))) {
        let t = text.value.as_str();
        let url_safe = t.contains(['-', '_']);
        let padded = t.len().is_multiple_of(4);
        out.push(if url_safe {
            Finding::new(
                &BASE64,
                Level::Warn,
                "URL-safe base64: Go's StdEncoding (Aperture's client) rejects it",
            )
        } else if !padded {
            Finding::new(
                &BASE64,
                Level::Warn,
                "base64 without padding: Go's StdEncoding (Aperture's client) rejects it",
            )
        } else {
            Finding::new(&BASE64, Level::Pass, "standard base64 with padding")
        });
    }
    let bytes = c.macaroon.encode_v2().len();
    let caveats = c.macaroon.all_caveats().count();
    out.push(Finding::new(
        &DECODE,
        Level::Pass,
        format!("libmacaroons macaroon, {caveats} caveats ({bytes} bytes as V2)"),
    ));
    let id = c.macaroon.identifier();
    out.push(match Identifier::decode(id) {
        Ok(i) if i.version == LATEST_VERSION => {
            Finding::new(&ID_VERSION, Level::Pass, format!("{IDENTIFIER_LEN}-byte identifier, version 0"))
        }
        Ok(i) => Finding::new(&ID_VERSION, Level::Fail, format!("identifier version {}: clients refuse unknown versions", i.version)),
        Err(_) => Finding::new(&ID_VERSION, Level::Fail, format!("{}-byte identifier, not the 66-byte `version ‖ payment_hash ‖ token_id`: clients cannot bind the invoice", id.len())),
    });
}

fn caveats(c: &L402Challenge, now: u64, out: &mut Vec<Finding>) {
    let mut bad = Vec::new();
    let mut third_party = 0;
    let mut expired = None;
    for cav in c.macaroon.all_caveats() {
        if cav.is_third_party() {
            third_party += 1;
            continue;
        }
        let text = String::from_utf8_lossy(cav.id);
        match text.split_once('=') {
            Some((k, v)) if !k.is_empty() && !k.ends_with(' ') && !v.starts_with(' ') => {
                if k.ends_with(l402::VALID_UNTIL_SUFFIX) {
                    match v.parse::<u64>() {
                        Ok(t) if t <= now => {
                            expired = Some(format!(
                                "{k}={v} is {} s in the past",
                                now.saturating_sub(t)
                            ))
                        }
                        Ok(_) => {}
                        Err(_) => bad.push(text.to_string()),
                    }
                }
            }
            _ => bad.push(text.to_string()),
        }
    }
    out.push(if third_party > 0 {
        Finding::new(
            &CAVEATS,
            Level::Warn,
            format!(
                "{third_party} third-party caveat(s): L402 clients have no discharge macaroons"
            ),
        )
    } else if !bad.is_empty() {
        Finding::new(
            &CAVEATS,
            Level::Warn,
            format!("caveats not `condition=value`: {}", bad.join("; ")),
        )
    } else {
        Finding::new(
            &CAVEATS,
            Level::Pass,
            "first-party caveats, `condition=value`",
        )
    });
    if let Some(e) = expired {
        out.push(Finding::new(
            &VALID_UNTIL,
            Level::Fail,
            format!("{e}: the token is dead on arrival"),
        ));
    } else if c
        .macaroon
        .caveats()
        .any(|k| k.windows(12).any(|w| w == b"_valid_until"))
    {
        out.push(Finding::new(
            &VALID_UNTIL,
            Level::Pass,
            "valid_until in the future",
        ));
    }
}

fn known_clients(raw: &RawChallenge, ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let mac = raw
        .param("macaroon")
        .or_else(|| raw.param("token"))
        .map(|p| p.value.clone());
    let inv = raw.param("invoice").map(|p| p.value.clone());
    let want = (mac.unwrap_or_default(), inv.unwrap_or_default());
    let joined = ctx.lines.join(", ");
    let cases: [(&Rule, &str, clients::Reading); 4] = [
        (&LNGET, "lnget", clients::lnget(&ctx.lines)),
        (
            &APERTURE,
            "Aperture's client",
            clients::aperture(&ctx.lines),
        ),
        (&LSAT_JS, "lsat-js", clients::lsat_js(&joined)),
        (&ALBY, "Alby", clients::alby(&joined)),
    ];
    for (rule, name, reading) in cases {
        out.push(match reading {
            Ok(got) if got == want => {
                Finding::new(rule, Level::Pass, format!("{name} reads this challenge"))
            }
            Ok(_) => Finding::new(
                rule,
                Level::Warn,
                format!("{name} reads another macaroon or invoice from this response"),
            ),
            Err(why) => Finding::new(rule, Level::Warn, format!("{name} cannot read it: {why}")),
        });
    }
}

/// `l402.order.first` for a response with L402 challenges: the first challenge of all lines.
pub fn order(ctx: &Ctx<'_>) -> Option<Finding> {
    let first = ctx.raw.first()?;
    if !ctx
        .raw
        .iter()
        .any(|c| c.scheme_is("L402") || c.scheme_is("LSAT"))
    {
        return None;
    }
    let l402_first = first.scheme_is("L402") || first.scheme_is("LSAT");
    Some(Finding::check(
        &ORDER,
        l402_first,
        Level::Warn,
        format!("the first challenge is {}", first.scheme),
        format!("the first challenge is {}: lnget and old Loop/Pool clients read only the first line; Alby's fetch402 dispatches on the first scheme", first.scheme),
    ))
}
