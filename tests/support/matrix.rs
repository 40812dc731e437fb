//! The interop matrix of `docs/interop.md`, generated from the tests, not kept by hand.
//!
//! Every client × server × protocol cell the tests cover is one test wrapped in [`cell`] (and
//! every reference peer graded by `gate402 probe` one test calling [`grade`]). Normally the
//! wrapper compares the outcome with the row committed in `docs/interop.md` — result (✔/✘),
//! peer versions (from `tests/interop/package-lock.json`), and for grades the level, exit
//! code and flagged rules — and fails when they disagree (the date is ignored). With
//! `GATE402_MATRIX_OUT=<dir>` it records the outcome there instead, and
//! `tests/interop/matrix.sh` rewrites both tables from those records
//! (`cargo run -p gate402-tests --example interop_matrix`).
//!
//! A cell whose test fails is a ✘ cell; a ✘ recorded in the docs (a known incompatibility)
//! keeps the test green as long as it still fails. Self-contained (std, serde_json,
//! futures-util) so other test crates include it with `#[path]` (`gateway/tests/mcp.rs`).

#![allow(dead_code)]

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use futures_util::FutureExt;
use serde_json::{json, Value};

/// One client × server × protocol cell.
#[derive(Debug, Clone, Copy)]
pub struct Cell {
    /// The test that runs it: `<binary>:<path::to::test>`.
    pub test: &'static str,
    /// The paying side.
    pub client: &'static str,
    /// The side asking for payment.
    pub server: &'static str,
    /// Protocol and rail.
    pub protocol: &'static str,
    /// npm packages whose versions the cell depends on.
    pub packages: &'static [&'static str],
    /// What a ✘ means, when one is expected (kept in the Notes column).
    pub note: &'static str,
}

/// One reference peer graded by `gate402 probe`.
#[derive(Debug, Clone, Copy)]
pub struct Grade {
    /// The test that probes it.
    pub test: &'static str,
    /// The peer.
    pub peer: &'static str,
    /// What is probed.
    pub probed: &'static str,
    /// npm packages whose versions the peer is.
    pub packages: &'static [&'static str],
}

const ANVIL: &str = "@foundry-rs/anvil-linux-amd64";

/// Every cell, in table order.
pub const CELLS: &[Cell] = &[
    Cell { test: "integration:x402_interop::reference_fetch_client_pays_gate402", client: "`@x402/fetch` (`wrapFetchWithPayment`)", server: "gate402 gateway", protocol: "x402 v2 `exact` EVM (anvil)", packages: &["@x402/fetch", "@x402/evm", "viem", ANVIL], note: "" },
    Cell { test: "integration:x402_express::gate402_get_pays_express_with_the_reference_facilitator", client: "`gate402 get`", server: "`@x402/express` + `@x402/core` facilitator", protocol: "x402 v2 `exact` EVM (anvil)", packages: &["@x402/express", "@x402/core", "@x402/evm", "express", ANVIL], note: "" },
    Cell { test: "integration:x402_express::express_uses_gate402_as_its_facilitator", client: "`gate402 get`", server: "`@x402/express` (`HTTPFacilitatorClient`) → gate402 facilitator", protocol: "x402 v2 `exact` EVM (anvil)", packages: &["@x402/express", "@x402/core", "@x402/evm", ANVIL], note: "" },
    Cell { test: "integration:x402_express::gate402_verifies_and_settles_through_the_reference_facilitator", client: "gate402 gateway (`FacilitatorClient`)", server: "`@x402/core` facilitator (`x402Facilitator`)", protocol: "x402 facilitator API (verify, settle)", packages: &["@x402/core", "@x402/evm", ANVIL], note: "" },
    Cell { test: "integration:buyer_mixed::one_buyer_pays_mixed_endpoints_by_policy", client: "gate402 `Client` (policy)", server: "`@x402/express` and gate402 (L402+MPP+x402)", protocol: "x402 EVM; L402; MPP charge", packages: &["@x402/express", "@x402/core", ANVIL], note: "" },
    Cell { test: "integration:x402_lightning::alby_fetch_with_x402_pays_gate402_over_simnet", client: "Alby `fetchWithX402`", server: "gate402 gateway", protocol: "x402 Lightning variant (simnet)", packages: &["@getalby/lightning-tools"], note: "" },
    Cell { test: "integration:mpp_interop::alby_fetch_with_mpp_pays_a_gate402_route", client: "Alby `fetchWithMpp`", server: "gate402 gateway (MPP route)", protocol: "MPP Lightning charge (simnet)", packages: &["@getalby/lightning-tools"], note: "" },
    Cell { test: "integration:mpp_interop::alby_fetch_with_mpp_on_an_l402_first_route", client: "Alby `fetchWithMpp`", server: "gate402 gateway (L402-first route)", protocol: "MPP Lightning charge (simnet)", packages: &["@getalby/lightning-tools"], note: "fetchWithMpp pays only when the joined WWW-Authenticate starts with `Payment`; gate402 puts L402 first (lnget reads only the first line)" },
    Cell { test: "integration:mpp_interop::alby_fetch402_pays_an_l402_first_route_with_l402", client: "Alby `fetch402`", server: "gate402 gateway (L402-first route)", protocol: "L402 (simnet)", packages: &["@getalby/lightning-tools"], note: "" },
    Cell { test: "integration:mpp_interop::gate402_client_pays_an_mppx_server", client: "gate402 `Client`", server: "`mppx` server (custom Lightning charge method)", protocol: "MPP Lightning charge (simnet)", packages: &["mppx", "viem"], note: "" },
    Cell { test: "integration:roundtrip::client_pays_then_reuses_the_token_without_paying", client: "gate402 `Client`", server: "gate402 gateway", protocol: "L402 (simnet)", packages: &[], note: "" },
    Cell { test: "integration:mpp_charge::the_client_pays_a_charge_and_gets_a_receipt", client: "gate402 `Client`", server: "gate402 gateway", protocol: "MPP Lightning charge (simnet)", packages: &[], note: "" },
    Cell { test: "integration:probe::pay::pay_pays_each_protocol_of_gate402_once_and_checks_the_paid_exchange", client: "`gate402 probe --pay` (LND gRPC wallet)", server: "gate402 gateway", protocol: "L402; MPP charge; x402 Lightning variant", packages: &[], note: "" },
    Cell { test: "mcp:the_reference_typescript_sdk_client_buys_through_gate402_mcp", client: "`@modelcontextprotocol/sdk` agent → `gate402 mcp`", server: "gate402 gateway", protocol: "L402 (LND gRPC, simnet)", packages: &["@modelcontextprotocol/sdk"], note: "" },
];

