//! The listener: the accept loop, per-connection tasks ([`super::conn`]), connection caps
//! ([`super::limits`]), hyper's protocol limits, optional TLS ([`super::tls`]) and graceful
//! shutdown.
//!
//! Downstream protocols: HTTP/1.1 (keep-alive, upgrades) and HTTP/2 — by prior knowledge
//! (h2c) on plain TCP, by ALPN `h2` over TLS. hyper enforces the head limits: an HTTP/1.1 head
//! larger than `max_header_bytes` or with more than `max_headers` fields → 431; one not
//! complete within the header timeout → connection closed; HTTP/2 header lists above
//! `max_header_bytes` → 431 (the `h2` crate), plus stream, ping and reset-flood limits.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use hyper_util::{
    rt::{TokioExecutor, TokioTimer},
    server::conn::auto,
};
use tokio::{
    net::TcpListener,
    sync::watch,
    task::{JoinHandle, JoinSet},
};

use super::{
    conn::{self, Shared},
    limits::ConnectionLimits,
    tls::{ServerTls, TlsError},
    Gateway,
};
use crate::config::{Http2Config, LimitsConfig, ServerConfig};

/// Request extension on requests that arrived over TLS (the proxy sets
/// `X-Forwarded-Proto: https`).
#[derive(Debug, Clone, Copy)]
pub struct Https;

/// How long shutdown waits for open connections to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Everything the listener enforces.
#[derive(Debug, Clone)]
pub struct ListenerOptions {
    /// Time to send a request head (and the TLS handshake, and the first request).
    pub header_read_timeout: Duration,
    /// Connection and request bounds.
    pub limits: LimitsConfig,
    /// HTTP/2 settings (`enabled = false`: HTTP/1.1 only).
    pub http2: Http2Config,
    /// Serve HTTPS with this certificate.
    pub tls: Option<Arc<ServerTls>>,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        ListenerOptions {
            header_read_timeout: Duration::from_secs(15),
            limits: LimitsConfig::default(),
            http2: Http2Config::default(),
            tls: None,
        }
    }
}

impl ListenerOptions {
    /// The options of `[server]`, loading the TLS certificate and key when configured.
    pub fn from_config(server: &ServerConfig) -> Result<ListenerOptions, TlsError> {
        let tls = match (&server.tls_cert, &server.tls_key) {
            (Some(cert), Some(key)) => {
                Some(Arc::new(ServerTls::load(cert, key, server.http2.enabled)?))
            }
            _ => None,
        };
        Ok(ListenerOptions {
            header_read_timeout: Duration::from_secs(server.header_read_timeout_secs),
            limits: server.limits.clone(),
            http2: server.http2.clone(),
            tls,
        })
    }

    /// Check the transport files of `[server]` (what `gate402 check-config` adds to the
    /// config checks): the TLS pair loads, the upstream URL parses, its CA file loads.
    pub fn check(server: &ServerConfig) -> Result<(), String> {
        ListenerOptions::from_config(server).map_err(|e| format!("server.tls_cert: {e}"))?;
        crate::proxy::upstream::check(&server.upstream, server.upstream_ca_file.as_deref())
            .map_err(|e| e.to_string())
    }

