//! `Accept-Payment` request header: `method/intent[;q=x]` items, wildcards `*`.
//!
//! `Accept-Payment: lightning/charge, lightning/session;q=0, */*;q=0.5`. Offers matched by no
//! item, or only by `q=0` items, are dropped; the rest are ordered by `q` (highest first),
//! keeping server order on ties. A malformed header is ignored (all offers kept).

/// One preference.
#[derive(Debug, Clone, PartialEq)]
struct Pref {
    method: String,
    intent: String,
    q: f32,
}

fn parse(header: &str) -> Option<Vec<Pref>> {
    let mut out = Vec::new();
    for item in header.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut parts = item.split(';').map(str::trim);
        let (method, intent) = parts.next()?.split_once('/')?;
        let mut q = 1.0f32;
        for p in parts {
            let (k, v) = p.split_once('=')?;
            if k.trim().eq_ignore_ascii_case("q") {
                q = v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|q: &f32| (0.0..=1.0).contains(q))?;
            }
        }
        out.push(Pref {
            method: method.to_ascii_lowercase(),
            intent: intent.to_ascii_lowercase(),
            q,
        });
    }
    Some(out)
}

/// Indices of `offers` (method, intent) to send, in order. `None` header → all, unchanged.
pub fn order(offers: &[(&str, &str)], header: Option<&str>) -> Vec<usize> {
    let all = (0..offers.len()).collect();
    let Some(prefs) = header.and_then(parse) else {
        return all;
    };
    if prefs.is_empty() {
        return all;
    }
    let matches = |p: &Pref, m: &str, i: &str| {
        (p.method == "*" || p.method == m) && (p.intent == "*" || p.intent == i)
    };
    let specificity = |p: &Pref| u8::from(p.method != "*") + u8::from(p.intent != "*");
    let mut scored: Vec<(usize, f32)> = offers
        .iter()
        .enumerate()
        .filter_map(|(idx, (m, i))| {
            let best = prefs
                .iter()
                .filter(|p| matches(p, m, i))
                .max_by_key(|p| specificity(p))?;
            (best.q > 0.0).then_some((idx, best.q))
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.into_iter().map(|(i, _)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_and_drops() {
        let offers = [
            ("lightning", "session"),
            ("lightning", "charge"),
            ("tempo", "charge"),
        ];
        assert_eq!(order(&offers, None), vec![0, 1, 2]);
        assert_eq!(
            order(&offers, Some("lightning/charge, lightning/session;q=0.5")),
            vec![1, 0]
        );
        assert_eq!(
            order(
                &offers,
                Some("*/*;q=0.2, lightning/*, lightning/session;q=0")
            ),
            vec![1, 2]
        );
        assert_eq!(order(&offers, Some("garbage")), vec![0, 1, 2]);
    }
}
