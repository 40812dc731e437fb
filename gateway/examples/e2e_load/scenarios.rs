//! The three measurements: the before/after table (rows × {bare proxy, gateway}, median of
//! `runs`), memory under 16 and 1,000 connections and over 1M requests, and paid traffic
//! under an unpaid flood with a drained pool and a 50 ms `AddInvoice`.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use crate::measure::{self, Load, Sample};
use crate::setup::{self, Buyer, Proc};

/// Bench settings from the command line.
pub struct Bench {
    pub gate402: PathBuf,
    pub runs: u32,
    pub seconds: u32,
    pub connections: u32,
    pub rows: String,
}

/// The request counter's label of the gateway's 503s (rail or store unavailable).
const UNAVAILABLE: &str = "outcome=\"unavailable\"";

/// Invoices the unpaid row's gateway keeps ready (its memory front, the most the config
/// allows; as many again in the store's reserve). Every 402 takes one: an unpaid run lasts
/// [`UNPAID_SECONDS`] (fewer 402s than the front holds at ≤ 50k/s), and the pool is full
/// again before each, the reserve too: its claims (refilling the front) run during the
/// measured 402s, as they would for a seller whose reserve absorbs a burst.
///
/// During the gateway's unpaid runs the simulator is paused (`SIGSTOP`): it stands in for an
/// LND node on another machine, and its minting of the refills must not take the two shared
/// cores from the measured 402s. The gateway's own refill work (claims from the reserve)
/// still runs; the refills' `AddInvoice` calls wait for the simulator and complete after.
const POOL: usize = 100_000;
const UNPAID_SECONDS: u32 = 2;

/// Every process of a run.
struct Env {
    _dir: tempfile::TempDir,
    simnet: Proc,
    proxy: Proc,
    /// Free, paid and session rows (pool of 16, the default).
    gateway: Proc,
    /// The unpaid row (one route, pool of [`POOL`]); only for the table.
    gateway_402: Option<Proc>,
    buyer: Buyer,
    l402: String,
    control: String,
    _backend: Proc,
}

fn self_exe() -> PathBuf {
    std::env::current_exe().expect("current exe")
}

impl Env {
    fn up(gate402: &Path, with_402: bool) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = setup::start(&self_exe(), &["backend"], &[], &["listening on"]);
        let proxy = setup::start(
            &self_exe(),
            &["proxy", backend.addr()],
            &[],
            &["listening on"],
        );
        let sim_dir = dir.path().join("simnet");
        let simnet = setup::start(
            gate402,
            &[
                "simnet",
                "--dir",
                sim_dir.to_str().expect("utf-8 path"),
                "--nodes",
                "alice,seller",
                "--balance-sat",
                "100000000",
            ],
            &[],
            &["control API on http://", "simnet ready"],
        );
        let control = simnet.addrs[0].clone();
        let secret = ("GATE402_L402_SECRET", "42".repeat(32));
        let start_gateway = |name: &str, routes: &str, pool: usize| {
            let d = dir.path().join(name);
            std::fs::create_dir_all(&d).expect("mkdir");
            let cfg =
                setup::write_config(&d, backend.addr(), &sim_dir.join("seller"), routes, pool);
            setup::start(
                gate402,
                &["serve", "--config", cfg.to_str().expect("utf-8 path")],
                &[(secret.0, secret.1.as_str())],
                &["gate402 admin on http://", "gate402 listening on http://"],
            )
        };
        let gateway = start_gateway("gw", setup::ROUTES, 16);
        let gateway_402 = with_402.then(|| start_gateway("gw402", setup::UNPAID_ROUTE, POOL));
        let buyer = Buyer::new(
            &gateway.addrs[1],
            &sim_dir.join("alice"),
            &dir.path().join("buyer"),
        );
        let l402 = buyer.l402();
        Env {
            _dir: dir,
            _backend: backend,
            proxy,
            simnet,
            gateway,
            gateway_402,
            buyer,
            l402,
            control,
        }
    }

    /// Every process but the load targets: wait until they are idle.
    fn quiesce(&self) {
        let mut pids = vec![
            self.simnet.pid(),
            self.gateway.pid(),
            self.proxy.pid(),
            self._backend.pid(),
        ];
        pids.extend(self.gateway_402.as_ref().map(Proc::pid));
        measure::quiesce(&pids);
    }

    /// CPU seconds so far of the processes no row measures: the simulator and, unless it is
    /// the server under test (`unpaid`), the unpaid row's gateway (refills, recounts). Busy
    /// during a run, they take the shared cores from it.
    fn background_cpu(&self, unpaid: bool) -> f64 {
        let mut pids = vec![self.simnet.pid()];
        if !unpaid {
            pids.extend(self.gateway_402.as_ref().map(Proc::pid));
        }
        pids.iter().map(|p| measure::cpu_secs(*p)).sum()
    }

    fn gateway_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.gateway.addrs[1])
    }
}