/// Every graded peer, in table order.
pub const GRADES: &[Grade] = &[
    Grade {
        test: "integration:probe::peers::x402_express_reference_server",
        peer: "`@x402/express` `paymentMiddleware` (reference facilitator)",
        probed: "`GET /weather`, x402 v2 `exact` on eip155:31337",
        packages: &["@x402/express", "@x402/core", "@x402/evm"],
    },
    Grade {
        test: "integration:probe::peers::mppx_lightning_charge_server",
        peer: "`mppx` server, Lightning charge (custom method)",
        probed: "`GET /paid`, MPP `lightning/charge`",
        packages: &["mppx"],
    },
    Grade {
        test: "integration:probe::peers::mppx_evm_charge_server_with_x402",
        peer: "`mppx` server, built-in `evm` charge with x402 compatibility",
        probed: "`GET /paid`, MPP `evm/charge` + x402 v2",
        packages: &["mppx", "viem"],
    },
    Grade {
        test: "integration:probe::peers::alby_l402_server_utilities",
        peer: "Alby `makeL402AuthenticateHeader` + `issueL402Macaroon`",
        probed: "`GET /paid`, L402",
        packages: &["@getalby/lightning-tools"],
    },
];

/// The workspace root (every crate sits one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `name version` of each package, from the pinned lockfile.
pub fn versions(packages: &[&str]) -> String {
    let lock: Value = std::fs::read_to_string(root().join("tests/interop/package-lock.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let list: Vec<String> = packages
        .iter()
        .map(|p| {
            let v = lock["packages"][format!("node_modules/{p}")]["version"]
                .as_str()
                .unwrap_or("?");
            format!("{p} {v}")
        })
        .collect();
    if list.is_empty() {
        "—".into()
    } else {
        list.join(", ")
    }
}

/// `path::to::test` of `<binary>:path::to::test` (a bare path is returned as is).
fn short(test: &str) -> &str {
    match test.find(':') {
        Some(i) if !test[i + 1..].starts_with(':') => &test[i + 1..],
        _ => test,
    }
}

/// Where records go in record mode.
pub fn out_dir() -> Option<PathBuf> {
    std::env::var_os("GATE402_MATRIX_OUT").map(PathBuf::from)
}

fn record(test: &str, v: &Value) {
    if let Some(dir) = out_dir() {
        let _ = std::fs::create_dir_all(&dir);
        let name = test.replace([':', '/'], "_");
        std::fs::write(dir.join(format!("{name}.json")), v.to_string())
            .expect("write matrix record");
    }
}

/// The committed `docs/interop.md`.
pub fn docs() -> String {
    std::fs::read_to_string(root().join("docs/interop.md")).expect("docs/interop.md")
}

/// The cells of the docs row whose `Test` column is `test` (`None`: no such row).
pub fn row(doc: &str, test: &str) -> Option<Vec<String>> {
    let key = format!("`{}`", short(test));
    doc.lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect::<Vec<_>>()
        })
        .find(|cols| cols.contains(&key))
}

