//! Unit tests of the policy file and its rules.

use super::*;

#[test]
fn the_documented_example_parses() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/policy.example.toml"
    ))
    .unwrap();
    let p = BuyerPolicy::from_toml(&text).unwrap();
    assert_eq!(p.budget.daily_total_sat, Some(5000));
    assert_eq!(p.daily_per_domain("msat"), Some(1_000_000));
    assert_eq!(p.max_cost("evm:eip155:8453:0xabc"), Some(1_000_000));
}

#[test]
fn unknown_fields_and_bad_values_are_refused() {
    assert!(BuyerPolicy::from_toml("max_cost = 1").is_err());
    assert!(BuyerPolicy::from_toml("[budget]\ndaily = 1").is_err());
    assert!(BuyerPolicy::from_toml("prefer = [\"bitcoin\"]").is_err());
    assert!(BuyerPolicy::from_toml("prefer = [\"l402\", \"l402\"]").is_err());
    assert!(BuyerPolicy::from_toml("prefer = []").is_err());
    assert!(BuyerPolicy::from_toml("deny = [\"a b\"]").is_err());
    assert!(BuyerPolicy::from_toml("payment_timeout_secs = 0").is_err());
    assert_eq!(BuyerPolicy::from_toml("").unwrap(), BuyerPolicy::default());
}

#[test]
fn preference_ranks_protocols_and_rails() {
    let p = BuyerPolicy {
        prefer: vec!["x402/evm".into(), "mpp".into(), "x402".into()],
        ..BuyerPolicy::default()
    };
    assert_eq!(p.rank("x402", "evm:eip155:8453"), Some(0));
    assert_eq!(p.rank("mpp", "lightning"), Some(1));
    assert_eq!(p.rank("x402", "lightning"), Some(2));
    assert_eq!(p.rank("l402", "lightning"), None);
    let exact = BuyerPolicy {
        prefer: vec!["x402/evm:eip155:1".into()],
        ..BuyerPolicy::default()
    };
    assert_eq!(exact.rank("x402", "evm:eip155:1"), Some(0));
    assert_eq!(exact.rank("x402", "evm:eip155:8453"), None);
}

#[test]
fn domain_lists_with_wildcards_deny_wins() {
    let p = BuyerPolicy {
        allow: vec!["*.example.com".into(), "api.other.org".into()],
        deny: vec!["evil.example.com".into()],
        ..BuyerPolicy::default()
    };
    assert!(p.domain_allowed("a.example.com"));
    assert!(p.domain_allowed("API.other.org"));
    assert!(!p.domain_allowed("example.com"), "wildcard needs a label");
    assert!(!p.domain_allowed("evil.example.com"));
    assert!(!p.domain_allowed("badexample.com"));
    assert!(!p.domain_allowed("x.org"));
    assert!(BuyerPolicy::default().domain_allowed("anything"));
}
