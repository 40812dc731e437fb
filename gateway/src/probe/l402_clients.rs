//! How the known L402 clients read a challenge, each reproduced from its parser (see
//! `specs/l402.md` §1.2): a challenge is readable by a client when the macaroon and invoice it
//! extracts are the ones the challenge carries.
//!
//! * lnget v1.1.0 (`l402/header.go`): the **first** `WWW-Authenticate` line only,
//!   `(?i)(LSAT|L402)\s+macaroon="([^"]+)",\s*invoice="([^"]+)"`.
//! * Aperture's Go client (`l402/client_interceptor.go`, used by Loop and Pool): the first line
//!   matching `(LSAT|L402) macaroon="(.*?)", invoice="(.*?)"` (case-sensitive, one space).
//! * lsat-js 2.0.6 (`Lsat.fromHeader`): the joined value minus its first four characters, split
//!   on `,` (or spaces), the first part containing `macaroon=` / `invoice=`, the text after its
//!   first `=` enclosed in double quotes.
//! * `@getalby/lightning-tools` 9.0.1: the comma-joined value must start with `L402`/`LSAT`
//!   (`fetch402`); then `(\w+)=("…"|'…'|[^,]*)` over all of it, last occurrence wins, `token`
//!   preferred over `macaroon`.

/// A client's reading of the response: `(macaroon, invoice)`, or why it reads nothing.
pub type Reading = Result<(String, String), &'static str>;

/// lnget: first line only, case-insensitive scheme, flexible whitespace.
pub fn lnget(lines: &[String]) -> Reading {
    let first = lines.first().ok_or("no WWW-Authenticate header")?;
    regex_like(first, false)
        .ok_or("its first WWW-Authenticate line has no `L402 macaroon=\"…\", invoice=\"…\"`")
}

/// Aperture's Go client: the first line that matches, case-sensitive, exactly `", "`.
pub fn aperture(lines: &[String]) -> Reading {
    lines
        .iter()
        .find_map(|l| regex_like(l, true))
        .ok_or("no line matches `(LSAT|L402) macaroon=\"…\", invoice=\"…\"` exactly")
}

/// The two regexes: `strict` = Aperture's, else lnget's.
fn regex_like(line: &str, strict: bool) -> Option<(String, String)> {
    let b = line.as_bytes();
    (0..b.len()).find_map(|i| {
        let scheme = b.get(i..i + 4)?;
        let ok = if strict {
            scheme == b"LSAT" || scheme == b"L402"
        } else {
            scheme.eq_ignore_ascii_case(b"LSAT") || scheme.eq_ignore_ascii_case(b"L402")
        };
        if !ok {
            return None;
        }
        let mut rest = line.get(i + 4..)?;
        rest = if strict {
            rest.strip_prefix(' ')?
        } else {
            let t = rest.trim_start_matches([' ', '\t']);
            (t.len() < rest.len()).then_some(t)?
        };
        let rest = rest.strip_prefix("macaroon=\"")?;
        let (mac, rest) = if strict {
            let end = rest.find("\", invoice=\"")?;
            (&rest[..end], &rest[end + "\", invoice=\"".len()..])
        } else {
            let end = rest.find('"')?;
            let after = rest[end + 1..].strip_prefix(',')?;
            let after = after.trim_start_matches([' ', '\t']);
            (&rest[..end], after.strip_prefix("invoice=\"")?)
        };
        let end = rest.find('"')?;
        let inv = &rest[..end];
        if !strict && (mac.is_empty() || inv.is_empty()) {
            return None;
        }
        Some((mac.to_string(), inv.to_string()))
    })
}

/// lsat-js `Lsat.fromHeader` on the comma-joined value.
pub fn lsat_js(joined: &str) -> Reading {
    let challenge = joined.get(4..).ok_or("header too short")?.trim();
    let mut parts: Vec<&str> = challenge.split(',').collect();
    if parts.len() < 2 {
        parts = challenge.split(' ').collect();
    }
    if parts.len() < 2 {
        return Err("expects at least two comma-separated parts");
    }
    let mut mac = None;
    let mut inv = None;
    for p in parts {
        if mac.is_none() && p.contains("macaroon=") {
            mac = Some(part_value(p).ok_or("its macaroon value is not in double quotes")?);
        }
        if inv.is_none() && p.contains("invoice=") {
            inv = Some(part_value(p).ok_or("its invoice value is not in double quotes")?);
        }
        if mac.is_some() && inv.is_some() {
            break;
        }
    }
    match (mac, inv) {
        (Some(m), Some(i)) => Ok((m, i)),
        _ => Err("needs both `macaroon=` and `invoice=`"),
    }
}

