//! `gate402 serve` and `gate402 check-config`.

use std::{path::Path, process::ExitCode, sync::Arc, time::Duration};

use tokio::net::TcpListener;

use crate::{
    clock::now_unix,
    config::{load_mpp_secret, load_secret, Config},
    server,
    store::Store,
};

/// How often expired consumed keys, sessions and pooled invoices are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// How often an unreachable store is retried at start.
const STORE_RETRY_EVERY: Duration = Duration::from_secs(2);

/// How often idle MPP sessions are looked for (closed and refunded).
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// How often x402 settlements nobody waits for are reconciled (and once at start-up).
const RECONCILE_EVERY: Duration = Duration::from_secs(5);

/// Validate a config file and its secrets.
pub fn check(path: &Path) -> ExitCode {
    let loaded = Config::load(path).and_then(|c| {
        let l402 = load_secret(&c.l402)?;
        load_mpp_secret(&c.mpp, &l402).map(|_| c)
    });
    let loaded = loaded.map_err(|e| e.to_string()).and_then(|c| {
        server::ListenerOptions::check(&c.server)?;
        if let Some(admin) = c.admin.as_ref().filter(|a| a.api) {
            crate::admin::AdminAuth::from_config(admin).map_err(|e| format!("[admin]: {e}"))?;
        }
        Ok(c)
    });
    match loaded {
        Ok(c) => {
            println!(
                "{}: ok ({} route{}, upstream {})",
                path.display(),
                c.routes.len(),
                if c.routes.len() == 1 { "" } else { "s" },
                c.server.upstream
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            ExitCode::from(2)
        }
    }
}

fn spawn_purge(store: Arc<dyn Store>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PURGE_EVERY);
        loop {
            tick.tick().await;
            match store.purge_expired(now_unix()).await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "purged expired store rows"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot purge expired store rows"),
            }
        }
    });
}

/// Start the admin listener: metrics, the admin API (with the configured key) and the
/// dashboard.
async fn spawn_admin(
    admin: &crate::config::AdminConfig,
    paywall: &Arc<crate::paywall::Paywall>,
    reloader: &Arc<crate::admin::Reloader>,
) -> Result<(), ExitCode> {
    let auth = if admin.api {
        match crate::admin::AdminAuth::from_config(admin) {
            Ok(Some(a)) => Some(Arc::new(a)),
            Ok(None) => {
                tracing::warn!(env = %admin.secret_env, "admin API disabled until a key is configured (the variable is unset and no [admin] public_key_file)");
                None
            }
            Err(e) => {
                eprintln!("[admin]: {e}");
                return Err(ExitCode::from(2));
            }
        }
    } else {
        None
    };
    let listener = TcpListener::bind(admin.listen).await.map_err(|e| {
        eprintln!("cannot listen on {} ([admin] listen): {e}", admin.listen);
        ExitCode::FAILURE
    })?;
    let addr = listener.local_addr().unwrap_or(admin.listen);
    if !admin.listen.ip().is_loopback() {
        tracing::warn!(addr = %admin.listen, "the admin listener is not on loopback: its metrics endpoint has no authentication");
    }
    let app = crate::admin::router(crate::admin::AdminState {
        paywall: paywall.clone(),
        auth,
        reloader: Some(reloader.clone()),
        started_at: now_unix(),
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    tracing::info!(addr = %addr, "admin listener: dashboard at /, API at /api/, metrics at /_gate402/metrics");
    println!("gate402 admin on http://{addr}");
    Ok(())
}

/// Run the gateway until Ctrl-C.
pub async fn run(path: &Path, json_logs: bool) -> ExitCode {
    let mut config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    config.server.access_log |= json_logs;
    // Sessions refund unspent balances: the node must be able to pay.
    let macaroon = crate::backend::seller_macaroon(config.mpp.session.enabled);
    let rail = match crate::backend::connect_with(&config.lightning, macaroon).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: lightning: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let paywall = match server::paywall(&config, rail) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let (paywall, store) =
        match server::attach_store_or_retry(paywall, &config, STORE_RETRY_EVERY).await {
            Ok((p, s)) => (Arc::new(p), s),
            Err(e) => {
                eprintln!("cannot open the store: {e}");
                return ExitCode::FAILURE;
            }
        };
    spawn_purge(store.clone());
    paywall.spawn_session_sweeper(SWEEP_EVERY);
    paywall.spawn_x402_reconciler(RECONCILE_EVERY);
    let reloader = Arc::new(crate::admin::Reloader::new(
        path.to_path_buf(),
        paywall.clone(),
    ));
    if let Err(e) = reloader.spawn_on_sighup() {
        eprintln!("cannot listen for SIGHUP: {e}");
        return ExitCode::FAILURE;
    }
    if let Some(admin) = &config.admin {
        if let Err(code) = spawn_admin(admin, &paywall, &reloader).await {
            return code;
        }
    }
    let router = match server::router(&config, paywall) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(config.server.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", config.server.listen);
            return ExitCode::FAILURE;
        }
    };
    let options = match server::ListenerOptions::from_config(&config.server) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{}: server.tls_cert: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    server::limits::warn_if_fd_limit_low(config.server.limits.max_connections);
    let running = match server::serve(listener, router, options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(tls) = running.tls() {
        if let Err(e) = server::tls::spawn_reload_on_sighup(tls.clone()) {
            eprintln!("cannot listen for SIGHUP: {e}");
            return ExitCode::FAILURE;
        }
    }
    tracing::info!(addr = %running.addr, upstream = %config.server.upstream, store = store.backend(), "gate402 listening");
    println!(
        "gate402 listening on {}://{}",
        running.scheme(),
        running.addr
    );
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
    match running.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server error: {e}");
            ExitCode::FAILURE
        }
    }
}
