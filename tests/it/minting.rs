//! `[minting]`: an unpaid flood cannot make the gateway mint without bound. Past the
//! outstanding-invoice cap, or when no mint slot frees up within `wait_ms`, a challenge answers
//! 503 + `Retry-After` (reason `busy`) instead of queueing; the rail is not marked down, and a
//! paid token keeps being served while minting is saturated.

use std::time::Duration;

use futures_util::future::join_all;
use gate402::client::{ClientRequest, Policy};
use gate402_rails::simnet::Faults;
use gate402_tests::{json_body, raw, serve, upstream_app, Harness, CONFIG};

async fn harness(minting: &str) -> Harness {
    let upstream = serve(upstream_app()).await;
    let text = format!(
        "{}\n[invoice_pool]\nsize = 0\n\n[minting]\n{minting}\n",
        CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}"))
    );
    Harness::start_with(&text).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_outstanding_cap_challenges_are_503_busy_and_paid_tokens_still_work() {
    let h = harness("max_outstanding = 3").await;
    let client = h.client("c", Policy::default());
    let paid = client
        .send(&ClientRequest::get(h.url("/api/a")))
        .await
        .unwrap();
    assert_eq!(paid.response.status(), 200, "bought with invoice 1 of 3");
    for _ in 0..2 {
        assert_eq!(raw(&h.url("/api/a"), &[]).await.0, 402);
    }
    let (status, headers, body) = raw(&h.url("/api/a"), &[]).await;
    assert_eq!(status, 503);
    assert_eq!(headers["retry-after"], "7");
    assert!(headers.get("www-authenticate").is_none());
    assert_eq!(json_body(&body)["reason"], "busy");
    // Our own bound, not a node outage: the gateway stays ready.
    assert_eq!(raw(&h.url("/_gate402/ready"), &[]).await.0, 200);
    let again = client
        .send(&ClientRequest::get(h.url("/api/a")))
        .await
        .unwrap();
    assert_eq!(again.response.status(), 200);
    assert!(again.reused_credential);
    assert_eq!(
        h.net.invoices_count("seller"),
        3,
        "nothing minted past the cap"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saturated_minting_answers_503_instead_of_queueing_and_paid_requests_pass() {
    let h = harness("max_concurrent = 1\nwait_ms = 200").await;
    let client = h.client("c", Policy::default());
    let paid = client
        .send(&ClientRequest::get(h.url("/api/a")))
        .await
        .unwrap();
    assert_eq!(paid.response.status(), 200);
    // AddInvoice now takes 3 s: one challenge holds the only slot, the rest cannot get one
    // within 200 ms.
    h.net.set_faults(
        "seller",
        Faults {
            add_invoice_delay: Some(Duration::from_secs(3)),
            ..Faults::default()
        },
    );
    let url = h.url("/api/a");
    let flood = tokio::spawn(async move {
        join_all((0..6).map(|_| {
            let url = url.clone();
            async move { raw(&url, &[]).await }
        }))
        .await
    });
    // While the flood waits on minting, the paid token is served.
    let during = client
        .send(&ClientRequest::get(h.url("/api/a")))
        .await
        .unwrap();
    assert_eq!(during.response.status(), 200);
    let answers = flood.await.unwrap();
    let busy: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 503).collect();
    assert!(
        busy.len() >= 5,
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    for (_, headers, body) in &busy {
        assert_eq!(headers["retry-after"], "7");
        assert_eq!(json_body(body)["reason"], "busy");
    }
    assert!(
        answers.iter().all(|(s, _, _)| *s == 503 || *s == 402),
        "only 402 or 503"
    );
}

#[test]
fn minting_config_is_validated() {
    let upstream = "http://127.0.0.1:1";
    let bad = format!(
        "{}\n[minting]\nmax_concurrent = 0\n",
        CONFIG.replace("{UPSTREAM}", upstream)
    );
    let config = gate402::config::Config::from_toml(&bad).unwrap();
    let e = config.validate().unwrap_err().to_string();
    assert!(e.contains("minting.max_concurrent"), "{e}");
    let typo = format!(
        "{}\n[minting]\nper_sec = 5\n",
        CONFIG.replace("{UPSTREAM}", upstream)
    );
    assert!(gate402::config::Config::from_toml(&typo).is_err());
}
