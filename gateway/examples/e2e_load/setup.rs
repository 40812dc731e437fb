//! Starting the processes of one bench run (bare backend, bare proxy, `gate402 simnet`,
//! `gate402 serve` with a real config and an SQLite store) and buying the credentials the
//! paid rows reuse (an L402 token, an MPP session).

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use gate402::{
    client::{Client, ClientRequest, Policy, TokenCache},
    lnd_conn::{lnd_config, LndSection, BUYER_MACAROON},
};
use gate402_protocols::ProtocolId;
use gate402_rails::{lnd::LndRail, LightningRail};

/// A child process, killed when dropped.
pub struct Proc {
    pub child: Child,
    /// What followed each readiness marker on its line (addresses), in marker order.
    pub addrs: Vec<String>,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stop (`SIGSTOP`) or continue (`SIGCONT`) the process.
    pub fn pause(&self, paused: bool) {
        let signal = if paused { "-STOP" } else { "-CONT" };
        let ok = std::process::Command::new("kill")
            .arg(signal)
            .arg(self.pid().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {signal} {}", self.pid());
    }

    pub fn addr(&self) -> &str {
        &self.addrs[0]
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `program args` and wait (≤ 60 s) for a stdout line containing each of `markers`;
/// the rest of such a line after its marker is an address. Stdout is drained afterwards.
pub fn start(program: &Path, args: &[&str], env: &[(&str, &str)], markers: &[&str]) -> Proc {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{program:?}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let wanted: Vec<String> = markers.iter().map(|m| m.to_string()).collect();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            for (i, m) in wanted.iter().enumerate() {
                if let Some(at) = line.find(m.as_str()) {
                    let _ = tx.send((i, line[at + m.len()..].trim().to_owned()));
                }
            }
        }
    });
    let mut addrs = vec![String::new(); markers.len()];
    for _ in markers {
        let (i, addr) = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{program:?} {args:?}: not ready ({markers:?})"));
        addrs[i] = addr;
    }
    Proc { child, addrs }
}

/// The routes of the main gateway: a 10-sat L402 route and a 1-sat MPP session route
/// (`/free/` has no route: free).
pub const ROUTES: &str = r#"
[[route]]
name = "paid"
path_prefix = "/paid/"
price_sat = 10
protocols = ["l402"]

[[route]]
name = "session"
path_prefix = "/session/"
price_sat = 1
protocols = ["mpp"]
"#;

/// The route of the unpaid row's gateway (a large pool; minting unbounded so the pool fills
/// fast).
pub const UNPAID_ROUTE: &str = r#"
[minting]
max_concurrent = 64
per_second = 0
max_outstanding = 0

[[route]]
name = "unpaid"
path_prefix = "/unpaid/"
price_sat = 10
protocols = ["l402"]
"#;

