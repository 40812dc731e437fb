//! Two gateways sharing one database (each with its own connection pool, as two processes
//! behind a load balancer): a token's first use is one payment, a single-use credential is
//! served once, a revocation reaches both within the refresh bound.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use gate402::{
    client::{ClientRequest, Policy},
    config::Config,
    paywall::Paywall,
    server::{self, Running},
    store::{LedgerFilter, Store},
};
use gate402_protocols::{
    l402::L402, Credential, CredentialError, HeaderPair, Offer, PaymentProtocol, ProtocolId,
    RailFacts, Verified,
};
use gate402_rails::simnet::{SimNetwork, SimNode};
use gate402_tests::{json_body, raw, serve, upstream_app, CONFIG, SECRET};
use tokio::net::TcpListener;

use super::{both_backends, Backend, TestStore};

both_backends!(
    a_token_first_used_on_two_gateways_is_one_payment,
    a_single_use_credential_is_served_once_across_two_gateways,
    a_revocation_reaches_every_gateway_within_the_bound,
    a_quota_of_three_uses_holds_across_two_gateways,
);

/// L402 where every proof is single-use (the per-request flavour): verification as usual,
/// plus `single_use_key = payment hash`, which the gateway must consume exactly once.
#[derive(Debug)]
struct SingleUseL402(L402);

impl PaymentProtocol for SingleUseL402 {
    fn id(&self) -> ProtocolId {
        self.0.id()
    }
    fn needs_invoice(&self) -> bool {
        true
    }
    fn challenge(
        &self,
        offer: &Offer,
        invoice: Option<&gate402_protocols::InvoiceFacts>,
        now: u64,
    ) -> Result<Vec<HeaderPair>, gate402_protocols::ChallengeError> {
        self.0.challenge(offer, invoice, now)
    }
    fn parse_credential(
        &self,
        headers: &http::HeaderMap,
    ) -> Option<Result<Credential, gate402_protocols::ParseError>> {
        self.0.parse_credential(headers)
    }
    fn verify(
        &self,
        c: &Credential,
        offer: &Offer,
        facts: &dyn RailFacts,
        now: u64,
    ) -> Result<Verified, CredentialError> {
        let mut v = self.0.verify(c, offer, facts, now)?;
        v.single_use_key = Some(v.reference.to_string().into_bytes());
        Ok(v)
    }
    fn receipt(&self, v: &Verified) -> Vec<HeaderPair> {
        self.0.receipt(v)
    }
    fn parse_challenges(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Vec<Result<gate402_protocols::ClientChallenge, gate402_protocols::ParseError>> {
        self.0.parse_challenges(headers, body)
    }
    fn credential_header(
        &self,
        c: &gate402_protocols::ClientChallenge,
        p: &gate402_protocols::PaymentProof,
    ) -> Result<HeaderPair, gate402_protocols::ParseError> {
        self.0.credential_header(c, p)
    }
}

struct Fleet {
    net: SimNetwork,
    buyer: SimNode,
    gateways: Vec<Running>,
    db: TestStore,
    dir: tempfile::TempDir,
}

impl Fleet {
    async fn start(backend: Backend, single_use: bool) -> Fleet {
        Fleet::start_with(backend, single_use, "").await
    }

