//! Fuzz every MPP parser a stranger reaches: the credential token (server side, in
//! `Authorization` or `Payment-Authorization`), the `Payment-Receipt` value and the
//! `WWW-Authenticate: Payment` challenges (buyer side), `Accept-Payment`, RFC 3339 times.
//! Nothing panics; whatever parses re-encodes and parses back to an equal value.
#![no_main]

use gate402_protocols::mpp::{self, accept, client, time, MppCredential, MppReceipt};
use gate402_protocols::{NoRailFacts, Offer, PaymentProtocol};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let text = std::str::from_utf8(rest).ok();
    match sel % 5 {
        0 => {
            if let Some(t) = text {
                if let Ok(c) = MppCredential::from_token(t) {
                    let again = MppCredential::from_token(&c.to_token()).expect("round trip");
                    assert_eq!(again.to_json(), c.to_json());
                }
            }
            let Ok(value) = HeaderValue::from_bytes(rest) else {
                return;
            };
            let mut headers = HeaderMap::new();
            let name = if data.len() % 2 == 0 {
                AUTHORIZATION
            } else {
                HeaderName::from_static("payment-authorization")
            };
            headers.append(name, value);
            let m = mpp::Mpp::new(&[0x42; 32], "api.example.com").expect("valid");
            let offer = Offer {
                service: "api".into(),
                price_msat: 1_000,
                capabilities: vec![],
                valid_for_secs: Some(3600),
                bind_price: false,
            };
            if let Some(Ok(credential)) = m.parse_credential(&headers) {
                let _ = m.verify(&credential, &offer, &NoRailFacts, 1_750_000_000);
            }
        }
        1 => {
            if let Some(t) = text {
                if let Ok(r) = MppReceipt::parse(t) {
                    let again = MppReceipt::parse(&r.to_header_value()).expect("round trip");
                    assert_eq!(again, r);
                }
            }
        }
        2 => {
            let Ok(value) = HeaderValue::from_bytes(rest) else {
                return;
            };
            let mut headers = HeaderMap::new();
            headers.append(WWW_AUTHENTICATE, value);
            for offer in client::parse_challenges(&headers).into_iter().flatten() {
                let _ = (offer.amount_sats(), offer.payment_hash());
                let _ = (offer.is_lightning_charge(), offer.is_lightning_session());
            }
        }
        3 => {
            let offers = [
                ("lightning", "charge"),
                ("lightning", "session"),
                ("tempo", "charge"),
            ];
            let order = accept::order(&offers, text);
            assert!(order.iter().all(|&i| i < offers.len()));
        }
        _ => {
            if let Some(t) = text {
                if let Some(secs) = time::parse_rfc3339(t) {
                    let _ = time::format_rfc3339(secs);
                }
            }
        }
    }
});
