//! [`Relay`]: a loopback TCP relay in front of a server (PostgreSQL, anvil) that a test can
//! cut off (every open connection dropped, new ones closed at once) and restore — an outage
//! without touching the server — or slow down (every chunk forwarded after a delay).

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::AbortHandle,
};

/// A running relay.
#[derive(Debug, Clone)]
pub struct Relay {
    /// Where clients connect.
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    delay_ms: Arc<AtomicU64>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Relay {
    /// Relay `127.0.0.1:0` to `target`.
    pub async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay {
            addr: listener.local_addr().unwrap(),
            up: Arc::new(AtomicBool::new(true)),
            delay_ms: Arc::default(),
            conns: Arc::default(),
        };
        let r = relay.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !r.up.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let delay = r.delay_ms.clone();
                let task = tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(target).await {
                        let _ = inbound.set_nodelay(true);
                        let _ = outbound.set_nodelay(true);
                        let (ri, wi) = inbound.into_split();
                        let (ro, wo) = outbound.into_split();
                        tokio::join!(pump(ri, wo, delay.clone()), pump(ro, wi, delay));
                    }
                });
                r.conns.lock().unwrap().push(task.abort_handle());
            }
        });
        relay
    }

    /// Forward every chunk `delay` late (zero: at once).
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Cut the database off (`false`) or restore it (`true`).
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            for c in self.conns.lock().unwrap().drain(..) {
                c.abort();
            }
        }
    }
}

/// Copy `from` to `to`, each chunk after the current delay.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay_ms: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let d = delay_ms.load(Ordering::SeqCst);
        if d > 0 {
            tokio::time::sleep(Duration::from_millis(d)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
