//! An LND-compatible gRPC server for one simulated node: the same services, messages, TLS and
//! macaroon scheme as LND (the subset in `proto/`), so [`LndRail`](crate::lnd::LndRail) — or
//! any LND client — can be exercised without a real lnd.
//!
//! [`serve_node`] prepares a data directory like LND's ([`files`]: `tls.cert`, `tls.key`,
//! `admin.macaroon`, `invoice.macaroon`, `macaroons.key`, `rpc.addr`), then serves
//! `lnrpc.Lightning`, `routerrpc.Router` and `invoicesrpc.Invoices` over TLS (ALPN `h2`) on
//! the given listener. Faults (outages, latency) are those of the node's
//! [`SimNetwork`](crate::simnet::SimNetwork) and can be changed while serving.
//!
//! Stopping ([`LndServerHandle::shutdown`]) ends every open stream, closes the connections
//! (clients then see `Unavailable`) and frees the port, so a new server can be started on the
//! same directory and port: the certificate and macaroons stay valid.

mod auth;
mod convert;
pub mod files;
mod invoices;
mod lightning;
mod lists;
mod router;

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tonic::transport::Server;

pub use auth::Role;

use crate::lnd::proto::invoicesrpc::invoices_server::InvoicesServer;
use crate::lnd::proto::lnrpc::lightning_server::LightningServer;
use crate::lnd::proto::routerrpc::router_server::RouterServer;
use crate::simnet::SimNode;

/// Longest TLS handshake accepted.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`LndServerHandle::shutdown`] waits for connections to close before aborting.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// State shared by the three services.
pub(crate) struct Shared {
    node: SimNode,
    auth: auth::Auth,
    payments: Arc<router::Payments>,
    /// Becomes `true` when the server stops; streams end on it.
    shutdown: watch::Receiver<bool>,
}

/// A running server. Dropping it stops the server (without waiting); prefer
/// [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct LndServerHandle {
    addr: SocketAddr,
    dir: PathBuf,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl LndServerHandle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the PEM certificate clients pin (`tls.cert`).
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(files::TLS_CERT)
    }

    /// Path of `admin.macaroon` (every RPC).
    pub fn admin_macaroon_path(&self) -> PathBuf {
        self.dir.join(files::ADMIN_MACAROON)
    }

    /// Path of `invoice.macaroon` (invoice RPCs, `GetInfo`, `DecodePayReq`).
    pub fn invoice_macaroon_path(&self) -> PathBuf {
        self.dir.join(files::INVOICE_MACAROON)
    }

    /// Stop: refuse new connections, end open streams, close connections (waiting up to a few
    /// seconds for in-flight unary calls) and free the port.
    pub async fn shutdown(mut self) -> io::Result<()> {
        self.stop.send_replace(true);
        if let Some(acceptor) = self.acceptor.take() {
            // Once it has returned, the listening socket is closed and the port is free.
            let _ = acceptor.await;
        }
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(io::Error::other(format!("LND simulator server: {e}"))),
            Ok(Err(e)) => Err(io::Error::other(format!("LND simulator server task: {e}"))),
            Err(_) => {
                task.abort();
                Ok(())
            }
        }
    }
}

impl Drop for LndServerHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Serve `node` on `listener` over TLS with macaroons, using `dir` as its data directory
/// (created if missing; existing certificate and macaroon root key reused). Returns once the
/// files are written and the server is accepting connections.
///
/// Errors name the file or directory that could not be created, read or parsed.
pub async fn serve_node(
    node: SimNode,
    dir: &Path,
    listener: TcpListener,
) -> io::Result<LndServerHandle> {
    std::fs::create_dir_all(dir).map_err(|e| {
        io::Error::other(format!(
            "cannot create data directory {}: {e}",
            dir.display()
        ))
    })?;
    let identity = files::tls_identity(dir)?;
    let root_key = files::root_key(dir)?;
    files::write_macaroons(dir, &root_key)?;
    let addr = listener.local_addr()?;
    files::write_rpc_addr(dir, addr)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(vec![identity.cert], identity.key)
        })
        .map_err(|e| {
            let path = dir.join(files::TLS_KEY);
            io::Error::other(format!("TLS setup with {}: {e}", path.display()))
        })?;
    tls.alpn_protocols = vec![b"h2".to_vec()];

    let (stop, shutdown) = watch::channel(false);
    let shared = Arc::new(Shared {
        node,
        auth: auth::Auth::new(root_key),
        payments: Arc::new(router::Payments::new()),
        shutdown: shutdown.clone(),
    });
    let (conns_tx, conns_rx) = mpsc::channel(64);
    let acceptor = tokio::spawn(accept_loop(
        listener,
        TlsAcceptor::from(Arc::new(tls)),
        conns_tx,
        shutdown.clone(),
    ));
    let server = Server::builder()
        .add_service(LightningServer::new(lightning::LightningSvc(
            shared.clone(),
        )))
        .add_service(RouterServer::new(router::RouterSvc(shared.clone())))
        .add_service(InvoicesServer::new(invoices::InvoicesSvc(shared)))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::ReceiverStream::new(conns_rx),
            convert::stopping(shutdown),
        );
    Ok(LndServerHandle {
        addr,
        dir: dir.to_path_buf(),
        stop,
        task: Some(tokio::spawn(server)),
        acceptor: Some(acceptor),
    })
}

type Conn = Result<TlsStream<TcpStream>, io::Error>;

/// Accept TCP connections, handshake TLS concurrently, hand finished ones to the server.
async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    conns: mpsc::Sender<Conn>,
    shutdown: watch::Receiver<bool>,
) {
    let stop = convert::stopping(shutdown);
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            a = listener.accept() => a,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // E.g. out of file descriptors: back off briefly instead of spinning.
                tracing::warn!(error = %e, "LND simulator: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, conns) = (acceptor.clone(), conns.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => {
                    let _ = conns.send(Ok(tls)).await;
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "LND simulator: TLS handshake failed"),
                Err(_) => tracing::debug!("LND simulator: TLS handshake timed out"),
            }
        });
    }
    // Dropping the listener here frees the port.
}
