//! `gate402 simnet`: a simulated Lightning network whose nodes speak LND's gRPC API.
//!
//! Every node gets an LND-style directory `DIR/<node>/` (`tls.cert`, `admin.macaroon`,
//! `invoice.macaroon`, `rpc.addr`) and its own TLS gRPC endpoint on loopback, so gate402 (or
//! any LND client) can be pointed at it unchanged. Restarting on the same directory reuses
//! each node's address, certificate and macaroons.
//!
//! A control API on loopback (address in `DIR/control.addr`) switches faults per node at run
//! time and stops/starts a node's gRPC server (as if lnd went down and came back):
//!
//! | request | effect |
//! |---|---|
//! | `GET /nodes` | names, pubkeys, balances, faults |
//! | `PUT /nodes/{name}/faults` `{"offline":bool,"no_route":bool,"hang":bool,"add_invoice_delay_ms":n,"pay_delay_ms":n}` | set faults (`hang`: calls are accepted and not answered until cleared) |
//! | `POST /nodes/{name}/stop` / `POST /nodes/{name}/start` | stop / restart its gRPC server on the same address |
//! | `POST /nodes/{name}/rotate-cert` | restart its gRPC server with a new TLS key and certificate (LND regenerating `tls.cert`) |

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

use axum::{
    extract::{Path as UrlPath, State},
    http::StatusCode,
    routing::{get, post, put},
    Json, Router,
};
use clap::Args;
use gate402_rails::{
    lnd_server::{serve_node, LndServerHandle},
    simnet::{Faults, SimNetwork},
};
use serde::Deserialize;
use serde_json::json;
use tokio::{net::TcpListener, sync::Mutex};

/// Arguments of `gate402 simnet`.
#[derive(Debug, Clone, Args)]
pub struct SimnetArgs {
    /// Directory for the nodes' files (created if missing).
    #[arg(long)]
    pub dir: PathBuf,
    /// Comma-separated node names.
    #[arg(long, value_delimiter = ',', default_value = "alice,bob")]
    pub nodes: Vec<String>,
    /// Starting balance of every node, satoshis.
    #[arg(long = "balance-sat", default_value_t = 1_000_000)]
    pub balance_sat: u64,
}

struct Node {
    dir: PathBuf,
    addr: SocketAddr,
    server: Option<LndServerHandle>,
}

struct Sim {
    net: SimNetwork,
    nodes: Mutex<HashMap<String, Node>>,
}

/// Listener on the node's previous address when it has one (restart), else a free port.
async fn bind(dir: &Path) -> std::io::Result<TcpListener> {
    let previous = std::fs::read_to_string(dir.join("rpc.addr")).ok();
    match previous.and_then(|a| a.trim().parse::<SocketAddr>().ok()) {
        Some(addr) => TcpListener::bind(addr).await,
        None => TcpListener::bind("127.0.0.1:0").await,
    }
}

async fn start_node(sim: &Sim, name: &str, node: &mut Node) -> std::io::Result<()> {
    let sim_node = sim
        .net
        .node(name)
        .ok_or_else(|| std::io::Error::other("unknown node"))?;
    let listener = TcpListener::bind(node.addr).await?;
    node.server = Some(serve_node(sim_node, &node.dir, listener).await?);
    Ok(())
}

