//! What Prometheus metrics add to one paid request (issue G, "Speed": ≤ 1 µs): exactly the
//! calls the paid L402 path makes with `[admin] metrics` on — two `Instant::now`, the
//! verify and upstream histograms, the request counter (route × protocol × outcome × reason)
//! — against the same path's bookkeeping with metrics off (nothing).
//!
//! `cargo bench -p gate402 --bench metrics`

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use gate402::metrics::Metrics;

fn paid_request(m: Option<&Metrics>) {
    let started = m.map(|_| Instant::now());
    if let (Some(m), Some(t)) = (m, started) {
        m.verify_seconds.observe(t.elapsed().as_secs_f64());
        let up = Instant::now();
        m.upstream_seconds.observe(up.elapsed().as_secs_f64());
        m.request(black_box("api"), black_box("l402"), "paid", "-");
    }
}

fn bench(c: &mut Criterion) {
    let m = Metrics::new();
    // Warm the label set, as a running gateway has.
    m.request("api", "l402", "paid", "-");
    let mut g = c.benchmark_group("paid_request_metrics");
    g.bench_function("off", |b| b.iter(|| paid_request(black_box(None))));
    g.bench_function("on", |b| b.iter(|| paid_request(black_box(Some(&m)))));
    g.finish();
    c.bench_function("render_scrape", |b| b.iter(|| black_box(m.render())));
}

#[allow(missing_docs)] // the macro's function has no doc comment
mod group {
    use super::*;
    criterion_group!(benches, bench);
}
use group::benches;
criterion_main!(benches);
