//! One measured load run: `wrk` against a URL while the server process's CPU time
//! (`/proc/PID/stat`, user + system, all threads) and resident memory are read before and
//! after.

use std::{path::Path, process::Command};

/// What one run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Requests completed per second (wrk).
    pub rps: f64,
    /// Latency percentiles, microseconds.
    pub p50_us: f64,
    pub p99_us: f64,
    /// Server CPU time per request, microseconds.
    pub cpu_us: f64,
    /// CPU time of the whole machine per request (every process: wrk, backend, server,
    /// simulator, kernel), microseconds — what the shared cores pay for one request.
    pub machine_us: f64,
    /// Context switches of the server's threads per request: where a run's CPU per request
    /// sits depends on it, for any server (benchmarks.md finding 29).
    pub switches: f64,
    /// Requests wrk counted, and how many got a non-2xx/3xx status.
    pub requests: u64,
    pub non2xx: u64,
    /// Server resident set before and after, KiB.
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
}

/// The load: `wrk -t1 -c<conns> -d<secs>s --latency` with extra headers.
#[derive(Debug, Clone)]
pub struct Load {
    pub connections: u32,
    pub seconds: u32,
    pub threads: u32,
    /// A wrk Lua script (text), if any.
    pub script: Option<String>,
}

/// A wrk script sending the requests with `headers` in turn (one `Authorization` value per
/// MPP session, say).
pub fn rotate(headers: &[String]) -> String {
    let list: Vec<String> = headers
        .iter()
        .map(|h| {
            let (name, value) = h.split_once(": ").expect("Name: value");
            format!("{{ [\"{name}\"] = \"{value}\" }}")
        })
        .collect();
    format!(
        "local hs = {{ {} }}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(nil, nil, hs[(i % #hs) + 1])\nend\n",
        list.join(", ")
    )
}

/// `text` in a temporary file.
pub fn script_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("script file");
    std::io::Write::write_all(&mut f, text.as_bytes()).expect("write script");
    f
}

/// The wrk command for `load` on `url`.
pub fn wrk(load: &Load, url: &str, headers: &[String], script: Option<&Path>) -> Command {
    let mut cmd = Command::new("wrk");
    cmd.arg(format!("-t{}", load.threads))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.seconds))
        .arg("--latency");
    for h in headers {
        cmd.arg("-H").arg(h);
    }
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    cmd.arg(url);
    cmd
}

/// CPU seconds `pid` has run so far, every thread it ever had: `utime + stime` of
/// `/proc/PID/stat` (the kernel's precise run time, reported in 10 ms ticks: ±0.1 µs per
/// request over the ≥ 100,000 requests of a run). Summing the live threads'
/// `/proc/PID/task/*/schedstat` instead lost the time of threads that exited during a run
/// (tokio's blocking pool lets idle threads go after 10 s): once it read less after a run
/// than before it.
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces: count fields after its `)`.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    match (ticks(14), ticks(15)) {
        (Some(u), Some(s)) => (u + s) as f64 / clock_ticks_per_sec(),
        _ => 0.0,
    }
}

/// `USER_HZ` (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks_per_sec() -> f64 {
    static HZ: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Busy CPU seconds of the whole machine so far (`/proc/stat`, every core: user, nice,
/// system, irq, softirq, steal; 10 ms ticks).
pub fn machine_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    let v: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: u64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|i| v.get(*i)).sum();
    busy as f64 / 100.0
}

/// Context switches (voluntary and involuntary) of the live threads of `pid`, from
/// `/proc/PID/task/*/status` (a thread that exits during a run takes its count with it).
pub fn switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .map(|task| {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            status
                .lines()
                .filter_map(|l| {
                    l.strip_prefix("voluntary_ctxt_switches:")
                        .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                })
                .filter_map(|v| v.trim().parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// Wait (≤ 5 min) until `pids` together use under 1% of a core for 1.5 s: the
/// gateway refilling its invoice pool, the simulator minting, must not share the machine
/// with a measured run.
pub fn quiesce(pids: &[u32]) {
    let total = || pids.iter().map(|p| cpu_secs(*p)).sum::<f64>();
    let start = std::time::Instant::now();
    let mut quiet = 0;
    while start.elapsed() < std::time::Duration::from_secs(300) {
        let before = total();
        std::thread::sleep(std::time::Duration::from_millis(500));
        quiet = if total() - before < 0.005 {
            quiet + 1
        } else {
            0
        };
        // Three quiet half-seconds in a row: a refill worker's one-second pause is not idle.
        if quiet == 3 {
            return;
        }
    }
    eprintln!("warning: background processes still busy after 5 min");
}

/// Resident set of `pid`, KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Run `wrk` on `url` (with `headers`) and measure the server process `pid`.
pub fn run(load: &Load, url: &str, headers: &[String], pid: u32) -> Sample {
    let script = load.script.as_deref().map(script_file);
    let mut cmd = wrk(load, url, headers, script.as_ref().map(|f| f.path()));
    let rss_before_kib = rss_kib(pid);
    let cpu_before = cpu_secs(pid);
    let switches_before = switches(pid);
    let machine_before = machine_secs();
    let out = cmd.output().expect("run wrk (Debian package `wrk`)");
    let cpu = cpu_secs(pid) - cpu_before;
    let switched = switches(pid).saturating_sub(switches_before);
    let machine = machine_secs() - machine_before;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "wrk failed: {text}");
    let mut s = parse(&text);
    let per_request = |secs: f64| {
        if s.requests > 0 {
            secs * 1e6 / s.requests as f64
        } else {
            0.0
        }
    };
    s.cpu_us = per_request(cpu);
    s.machine_us = per_request(machine);
    s.switches = per_request(switched as f64) / 1e6;
    s.rss_before_kib = rss_before_kib;
    s.rss_after_kib = rss_kib(pid);
    s
}

/// `12.34us`, `1.20ms`, `2.00s` → microseconds.
fn duration_us(v: &str) -> f64 {
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
    let n: f64 = num.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n,
        "ms" => n * 1e3,
        "s" => n * 1e6,
        "m" => n * 60e6,
        _ => f64::NAN,
    }
}

/// The figures of wrk's `--latency` report.
pub fn parse(text: &str) -> Sample {
    let mut s = Sample::default();
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("50%"), Some(v)) => s.p50_us = duration_us(v),
            (Some("99%"), Some(v)) => s.p99_us = duration_us(v),
            (Some("Requests/sec:"), Some(v)) => s.rps = v.parse().unwrap_or(0.0),
            (Some("Non-2xx"), _) => {
                s.non2xx = line
                    .rsplit(' ')
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            }
            (Some(n), Some("requests")) => s.requests = n.parse().unwrap_or(0),
            _ => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrk_report() {
        let s = super::parse(
            "Running 5s test @ http://127.0.0.1:1/\n  Latency Distribution\n     50%  312.00us\n     99%    1.20ms\n  120000 requests in 5.00s, 10.00MB read\n  Non-2xx or 3xx responses: 7\nRequests/sec:  24000.50\n",
        );
        assert_eq!(s.requests, 120_000);
        assert_eq!(s.non2xx, 7);
        assert!((s.p99_us - 1200.0).abs() < 1e-6 && (s.p50_us - 312.0).abs() < 1e-6);
        assert!((s.rps - 24000.5).abs() < 1e-6);
    }
}