    /// Like [`Fleet::start`], with `api_extra` appended to the `api` route's table.
    async fn start_with(backend: Backend, single_use: bool, api_extra: &str) -> Fleet {
        let db = TestStore::new(backend).await;
        let upstream = serve(upstream_app()).await;
        let text = CONFIG
            .replace("{UPSTREAM}", &format!("http://{upstream}"))
            .replace(
                "valid_for_secs = 3600\n",
                &format!("valid_for_secs = 3600\n{api_extra}"),
            );
        let config = Config::from_toml(&format!("{text}\n{}", db.toml)).unwrap();
        config.validate().unwrap();
        let net = SimNetwork::new();
        let buyer = net.add_node("buyer", gate402_tests::BUYER_MSAT);
        let seller = net.add_node("seller", 0);
        let mut gateways = Vec::new();
        for _ in 0..2 {
            let store = db.open().await; // one pool per gateway
            let rail = Arc::new(seller.clone());
            let paywall = if single_use {
                let l402 = SingleUseL402(L402::new(&SECRET).unwrap());
                Paywall::builder(
                    server::route_table(&config).unwrap(),
                    vec![Arc::new(l402)],
                    rail,
                )
                .build()
            } else {
                server::paywall_with_secret(&config, rail, &SECRET).unwrap()
            };
            let refresh = config.store.revocation_refresh();
            let paywall = server::attach_store(paywall, store, refresh).await.unwrap();
            let router = server::router(&config, Arc::new(paywall)).unwrap();
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            gateways.push(server::spawn(listener, router).unwrap());
        }
        Fleet {
            net,
            buyer,
            gateways,
            db,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn url(&self, i: usize, path: &str) -> http::Uri {
        format!("http://{}{path}", self.gateways[i % 2].addr)
            .parse()
            .unwrap()
    }

    /// Pay for `/api/` on gateway 0 without presenting the proof: the `Authorization` value.
    async fn buy(&self) -> String {
        use gate402_rails::LightningRail;
        let (status, headers, _) = raw(&self.url(0, "/api/x"), &[]).await;
        assert_eq!(status, 402);
        let challenge = gate402_protocols::l402::parse_challenges(&headers)
            .remove(0)
            .unwrap();
        let paid = self
            .buyer
            .pay_invoice(&challenge.invoice, gate402_rails::PayLimits::default())
            .await
            .unwrap();
        challenge.credential(paid.preimage).authorization()
    }

    async fn ledger(&self) -> Vec<gate402::store::PaymentRecord> {
        let s: Arc<dyn Store> = self.db.open().await;
        s.ledger(&LedgerFilter::default()).await.unwrap()
    }
}

async fn a_token_first_used_on_two_gateways_is_one_payment(backend: Backend) {
    let fleet = Fleet::start(backend, false).await;
    let auth = fleet.buy().await;
    let statuses = join_all((0..20).map(|i| {
        let (url, auth) = (fleet.url(i, "/api/x"), auth.clone());
        async move { raw(&url, &[("authorization", &auth)]).await.0 }
    }))
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let ledger = fleet.ledger().await;
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(
        (ledger[0].route.as_str(), ledger[0].amount_msat),
        ("api", 10_000)
    );
    assert_eq!(fleet.net.balance_msat("seller"), Some(10_000));
    // The buyer client works against the fleet too, and its purchase is recorded.
    let client = gate402::client::Client::new(
        Arc::new(fleet.buyer.clone()),
        gate402::client::TokenCache::new(fleet.dir.path().join("c")),
        Policy::default(),
    );
    let r = client
        .send(&ClientRequest::get(fleet.url(1, "/other/y")))
        .await
        .unwrap();
    assert_eq!(r.response.status(), 200);
    assert_eq!(fleet.ledger().await.len(), 2);
}

async fn a_single_use_credential_is_served_once_across_two_gateways(backend: Backend) {
    let fleet = Fleet::start(backend, true).await;
    let auth = fleet.buy().await;
    let answers = join_all((0..50).map(|i| {
        let (url, auth) = (fleet.url(i, "/api/x"), auth.clone());
        async move { raw(&url, &[("authorization", &auth)]).await }
    }))
    .await;
    let ok = answers.iter().filter(|a| a.0 == 200).count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    for (status, headers, body) in answers.iter().filter(|a| a.0 != 200) {
        assert_eq!(*status, 402);
        assert_eq!(json_body(body)["reason"], "replayed");
        assert!(
            headers.contains_key("www-authenticate"),
            "a fresh challenge"
        );
    }
    assert_eq!(fleet.ledger().await.len(), 1);
}

async fn a_quota_of_three_uses_holds_across_two_gateways(backend: Backend) {
    let fleet = Fleet::start_with(backend, false, "uses = 3\n").await;
    let auth = fleet.buy().await;
    let answers = join_all((0..20).map(|i| {
        let (url, auth) = (fleet.url(i, "/api/x"), auth.clone());
        async move { raw(&url, &[("authorization", &auth)]).await }
    }))
    .await;
    let served = answers.iter().filter(|a| a.0 == 200).count();
    assert_eq!(
        served,
        3,
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    for (status, headers, body) in answers.iter().filter(|a| a.0 != 200) {
        assert_eq!(*status, 402);
        assert_eq!(json_body(body)["reason"], "quota_spent");
        assert!(
            headers.contains_key("www-authenticate"),
            "a fresh challenge"
        );
    }
    // Bought once, recorded once; the spent token stays refused on both gateways.
    assert_eq!(fleet.ledger().await.len(), 1);
    for i in 0..2 {
        let (status, _, body) = raw(&fleet.url(i, "/api/x"), &[("authorization", &auth)]).await;
        assert_eq!(
            (status.as_u16(), json_body(&body)["reason"].clone()),
            (402, "quota_spent".into())
        );
    }
    // A route without `uses` still reuses freely.
    let other = fleet.url(0, "/other/x");
    let (status, _, _) = raw(&other, &[]).await;
    assert_eq!(status, 402);
}

async fn a_revocation_reaches_every_gateway_within_the_bound(backend: Backend) {
    let fleet = Fleet::start(backend, false).await;
    let auth = fleet.buy().await;
    // Twice on each gateway: the second use is answered from the verified-token cache
    // (`paywall/verified.rs`), which must neither outlive the revocation nor carry the token
    // to a route it was not bought for.
    for i in 0..4 {
        assert_eq!(
            raw(&fleet.url(i, "/api/x"), &[("authorization", &auth)])
                .await
                .0,
            200
        );
        let (status, _, body) = raw(&fleet.url(i, "/other/x"), &[("authorization", &auth)]).await;
        assert_eq!(status, 402);
        assert_eq!(json_body(&body)["reason"], "wrong_service", "{body:?}");
    }
    let token_id = fleet.ledger().await[0].token_id.clone().unwrap();
    let id: [u8; 32] = hex::decode(token_id).unwrap().try_into().unwrap();
    let admin = fleet.db.open().await; // as `gate402 revoke` would
    let start = Instant::now();
    admin.revoke(&id, 1).await.unwrap();
    let bound = Duration::from_secs(2); // revocation_refresh_ms = 500 + one query, with margin
    for i in 0..2 {
        loop {
            let (status, headers, body) =
                raw(&fleet.url(i, "/api/x"), &[("authorization", &auth)]).await;
            if status == 402 {
                assert_eq!(json_body(&body)["reason"], "revoked");
                assert!(headers.contains_key("www-authenticate"));
                break;
            }
            assert_eq!(status, 200);
            assert!(
                start.elapsed() < bound + Duration::from_millis(500),
                "gateway {i} too late"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