/// Run `body` as the matrix cell `test`: record its outcome, or check it against the docs.
pub async fn cell(test: &str, body: impl std::future::Future<Output = ()>) {
    let outcome = AssertUnwindSafe(body).catch_unwind().await;
    let ok = outcome.is_ok();
    let c = CELLS
        .iter()
        .find(|c| short(c.test) == short(test))
        .unwrap_or_else(|| panic!("{test} is not in matrix::CELLS"));
    if out_dir().is_some() {
        record(c.test, &json!({"kind": "cell", "test": c.test, "pass": ok}));
        return;
    }
    let doc = docs();
    let r = row(&doc, c.test).unwrap_or_else(|| {
        panic!(
            "no row for `{}` in docs/interop.md: run tests/interop/matrix.sh",
            short(c.test)
        )
    });
    let (want_ok, want_versions) = (r[3].starts_with('✔'), &r[4]);
    let got = versions(c.packages);
    assert_eq!(
        &got, want_versions,
        "{}: versions changed; run tests/interop/matrix.sh",
        c.test
    );
    match (ok, want_ok) {
        (true, true) | (false, false) => {}
        (false, true) => std::panic::resume_unwind(outcome.err().unwrap()),
        (true, false) => panic!(
            "{}: passes but docs/interop.md records ✘; run tests/interop/matrix.sh",
            c.test
        ),
    }
}

/// Record or check the grade of a probed peer: level, exit code and flagged rule ids.
pub fn grade(test: &str, level: &str, exit: u8, flagged: &[&str]) {
    let g = GRADES
        .iter()
        .find(|g| short(g.test) == short(test))
        .unwrap_or_else(|| panic!("{test} is not in matrix::GRADES"));
    if out_dir().is_some() {
        record(
            g.test,
            &json!({"kind": "grade", "test": g.test, "level": level, "exit": exit, "flagged": flagged}),
        );
        return;
    }
    let doc = docs();
    let r = row(&doc, g.test).unwrap_or_else(|| {
        panic!(
            "no row for `{}` in docs/interop.md: run tests/interop/matrix.sh",
            short(g.test)
        )
    });
    let want = (r[3].clone(), r[4].clone(), r[5].clone(), r[1].clone());
    let got = (
        level.to_ascii_uppercase(),
        exit.to_string(),
        flagged_cell(flagged),
        versions(g.packages),
    );
    assert_eq!(
        got, want,
        "{}: grade differs from docs/interop.md (grade, exit, rules, versions)",
        g.test
    );
}

fn flagged_cell(flagged: &[&str]) -> String {
    if flagged.is_empty() {
        "—".into()
    } else {
        flagged
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Begin/end markers of the generated tables.
pub const CELLS_BEGIN: &str = "<!-- BEGIN generated: interop cells (tests/interop/matrix.sh) -->";
/// End of the cells table.
pub const CELLS_END: &str = "<!-- END generated: interop cells -->";
/// Begin of the grades table.
pub const GRADES_BEGIN: &str = "<!-- BEGIN generated: peer grades (tests/interop/matrix.sh) -->";
/// End of the grades table.
pub const GRADES_END: &str = "<!-- END generated: peer grades -->";

/// The cells table for `records` (keyed by test), checked on `date`.
pub fn render_cells(records: &[Value], date: &str) -> Result<String, String> {
    let mut t = String::from("| Client | Server | Protocol | Result | Versions | Test | Notes | Checked |\n|---|---|---|---|---|---|---|---|\n");
    for c in CELLS {
        let r = records
            .iter()
            .find(|r| r["test"] == c.test)
            .ok_or(format!("cell {} was not run", c.test))?;
        let result = if r["pass"] == true { "✔" } else { "✘" };
        let note = if c.note.is_empty() { "—" } else { c.note };
        t.push_str(&format!(
            "| {} | {} | {} | {result} | {} | `{}` | {note} | {date} |\n",
            c.client,
            c.server,
            c.protocol,
            versions(c.packages),
            short(c.test)
        ));
    }
    Ok(t)
}

/// The grades table for `records`, checked on `date`.
pub fn render_grades(records: &[Value], date: &str) -> Result<String, String> {
    let mut t = String::from("| Peer | Versions | Probed | Grade | Exit | Flagged rules | Test | Checked |\n|---|---|---|---|---|---|---|---|\n");
    for g in GRADES {
        let r = records
            .iter()
            .find(|r| r["test"] == g.test)
            .ok_or(format!("peer {} was not probed", g.test))?;
        let flagged: Vec<&str> = r["flagged"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | `{}` | {date} |\n",
            g.peer,
            versions(g.packages),
            g.probed,
            r["level"].as_str().unwrap_or("?").to_ascii_uppercase(),
            r["exit"],
            flagged_cell(&flagged),
            short(g.test)
        ));
    }
    Ok(t)
}

/// `doc` with the text between `begin` and `end` replaced by `table`.
pub fn splice(doc: &str, begin: &str, end: &str, table: &str) -> Result<String, String> {
    let b = doc.find(begin).ok_or(format!("marker {begin} missing"))? + begin.len();
    let e = doc[b..].find(end).ok_or(format!("marker {end} missing"))? + b;
    Ok(format!("{}\n{}{}", &doc[..b], table, &doc[e..]))
}
