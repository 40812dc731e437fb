//! End-to-end load bench of `gate402 serve` against a bare pass-through proxy (issue I).
//!
//! ```text
//! cargo build --release -p gate402 --bin gate402 --example e2e_load --features server,client
//! target/release/examples/e2e_load bench  --gate402 target/release/gate402 [--runs 3] [--seconds 5]
//! target/release/examples/e2e_load memory --gate402 target/release/gate402
//! target/release/examples/e2e_load flood  --gate402 target/release/gate402
//! target/release/examples/e2e_load hold   --gate402 target/release/gate402   # for perf
//! target/release/examples/e2e_load proxy-per-core <backend ip:port>   # runtime experiment
//! ```
//!
//! One run starts, on loopback: a bare hyper backend, a bare hyper pass-through proxy in front
//! of it (same hyper/hyper-util, same runtime flavour and worker count as `gate402 serve`),
//! `gate402 simnet` (the LND-compatible simulator, over gRPC + TLS + macaroons) and
//! `gate402 serve` with a real config (SQLite store) in front of the same backend. `wrk`
//! (Debian) drives each row against the bare proxy and the gateway in turn; the server's CPU
//! time comes from `/proc/PID/stat`. `tests/bench/e2e_load.sh` builds and runs it.

mod measure;
mod peers;
mod scenarios;
mod setup;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let num = |name: &str, default: u32| opt(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("backend") => peers::backend(),
        Some("proxy") => peers::proxy(
            args.get(1)
                .and_then(|a| a.parse().ok())
                .expect("proxy <upstream ip:port>"),
        ),
        Some("proxy-per-core") => peers::proxy_per_core(
            args.get(1)
                .and_then(|a| a.parse().ok())
                .expect("proxy-per-core <upstream ip:port>"),
        ),
        Some(mode @ ("bench" | "memory" | "flood" | "hold")) => {
            let bench = scenarios::Bench {
                gate402: opt("--gate402")
                    .unwrap_or_else(|| "target/release/gate402".into())
                    .into(),
                runs: num("--runs", 5),
                seconds: num("--seconds", 5),
                connections: num("--connections", 16),
                rows: opt("--rows").unwrap_or_else(|| "free,unpaid,paid,session".into()),
            };
            match mode {
                "bench" => bench.table(),
                "memory" => bench.memory(num("--requests", 1_000_000) as u64),
                "hold" => bench.hold(),
                _ => bench.flood(),
            }
        }
        _ => {
            eprintln!("usage: e2e_load bench|memory|flood|hold [--gate402 PATH] [--runs N] [--seconds N] [--connections N] [--rows free,unpaid,paid,session]");
            std::process::exit(2);
        }
    }
}