/// A gateway config: SQLite store, the seller's simnet node, metrics on the admin listener
/// (to see the pool fill), `routes` (TOML), a pool of `pool`.
pub fn write_config(
    dir: &Path,
    upstream: &str,
    seller: &Path,
    routes: &str,
    pool: usize,
) -> PathBuf {
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
upstream = "http://{upstream}"
# The unpaid row pauses the simulator for 2 s at a time: a readiness check in a pause would
# mark the rail down and turn the measured 402s into 503s (the bench counts them).
health_interval_ms = 600000

[lightning]
backend = "lnd"
dir = "{seller}"
macaroon = "{seller}/admin.macaroon"

[store]
backend = "sqlite"
path = "{store}"

[server.limits]
max_connections_per_ip = 4096

[invoice_pool]
size = {pool}
refill_concurrency = 16

[mpp.session]
enabled = true
deposit_units = 10000
max_open_per_payer = 0

[admin]
listen = "127.0.0.1:0"
metrics = true
{routes}"#,
        seller = seller.display(),
        store = dir.join("gate402.db").display(),
    );
    let path = dir.join("gate402.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Buys the credentials the paid rows send, from the simnet node in `alice`.
pub struct Buyer {
    rt: tokio::runtime::Runtime,
    gateway: String,
    l402: Client,
    mpp: Client,
}

impl Buyer {
    pub fn new(gateway: &str, alice: &Path, cache: &Path) -> Buyer {
        // A worker of its own: between purchases (minutes apart) the client's pooled
        // connections must still see the gateway close them, or the next purchase is sent on
        // a dead one ("connection closed before message completed").
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let wallet: Arc<dyn LightningRail> = rt.block_on(async {
            let section = LndSection {
                dir: Some(alice.to_path_buf()),
                ..LndSection::default()
            };
            let cfg = lnd_config(&section, BUYER_MACAROON).expect("alice's LND config");
            Arc::new(LndRail::connect(cfg).await.expect("connect alice"))
        });
        let policy = Policy {
            max_cost_msat: 100_000_000,
            ..Policy::default()
        };
        Buyer {
            l402: Client::new(wallet.clone(), TokenCache::new(cache), policy),
            mpp: Client::new(wallet, TokenCache::new(cache.join("mpp")), policy)
                .prefer(ProtocolId::Mpp),
            gateway: gateway.to_owned(),
            rt,
        }
    }

    /// Pay the L402 route once: its `Authorization` header, reused by every request.
    pub fn l402(&self) -> String {
        let url = format!("http://{}/paid/x", self.gateway)
            .parse()
            .expect("url");
        self.rt.block_on(async {
            let paid = self
                .l402
                .send(&ClientRequest::get(url))
                .await
                .expect("pay the L402 route");
            assert!(paid.response.status().is_success(), "{:?}", paid.response);
        });
        let token = self
            .l402
            .cache()
            .get(&self.gateway, gate402::clock::now_unix())
            .expect("a cached L402 token");
        format!("Authorization: L402 {}:{}", token.macaroon, token.preimage)
    }

    /// Open a fresh MPP session (deposit: [`SESSION_REQUESTS`] requests): its bearer header.
    pub fn session(&self) -> String {
        let url = format!("http://{}/session/x", self.gateway)
            .parse()
            .expect("url");
        let session = self.rt.block_on(async {
            let (session, first) = self
                .mpp
                .open_session(&ClientRequest::get(url), None)
                .await
                .expect("open an MPP session");
            assert!(first.status().is_success(), "{first:?}");
            session
        });
        let (name, value) = session.bearer().expect("bearer header");
        format!("{name}: {}", value.to_str().expect("ascii"))
    }
}

/// Requests one session's deposit pays for (`deposit_units`, the most the config allows).
pub const SESSION_REQUESTS: u64 = 10_000;

/// The bearer headers of `n` fresh sessions.
pub fn sessions(buyer: &Buyer, n: usize) -> Vec<String> {
    (0..n).map(|_| buyer.session()).collect()
}

/// The gateway's metrics text, from its admin listener (empty if it does not answer).
fn scrape(admin: &str) -> String {
    Command::new("curl")
        .args(["-s", &format!("http://{admin}/_gate402/metrics")])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default()
}

/// The sum of the samples in `text` named `name` whose labels contain every one of `labels`.
fn sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The sum of the gateway's metric samples named `name` whose labels contain every one of
/// `labels` (`outcome="unavailable"`), from its admin listener.
pub fn metric(admin: &str, name: &str, labels: &[&str]) -> f64 {
    sum(&scrape(admin), name, labels)
}

/// Wait until the gateway's pool for `route` holds `size` invoices in its memory front and
/// as many in the store's reserve (metrics), at most `limit`. Returns (front, reserve).
pub fn wait_pool(admin: &str, route: &str, size: usize, limit: Duration) -> (usize, usize) {
    const RESERVE: &str = "gate402_invoice_pool_reserve";
    let start = Instant::now();
    let route = format!("route=\"{route}\"");
    let mut full_since = None;
    loop {
        let text = scrape(admin);
        let front = sum(&text, "gate402_invoice_pool_size", &[&route]) as usize;
        // The workers count the reserve once the front is full. A gateway that shows no
        // reserve gauge 10 s after (an older build, in A/B runs) is waited for by its front.
        let reserve = if text.contains(&format!("# TYPE {RESERVE} ")) {
            sum(&text, RESERVE, &[&route]) as usize
        } else if front >= size
            && full_since.get_or_insert_with(Instant::now).elapsed() > Duration::from_secs(10)
        {
            size
        } else {
            0
        };
        if (front >= size && reserve >= size) || start.elapsed() > limit {
            return (front, reserve);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Set `add_invoice_delay_ms` on a simnet node through the control API.
pub fn set_add_invoice_delay(control: &str, node: &str, ms: u64) {
    let out = Command::new("curl")
        .args([
            "-sf",
            "-o",
            "/dev/null",
            "-X",
            "PUT",
            "-H",
            "content-type: application/json",
            "-d",
            &format!(r#"{{"add_invoice_delay_ms":{ms}}}"#),
            &format!("http://{control}/nodes/{node}/faults"),
        ])
        .status()
        .expect("curl");
    assert!(out.success(), "cannot set the simnet fault");
}

/// What a flood of unpaid requests got.
#[derive(Debug, Clone, Default)]
pub struct FloodResult {
    pub challenged: u64,
    pub busy: u64,
    pub other: u64,
    pub rps: f64,
}

/// A background `wrk` flood of unpaid requests, counting 402 / 503 / other answers.
pub struct Flood {
    child: Child,
    _script: tempfile::NamedTempFile,
}

const COUNT_STATUSES: &str = r#"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) c402 = 0; c503 = 0; other = 0 end
function response(status, headers, body)
  if status == 402 then c402 = c402 + 1
  elseif status == 503 then c503 = c503 + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("c402"); b = b + t:get("c503"); c = c + t:get("other")
  end
  io.write(string.format("STATUS %d %d %d\n", a, b, c))
end
"#;

impl Flood {
    pub fn start(url: &str, connections: u32, seconds: u32) -> Flood {
        let script = crate::measure::script_file(COUNT_STATUSES);
        let load = crate::measure::Load {
            connections,
            seconds,
            threads: 1,
            script: None,
        };
        let child = crate::measure::wrk(&load, url, &[], Some(script.path()))
            .stdout(Stdio::piped())
            .spawn()
            .expect("wrk");
        Flood {
            child,
            _script: script,
        }
    }

    pub fn finish(self) -> FloodResult {
        let out = self.child.wait_with_output().expect("wrk flood");
        let text = String::from_utf8_lossy(&out.stdout);
        let s = crate::measure::parse(&text);
        let counts: Vec<u64> = text
            .lines()
            .find_map(|l| l.strip_prefix("STATUS "))
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|v| v.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        FloodResult {
            challenged: counts.first().copied().unwrap_or(0),
            busy: counts.get(1).copied().unwrap_or(0),
            other: counts.get(2).copied().unwrap_or(0),
            rps: s.rps,
        }
    }
}
