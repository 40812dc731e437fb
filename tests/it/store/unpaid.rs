//! Unpaid traffic writes nothing: 1,000 requests without a credential, with malformed ones
//! and with well-formed but unpaid ones, over L402, MPP and x402 (Lightning variant), leave
//! every table of the store as it was — except the invoice pool's durable reserve, which
//! stays within its configured size (pre-minted stock refilled as challenges use it, not a
//! row per request).

use std::sync::Arc;

use futures_util::future::join_all;
use gate402::config::Config;
use gate402::store::StoreOptions;
use gate402_tests::{raw, serve, upstream_app};
use sqlx::{Connection, PgConnection, Row, SqliteConnection};

use super::{both_backends, Backend, TestStore};

both_backends!(a_thousand_unpaid_requests_create_no_store_row);

const POOL: u64 = 8;

/// Row count of every table (the migrations table included).
async fn counts(options: &StoreOptions) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    match options {
        StoreOptions::Sqlite { path, .. } => {
            let mut c = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            for t in tables {
                let n: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM {t}"))
                    .fetch_one(&mut c)
                    .await
                    .unwrap()
                    .get(0);
                out.push((t, n));
            }
        }
        StoreOptions::Postgres { url, .. } => {
            let mut c = PgConnection::connect(url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT tablename::TEXT FROM pg_tables WHERE schemaname = 'public' \
                 ORDER BY tablename",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            for t in tables {
                let n: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM {t}"))
                    .fetch_one(&mut c)
                    .await
                    .unwrap()
                    .get(0);
                out.push((t, n));
            }
        }
    }
    out
}

async fn a_thousand_unpaid_requests_create_no_store_row(backend: Backend) {
    let db = TestStore::new(backend).await;
    let upstream = serve(upstream_app()).await;
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{upstream}\"\n\
         [mpp]\nrealm = \"gate402.test\"\n[lightning]\nbackend = \"simnet\"\n\
         [invoice_pool]\nsize = {POOL}\n\
         [minting]\nper_second = 0\n\
         [[route]]\nname = \"all\"\npath_prefix = \"/all/\"\nprice_sat = 10\n\
         protocols = [\"l402\", \"mpp\", \"x402\"]\nx402 = {{ lightning = true }}\n"
    );
    let config = Config::from_toml(&text).unwrap();
    config.validate().unwrap();
    let net = gate402_rails::simnet::SimNetwork::new();
    let seller = net.add_node("seller", 0);
    let store = db.open().await;
    let gw = gate402_tests::gateway(&config, Arc::new(seller), store).await;
    let url: http::Uri = format!("http://{}/all/x", gw.addr).parse().unwrap();
    // One challenge each first, so the pool's reserve has been filled once.
    let (_, headers, _) = raw(&url, &[]).await;
    let mpp = headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("Payment "))
        .unwrap();
    let before = counts(&db.options).await;

    // Unpaid variants: none, garbage, a real-looking L402 token for an unpaid invoice, an
    // echoed MPP challenge without a preimage, an x402 payload for an unpaid invoice.
    let bogus_l402 =
        "L402 AgJAbWFjYXJvb24=:0000000000000000000000000000000000000000000000000000000000000000";
    let bogus_mpp = format!("Payment {}", mpp.len());
    let bogus_x402 = gate402_protocols::x402::wire::encode_header(&serde_json::json!({
        "x402Version": 2, "scheme": "exact", "network": "lightning:simnet",
        "payload": {"invoice": "lnbcrt1"}
    }));
    let variants: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![("authorization", "garbage".to_string())],
        vec![("authorization", bogus_l402.to_string())],
        vec![("authorization", bogus_mpp)],
        vec![("payment-signature", bogus_x402)],
    ];
    for chunk in (0..1000).collect::<Vec<_>>().chunks(50) {
        let statuses = join_all(chunk.iter().map(|i| {
            let (url, v) = (url.clone(), variants[i % variants.len()].clone());
            async move {
                let h: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
                raw(&url, &h).await.0.as_u16()
            }
        }))
        .await;
        assert!(
            statuses.iter().all(|s| matches!(s, 400 | 402)),
            "{statuses:?}"
        );
    }

    let after = counts(&db.options).await;
    for ((table, n0), (t, n1)) in before.iter().zip(&after) {
        assert_eq!(table, t);
        if table == "invoice_pool" {
            assert!(
                *n1 as u64 <= POOL,
                "the reserve stays within its size: {n1}"
            );
        } else {
            assert_eq!(n0, n1, "{table}: unpaid requests wrote rows");
        }
    }
    assert_eq!(before.len(), after.len());
}
