//! Bad credentials: every one answers 402 with a fresh challenge and a machine-readable
//! reason; never 200, never a panic.

use gate402_protocols::{
    l402::{Macaroon, L402},
    Offer,
};
use gate402_rails::{InvoiceRequest, LightningRail, PayLimits};
use gate402_tests::{json_body, raw, Harness, SECRET};

use crate::roundtrip::challenge_invoice;

fn offer(service: &str, valid_for: Option<u64>) -> Offer {
    Offer {
        service: service.into(),
        price_msat: 10_000,
        capabilities: vec!["read".into()],
        valid_for_secs: valid_for,
        bind_price: false,
    }
}

/// A macaroon minted by the gateway's secret for a really paid invoice, and its preimage.
pub(crate) async fn paid_token(h: &Harness, service: &str, minted_at: u64) -> (Macaroon, [u8; 32]) {
    let inv = h
        .seller
        .create_invoice(InvoiceRequest {
            amount_msat: 10_000,
            memo: "t".into(),
            expiry_secs: 600,
        })
        .await
        .unwrap();
    let paid = h
        .buyer
        .pay_invoice(&inv.bolt11, PayLimits::default())
        .await
        .unwrap();
    let l402 = L402::new(&SECRET).unwrap();
    let mac = l402.mint(&offer(service, Some(3600)), inv.payment_hash, minted_at);
    (mac, paid.preimage)
}

pub(crate) fn auth(mac: &Macaroon, preimage: &[u8; 32]) -> String {
    format!("L402 {}:{}", mac.to_base64(), hex::encode(preimage))
}

/// Send `authorization` to `/api/x` and assert a 402 with a fresh challenge and `reason`.
async fn assert_refused(h: &Harness, authorization: &str, reason: &str, seen: &mut Vec<String>) {
    let (status, headers, body) = raw(&h.url("/api/x"), &[("authorization", authorization)]).await;
    assert_eq!(status, 402, "{reason}: {authorization:.80}");
    assert_eq!(headers["gate402-reason"], reason, "{authorization:.80}");
    assert_eq!(json_body(&body)["reason"], reason);
    let invoice = challenge_invoice(&headers);
    assert!(!seen.contains(&invoice), "each 402 carries a fresh invoice");
    seen.push(invoice);
}

#[tokio::test]
async fn valid_direct_token_is_accepted() {
    let h = Harness::start().await;
    let (mac, pre) = paid_token(&h, "api", gate402::clock::now_unix()).await;
    let (status, _, _) = raw(&h.url("/api/x"), &[("authorization", &auth(&mac, &pre))]).await;
    assert_eq!(status, 200);
    // LSAT scheme, lowercase scheme and uppercase hex are accepted too.
    let lsat = format!("lsat {}:{}", mac.to_base64(), hex::encode_upper(pre));
    let (status, _, _) = raw(&h.url("/api/x"), &[("authorization", &lsat)]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn bad_credentials_get_402_with_reason_and_fresh_challenge() {
    let h = Harness::start().await;
    let now = gate402::clock::now_unix();
    let (mac, pre) = paid_token(&h, "api", now).await;
    let mut seen = Vec::new();

    // Tampered: flip one bit of the signature, then of a caveat.
    let mut bytes = mac.encode_v2();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = Macaroon::decode(&bytes).unwrap();
    assert_refused(&h, &auth(&tampered, &pre), "invalid_signature", &mut seen).await;
    let text = mac.encode_v2();
    let pos = text.windows(8).position(|w| w == b"services").unwrap();
    let mut caveat = text.clone();
    caveat[pos + 9] ^= 0x20; // `services=api` -> `services=Api`
    let tampered = Macaroon::decode(&caveat).unwrap();
    assert_refused(&h, &auth(&tampered, &pre), "invalid_signature", &mut seen).await;

    // Wrong preimage.
    assert_refused(&h, &auth(&mac, &[9u8; 32]), "invalid_preimage", &mut seen).await;

    // Expired valid_until (minted two hours ago, valid for one).
    let (old, old_pre) = paid_token(&h, "api", now - 7200).await;
    assert_refused(&h, &auth(&old, &old_pre), "expired", &mut seen).await;

    // Widened caveat appended by the holder.
    let mut widened = mac.clone();
    widened.add_first_party_caveat(b"services=api:0,other:0");
    assert_refused(&h, &auth(&widened, &pre), "caveat_widened", &mut seen).await;

    // Token for another service.
    let (foreign, foreign_pre) = paid_token(&h, "other", now).await;
    assert_refused(
        &h,
        &auth(&foreign, &foreign_pre),
        "wrong_service",
        &mut seen,
    )
    .await;

    // Oversized header (> 8 KiB).
    let huge = format!("L402 {}:{}", "A".repeat(9000), hex::encode(pre));
    assert_refused(&h, &huge, "header_too_large", &mut seen).await;

    // A valid token still works afterwards; nothing was paid by the server's refusals.
    let (status, _, _) = raw(&h.url("/api/x"), &[("authorization", &auth(&mac, &pre))]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn malformed_headers_get_402_never_200() {
    let h = Harness::start().await;
    let (mac, pre) = paid_token(&h, "api", gate402::clock::now_unix()).await;
    let b64 = mac.to_base64();
    let cases = [
        "L402".to_string(),
        "L402 ".to_string(),
        "L402 abc".to_string(),
        "L402 :".to_string(),
        format!("L402 {b64}"),
        format!("L402 {b64}:"),
        format!("L402 {b64}:{}", &hex::encode(pre)[..63]),
        format!("L402 {b64}:{}zz", &hex::encode(pre)[..62]),
        format!("L402 !!!{b64}:{}", hex::encode(pre)),
        format!("L402 {}:{}", &b64[..40], hex::encode(pre)),
        "L402 AgEEbHNhdA==:00".to_string(),
        format!("LSAT {b64}:{}:{}", hex::encode(pre), hex::encode(pre)),
    ];
    let mut seen = Vec::new();
    for case in cases {
        let (status, headers, body) = raw(&h.url("/api/x"), &[("authorization", &case)]).await;
        assert_eq!(status, 402, "{case:.60}");
        let reason = json_body(&body)["reason"].as_str().unwrap().to_string();
        assert_ne!(
            reason, "payment_required",
            "{case:.60} must say why it was refused"
        );
        let invoice = challenge_invoice(&headers);
        assert!(!seen.contains(&invoice));
        seen.push(invoice);
    }
    // Other schemes are not ours: plain 402 without a refusal reason.
    let (status, _, body) = raw(&h.url("/api/x"), &[("authorization", "Bearer abc")]).await;
    assert_eq!(status, 402);
    assert_eq!(json_body(&body)["reason"], "payment_required");
}
