//! Soak: two `gate402 serve` processes on one PostgreSQL, minting on a shared
//! `gate402 simnet` node and settling x402 on anvil, under a bounded loopback mix of paid
//! (L402 first use and reuse, MPP charges, x402 `exact`), unpaid, replayed and malformed
//! requests, plus injected upstream failures (a paid request whose upstream answers 500 —
//! its payment is then presented again and served). Checks: zero 5xx other than the
//! injected ones, zero 200s without payment, ledger totals equal to the sats the seller's
//! node received and the tokens the payee received, and RSS / open file descriptors of both
//! gateways flat (sampled from `/proc` every few seconds and printed).
//!
//! Each gateway settles from its own key (a fleet sharing one settler key races for its
//! nonces: a settlement replaced by a peer's is reconciled, never lost, but its buyer sees a
//! 503 first).
//!
//! `GATE402_SOAK_SECS` sets the duration (default 120 s: the CI run); the documented long run
//! is `GATE402_SOAK_SECS=1800 cargo test -p gate402 --test store_process soak -- --nocapture`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::{http::HeaderMap, http::StatusCode, Router};
use gate402_protocols::mpp::{client::parse_challenges as mpp_challenges, MppCredential};
use gate402_protocols::x402::{evm, EvmPayment, X402};
use gate402_protocols::{ClientChallenge, PaymentProof, PaymentProtocol};
use gate402_rails::{LightningRail, PayLimits};
use serde_json::{Map, Value};

use crate::chain::Chain;
use crate::single_use::fetch;
use crate::support::{self, Gateway, Simnet, TestDb};

const PRICE: u128 = 10_000;

/// Outcome counters (`kind/status`), shared by the workers.
type Tally = Arc<Mutex<BTreeMap<String, u64>>>;

fn count(t: &Tally, what: &str, status: u16) {
    *t.lock()
        .unwrap()
        .entry(format!("{what}/{status}"))
        .or_default() += 1;
}

