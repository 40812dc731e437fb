//! Config reloads (`SIGHUP`, `POST /api/reload`): the file is read and validated like
//! `gate402 check-config` (secrets, listener settings); a config that fails is refused and
//! logged and the running one kept. A valid one replaces the route table at once (paths,
//! hosts, prices, protocols, capabilities, rate limits, quotas, pricers); changes to other
//! sections, and to a route's `x402` prices, are reported as needing a restart (the running
//! values stay in force: listeners, store, Lightning, secrets, protocol settings).

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
};

use serde::Serialize;

use crate::{
    clock::now_unix,
    config::{load_mpp_secret, load_secret, Config},
    paywall::Paywall,
    server,
};

/// What one reload did.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadReport {
    /// Routes in force after it.
    pub routes: usize,
    /// Top-level sections (and `route.<name>.x402`) whose changes wait for a restart.
    pub needs_restart: Vec<String>,
    /// Unix seconds of the reload.
    pub at: u64,
}

#[derive(Debug, Default)]
struct History {
    /// The TOML the running route table came from (for the restart-needed diff).
    running: Option<toml::Table>,
    last_ok: Option<ReloadReport>,
    last_error: Option<(u64, String)>,
}

/// Reloads one gateway's config file into its paywall.
#[derive(Debug)]
pub struct Reloader {
    path: PathBuf,
    paywall: Arc<Paywall>,
    history: Mutex<History>,
}

impl Reloader {
    /// A reloader of `path` (the file `paywall` was built from).
    pub fn new(path: PathBuf, paywall: Arc<Paywall>) -> Reloader {
        let running = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok());
        Reloader {
            path,
            paywall,
            history: Mutex::new(History {
                running,
                ..History::default()
            }),
        }
    }

    /// Reload now. `Err`: refused (logged), the running config stays.
    pub fn reload(&self) -> Result<ReloadReport, String> {
        let result = self.try_reload();
        let mut h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        match &result {
            Ok((report, table)) => {
                tracing::info!(
                    path = %self.path.display(),
                    routes = report.routes,
                    needs_restart = ?report.needs_restart,
                    "config reloaded"
                );
                h.running = Some(table.clone());
                h.last_ok = Some(report.clone());
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "config reload refused; keeping the running config");
                h.last_error = Some((now_unix(), e.clone()));
            }
        }
        result.map(|(r, _)| r)
    }

    fn try_reload(&self) -> Result<(ReloadReport, toml::Table), String> {
        // One read: the config validated and the table diffed are the same bytes.
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
        let config = Config::from_toml(&text).map_err(|e| e.to_string())?;
        config.validate().map_err(|e| e.to_string())?;
        let l402 = load_secret(&config.l402).map_err(|e| e.to_string())?;
        load_mpp_secret(&config.mpp, &l402).map_err(|e| e.to_string())?;
        server::ListenerOptions::check(&config.server)?;
        let table = server::route_table(&config).map_err(|e| e.to_string())?;
        for r in table.routes() {
            if let Some(p) = r.protocols.iter().find(|p| !self.paywall.offers(**p)) {
                return Err(format!(
                    "route {:?} offers {}, which this gateway was not started with: restart it",
                    r.name,
                    p.as_str()
                ));
            }
        }
        let new: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        let needs_restart = {
            let h = self.history.lock().unwrap_or_else(|e| e.into_inner());
            h.running
                .as_ref()
                .map(|old| restart_sections(old, &new))
                .unwrap_or_default()
        };
        let report = ReloadReport {
            routes: table.routes().len(),
            needs_restart,
            at: now_unix(),
        };
        self.paywall.replace_routes(table);
        Ok((report, new))
    }

    /// The last reload and the last refusal, for `/api/status`.
    pub fn summary(&self) -> serde_json::Value {
        let h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        serde_json::json!({
            "last_ok": h.last_ok,
            "last_error": h.last_error.as_ref().map(|(at, e)| serde_json::json!({"at": at, "error": e})),
        })
    }

    /// Reload on every `SIGHUP` until the process ends.
    pub fn spawn_on_sighup(self: &Arc<Self>) -> std::io::Result<tokio::task::JoinHandle<()>> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = signal(SignalKind::hangup())?;
        let me = self.clone();
        Ok(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                let _ = me.reload();
            }
        }))
    }
}

/// Sections of `new` that differ from `old` and are not reloaded: every top-level key but
/// `route`, and each route's `x402` table.
fn restart_sections(old: &toml::Table, new: &toml::Table) -> Vec<String> {
    let mut out: Vec<String> = old
        .keys()
        .chain(new.keys())
        .filter(|k| *k != "route")
        .filter(|k| old.get(*k) != new.get(*k))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    let x402 = |t: &toml::Table| -> Vec<(String, Option<toml::Value>)> {
        t.get("route")
            .and_then(toml::Value::as_array)
            .map(|rs| {
                rs.iter()
                    .map(|r| {
                        let name = r.get("name").and_then(|n| n.as_str()).unwrap_or("");
                        (name.to_owned(), r.get("x402").cloned())
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let before = x402(old);
    for (name, after) in x402(new) {
        let was = before
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.clone());
        if was != after && (was.is_some() || after.is_some()) {
            out.push(format!("route.{name}.x402"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_that_need_a_restart() {
        let old: toml::Table = "[server]\nlisten = \"a\"\n[[route]]\nname = \"r\"\nprice_sat = 1\n"
            .parse()
            .unwrap();
        let new: toml::Table =
            "[server]\nlisten = \"b\"\n[[route]]\nname = \"r\"\nprice_sat = 2\nx402 = { amount = \"1\" }\n"
                .parse()
                .unwrap();
        assert_eq!(restart_sections(&old, &new), vec!["server", "route.r.x402"]);
        assert!(restart_sections(&old, &old).is_empty());
    }
}