/// Run `gate402 simnet` until Ctrl-C.
pub async fn run(args: SimnetArgs) -> ExitCode {
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gate402 simnet: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: SimnetArgs) -> Result<(), String> {
    if args.nodes.is_empty()
        || args
            .nodes
            .iter()
            .any(|n| n.is_empty() || n.contains(['/', '.']))
    {
        return Err("--nodes must be names without '/' or '.'".into());
    }
    let sim = Arc::new(Sim {
        net: SimNetwork::new(),
        nodes: Mutex::new(HashMap::new()),
    });
    for name in &args.nodes {
        let dir = args.dir.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let node = sim
            .net
            .add_node(name, args.balance_sat.saturating_mul(1000));
        let listener = bind(&dir).await.map_err(|e| format!("{name}: bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let server = serve_node(node, &dir, listener)
            .await
            .map_err(|e| format!("{name}: {e}"))?;
        println!(
            "node {name} listening on {addr} (files in {})",
            dir.display()
        );
        sim.nodes.lock().await.insert(
            name.clone(),
            Node {
                dir,
                addr,
                server: Some(server),
            },
        );
    }
    let control = bind_control(&args.dir).await?;
    let control_addr = control.local_addr().map_err(|e| e.to_string())?;
    std::fs::write(args.dir.join("control.addr"), control_addr.to_string())
        .map_err(|e| format!("control.addr: {e}"))?;
    println!("control API on http://{control_addr}");
    println!("simnet ready");
    let app = Router::new()
        .route("/nodes", get(list))
        .route("/nodes/{name}/faults", put(set_faults))
        .route("/nodes/{name}/stop", post(stop))
        .route("/nodes/{name}/start", post(start))
        .route("/nodes/{name}/rotate-cert", post(rotate_cert))
        .with_state(sim.clone());
    tokio::select! {
        r = axum::serve(control, app) => r.map_err(|e| e.to_string())?,
        _ = tokio::signal::ctrl_c() => {}
    }
    for (_, mut node) in sim.nodes.lock().await.drain() {
        if let Some(s) = node.server.take() {
            let _ = s.shutdown().await;
        }
    }
    Ok(())
}

async fn bind_control(dir: &Path) -> Result<TcpListener, String> {
    let previous = std::fs::read_to_string(dir.join("control.addr")).ok();
    if let Some(addr) = previous.and_then(|a| a.trim().parse::<SocketAddr>().ok()) {
        if let Ok(l) = TcpListener::bind(addr).await {
            return Ok(l);
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("control API: {e}"))
}

async fn list(State(sim): State<Arc<Sim>>) -> Json<serde_json::Value> {
    let nodes = sim.nodes.lock().await;
    let mut out = Vec::new();
    for (name, node) in nodes.iter() {
        let f = sim.net.faults(name);
        out.push(json!({
            "name": name,
            "address": node.addr.to_string(),
            "running": node.server.is_some(),
            "pubkey": sim.net.node(name).map(|n| n.pubkey_hex()),
            "balance_msat": sim.net.balance_msat(name),
            "faults": {
                "offline": f.offline,
                "no_route": f.no_route,
                "hang": f.hang,
                "add_invoice_delay_ms": f.add_invoice_delay.map(|d| d.as_millis() as u64),
                "pay_delay_ms": f.pay_delay.map(|d| d.as_millis() as u64),
            },
        }));
    }
    Json(json!(out))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsBody {
    #[serde(default)]
    offline: bool,
    #[serde(default)]
    no_route: bool,
    #[serde(default)]
    hang: bool,
    #[serde(default)]
    add_invoice_delay_ms: Option<u64>,
    #[serde(default)]
    pay_delay_ms: Option<u64>,
    /// Outgoing payments stay in flight this long, then settle (whatever the payer's timeout).
    #[serde(default)]
    hold_payments_ms: Option<u64>,
}

async fn set_faults(
    State(sim): State<Arc<Sim>>,
    UrlPath(name): UrlPath<String>,
    Json(body): Json<FaultsBody>,
) -> (StatusCode, String) {
    let faults = Faults {
        offline: body.offline,
        no_route: body.no_route,
        hang: body.hang,
        add_invoice_delay: body.add_invoice_delay_ms.map(Duration::from_millis),
        pay_delay: body.pay_delay_ms.map(Duration::from_millis),
        hold_payments: body.hold_payments_ms.map(Duration::from_millis),
        ..Faults::default()
    };
    if sim.net.set_faults(&name, faults) {
        (StatusCode::OK, "ok".into())
    } else {
        (StatusCode::NOT_FOUND, format!("no node {name}"))
    }
}

async fn stop(State(sim): State<Arc<Sim>>, UrlPath(name): UrlPath<String>) -> (StatusCode, String) {
    let mut nodes = sim.nodes.lock().await;
    let Some(node) = nodes.get_mut(&name) else {
        return (StatusCode::NOT_FOUND, format!("no node {name}"));
    };
    if let Some(s) = node.server.take() {
        let _ = s.shutdown().await;
    }
    (StatusCode::OK, "stopped".into())
}

async fn start(
    State(sim): State<Arc<Sim>>,
    UrlPath(name): UrlPath<String>,
) -> (StatusCode, String) {
    let mut nodes = sim.nodes.lock().await;
    let Some(node) = nodes.get_mut(&name) else {
        return (StatusCode::NOT_FOUND, format!("no node {name}"));
    };
    if node.server.is_some() {
        return (StatusCode::OK, "already running".into());
    }
    match start_node(&sim, &name, node).await {
        Ok(()) => (StatusCode::OK, "started".into()),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Stop the node's server, delete its TLS key and certificate, start it again: a new
/// certificate is generated (as LND does when `tls.cert` is removed or expires); clients
/// pinned to the old one fail their handshakes until they load the new file.
async fn rotate_cert(
    State(sim): State<Arc<Sim>>,
    UrlPath(name): UrlPath<String>,
) -> (StatusCode, String) {
    let mut nodes = sim.nodes.lock().await;
    let Some(node) = nodes.get_mut(&name) else {
        return (StatusCode::NOT_FOUND, format!("no node {name}"));
    };
    if let Some(s) = node.server.take() {
        let _ = s.shutdown().await;
    }
    for f in [
        gate402_rails::lnd_server::files::TLS_CERT,
        gate402_rails::lnd_server::files::TLS_KEY,
    ] {
        if let Err(e) = std::fs::remove_file(node.dir.join(f)) {
            return (StatusCode::INTERNAL_SERVER_ERROR, format!("{f}: {e}"));
        }
    }
    match start_node(&sim, &name, node).await {
        Ok(()) => (StatusCode::OK, "rotated".into()),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
