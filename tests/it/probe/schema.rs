//! Every report shape — broken servers, correct ones, a 503, paid exchanges — validates against
//! `docs/probe-report.schema.json` with the reference JSON Schema validator (npm `ajv`, draft
//! 2020-12, strict); a report with a field the schema does not know is rejected.

use std::path::Path;

use gate402::client::ClientRequest;
use gate402::probe;
use gate402_rails::simnet::SimNetwork;
use gate402_tests::chain::workspace;
use gate402_tests::BUYER_MSAT;
use serde_json::Value;

use super::fixtures::{self, CONTROLS, MISTAKES, PAID_MISTAKES};
use super::{client, grade};

/// Run the validator on `files`; `(valid, output)`.
fn ajv(files: &[std::path::PathBuf]) -> (bool, String) {
    let root = workspace();
    let interop = root.join("tests/interop");
    assert!(
        interop.join("node_modules/ajv/package.json").is_file(),
        "npm peers missing: run `npm ci --prefix tests/interop` (tests/run-all.sh does)"
    );
    let out = std::process::Command::new("node")
        .arg(interop.join("probe/validate_report.mjs"))
        .arg(root.join("docs/probe-report.schema.json"))
        .args(files)
        .current_dir(&interop)
        .output()
        .expect("cannot run node");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn write(dir: &Path, name: &str, v: &Value) -> std::path::PathBuf {
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
    p
}

#[tokio::test]
async fn every_report_validates_against_the_published_schema() {
    let net = SimNetwork::new();
    let seller = net.add_node("seller", 0);
    let buyer = net.add_node("buyer", BUYER_MSAT);
    let addr = fixtures::serve(seller).await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&buyer, dir.path());
    let mut files = Vec::new();
    let paths = MISTAKES
        .iter()
        .map(|(p, _)| *p)
        .chain(CONTROLS.iter().copied());
    for (i, path) in paths.enumerate() {
        let r = grade(&c, &format!("http://{addr}{path}")).await;
        files.push(write(
            dir.path(),
            &format!("grade{i}"),
            &serde_json::to_value(&r).unwrap(),
        ));
    }
    for (i, (path, _)) in PAID_MISTAKES.iter().enumerate() {
        let req = ClientRequest::get(format!("http://{addr}{path}").parse().unwrap());
        let r = probe::probe(&c, &req, Some(100)).await.unwrap();
        assert!(r.pay.is_some());
        files.push(write(
            dir.path(),
            &format!("paid{i}"),
            &serde_json::to_value(&r).unwrap(),
        ));
    }
    // A payment refused by --max-cost, and one not found (404).
    let req = ClientRequest::get(format!("http://{addr}/ok/all").parse().unwrap());
    let r = probe::probe(&c, &req, Some(1)).await.unwrap();
    files.push(write(
        dir.path(),
        "refused",
        &serde_json::to_value(&r).unwrap(),
    ));
    let r = grade(&c, &format!("http://{addr}/nowhere")).await;
    files.push(write(dir.path(), "404", &serde_json::to_value(&r).unwrap()));
    let (ok, out) = ajv(&files);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("\"checked\":{}", files.len())),
        "{out}"
    );

    // The schema is closed: an unknown member or a bad level is rejected.
    let mut bad: Value = serde_json::to_value(&r).unwrap();
    bad["surprise"] = Value::Bool(true);
    let mut bad_level: Value = serde_json::to_value(&r).unwrap();
    bad_level["general"][0]["level"] = Value::String("meh".into());
    for (name, v) in [("bad1", bad), ("bad2", bad_level)] {
        let (ok, out) = ajv(&[write(dir.path(), name, &v)]);
        assert!(!ok, "{name} accepted: {out}");
    }
}
