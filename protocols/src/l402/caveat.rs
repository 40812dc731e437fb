//! L402 first-party caveats and their satisfiers (Aperture `l402/satisfier.go` semantics).
//!
//! Caveats are `condition=value`, split at the first `=`. For a target service `svc`:
//!
//! | condition | value | rule |
//! |---|---|---|
//! | `services` | `name:tier[,name:tier…]` | each later one ⊆ the earlier one; the last lists `svc` |
//! | `svc_capabilities` | comma list (may be empty) | each later one ⊆ the earlier one |
//! | `svc_valid_until` | Unix seconds | each later one ≤ the earlier one; the last one > now |
//! | `svc_max_price_msat` | msat | each later one ≤ the earlier one; the last one ≥ the price of the request (dynamically priced routes) |
//!
//! Anything else (lnget's `preimage=<hex>`, other services' caveats, constraints) is skipped.
//! Unlike Aperture a token without any `services` caveat is refused: gate402 always mints one,
//! so its absence means the token was not made for this gateway's services.

use crate::VerifyError;

/// The `services` condition.
pub const SERVICES: &str = "services";
/// Suffix of the capabilities condition (`<service>_capabilities`).
pub const CAPABILITIES_SUFFIX: &str = "_capabilities";
/// Suffix of the expiry condition (`<service>_valid_until`).
pub const VALID_UNTIL_SUFFIX: &str = "_valid_until";
/// Suffix of the price bound (`<service>_max_price_msat`): minted on dynamically priced routes
/// with the price the challenge was issued at; the token pays for requests priced at most that.
pub const MAX_PRICE_SUFFIX: &str = "_max_price_msat";

/// What the caveats of a verified token say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Satisfied {
    /// The effective expiry (the last `<service>_valid_until`), if any.
    pub valid_until: Option<u64>,
    /// The effective price bound (the last `<service>_max_price_msat`), if any.
    pub max_price_msat: Option<u64>,
}

/// Whether `s` is usable as a service name in caveats (non-empty; no `:`, `,`, `=`, whitespace
/// or control characters).
pub fn valid_service_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b':' | b',' | b'='))
}

/// Whether `cond` is `<service><suffix>`.
fn is_service_cond(cond: &[u8], service: &str, suffix: &str) -> bool {
    cond.len() == service.len() + suffix.len()
        && cond.starts_with(service.as_bytes())
        && cond.ends_with(suffix.as_bytes())
}

fn bad(caveat: &[u8]) -> VerifyError {
    let text = String::from_utf8_lossy(caveat);
    VerifyError::BadCaveat(text.chars().take(128).collect())
}

/// Entries `(name, tier)` of a `services` value, or `None` if malformed.
fn services(value: &str) -> impl Iterator<Item = Option<(&str, u8)>> {
    value.split(',').map(|entry| {
        let (name, tier) = entry.rsplit_once(':')?;
        let digits_ok =
            !tier.is_empty() && tier.len() <= 3 && tier.bytes().all(|b| b.is_ascii_digit());
        if name.is_empty() || !digits_ok {
            return None;
        }
        Some((name, tier.parse().ok()?))
    })
}

fn services_valid(value: &str) -> bool {
    services(value).all(|e| e.is_some())
}

/// Whether every entry of `later` appears (same name and tier) in `earlier`.
fn services_subset(later: &str, earlier: &str) -> bool {
    services(later).all(|e| services(earlier).any(|p| p == e))
}

fn capabilities(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').filter(|_| !value.is_empty())
}

fn capabilities_valid(value: &str) -> bool {
    capabilities(value).all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_graphic()))
}

fn parse_decimal(value: &str) -> Option<u64> {
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Run the satisfiers over first-party caveat ids, in order. Returns the effective expiry
/// (the last `<service>_valid_until`), if any. A `<service>_max_price_msat` caveat is checked
/// for narrowing only; [`check_all`] reports its value.
#[cfg(test)]
pub(crate) fn check<'a>(
    caveats: impl Iterator<Item = &'a [u8]>,
    service: &str,
    now: u64,
) -> Result<Option<u64>, VerifyError> {
    check_all(caveats, service, now).map(|s| s.valid_until)
}