    /// The hyper builders: auto (HTTP/1.1 + h2c preface), HTTP/1.1 only, HTTP/2 only.
    fn builders(&self) -> [auto::Builder<TokioExecutor>; 3] {
        let mut b = auto::Builder::new(TokioExecutor::new());
        let l = &self.limits;
        {
            let mut h1 = b.http1();
            // The read buffer bounds the head (hyper answers 431 when a head fills it); hyper's
            // smallest is 8 KiB.
            // No head timer of hyper's: it arms (allocates, registers, drops) a timer for
            // every request; the connection task's deadline bounds head reads instead
            // (`conn.rs`).
            h1.timer(TokioTimer::new())
                .header_read_timeout(None)
                .max_buf_size(l.max_header_bytes.max(8192));
            // hyper keeps up to 100 header slots on the stack; another count allocates.
            if l.max_headers != 100 {
                h1.max_headers(l.max_headers);
            }
        }
        let h = &self.http2;
        let keepalive =
            (h.keepalive_interval_secs > 0).then(|| Duration::from_secs(h.keepalive_interval_secs));
        b.http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(h.max_concurrent_streams)
            .max_header_list_size(u32::try_from(l.max_header_bytes).unwrap_or(u32::MAX))
            .keep_alive_interval(keepalive)
            .keep_alive_timeout(Duration::from_secs(h.keepalive_timeout_secs.max(1)))
            .max_pending_accept_reset_streams(h.max_pending_accept_reset_streams)
            .max_local_error_reset_streams(h.max_local_error_reset_streams);
        let h1 = b.clone().http1_only();
        let h2 = b.clone().http2_only();
        let auto = if h.enabled { b } else { h1.clone() };
        [auto, h1, h2]
    }
}

/// A running gateway listener.
#[derive(Debug)]
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    limits: Arc<ConnectionLimits>,
    tls: Option<Arc<ServerTls>>,
}

impl Running {
    /// Stop accepting connections, let in-flight requests finish (at most 10 s), and wait.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.map_err(std::io::Error::other)
    }

    /// Client connections currently open.
    pub fn open_connections(&self) -> usize {
        self.limits.open()
    }

    /// The listener's TLS (to reload its certificate), if it serves HTTPS.
    pub fn tls(&self) -> Option<&Arc<ServerTls>> {
        self.tls.as_ref()
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

/// Serve `router` on an already-bound listener with the default [`ListenerOptions`].
pub fn spawn(listener: TcpListener, router: impl Into<Gateway>) -> std::io::Result<Running> {
    serve(listener, router, ListenerOptions::default())
}

/// Serve `router` with the default options and the given request-head timeout.
pub fn spawn_with(
    listener: TcpListener,
    router: impl Into<Gateway>,
    header_timeout: Duration,
) -> std::io::Result<Running> {
    let options = ListenerOptions {
        header_read_timeout: header_timeout,
        ..ListenerOptions::default()
    };
    serve(listener, router, options)
}

/// Serve `router` on an already-bound listener until [`Running::shutdown`] (or until the
/// `Running` is dropped). Handlers can extract `ConnectInfo<SocketAddr>`; requests over TLS
/// carry the [`Https`] extension.
pub fn serve(
    listener: TcpListener,
    router: impl Into<Gateway>,
    options: ListenerOptions,
) -> std::io::Result<Running> {
    let router = router.into();
    let addr = listener.local_addr()?;
    let (tx, mut rx) = watch::channel(false);
    let limits = ConnectionLimits::new(
        options.limits.max_connections,
        options.limits.max_connections_per_ip,
    );
    let [auto, h1, h2] = options.builders();
    let shared = Arc::new(Shared {
        router,
        auto,
        h1,
        h2,
        tls: options.tls.clone(),
        header_timeout: options.header_read_timeout,
        idle_timeout: Duration::from_secs(options.limits.idle_timeout_secs),
        shutdown: rx.clone(),
        logs: conn::Logs::default(),
    });
    let caps = limits.clone();
    let task = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            // Reap finished connection tasks (the set stays ≤ the open connections).
            while conns.try_join_next().is_some() {}
            let permit = tokio::select! {
                p = caps.slot() => p,
                _ = rx.changed() => break,
            };
            let (stream, remote) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // EMFILE and friends: log, back off briefly, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = rx.changed() => break,
            };
            let Some(slot) = caps.admit(permit, remote.ip()) else {
                continue;
            };
            conns.spawn(conn::serve(stream, remote, shared.clone(), slot));
        }
        drop(listener);
        drop(shared);
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while conns.join_next().await.is_some() {}
        });
        if drained.await.is_err() {
            tracing::warn!(
                open = conns.len(),
                "connections still open after 10 s; closing them"
            );
            conns.abort_all();
        }
    });
    Ok(Running {
        addr,
        shutdown: tx,
        task,
        limits,
        tls: options.tls,
    })
}
