//! Challenges: emitting ours (server) and reading anyone's (client).
//!
//! Emission is constrained by the strictest client regexes (Aperture's Go client, lnget,
//! `l402-requests`): `L402 macaroon="<std-b64>", invoice="<bolt11>"` — `macaroon=` first,
//! `", "` between the two, nothing else.
//!
//! Reading tolerates every form of spec §0 "Parse (client)": `macaroon=` or `token=`, a
//! `version` parameter anywhere (with or without a comma after it), quoted or unquoted values,
//! `L402`/`LSAT` in any case, several `WWW-Authenticate` lines or one comma-joined line mixing
//! other schemes (e.g. `Payment`).

use http::header::WWW_AUTHENTICATE;
use http::HeaderMap;

use super::{L402Challenge, Macaroon};
use crate::auth_header::{self, Challenge};
use crate::{ParseError, MAX_HEADER_BYTES};

/// `L402 macaroon="<base64 of macaroon_v2>", invoice="<invoice>"`: the base64 is written
/// straight into the value, allocated once at its final size (`format!` grew it by
/// reallocation on every 402).
pub(crate) fn challenge_value_v2(macaroon_v2: &[u8], invoice: &str) -> String {
    const PARTS: [&str; 3] = ["L402 macaroon=\"", "\", invoice=\"", "\""];
    let b64_len = macaroon_v2.len().div_ceil(3) * 4;
    let mut v = String::with_capacity(
        PARTS.iter().map(|p| p.len()).sum::<usize>() + b64_len + invoice.len(),
    );
    v.push_str(PARTS[0]);
    crate::b64::encode_std_into(macaroon_v2, &mut v);
    v.push_str(PARTS[1]);
    v.push_str(invoice);
    v.push_str(PARTS[2]);
    v
}

fn is_l402_scheme(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("L402") || scheme.eq_ignore_ascii_case("LSAT")
}

/// Whether a header value that failed to parse mentions an L402/LSAT scheme at all (errors
/// about other schemes' lines are not ours to report).
fn mentions_l402(value: &[u8]) -> bool {
    value
        .windows(4)
        .any(|w| is_l402_scheme(std::str::from_utf8(w).unwrap_or("")))
}

/// Build an [`L402Challenge`] from one parsed `L402`/`LSAT` challenge.
pub(crate) fn from_challenge(c: &Challenge) -> Result<L402Challenge, ParseError> {
    if let Some(v) = c.param("version") {
        if v != "0" {
            return Err(ParseError::Syntax("unsupported L402 version"));
        }
    }
    let macaroon = c
        .param("macaroon")
        .or_else(|| c.param("token"))
        .filter(|m| !m.is_empty())
        .ok_or(ParseError::MissingParam("macaroon"))?;
    let invoice = c
        .param("invoice")
        .filter(|i| !i.is_empty())
        .ok_or(ParseError::MissingParam("invoice"))?;
    Ok(L402Challenge {
        scheme: c.scheme.clone(),
        macaroon: Macaroon::from_base64(macaroon)?,
        invoice: invoice.to_owned(),
    })
}

/// Every L402/LSAT challenge in every `WWW-Authenticate` line, in order.
pub(crate) fn parse_challenges(headers: &HeaderMap) -> Vec<Result<L402Challenge, ParseError>> {
    let mut out = Vec::new();
    for v in headers.get_all(WWW_AUTHENTICATE) {
        let bytes = v.as_bytes();
        let parsed = if bytes.len() > MAX_HEADER_BYTES {
            Err(ParseError::Oversized {
                len: bytes.len(),
                max: MAX_HEADER_BYTES,
            })
        } else {
            std::str::from_utf8(bytes)
                .map_err(|_| ParseError::NotText)
                .and_then(auth_header::parse_challenges)
        };
        match parsed {
            Ok(challenges) => out.extend(
                challenges
                    .iter()
                    .filter(|c| is_l402_scheme(&c.scheme))
                    .map(from_challenge),
            ),
            Err(e) if mentions_l402(bytes) => out.push(Err(e)),
            Err(_) => {}
        }
    }
    out
}