/// Run the satisfiers over first-party caveat ids, in order (see the module docs).
pub(crate) fn check_all<'a>(
    caveats: impl Iterator<Item = &'a [u8]>,
    service: &str,
    now: u64,
) -> Result<Satisfied, VerifyError> {
    let mut prev_services: Option<&str> = None;
    let mut prev_caps: Option<&str> = None;
    let mut valid_until: Option<u64> = None;
    let mut max_price: Option<u64> = None;
    for caveat in caveats {
        let Some(eq) = caveat.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (cond, value) = (&caveat[..eq], &caveat[eq + 1..]);
        if cond == SERVICES.as_bytes() {
            let value = std::str::from_utf8(value).map_err(|_| bad(caveat))?;
            if !services_valid(value) {
                return Err(bad(caveat));
            }
            if prev_services.is_some_and(|p| !services_subset(value, p)) {
                return Err(VerifyError::CaveatWidened(SERVICES.into()));
            }
            prev_services = Some(value);
        } else if is_service_cond(cond, service, CAPABILITIES_SUFFIX) {
            let value = std::str::from_utf8(value).map_err(|_| bad(caveat))?;
            if !capabilities_valid(value) {
                return Err(bad(caveat));
            }
            if prev_caps
                .is_some_and(|p| !capabilities(value).all(|c| capabilities(p).any(|e| e == c)))
            {
                return Err(VerifyError::CaveatWidened(format!(
                    "{service}{CAPABILITIES_SUFFIX}"
                )));
            }
            prev_caps = Some(value);
        } else if is_service_cond(cond, service, VALID_UNTIL_SUFFIX) {
            let t = std::str::from_utf8(value)
                .ok()
                .and_then(parse_decimal)
                .ok_or_else(|| bad(caveat))?;
            if valid_until.is_some_and(|p| t > p) {
                return Err(VerifyError::CaveatWidened(format!(
                    "{service}{VALID_UNTIL_SUFFIX}"
                )));
            }
            valid_until = Some(t);
        } else if is_service_cond(cond, service, MAX_PRICE_SUFFIX) {
            let p = std::str::from_utf8(value)
                .ok()
                .and_then(parse_decimal)
                .ok_or_else(|| bad(caveat))?;
            if max_price.is_some_and(|prev| p > prev) {
                return Err(VerifyError::CaveatWidened(format!(
                    "{service}{MAX_PRICE_SUFFIX}"
                )));
            }
            max_price = Some(p);
        }
    }
    match prev_services {
        Some(last) if services(last).any(|e| e.is_some_and(|(n, _)| n == service)) => {}
        _ => return Err(VerifyError::WrongService(service.into())),
    }
    if valid_until.is_some_and(|t| t <= now) {
        return Err(VerifyError::Expired);
    }
    Ok(Satisfied {
        valid_until,
        max_price_msat: max_price,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(caveats: &[&str], now: u64) -> Result<Option<u64>, VerifyError> {
        check(caveats.iter().map(|c| c.as_bytes()), "svc", now)
    }

    #[test]
    fn satisfiers() {
        let base = [
            "services=svc:0,other:0",
            "svc_capabilities=a,b",
            "svc_valid_until=100",
        ];
        assert_eq!(run(&base, 99), Ok(Some(100)));
        assert_eq!(run(&base, 100), Err(VerifyError::Expired));
        let narrowed = [
            &base[..],
            &[
                "services=svc:0",
                "svc_capabilities=a",
                "svc_capabilities=",
                "svc_valid_until=50",
                "preimage=00",
                "junk",
            ],
        ]
        .concat();
        assert_eq!(run(&narrowed, 10), Ok(Some(50)));
        let widened = [&base[..], &["svc_valid_until=101"]].concat();
        assert!(matches!(
            run(&widened, 0),
            Err(VerifyError::CaveatWidened(_))
        ));
        let widened = [&base[..], &["svc_capabilities=a,c"]].concat();
        assert!(matches!(
            run(&widened, 0),
            Err(VerifyError::CaveatWidened(_))
        ));
        let widened = [&base[..], &["services=svc:1"]].concat();
        assert!(matches!(
            run(&widened, 0),
            Err(VerifyError::CaveatWidened(_))
        ));
        assert!(matches!(
            run(&["services=other:0"], 0),
            Err(VerifyError::WrongService(_))
        ));
        assert!(matches!(
            run(&["svc_valid_until=5"], 0),
            Err(VerifyError::WrongService(_))
        ));
        for bad in [
            "services=",
            "services=svc",
            "services=svc:x",
            "services=svc:256",
            "services=:0",
            "svc_capabilities=a,,b",
            "svc_valid_until=-1",
            "svc_valid_until=1e3",
            "svc_valid_until=",
        ] {
            assert!(
                matches!(
                    run(&["services=svc:0", bad], 0),
                    Err(VerifyError::BadCaveat(_))
                ),
                "{bad}"
            );
        }
        // Other services' caveats are not ours to judge.
        assert_eq!(
            run(
                &["services=svc:0", "svc2_valid_until=1", "sv_valid_until=x"],
                5
            ),
            Ok(None)
        );
    }

    #[test]
    fn service_names() {
        assert!(valid_service_name("svc-1.api"));
        for bad in ["", "a:b", "a,b", "a=b", "a b", "a\tb", "é"] {
            assert!(!valid_service_name(bad), "{bad}");
        }
    }
}
