//! What `gate402 get` prints: the body (or one JSON object with `--json`), the quote of
//! `--dry-run`, errors, the exit code of each outcome, and progress on stderr while a payment
//! is in flight (a ticker with the elapsed time on a TTY; one line per event otherwise;
//! nothing with `--silent`).

use std::{
    io::{IsTerminal, Write},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use base64::Engine;
use serde_json::{json, Value};

use super::get::{Exit, GetArgs};
use crate::client::{ClientError, Event, PaidResponse, Quote};

/// The exit code of a client error.
pub fn exit_for(e: &ClientError) -> Exit {
    match e {
        ClientError::Usage(_) | ClientError::Config(_) => Exit::Usage,
        ClientError::Policy(_) | ClientError::NoPayableChallenge(_) | ClientError::Invoice(_) => {
            Exit::Policy
        }
        ClientError::Payment(_) | ClientError::TrackedFailure(_) | ClientError::BadPreimage => {
            Exit::PaymentFailed
        }
        ClientError::Http(_) | ClientError::Cache(_) => Exit::Error,
    }
}

fn kind(code: Exit) -> &'static str {
    match code {
        Exit::Ok => "ok",
        Exit::Error => "error",
        Exit::Usage => "usage",
        Exit::Policy => "policy",
        Exit::PaymentFailed => "payment_failed",
        Exit::HttpError => "http_error",
    }
}

fn print_json(out: &mut dyn Write, v: &Value) -> bool {
    writeln!(out, "{v}").is_ok()
}

/// Report an error (stderr; also stdout as JSON with `--json`).
pub fn error(args: &GetArgs, out: &mut dyn Write, msg: &str, code: Exit) {
    eprintln!("gate402: {msg}");
    if args.json {
        print_json(
            out,
            &json!({"url": args.url, "error": msg, "kind": kind(code), "exit": code as u8}),
        );
    }
}

/// Report a client failure; its exit code.
pub fn failure(args: &GetArgs, out: &mut dyn Write, e: &ClientError) -> Exit {
    let code = exit_for(e);
    error(args, out, &e.to_string(), code);
    code
}

/// Print a quote; exit 0 if something would be paid (or nothing needs paying), else 3.
pub fn quote(args: &GetArgs, out: &mut dyn Write, q: &Quote) -> Exit {
    let code = if q.payable() { Exit::Ok } else { Exit::Policy };
    if args.json {
        let mut v = serde_json::to_value(q).unwrap_or(Value::Null);
        v["exit"] = json!(code as u8);
        print_json(out, &v);
        return code;
    }
    let mut text = format!("{} -> {}\n", q.url, q.status);
    for o in &q.offers {
        let amount = o
            .amount
            .as_ref()
            .map_or("?".to_string(), |a| format!("{} {}", a.value, a.unit));
        let mark = if Some(o.index) == q.chosen { "*" } else { " " };
        let why = o.refused.as_deref().unwrap_or("acceptable");
        text.push_str(&format!(
            "{mark} [{}] {}/{} {} {amount}: {why}\n",
            o.index, o.protocol, o.intent, o.rail
        ));
    }
    for r in &q.rejected {
        text.push_str(&format!("  [-] {}: unparseable: {}\n", r.protocol, r.error));
    }
    match (&q.would_pay, &q.refusal) {
        (Some(w), _) => text.push_str(&format!(
            "would pay {} {} via {} on {}\n",
            w.amount.value, w.amount.unit, w.protocol, w.rail
        )),
        (None, Some(r)) => text.push_str(&format!("would not pay: {r}\n")),
        (None, None) => text.push_str("no payment required\n"),
    }
    let _ = out.write_all(text.as_bytes());
    code
}

