//! Prometheus metrics (issue G item 1), served as text at `/_gate402/metrics` on the admin
//! listener (`[admin] listen`). One [`Metrics`] per paywall, in its own registry (so two
//! gateways in one process never mix), built on the `prometheus` crate.
//!
//! Labels are bounded: `route` is a configured route name (or `-` for unmatched requests),
//! `protocol` one of the protocol ids, `rail` a rail id, `outcome` one of a fixed set (see
//! `server::observe`), `reason` a gate402 reason code or `-`, `asset` a configured token
//! address. Nothing comes from the request path or a credential.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `gate402_requests_total` | counter | route, protocol, outcome, reason |
//! | `gate402_challenges_total` | counter | route, protocol |
//! | `gate402_payments_total` | counter | route, protocol, rail |
//! | `gate402_revenue_msat_total` | counter | route, protocol, rail |
//! | `gate402_revenue_atomic_total` | counter | route, asset (x402 EVM, token units) |
//! | `gate402_invoice_pool_size` | gauge | route |
//! | `gate402_invoice_pool_reserve` | gauge | route (with a store: the reserve as last counted) |
//! | `gate402_invoice_pool_hits_total`, `…_misses_total` | counter | — |
//! | `gate402_rail_up`, `gate402_store_up` | gauge | — |
//! | `gate402_verify_seconds` | histogram | — (paid-path credential check) |
//! | `gate402_upstream_seconds` | histogram | — (upstream response head) |
//! | `gate402_store_seconds` | histogram | — (settling a payment: store writes only) |

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Buckets of the latency histograms, seconds (50 µs … 10 s).
const BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.0,
    10.0,
];

/// The gateway's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    challenges: IntCounterVec,
    payments: IntCounterVec,
    revenue_msat: IntCounterVec,
    revenue_atomic: IntCounterVec,
    pool_size: IntGaugeVec,
    pool_reserve: IntGaugeVec,
    pool_hits: IntCounter,
    pool_misses: IntCounter,
    rail_up: IntGauge,
    store_up: IntGauge,
    /// Paid-path credential check (parse, verify, settle), seconds.
    pub verify_seconds: Histogram,
    /// Upstream response head, seconds.
    pub upstream_seconds: Histogram,
    /// Settling a payment in the store, seconds (observed when the store is written: a token
    /// whose first use is recorded settles in memory).
    pub store_seconds: Histogram,
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("registered once");
    c
}

fn histogram(r: &Registry, name: &str, help: &str) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()))
        .expect("valid metric");
    r.register(Box::new(h.clone())).expect("registered once");
    h
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    r.register(Box::new(g.clone())).expect("registered once");
    g
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("valid metric");
    r.register(Box::new(c.clone())).expect("registered once");
    c
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Fresh metrics in their own registry.
    pub fn new() -> Metrics {
        let r = Registry::new();
        let pool_size = IntGaugeVec::new(
            Opts::new(
                "gate402_invoice_pool_size",
                "Invoices ready in the pool's memory front",
            ),
            &["route"],
        )
        .expect("valid metric");
        r.register(Box::new(pool_size.clone()))
            .expect("registered once");
        let pool_reserve = IntGaugeVec::new(
            Opts::new(
                "gate402_invoice_pool_reserve",
                "Invoices in the store's reserve, as the refill workers last counted them",
            ),
            &["route"],
        )
        .expect("valid metric");
        r.register(Box::new(pool_reserve.clone()))
            .expect("registered once");
        Metrics {
            requests: counter_vec(
                &r,
                "gate402_requests_total",
                "Requests by route, protocol, outcome and refusal reason",
                &["route", "protocol", "outcome", "reason"],
            ),
            challenges: counter_vec(
                &r,
                "gate402_challenges_total",
                "Challenges issued, one per protocol offered in a 402",
                &["route", "protocol"],
            ),
            payments: counter_vec(
                &r,
                "gate402_payments_total",
                "Payments recorded in the ledger",
                &["route", "protocol", "rail"],
            ),
            revenue_msat: counter_vec(
                &r,
                "gate402_revenue_msat_total",
                "Revenue recorded in the ledger, millisatoshis",
                &["route", "protocol", "rail"],
            ),
            revenue_atomic: counter_vec(
                &r,
                "gate402_revenue_atomic_total",
                "x402 EVM revenue settled, token atomic units",
                &["route", "asset"],
            ),
            pool_size,
            pool_reserve,
            pool_hits: counter(
                &r,
                "gate402_invoice_pool_hits_total",
                "Challenges whose invoice came from the pool",
            ),
            pool_misses: counter(
                &r,
                "gate402_invoice_pool_misses_total",
                "Challenges whose invoice was minted on the request path",
            ),
            rail_up: gauge(&r, "gate402_rail_up", "1 when the Lightning rail is up"),
            store_up: gauge(&r, "gate402_store_up", "1 when the store answers"),
            verify_seconds: histogram(
                &r,
                "gate402_verify_seconds",
                "Paid-path credential check (parse, verify, settle), seconds",
            ),
            upstream_seconds: histogram(
                &r,
                "gate402_upstream_seconds",
                "Upstream response head latency, seconds",
            ),
            store_seconds: histogram(
                &r,
                "gate402_store_seconds",
                "Settling a payment in the store, seconds",
            ),
            registry: r,
        }
    }

    /// One request answered.
    pub fn request(&self, route: &str, protocol: &str, outcome: &str, reason: &str) {
        self.requests
            .with_label_values(&[route, protocol, outcome, reason])
            .inc();
    }

    /// One challenge issued.
    pub fn challenge(&self, route: &str, protocol: &str) {
        self.challenges.with_label_values(&[route, protocol]).inc();
    }

    /// One payment recorded in the ledger.
    pub fn payment(&self, route: &str, protocol: &str, rail: &str, msat: u64) {
        self.payments
            .with_label_values(&[route, protocol, rail])
            .inc();
        self.revenue_msat
            .with_label_values(&[route, protocol, rail])
            .inc_by(msat);
    }

    /// x402 EVM revenue settled, token units.
    pub fn revenue_atomic(&self, route: &str, asset: &str, units: u64) {
        self.revenue_atomic
            .with_label_values(&[route, asset])
            .inc_by(units);
    }

    /// Refresh the gauges read at scrape time.
    pub fn set_state(
        &self,
        pools: &[PoolLevel],
        hits: u64,
        misses: u64,
        rail_up: bool,
        store_up: Option<bool>,
    ) {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        for p in pools {
            self.pool_size
                .with_label_values(&[&p.route])
                .set(gauge(p.front));
            if let Some(n) = p.reserve {
                self.pool_reserve
                    .with_label_values(&[&p.route])
                    .set(gauge(n));
            }
        }
        self.pool_hits
            .inc_by(hits.saturating_sub(self.pool_hits.get()));
        self.pool_misses
            .inc_by(misses.saturating_sub(self.pool_misses.get()));
        self.rail_up.set(i64::from(rail_up));
        if let Some(up) = store_up {
            self.store_up.set(i64::from(up));
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// One route's invoice pool, for [`Metrics::set_state`].
#[derive(Debug, Clone)]
pub struct PoolLevel {
    /// The route.
    pub route: String,
    /// Invoices in the memory front.
    pub front: usize,
    /// Invoices in the store's reserve as last counted (`None`: no store, or not counted yet).
    pub reserve: Option<usize>,
}

/// Content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