/// One row of the table.
struct Row {
    name: &'static str,
    path: &'static str,
    unpaid: bool,
}

const ROWS: [Row; 4] = [
    Row {
        name: "free",
        path: "/free/x",
        unpaid: false,
    },
    Row {
        name: "unpaid",
        path: "/unpaid/x",
        unpaid: true,
    },
    Row {
        name: "paid",
        path: "/paid/x",
        unpaid: false,
    },
    Row {
        name: "session",
        path: "/session/x",
        unpaid: false,
    },
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Median of each column over the runs.
fn med(samples: &[Sample]) -> Sample {
    let m = |f: fn(&Sample) -> f64| median(samples.iter().map(f).collect());
    Sample {
        rps: m(|s| s.rps),
        p50_us: m(|s| s.p50_us),
        p99_us: m(|s| s.p99_us),
        cpu_us: m(|s| s.cpu_us),
        machine_us: m(|s| s.machine_us),
        switches: m(|s| s.switches),
        requests: samples.iter().map(|s| s.requests).sum(),
        non2xx: samples.iter().map(|s| s.non2xx).sum(),
        rss_before_kib: samples.first().map_or(0, |s| s.rss_before_kib),
        rss_after_kib: samples.last().map_or(0, |s| s.rss_after_kib),
    }
}

/// `ratios`: the gateway's req/s over the bare proxy's, per run (each pair measured back to
/// back); the median with the lowest and highest.
fn line(row: &str, server: &str, s: &Sample, base: Option<&Sample>, ratios: &[f64]) {
    let ratio = if ratios.is_empty() {
        "1.00".to_string()
    } else {
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(0.0, f64::max);
        format!("{:.2} ({lo:.2}–{hi:.2})", median(ratios.to_vec()))
    };
    let extra = base.map_or(String::new(), |b| format!(" ({:+.1})", s.cpu_us - b.cpu_us));
    let machine = base.map_or(String::new(), |b| {
        format!(" ({:+.1})", s.machine_us - b.machine_us)
    });
    println!(
        "| {row} | {server} | {:.0} | {:.0} | {:.0} | {:.1}{extra} | {:.1}{machine} | {ratio} | {:.1} → {:.1} | {} / {} |",
        s.rps,
        s.p50_us,
        s.p99_us,
        s.cpu_us,
        s.machine_us,
        s.rss_before_kib as f64 / 1024.0,
        s.rss_after_kib as f64 / 1024.0,
        s.non2xx,
        s.requests,
    );
}

impl Bench {
    fn load(&self) -> Load {
        Load {
            connections: self.connections,
            seconds: self.seconds,
            threads: 1,
            script: None,
        }
    }

    /// The before/after table: each row against the bare proxy, then the gateway, `runs`
    /// times; medians.
    /// The table (`bench`). Every 503 the gateway gave during a run is reported on stderr
    /// (the unpaid row must measure 402s).
    pub fn table(&self) {
        let env = Env::up(&self.gate402, true);
        let gw402 = env.gateway_402.as_ref().expect("the unpaid row's gateway");
        println!("| row | server | req/s | p50 µs | p99 µs | CPU-µs/req (vs bare) | machine CPU-µs/req (vs bare) | ratio: median of runs (lowest–highest) | RSS MiB before → after | non-2xx / requests |");
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for row in ROWS
            .iter()
            .filter(|r| self.rows.split(',').any(|n| n == r.name))
        {
            let mut load = self.load();
            let mut headers = Vec::new();
            if row.name == "paid" {
                headers.push(env.l402.clone());
            }

            let (gw, gw_url) = if row.unpaid {
                load.seconds = load.seconds.min(UNPAID_SECONDS);
                (gw402, format!("http://{}{}", gw402.addrs[1], row.path))
            } else {
                (&env.gateway, env.gateway_url(row.path))
            };
            let bare_url = format!("http://{}{}", env.proxy.addr(), row.path);
            let (mut bare, mut gate) = (Vec::new(), Vec::new());
            for run in 0..self.runs {
                if row.unpaid {
                    let t = std::time::Instant::now();
                    let (front, reserve) =
                        setup::wait_pool(&gw.addrs[0], "unpaid", POOL, Duration::from_secs(600));
                    eprintln!(
                        "unpaid pool: {front} ready, {reserve} in reserve after {:.1} s",
                        t.elapsed().as_secs_f64()
                    );
                }
                if row.name == "session" {
                    // One deposit pays for SESSION_REQUESTS: enough fresh sessions for the run
                    // at 40k requests/s, in turn (the same script drives the bare proxy).
                    let n = (40_000 * self.seconds as u64).div_ceil(setup::SESSION_REQUESTS);
                    load.script = Some(measure::rotate(&setup::sessions(&env.buyer, n as usize)));
                }
                // Alternate which goes first: a drift of the machine within a run (another
                // tenant, frequency) must not always favour the same server.
                // Each run also returns the background's CPU during it (milliseconds).
                let bare_run = || {
                    env.quiesce();
                    let bg = env.background_cpu(row.unpaid);
                    let s = measure::run(&load, &bare_url, &headers, env.proxy.pid());
                    (s, (env.background_cpu(row.unpaid) - bg) * 1e3)
                };
                let unavailable =
                    || setup::metric(&gw.addrs[0], "gate402_requests_total", &[UNAVAILABLE]);
                let gate_run = || {
                    env.quiesce();
                    if row.unpaid {
                        env.simnet.pause(true);
                    }
                    let before = unavailable();
                    let bg = env.background_cpu(row.unpaid);
                    let s = measure::run(&load, &gw_url, &headers, gw.pid());
                    let bg = (env.background_cpu(row.unpaid) - bg) * 1e3;
                    let answered_503 = unavailable() - before;
                    if row.unpaid {
                        env.simnet.pause(false);
                    }
                    if answered_503 > 0.0 {
                        eprintln!(
                            "{} run {}: {answered_503} answers were 503s",
                            row.name,
                            run + 1
                        );
                    }
                    (s, bg)
                };
                let ((b, b_bg), (g, g_bg)) = if run % 2 == 0 {
                    let b = bare_run();
                    (b, gate_run())
                } else {
                    let g = gate_run();
                    (bare_run(), g)
                };
                eprintln!(
                    "{} run {}: bare {:.0}/s {:.1} µs {:.2} cs (background {:.0} ms), gate402 {:.0}/s {:.1} µs {:.2} cs (background {:.0} ms), ratio {:.2}",
                    row.name,
                    run + 1,
                    b.rps,
                    b.cpu_us,
                    b.switches,
                    b_bg,
                    g.rps,
                    g.cpu_us,
                    g.switches,
                    g_bg,
                    g.rps / b.rps
                );
                bare.push(b);
                gate.push(g);
            }
            let (b, g) = (med(&bare), med(&gate));
            let ratios: Vec<f64> = gate.iter().zip(&bare).map(|(g, b)| g.rps / b.rps).collect();
            line(row.name, "bare proxy", &b, None, &[]);
            line(row.name, "gate402", &g, Some(&b), &ratios);
        }
    }

    /// Start everything, print the URLs, PIDs and the L402 header, and wait for stdin to
    /// close (for `perf record -p` and manual `wrk` runs).
    pub fn hold(&self) {
        let env = Env::up(&self.gate402, true);
        let gw402 = env.gateway_402.as_ref().expect("the unpaid row's gateway");
        println!(
            "bare proxy  http://{}/  pid {}",
            env.proxy.addr(),
            env.proxy.pid()
        );
        println!(
            "gateway     {}  pid {}",
            env.gateway_url("/"),
            env.gateway.pid()
        );
        println!(
            "gateway 402 http://{}/unpaid/x  pid {}",
            gw402.addrs[1],
            gw402.pid()
        );
        println!("{}", env.l402);
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    }

    /// RSS of the gateway on the paid row: 16, then 1,000 connections, then until `total`
    /// requests were served.
    pub fn memory(&self, total: u64) {
        let env = Env::up(&self.gate402, false);
        let pid = env.gateway.pid();
        let url = env.gateway_url("/paid/x");
        let headers = [env.l402.clone()];
        println!("| phase | connections | requests | req/s | RSS MiB before → after |");
        println!("|---|---|---|---|---|");
        let mut served = 0;
        let phase = |name: &str, connections: u32, seconds: u32, served: &mut u64| {
            let load = Load {
                connections,
                seconds,
                threads: if connections > 100 { 2 } else { 1 },
                script: None,
            };
            env.quiesce();
            let s = measure::run(&load, &url, &headers, pid);
            *served += s.requests;
            println!(
                "| {name} | {connections} | {} (total {served}) | {:.0} | {:.1} → {:.1} |",
                s.requests,
                s.rps,
                s.rss_before_kib as f64 / 1024.0,
                s.rss_after_kib as f64 / 1024.0
            );
            assert_eq!(s.non2xx, 0, "paid requests refused");
        };
        phase("warm-up", 16, self.seconds, &mut served);
        phase("16 connections", 16, self.seconds, &mut served);
        phase("1,000 connections", 1000, self.seconds, &mut served);
        phase("16 connections again", 16, self.seconds, &mut served);
        let mut n = 0;
        while served < total {
            n += 1;
            phase(&format!("long run {n}"), 16, 10, &mut served);
        }
    }

    /// Paid L402 traffic alone, then with an unpaid flood on a drained pool while every
    /// `AddInvoice` takes 50 ms.
    pub fn flood(&self) {
        let env = Env::up(&self.gate402, false);
        setup::set_add_invoice_delay(&env.control, "seller", 50);
        let paid_url = env.gateway_url("/paid/x");
        let headers = [env.l402.clone()];
        let pid = env.gateway.pid();
        let alone = med(&(0..self.runs)
            .map(|_| {
                env.quiesce();
                measure::run(&self.load(), &paid_url, &headers, pid)
            })
            .collect::<Vec<_>>());
        println!("| phase | paid req/s | paid p99 µs | flood answers (402 / 503 / other) | flood req/s | gateway RSS MiB |");
        println!("|---|---|---|---|---|---|");
        println!(
            "| paid alone | {:.0} | {:.0} | — | — | {:.1} |",
            alone.rps,
            alone.p99_us,
            alone.rss_after_kib as f64 / 1024.0
        );
        for flood_conns in [256u32, 1000] {
            let mut paid = Vec::new();
            let mut floods = Vec::new();
            for _ in 0..self.runs {
                let flood = setup::Flood::start(
                    &env.gateway_url("/paid/flood"),
                    flood_conns,
                    self.seconds + 2,
                );
                paid.push(measure::run(&self.load(), &paid_url, &headers, pid));
                floods.push(flood.finish());
            }
            let p = med(&paid);
            let f = floods.last().cloned().unwrap_or_default();
            println!(
                "| paid + flood of {flood_conns} connections | {:.0} ({:.2}×) | {:.0} | {} / {} / {} | {:.0} | {:.1} |",
                p.rps,
                p.rps / alone.rps,
                p.p99_us,
                f.challenged,
                f.busy,
                f.other,
                f.rps,
                measure::rss_kib(pid) as f64 / 1024.0
            );
        }
    }
}