/// Print a response (body, or JSON), write `-o`; the exit code of its status.
pub fn response(args: &GetArgs, out: &mut dyn Write, resp: PaidResponse) -> Exit {
    let status = resp.response.status();
    if args.verbose {
        eprintln!("< {status}");
        for (k, v) in resp.response.headers() {
            eprintln!("< {k}: {}", v.to_str().unwrap_or("<binary>"));
        }
        if resp.reused_credential {
            eprintln!("* reused cached credential (nothing paid)");
        }
    }
    let code = if status.is_client_error() || status.is_server_error() {
        Exit::HttpError
    } else {
        Exit::Ok
    };
    let body = resp.response.body();
    if let Some(path) = &args.output {
        if let Err(e) = std::fs::write(path, body) {
            eprintln!("gate402: cannot write output: {e}");
            return Exit::Error;
        }
    }
    let written = if args.json {
        let mut v = resp.summary();
        match (&args.output, std::str::from_utf8(body)) {
            (Some(p), _) => v["body_path"] = json!(p.display().to_string()),
            (None, Ok(text)) => v["body"] = json!(text),
            (None, Err(_)) => {
                v["body_base64"] = json!(base64::engine::general_purpose::STANDARD.encode(body))
            }
        }
        v["exit"] = json!(code as u8);
        print_json(out, &v)
    } else {
        args.output.is_some() || out.write_all(body).is_ok()
    };
    if !written {
        eprintln!("gate402: cannot write output");
        return Exit::Error;
    }
    code
}

/// The running ticker: when the payment started and the task redrawing the line.
type Ticker = Option<(Instant, tokio::task::JoinHandle<()>)>;

/// Progress on stderr.
pub struct Progress {
    silent: bool,
    verbose: bool,
    tty: bool,
    ticker: Arc<Mutex<Ticker>>,
}

impl Progress {
    /// Progress for these flags (a ticker only when stderr is a terminal).
    pub fn new(silent: bool, verbose: bool) -> Progress {
        Progress {
            silent,
            verbose,
            tty: std::io::stderr().is_terminal(),
            ticker: Arc::default(),
        }
    }

    fn stop(&self) -> Option<Duration> {
        let (start, handle) = self.ticker.lock().ok()?.take()?;
        handle.abort();
        if self.tty {
            eprint!("\r\x1b[2K");
        }
        Some(start.elapsed())
    }

    fn start(&self, what: String) {
        let start = Instant::now();
        if !self.tty {
            eprintln!("* {what} ...");
            let handle = tokio::spawn(async {});
            if let Ok(mut t) = self.ticker.lock() {
                *t = Some((start, handle));
            }
            return;
        }
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                eprint!("\r* {what} ... {:.1}s", start.elapsed().as_secs_f32());
            }
        });
        if let Ok(mut t) = self.ticker.lock() {
            *t = Some((start, handle));
        }
    }

    /// Show one event.
    pub fn on(&self, e: &Event) {
        if self.silent {
            return;
        }
        match e {
            Event::Challenged(p) if self.verbose => {
                eprintln!("< 402 Payment Required (offers: {p:?})")
            }
            Event::Paying(msat) => self.start(format!("paying {} sat", msat.div_ceil(1000))),
            Event::Signing(a) => self.start(format!("paying {} {} (x402)", a.value, a.unit)),
            Event::Paid(info) => {
                let took = self.stop().map(|d| format!(" in {:.1}s", d.as_secs_f32()));
                eprintln!(
                    "* paid {} {} (+{} msat fee) via {}{}",
                    info.amount.value,
                    info.amount.unit,
                    info.fee_msat,
                    info.protocol.as_str(),
                    took.unwrap_or_default()
                );
            }
            Event::Failed(why) => {
                self.stop();
                if self.verbose {
                    eprintln!("* not paid: {why}");
                }
            }
            Event::FailedOver(a) => {
                eprintln!(
                    "* {} over {} failed ({}), nothing paid: trying the next offer",
                    a.protocol.as_str(),
                    a.rail,
                    a.error
                );
            }
            _ => {}
        }
    }
}