/// An upstream answering 500 to requests carrying `x-inject-fault`.
async fn upstream() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(|headers: HeaderMap| async move {
        if headers.contains_key("x-inject-fault") {
            (StatusCode::INTERNAL_SERVER_ERROR, "injected")
        } else {
            (StatusCode::OK, "paid content")
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// RSS (kB) and open file descriptors of process `pid`.
fn sample(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    (rss, fds)
}

async fn bob_msat(sim: &Path) -> u64 {
    let addr = std::fs::read_to_string(sim.join("control.addr")).unwrap();
    let nodes: Value =
        serde_json::from_str(&support::get_text(&format!("http://{}/nodes", addr.trim())).await)
            .unwrap();
    nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "bob")
        .and_then(|n| n["balance_msat"].as_u64())
        .unwrap()
}

struct Ctx {
    bases: [String; 2],
    wallet: gate402_rails::lnd::LndRail,
    chain: Arc<Chain>,
    tally: Tally,
    tokens: Mutex<Vec<String>>,
    used: Mutex<Vec<(&'static str, &'static str, String)>>,
}

impl Ctx {
    /// A fresh paid credential for `path` on gateway `g`: header name and value.
    async fn buy(&self, g: usize, path: &str) -> (&'static str, String) {
        let url = format!("{}{path}", self.bases[g]);
        let (status, headers) = fetch(&url, &[]).await.unwrap();
        count(&self.tally, "challenge", status);
        assert_eq!(status, 402, "no challenge");
        match path {
            "/l/x" => {
                let ch = gate402_protocols::l402::parse_challenges(&headers)
                    .remove(0)
                    .unwrap();
                let p = self
                    .wallet
                    .pay_invoice(&ch.invoice, PayLimits::default())
                    .await
                    .unwrap();
                ("authorization", ch.credential(p.preimage).authorization())
            }
            "/m/x" => {
                let offer = mpp_challenges(&headers).pop().unwrap().unwrap();
                let p = self
                    .wallet
                    .pay_invoice(offer.invoice.as_deref().unwrap(), PayLimits::default())
                    .await
                    .unwrap();
                let mut payload = Map::new();
                payload.insert("preimage".into(), Value::String(hex::encode(p.preimage)));
                let v = MppCredential::new(&offer.challenge, payload).to_header_value();
                ("authorization", v)
            }
            _ => {
                let proto = X402::new([]);
                let ch = proto
                    .parse_challenges(&headers, &[])
                    .into_iter()
                    .map(Result::unwrap)
                    .find(|c| matches!(c, ClientChallenge::X402(_)))
                    .unwrap();
                let ClientChallenge::X402(c) = &ch else {
                    unreachable!()
                };
                let key = self.chain.key(1);
                let (auth, domain) = c
                    .authorization(evm::address_of_key(&key), rand::random(), now())
                    .unwrap();
                let sig = evm::sign(&key, &auth.digest(&domain.separator()));
                let proof = PaymentProof::Evm(EvmPayment {
                    authorization: auth,
                    signature: sig.to_vec(),
                });
                let (_, v) = proto.credential_header(&ch, &proof).unwrap();
                ("payment-signature", v.to_str().unwrap().to_string())
            }
        }
    }

    /// Present `header` on gateway `g` (with an injected upstream fault when asked); a
    /// refusal's `Gate402-Reason` is logged.
    async fn present(&self, g: usize, path: &str, header: (&str, &str), fault: bool) -> u16 {
        let url = format!("{}{path}", self.bases[g]);
        let mut h = vec![header];
        if fault {
            h.push(("x-inject-fault", "1"));
        }
        let (status, headers) = fetch(&url, &h).await.expect("gateway answers");
        if let Some(r) = headers.get("gate402-reason") {
            count(
                &self.tally,
                &format!("reason {}", r.to_str().unwrap_or("?")),
                status,
            );
        }
        status
    }

    /// One step of the mix, chosen by `dice`.
    async fn step(&self, dice: u32) {
        let g = (dice as usize / 7) % 2;
        let paths = ["/l/x", "/m/x", "/x/x"];
        match dice % 10 {
            // Paid, one per protocol; L402 tokens are kept for reuse.
            0..=2 => {
                let path = paths[(dice % 10) as usize];
                let (name, value) = self.buy(g, path).await;
                let s = self.present(g, path, (name, &value), false).await;
                count(&self.tally, &format!("paid{path}"), s);
                if path == "/l/x" {
                    self.tokens.lock().unwrap().push(value);
                } else {
                    let p: &'static str = if path == "/m/x" { "/m/x" } else { "/x/x" };
                    self.used.lock().unwrap().push((p, name, value));
                }
            }
            // An L402 token reused on the other gateway.
            3 => {
                let t = self.tokens.lock().unwrap().last().cloned();
                if let Some(t) = t {
                    let s = self
                        .present(1 - g, "/l/x", ("authorization", &t), false)
                        .await;
                    count(&self.tally, "reuse/l402", s);
                }
            }
            // Unpaid.
            4 | 5 => {
                let path = paths[(dice as usize / 3) % 3];
                let url = format!("{}{path}", self.bases[g]);
                let s = fetch(&url, &[]).await.unwrap().0;
                count(&self.tally, "unpaid", s);
            }
            // A single-use credential replayed (on either gateway).
            6 => {
                let u = self.used.lock().unwrap().last().cloned();
                if let Some((path, name, value)) = u {
                    let s = self.present(g, path, (name, &value), false).await;
                    count(&self.tally, "replayed", s);
                }
            }
            // Malformed credentials.
            7 | 8 => {
                let (name, value) = [
                    ("authorization", "L402 not-a-macaroon:zz"),
                    ("authorization", "Payment eyJub3QiOiJqc29uIn0"),
                    ("payment-signature", "%%%garbage%%%"),
                ][(dice as usize / 11) % 3];
                let path = paths[(dice as usize / 5) % 3];
                let s = self.present(g, path, (name, value), false).await;
                count(&self.tally, "malformed", s);
            }
            // A paid MPP charge whose upstream fails (injected), presented again: served.
            _ => {
                let (name, value) = self.buy(g, "/m/x").await;
                let s = self.present(g, "/m/x", (name, &value), true).await;
                count(&self.tally, "injected-5xx", s);
                let s = self.present(1 - g, "/m/x", (name, &value), false).await;
                count(&self.tally, "paid-after-injected", s);
            }
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_two_gateways_on_postgres_mixed_traffic() {
    let secs: u64 = std::env::var("GATE402_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    let _simnet = Simnet::start(&sim).await;
    let chain = Arc::new(Chain::start().await);
    // One settler key per gateway (dev accounts #0 and #3): processes sharing a key race
    // for its nonces (see docs/STATUS.md, limits).
    let upstream = upstream().await;
    let mut configs = Vec::new();
    for (name, account) in [("a", 0), ("b", 3)] {
        let key = dir.path().join(format!("settler-{name}.key"));
        super::support::write_secret(&key, &chain.keys[account]);
        let config = dir.path().join(format!("gateway-{name}.toml"));
        std::fs::write(
            &config,
            format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{}\"\n\
             [mpp]\nrealm = \"gate402.test\"\n\
             [lightning]\nbackend = \"lnd\"\ndir = \"{}\"\n\
             [store]\nbackend = \"postgres\"\ndatabase_url = \"{}\"\n\
             [evm]\nchain_id = 31337\nrpc_url = \"{}\"\nsettler_key_file = \"{}\"\n\
             [[route]]\nname = \"l\"\npath_prefix = \"/l/\"\nprice_sat = 10\nprotocols = [\"l402\"]\n\
             [[route]]\nname = \"m\"\npath_prefix = \"/m/\"\nprice_sat = 10\nprotocols = [\"mpp\"]\n\
             [[route]]\nname = \"x\"\npath_prefix = \"/x/\"\nprice_sat = 10\nprotocols = [\"x402\"]\n\
             x402 = {{ network = \"eip155:31337\", asset = \"{}\", pay_to = \"{}\", amount = \"{PRICE}\" }}\n",
                upstream,
                sim.join("bob").display(),
                db.url,
                chain.url,
                key.display(),
                evm::checksum(&chain.token),
                evm::checksum(&chain.address(2)),
            ),
        )
        .unwrap();
        configs.push(config);
    }
    let config = configs[0].clone();
    let a = Gateway::start(&configs[0], &dir.path().join("a.log")).await;
    let b = Gateway::start(&configs[1], &dir.path().join("b.log")).await;
    let pids = [a.child.id().unwrap(), b.child.id().unwrap()];
    let bob_before = bob_msat(&sim).await;
    let ctx = Arc::new(Ctx {
        bases: [a.base.clone(), b.base.clone()],
        wallet: support::lnd_wallet(&sim.join("alice")).await,
        chain: chain.clone(),
        tally: Tally::default(),
        tokens: Mutex::new(Vec::new()),
        used: Mutex::new(Vec::new()),
    });

    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let ctx = ctx.clone();
            tokio::spawn(async move {
                while Instant::now() < end {
                    ctx.step(rand::random::<u32>()).await;
                }
            })
        })
        .collect();
    let mut samples = Vec::new();
    let every = Duration::from_secs((secs / 24).clamp(2, 60));
    while workers.iter().any(|w| !w.is_finished()) {
        let t = start.elapsed().as_secs();
        samples.push((t, sample(pids[0]), sample(pids[1])));
        let next = Instant::now() + every;
        while Instant::now() < next && workers.iter().any(|w| !w.is_finished()) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for w in workers {
        if let Err(e) = w.await {
            for log in ["a.log", "b.log"] {
                let text = std::fs::read_to_string(dir.path().join(log)).unwrap_or_default();
                let tail: Vec<_> = text.lines().rev().take(15).collect();
                eprintln!("--- {log} (last lines, newest first)\n{}", tail.join("\n"));
            }
            panic!("a worker failed: {e}");
        }
    }
    samples.push((start.elapsed().as_secs(), sample(pids[0]), sample(pids[1])));

    // The ledger against the money moved, once no settlement waits in the journal.
    let read_ledger = || async {
        let out = support::gate402(&["ledger", "--json", "--config", config.to_str().unwrap()])
            .output()
            .await
            .unwrap();
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ledger = read_ledger().await;
    while !ledger["pending_settlements"].as_array().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "settlements left in the journal");
        tokio::time::sleep(Duration::from_millis(500)).await;
        ledger = read_ledger().await;
    }
    let rows = ledger["payments"].as_array().unwrap();
    let ln: u64 = rows
        .iter()
        .filter(|r| r["protocol"] != "x402")
        .map(|r| r["amount_msat"].as_u64().unwrap())
        .sum();
    let x402 = rows.iter().filter(|r| r["protocol"] == "x402").count() as u128;
    let bob = bob_msat(&sim).await - bob_before;
    let payee = chain.balance(&chain.address(2)).await;
    let tally = ctx.tally.lock().unwrap().clone();
    let total: u64 = tally.values().sum();
    println!("soak: {secs} s, 2 gateways on PostgreSQL, {total} requests");
    for (k, n) in &tally {
        println!("  {k:<28} {n}");
    }
    println!("  ledger: {} rows; lightning {ln} msat (node received {bob}); x402 {} units (payee received {payee})", rows.len(), x402 * PRICE);
    println!("  samples (t s: gateway a RSS kB / fds, gateway b RSS kB / fds):");
    for (t, (ra, fa), (rb, fb)) in &samples {
        println!("    {t:>6}: {ra:>8} / {fa:>4}   {rb:>8} / {fb:>4}");
    }

    let paid_not_ok: u64 = tally
        .iter()
        .filter(|(k, _)| (k.starts_with("paid") || k.starts_with("reuse")) && !k.ends_with("/200"))
        .map(|(_, n)| n)
        .sum();
    let refused_ok: u64 = tally
        .iter()
        .filter(|(k, _)| {
            (k.starts_with("replayed") || k.starts_with("unpaid") || k.starts_with("malformed"))
                && !(k.ends_with("/402") || k.ends_with("/400"))
        })
        .map(|(_, n)| n)
        .sum();
    if paid_not_ok > 0 {
        for log in ["a.log", "b.log"] {
            let text = std::fs::read_to_string(dir.path().join(log)).unwrap_or_default();
            for l in text
                .lines()
                .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                .take(20)
            {
                eprintln!("{log}: {l}");
            }
        }
    }
    assert_eq!(paid_not_ok, 0, "paid requests not served: {tally:?}");
    assert_eq!(refused_ok, 0, "refusals answered otherwise: {tally:?}");
    let fivexx: u64 = tally
        .iter()
        .filter(|(k, _)| k.contains("/5") && !k.starts_with("injected-5xx"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(fivexx, 0, "5xx besides the injected ones: {tally:?}");
    let unpaid_ok: u64 = tally
        .iter()
        .filter(|(k, _)| {
            (k.starts_with("unpaid") || k.starts_with("replayed") || k.starts_with("malformed"))
                && k.ends_with("/200")
        })
        .map(|(_, n)| n)
        .sum();
    assert_eq!(unpaid_ok, 0, "unpaid 200s");
    assert_eq!(ln, bob, "ledger vs sats moved");
    assert_eq!(x402 * PRICE, payee, "ledger vs tokens moved");
    // Flat: after the first quarter (warm-up), RSS within +50% (+16 MB) and fds within +32.
    let warm = &samples[samples.len() / 4];
    let last = samples.last().unwrap();
    for (i, ((r0, f0), (r1, f1))) in [(warm.1, last.1), (warm.2, last.2)].into_iter().enumerate() {
        assert!(
            r1 <= r0 + r0 / 2 + 16_384,
            "gateway {i}: RSS {r0} → {r1} kB"
        );
        assert!(f1 <= f0 + 32, "gateway {i}: fds {f0} → {f1}");
    }
    a.kill9().await;
    b.kill9().await;
}
