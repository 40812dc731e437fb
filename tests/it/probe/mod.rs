//! `gate402 probe`: every mistake of the fixture server flagged with its rule id
//! ([`fixtures`]), gate402's own server graded all PASS ([`own_server`]), `--pay` over simnet
//! ([`pay`]), the JSON report against `docs/probe-report.schema.json` ([`schema`]), the
//! reference peers' grades against `docs/interop.md` ([`peers`]).

mod fixtures;
mod grading;
mod own_server;
mod pay;
mod peers;
mod schema;

use std::sync::Arc;

use gate402::client::{Client, ClientRequest, Policy, TokenCache};
use gate402::probe::{self, Report};
use gate402_rails::simnet::SimNode;

/// A client paying with `node`, caching in `dir` (used for grading only unless paying).
pub fn client(node: &SimNode, dir: &std::path::Path) -> Client {
    Client::new(
        Arc::new(node.clone()),
        TokenCache::new(dir),
        Policy::default(),
    )
}

/// Probe `url` without paying.
pub async fn grade(client: &Client, url: &str) -> Report {
    let req = ClientRequest::get(url.parse().unwrap());
    probe::probe(client, &req, None).await.unwrap()
}

/// The ids a report flags, with their messages (for assertion failures).
pub fn explain(r: &Report) -> String {
    r.findings()
        .filter(|f| f.level > probe::Level::Pass)
        .map(|f| format!("{} {}: {}", f.level.label(), f.id, f.message))
        .collect::<Vec<_>>()
        .join("\n")
}