/// lsat-js `parseChallengePart`: after the first `=`, a value in double quotes.
fn part_value(part: &str) -> Option<String> {
    let (_, v) = part.split_once('=')?;
    let v = v.strip_prefix('"')?.strip_suffix('"')?;
    Some(v.to_string())
}

/// Alby's L402 reading of the comma-joined value.
pub fn alby(joined: &str) -> Reading {
    let lower = joined.trim_start().to_ascii_lowercase();
    let rest = if lower.starts_with("l402") || lower.starts_with("lsat") {
        &joined.trim_start()[4..]
    } else {
        return Err(
            "fetch402 takes the L402 path only when the joined value starts with L402/LSAT",
        );
    };
    let params = alby_params(rest, false);
    let get = |k: &str| {
        params
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    let mac = get("token")
        .or_else(|| get("macaroon"))
        .ok_or("no token/macaroon")?;
    let inv = get("invoice").ok_or("no invoice")?;
    Ok((mac, inv))
}

/// Alby's `(\w+)=("([^"]*)"|'([^']*)'|([^,]*))` scan (global, left to right); `no_space`
/// stops unquoted values at whitespace too (its MPP parser, `[^,\s]*`).
pub fn alby_params(s: &str, no_space: bool) -> Vec<(String, String)> {
    let b = s.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !word(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && word(b[i]) {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            continue;
        }
        let name = s[start..i].to_string();
        i += 1;
        let quote = b.get(i).copied().filter(|q| *q == b'"' || *q == b'\'');
        if let Some(q) = quote {
            if let Some(len) = b[i + 1..].iter().position(|&c| c == q) {
                out.push((name, s[i + 1..i + 1 + len].to_string()));
                i += len + 2;
                continue;
            }
        }
        let v0 = i;
        while i < b.len() && b[i] != b',' && !(no_space && b[i].is_ascii_whitespace()) {
            i += 1;
        }
        out.push((name, s[v0..i].to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const APERTURE: &str = r#"L402 macaroon="AgE=", invoice="lnbcrt1x""#;

    #[test]
    fn aperture_form_is_read_by_everyone() {
        let want = Ok(("AgE=".to_string(), "lnbcrt1x".to_string()));
        let lines = vec![APERTURE.to_string()];
        assert_eq!(lnget(&lines), want);
        assert_eq!(aperture(&lines), want);
        assert_eq!(lsat_js(APERTURE), want);
        assert_eq!(alby(APERTURE), want);
    }

    #[test]
    fn token_only_is_read_by_alby_only() {
        let v = r#"L402 version="0" token="AgE=", invoice="lnbcrt1x""#;
        let lines = vec![v.to_string()];
        assert!(lnget(&lines).is_err());
        assert!(aperture(&lines).is_err());
        assert!(lsat_js(v).is_err());
        assert_eq!(alby(v), Ok(("AgE=".into(), "lnbcrt1x".into())));
    }

    #[test]
    fn unquoted_and_reordered_forms() {
        let v = "L402 macaroon=AgE=, invoice=lnbcrt1x";
        assert!(lnget(&[v.to_string()]).is_err());
        assert!(lsat_js(v).is_err());
        assert_eq!(alby(v), Ok(("AgE=".into(), "lnbcrt1x".into())));
        let second = vec!["Payment id=\"x\"".to_string(), APERTURE.to_string()];
        assert!(lnget(&second).is_err(), "lnget reads the first line only");
        assert!(aperture(&second).is_ok());
        assert!(alby("Payment id=\"x\", L402 macaroon=\"m\", invoice=\"i\"").is_err());
    }

    #[test]
    fn alby_params_last_wins_and_space_rule() {
        let p = alby_params(r#"Payment id="a", realm=r, id="b" x=1 y"#, true);
        assert_eq!(p[0], ("id".into(), "a".into()));
        assert_eq!(p[1], ("realm".into(), "r".into()));
        assert_eq!(p[2], ("id".into(), "b".into()));
        assert_eq!(p[3], ("x".into(), "1".into()));
    }
}
