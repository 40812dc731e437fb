//! Human output of `gate402 probe`: the response-wide findings, then each challenge with its
//! findings, then the payments; a WARN/FAIL finding shows its spec section on the next line.
//! Colours only when stdout is a terminal and `NO_COLOR` is unset.

use std::io::{IsTerminal, Write};

use crate::probe::{self, Finding, Level, Report};

/// Whether to colour stdout.
pub fn color_for_stdout() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn paint(level: Level, color: bool) -> String {
    let label = level.label();
    if !color {
        return label.to_string();
    }
    let code = match level {
        Level::Pass => "32",
        Level::Warn => "33",
        Level::Fail => "31;1",
    };
    format!("\x1b[{code}m{label}\x1b[0m")
}

fn dim(text: &str, color: bool) -> String {
    if color {
        format!("\x1b[2m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn findings(text: &mut String, list: &[Finding], color: bool) {
    let width = list.iter().map(|f| f.id.len()).max().unwrap_or(0);
    for f in list {
        text.push_str(&format!(
            "  {}  {:width$}  {}\n",
            paint(f.level, color),
            f.id,
            f.message
        ));
        if f.level > Level::Pass {
            text.push_str(&format!(
                "        {:width$}  {}\n",
                "",
                dim(&format!("spec: {}", f.spec), color)
            ));
        }
    }
}

/// The report, grouped per challenge.
pub fn human(out: &mut dyn Write, r: &Report, color: bool) {
    let mut t = format!("{} {} -> {}\n\nResponse\n", r.method, r.url, r.status);
    findings(&mut t, &r.general, color);
    for c in &r.challenges {
        let amount = c
            .amount
            .as_ref()
            .map_or(String::new(), |a| format!(", {} {}", a.value, a.unit));
        let verdict = match (&c.refused, c.payable) {
            (_, true) => "gate402 would pay it".to_string(),
            (Some(why), false) => format!("gate402 would not pay: {why}"),
            (None, false) => "not payable".to_string(),
        };
        t.push_str(&format!(
            "\n[{}] {} {} ({}{amount}; {verdict})\n",
            c.index + 1,
            paint(c.level, color),
            c.label,
            c.source
        ));
        findings(&mut t, &c.rules, color);
    }
    if let Some(p) = &r.pay {
        t.push_str(&format!(
            "\nPayments (--pay, at most {} sat in all; paid {} msat + {} msat fees)\n",
            p.max_cost_sat, p.spent_msat, p.fees_msat
        ));
        for pay in &p.payments {
            let what = pay.offer.as_deref().unwrap_or("-");
            let amount = pay
                .amount
                .as_ref()
                .map_or(String::new(), |a| format!(" {} {}", a.value, a.unit));
            let status = pay.status.map_or(String::new(), |s| format!(" -> {s}"));
            t.push_str(&format!("  {}: {what}{amount}{status}\n", pay.protocol));
            if let Some(why) = &pay.skipped {
                t.push_str(&format!("    {why}\n"));
            }
            let mut inner = String::new();
            findings(&mut inner, &pay.rules, color);
            for line in inner.lines() {
                t.push_str(&format!("  {line}\n"));
            }
        }
    }
    t.push_str(&format!(
        "\nGrade: {} ({} pass, {} warn, {} fail) exit {}\n",
        paint(r.level, color),
        r.counts.pass,
        r.counts.warn,
        r.counts.fail,
        r.exit
    ));
    let _ = out.write_all(t.as_bytes());
}

/// `--list-rules`: every rule, as text or a JSON array.
pub fn rules(out: &mut dyn Write, json: bool) {
    let all = probe::rules();
    if json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&all).unwrap_or_default()
        );
        return;
    }
    let width = all.iter().map(|r| r.id.len()).max().unwrap_or(0);
    for r in all {
        let _ = writeln!(out, "{:width$}  {}  [{}]", r.id, r.summary, r.spec);
    }
}
