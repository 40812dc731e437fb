//! Unit tests of [`Pricer`]: cache, bounds and validation around a scripted source.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// Answers `answer` (or never, with `hang`), counting calls.
#[derive(Debug)]
struct Scripted {
    answer: i64,
    hang: bool,
    calls: AtomicUsize,
    called: tokio::sync::Notify,
}

#[async_trait]
impl PriceSource for Scripted {
    async fn price_sats(&self, _q: &PriceQuery<'_>) -> Result<i64, PricingError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.called.notify_one();
        if self.hang {
            std::future::pending::<()>().await;
        }
        Ok(self.answer)
    }
}

fn pricer(
    answer: i64,
    hang: bool,
    settings: impl FnOnce(&mut PricerSettings),
) -> (Pricer, Arc<Scripted>) {
    let source = Arc::new(Scripted {
        answer,
        hang,
        calls: AtomicUsize::new(0),
        called: tokio::sync::Notify::new(),
    });
    let mut s = PricerSettings {
        timeout: Duration::from_millis(100),
        cache_ttl: Duration::from_secs(60),
        cache_entries: 100,
        max_concurrent: 4,
        max_price_msat: 1_000_000_000,
        vary: vec![],
    };
    settings(&mut s);
    (Pricer::new(source.clone(), s), source)
}

fn req(uri: &str) -> ::http::Request<Body> {
    ::http::Request::builder()
        .uri(uri)
        .body(Body::empty())
        .unwrap()
}

async fn price(p: &Pricer, uri: &str) -> Result<u64, PricingError> {
    let r = req(uri);
    let q = p.query("r", &r, None);
    p.price(q).await
}

#[tokio::test]
async fn prices_are_cached_per_key_until_the_ttl() {
    let (p, src) = pricer(50, false, |_| {});
    assert_eq!(price(&p, "/report?size=big").await.unwrap(), 50_000);
    assert_eq!(price(&p, "/report?size=big").await.unwrap(), 50_000);
    assert_eq!(src.calls.load(Ordering::SeqCst), 1);
    price(&p, "/report?size=small").await.unwrap();
    assert_eq!(src.calls.load(Ordering::SeqCst), 2);

    let (p, src) = pricer(50, false, |s| s.cache_ttl = Duration::ZERO);
    price(&p, "/a").await.unwrap();
    price(&p, "/a").await.unwrap();
    assert_eq!(src.calls.load(Ordering::SeqCst), 2, "ttl 0: never cached");
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let (p, src) = pricer(5, false, |s| s.cache_entries = 3);
    for i in 0..10 {
        price(&p, &format!("/a?i={i}")).await.unwrap();
    }
    assert_eq!(p.cached_entries(), 3);
    assert_eq!(src.calls.load(Ordering::SeqCst), 10);
    // The cached ones are still served from the cache.
    price(&p, "/a?i=0").await.unwrap();
    assert_eq!(src.calls.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn zero_negative_and_absurd_prices_are_refused_never_free() {
    for answer in [0, -1, i64::MIN] {
        let (p, _) = pricer(answer, false, |_| {});
        let e = price(&p, "/a").await.unwrap_err();
        assert_eq!(e.kind, PricingErrorKind::InvalidPrice, "{answer}");
        assert_eq!(p.cached_entries(), 0, "a refused answer is not cached");
    }
    let (p, _) = pricer(2_000, false, |s| s.max_price_msat = 1_000_000);
    let e = price(&p, "/a").await.unwrap_err();
    assert_eq!(e.kind, PricingErrorKind::InvalidPrice);
    assert!(e.to_string().contains("max_price_sat"), "{e}");
    let (p, _) = pricer(i64::MAX, false, |_| {});
    assert!(price(&p, "/a").await.is_err());
}

#[tokio::test]
async fn a_slow_pricer_times_out_and_a_full_one_is_busy() {
    let (p, src) = pricer(5, true, |s| {
        s.max_concurrent = 1;
        s.timeout = Duration::from_millis(400);
    });
    let p = Arc::new(p);
    let first = {
        let p = p.clone();
        tokio::spawn(async move { price(&p, "/a").await })
    };
    // The first call holds the only slot (and hangs) before the second one asks.
    src.called.notified().await;
    let second = price(&p, "/b").await.unwrap_err();
    assert_eq!(second.kind, PricingErrorKind::Busy, "{second}");
    let first = first.await.unwrap().unwrap_err();
    assert_eq!(first.kind, PricingErrorKind::Timeout, "{first}");
    assert_eq!(
        src.calls.load(Ordering::SeqCst),
        1,
        "the busy caller never called"
    );
    assert_eq!(PricingErrorKind::Busy.as_str(), "pricer_busy");
}
