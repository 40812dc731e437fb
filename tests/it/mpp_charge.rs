//! MPP Lightning charge through the real gateway: paid round trip with a receipt, and every
//! bad credential refused with its paymentauth problem type and a fresh challenge.

use gate402::config::{load_mpp_secret, MppConfig};
use gate402::{client::Policy, clock::now_unix};
use gate402_protocols::mpp::{b64url, problem, Mpp, MppCredential, MppOffer, MppReceipt};
use gate402_protocols::{InvoiceFacts, Offer, ProtocolId};
use gate402_rails::{InvoiceRequest, LightningRail, PayLimits};
use gate402_tests::{json_body, matrix, raw, Harness, SECRET};
use serde_json::{Map, Value};

/// The Lightning charge offer of a 402 for `path`.
pub async fn charge_offer(h: &Harness, path: &str) -> MppOffer {
    let (status, headers, body) = raw(&h.url(path), &[]).await;
    assert_eq!(status, 402);
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(json_body(&body)["type"], problem::PAYMENT_REQUIRED);
    let offers: Vec<_> = gate402_protocols::mpp::client::parse_challenges(&headers)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(
        offers.iter().any(MppOffer::is_lightning_session),
        "session offered too"
    );
    let last = offers.last().unwrap();
    assert!(
        last.is_lightning_charge(),
        "the charge challenge comes last (Alby reads the last one)"
    );
    last.clone()
}

/// Pay the offer's invoice with the buyer node and build the `Authorization` value.
pub async fn pay(h: &Harness, offer: &MppOffer) -> (String, [u8; 32]) {
    let paid = h
        .buyer
        .pay_invoice(offer.invoice.as_deref().unwrap(), PayLimits::default())
        .await
        .unwrap();
    (credential(offer, &paid.preimage), paid.payment_hash)
}

fn credential(offer: &MppOffer, preimage: &[u8; 32]) -> String {
    let mut p = Map::new();
    p.insert("preimage".into(), Value::String(hex::encode(preimage)));
    MppCredential::new(&offer.challenge, p).to_header_value()
}

/// Send `auth` to `path`, expect a 402 with `problem_type`, `reason` and a fresh challenge.
async fn assert_refused(
    h: &Harness,
    path: &str,
    auth: &str,
    problem_type: &str,
    reason: &str,
    seen: &mut Vec<String>,
) {
    let (status, headers, body) = raw(&h.url(path), &[("authorization", auth)]).await;
    assert_eq!(status, 402, "{reason}");
    assert_eq!(headers["cache-control"], "no-store");
    let body = json_body(&body);
    assert_eq!(body["type"], problem_type, "{body}");
    assert_eq!(body["reason"], reason, "{body}");
    let fresh = gate402_protocols::mpp::client::parse_challenges(&headers)
        .pop()
        .unwrap()
        .unwrap();
    assert!(
        !seen.contains(&fresh.challenge.id),
        "fresh challenge each time"
    );
    seen.push(fresh.challenge.id);
}

#[tokio::test]
async fn the_client_pays_a_charge_and_gets_a_receipt() {
    matrix::cell(
        "mpp_charge::the_client_pays_a_charge_and_gets_a_receipt",
        async {
            let h = Harness::start_mpp().await;
            let client = h.client("c", Policy::default());
            let paid = client
                .send(&gate402::client::ClientRequest::get(h.url("/api/x")))
                .await
                .unwrap();
            assert_eq!(paid.response.status(), 200);
            let info = paid.payment.unwrap();
            assert_eq!((info.protocol, info.amount_msat), (ProtocolId::Mpp, 10_000));
            let r = MppReceipt::parse(paid.response.headers()["payment-receipt"].to_str().unwrap())
                .unwrap();
            assert_eq!(
                (r.method.as_str(), r.status.as_str()),
                ("lightning", "success")
            );
            assert_eq!(r.reference, info.payment_hash);
            assert!(r.challenge_id.is_some());
            assert_eq!(paid.response.headers()["cache-control"], "private");
            let echoed = json_body(paid.response.body());
            assert_eq!(
                echoed["authorization"],
                Value::Null,
                "credentials are not forwarded upstream"
            );
            assert_eq!(h.seller_msat(), 10_000);
            // With both offered, the client prefers L402 unless told otherwise.
            let l402 = client
                .send(&gate402::client::ClientRequest::get(h.url("/both/x")))
                .await
                .unwrap();
            assert_eq!(l402.payment.unwrap().protocol, ProtocolId::L402);
            let mpp = h.client("d", Policy::default()).prefer(ProtocolId::Mpp);
            let paid = mpp
                .send(&gate402::client::ClientRequest::get(h.url("/both/y")))
                .await
                .unwrap();
            assert_eq!(paid.payment.unwrap().protocol, ProtocolId::Mpp);
        },
    )
    .await;
}

