//! Fuzz the buyer's reading of a 402: every protocol's `parse_challenges` (L402, MPP, x402
//! v2 header and v1 body) through `client::offers::parse`, with BOLT11 invoices decoded by a
//! simnet node. The first two bytes (u16 LE, the `WWW-Authenticate` length) split the rest
//! into `WWW-Authenticate`, then `PAYMENT-REQUIRED` and the body (halves of what remains).
#![no_main]

use std::sync::OnceLock;

use gate402::client::offers::{self, OfferContext};
use gate402_rails::simnet::{SimNetwork, SimNode};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fn node() -> &'static SimNode {
    static NODE: OnceLock<SimNode> = OnceLock::new();
    NODE.get_or_init(|| SimNetwork::new().add_node("buyer", 1_000_000))
}

fuzz_target!(|data: &[u8]| {
    let [c0, c1, rest @ ..] = data else {
        return;
    };
    let a = usize::from(u16::from_le_bytes([*c0, *c1])).min(rest.len());
    let (auth, rest) = rest.split_at(a);
    let b = rest.len() / 2;
    let (required, body) = rest.split_at(b);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(auth) {
        headers.append(http::header::WWW_AUTHENTICATE, v);
    }
    if let Ok(v) = HeaderValue::from_bytes(required) {
        headers.append(HeaderName::from_static("payment-required"), v);
    }
    let ctx = OfferContext {
        decoder: node(),
        lightning: true,
        evm: true,
        host: "api.example.com".into(),
        now: 1_750_000_000,
    };
    let (found, _rejected) = offers::parse(&headers, body, &ctx);
    for o in &found {
        let _ = (o.protocol_id(), o.rail_kind(), o.pref_rail());
    }
});
