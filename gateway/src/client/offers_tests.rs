//! Unit tests of offer normalisation and the host bindings.

use super::*;

#[test]
fn x402_resource_must_name_the_requested_host() {
    assert_eq!(
        resource_binding("http://127.0.0.1:4021/weather", "127.0.0.1"),
        None
    );
    assert_eq!(
        resource_binding("https://API.example.com/x", "api.example.com"),
        None
    );
    assert_eq!(resource_binding("/relative", "api.example.com"), None);
    assert_eq!(
        resource_binding("https://victim.example/x", "evil.example"),
        Some(PolicyError::ForeignHost {
            bound: "victim.example".into(),
            requested: "evil.example".into()
        })
    );
}

#[test]
fn host_shaped_realms_must_name_the_requested_host() {
    // Free-form protection spaces are not host bindings.
    assert_eq!(realm_binding("gate402", "api.example.com"), None);
    assert_eq!(realm_binding("My API", "127.0.0.1"), None);
    // Host-shaped: must match (port ignored, case-insensitive).
    assert_eq!(realm_binding("API.example.com", "api.example.com"), None);
    assert_eq!(realm_binding("127.0.0.1:8080", "127.0.0.1"), None);
    assert!(realm_binding("other.example.com", "api.example.com").is_some());
    assert!(realm_binding("10.0.0.9", "127.0.0.1").is_some());
    assert!(realm_binding("10.0.0.9", "api.example.com").is_some());
    // A DNS realm cannot be compared with an IP literal request.
    assert_eq!(realm_binding("gate402.test", "127.0.0.1"), None);
}

#[test]
fn garbage_challenges_are_rejected_not_offered() {
    let mut h = HeaderMap::new();
    h.append("www-authenticate", "Payment id=, realm".parse().unwrap());
    h.append(
        "www-authenticate",
        "L402 macaroon=\"%%%\", invoice=\"x\"".parse().unwrap(),
    );
    h.append("payment-required", "!!!not-base64!!!".parse().unwrap());
    let rail = gate402_rails::simnet::SimNetwork::new().add_node("b", 0);
    let ctx = OfferContext {
        decoder: &rail,
        lightning: true,
        evm: true,
        host: "h".into(),
        now: 0,
    };
    let (offers, rejected) = parse(&h, b"", &ctx);
    assert!(offers.is_empty(), "{offers:?}");
    let protocols: Vec<_> = rejected.iter().map(|r| r.protocol).collect();
    assert_eq!(protocols, ["l402", "mpp", "x402"], "{rejected:?}");
}