#[tokio::test]
async fn replay_and_concurrent_duplicates_are_served_once() {
    let h = Harness::start_mpp().await;
    let offer = charge_offer(&h, "/api/a").await;
    let (auth, _) = pay(&h, &offer).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (url, auth) = (h.url("/api/a"), auth.clone());
            tokio::spawn(async move {
                let (status, _, body) = raw(&url, &[("authorization", &auth)]).await;
                assert_ne!(status, 503, "{}", String::from_utf8_lossy(&body));
                status
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == 200 || status == 402, "{status}");
        ok += usize::from(status == 200);
    }
    assert_eq!(ok, 1, "exactly one concurrent duplicate is served");
    let mut seen = Vec::new();
    assert_refused(
        &h,
        "/api/a",
        &auth,
        problem::LN_UNKNOWN_CHALLENGE,
        "replayed",
        &mut seen,
    )
    .await;
}

#[tokio::test]
async fn bad_credentials_get_their_problem_type_and_a_fresh_challenge() {
    let h = Harness::start_mpp().await;
    let mut seen = Vec::new();
    let offer = charge_offer(&h, "/api/a").await;
    let (auth, _) = pay(&h, &offer).await;

    // Another route (same price): bound to `api`, refused on `other`, still good on `api`.
    assert_refused(
        &h,
        "/other/a",
        &auth,
        problem::INVALID_CHALLENGE,
        "offer_mismatch",
        &mut seen,
    )
    .await;
    // Tampered request (amount lowered, id kept) for a really paid invoice.
    let paid_pre = {
        let o = charge_offer(&h, "/api/b").await;
        let paid = h
            .buyer
            .pay_invoice(o.invoice.as_deref().unwrap(), PayLimits::default())
            .await
            .unwrap();
        let mut t = o.clone();
        let mut req = t.request.clone();
        req["amount"] = "1".into();
        t.challenge.request =
            b64url::encode(gate402_protocols::mpp::jcs::canonicalize(&req).as_bytes());
        assert_refused(
            &h,
            "/api/b",
            &credential(&t, &paid.preimage),
            problem::LN_UNKNOWN_CHALLENGE,
            "unknown_challenge",
            &mut seen,
        )
        .await;
        paid.preimage
    };
    // Wrong preimage for a real challenge.
    assert_refused(
        &h,
        "/api/a",
        &credential(&offer, &paid_pre),
        problem::LN_INVALID_PREIMAGE,
        "invalid_preimage",
        &mut seen,
    )
    .await;
    // Malformed.
    assert_refused(
        &h,
        "/api/a",
        "Payment !!!",
        problem::LN_MALFORMED,
        "invalid_base64",
        &mut seen,
    )
    .await;

    // Another realm (same secret) and an expired challenge, both for really paid invoices.
    let secret = load_mpp_secret(&MppConfig::default(), &SECRET).unwrap();
    let route = Offer {
        service: "api".into(),
        price_msat: 10_000,
        capabilities: vec![],
        valid_for_secs: None,
        bind_price: false,
    };
    for (realm, issued_at, ptype, reason) in [
        (
            "elsewhere.test",
            now_unix(),
            problem::LN_UNKNOWN_CHALLENGE,
            "unknown_challenge",
        ),
        (
            "gate402.test",
            now_unix() - 1000,
            problem::LN_EXPIRED_INVOICE,
            "expired",
        ),
    ] {
        let inv = h
            .seller
            .create_invoice(InvoiceRequest {
                amount_msat: 10_000,
                memo: "t".into(),
                expiry_secs: 3600,
            })
            .await
            .unwrap();
        let facts = InvoiceFacts {
            bolt11: inv.bolt11.clone(),
            payment_hash: inv.payment_hash,
            amount_msat: 10_000,
            expires_at: inv.expires_at,
        };
        let challenge = Mpp::new(&secret, realm)
            .unwrap()
            .charge_challenge(&route, &facts, issued_at);
        let o = MppOffer::from_challenge(challenge).unwrap();
        let paid = h
            .buyer
            .pay_invoice(&inv.bolt11, PayLimits::default())
            .await
            .unwrap();
        assert_refused(
            &h,
            "/api/a",
            &credential(&o, &paid.preimage),
            ptype,
            reason,
            &mut seen,
        )
        .await;
    }

    // Nothing above consumed the good credential.
    let (status, headers, _) = raw(&h.url("/api/a"), &[("authorization", &auth)]).await;
    assert_eq!(status, 200);
    assert!(headers.contains_key("payment-receipt"));
}
