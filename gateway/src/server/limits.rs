//! Connection caps of the listener.
//!
//! * **Total** (`max_connections`): a semaphore taken *before* `accept`. At the cap the accept
//!   loop simply stops accepting, so further connections wait in the kernel's listen backlog
//!   (bounded by the kernel, no memory spent here) until a connection closes.
//! * **Per client address** (`max_connections_per_ip`; IPv6 per /64, IPv4-mapped IPv6 as IPv4):
//!   checked right after `accept`; a connection over it is closed at once, so 500 slowloris
//!   sockets from one address hold at most that many slots and everyone else keeps being
//!   served. The map holds one entry per address with an open connection (≤ the total cap).
//!
//! Refusals and reaching the cap are logged at most once per second each, with the count
//! since the previous line, so a flood cannot flood the log.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::{Duration, Instant},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The caps and the connections they currently count.
#[derive(Debug)]
pub struct ConnectionLimits {
    total: Arc<Semaphore>,
    max_total: usize,
    per_ip: usize,
    open: AtomicUsize,
    open_per_ip: Mutex<HashMap<IpAddr, usize>>,
    refused_log: Throttle,
    full_log: Throttle,
}

/// One admitted connection: its slot in both caps, released on drop.
#[derive(Debug)]
pub struct ConnectionSlot {
    _permit: OwnedSemaphorePermit,
    key: Option<IpAddr>,
    limits: Arc<ConnectionLimits>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.limits.open.fetch_sub(1, Ordering::Relaxed);
        let Some(key) = self.key else { return };
        let mut open = self
            .limits
            .open_per_ip
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&key);
            }
        }
    }
}

impl ConnectionLimits {
    /// At most `max_total` open connections, `per_ip` per client address (0: no such cap).
    pub fn new(max_total: usize, per_ip: usize) -> Arc<Self> {
        let max_total = max_total.clamp(1, Semaphore::MAX_PERMITS);
        Arc::new(ConnectionLimits {
            total: Arc::new(Semaphore::new(max_total)),
            max_total,
            per_ip,
            open: AtomicUsize::new(0),
            open_per_ip: Mutex::new(HashMap::new()),
            refused_log: Throttle::default(),
            full_log: Throttle::default(),
        })
    }

    /// Wait for a free slot in the total cap (call before `accept`).
    pub async fn slot(&self) -> OwnedSemaphorePermit {
        if self.total.available_permits() == 0 {
            if let Some(waited) = self.full_log.hit() {
                tracing::warn!(
                    max_connections = self.max_total,
                    times = waited,
                    "connection limit reached: new connections wait in the listen backlog"
                );
            }
        }
        match self.total.clone().acquire_owned().await {
            Ok(p) => p,
            // The semaphore is never closed; wait forever rather than exceed the cap.
            Err(_) => std::future::pending().await,
        }
    }

    /// Admit a connection from `ip` into `permit`'s slot, or `None` (the caller closes it)
    /// when its address already has `per_ip` open connections.
    pub fn admit(
        self: &Arc<Self>,
        permit: OwnedSemaphorePermit,
        ip: IpAddr,
    ) -> Option<ConnectionSlot> {
        if self.per_ip == 0 {
            self.open.fetch_add(1, Ordering::Relaxed);
            return Some(ConnectionSlot {
                _permit: permit,
                key: None,
                limits: self.clone(),
            });
        }
        let key = address_key(ip);
        {
            let mut open = self
                .open_per_ip
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let n = open.entry(key).or_insert(0);
            if *n >= self.per_ip {
                drop(open);
                if let Some(refused) = self.refused_log.hit() {
                    tracing::warn!(
                        client = %key,
                        max_connections_per_ip = self.per_ip,
                        refused,
                        "connection refused: too many open connections from this address"
                    );
                }
                return None;
            }
            *n += 1;
        }
        self.open.fetch_add(1, Ordering::Relaxed);
        Some(ConnectionSlot {
            _permit: permit,
            key: Some(key),
            limits: self.clone(),
        })
    }

    /// Connections currently open (admitted and not yet closed).
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

/// Warn when the process may open fewer files than `max_connections` needs (each client
/// connection is a descriptor; the upstream pool, the store and the node take more): past the
/// soft `RLIMIT_NOFILE`, `accept` fails with `EMFILE` before the connection cap is reached.
/// Reads `/proc/self/limits` (Linux); elsewhere it says nothing.
pub fn warn_if_fd_limit_low(max_connections: usize) {
    let Ok(text) = std::fs::read_to_string("/proc/self/limits") else {
        return;
    };
    let soft = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(soft) = soft.filter(|s| *s < max_connections.saturating_add(256)) {
        tracing::warn!(
            open_files = soft,
            max_connections,
            "the open-files limit is below max_connections + 256: raise it (ulimit -n, \
             LimitNOFILE=) or lower server.limits.max_connections"
        );
    }
}

/// The key an address is counted under: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64
/// (one subscriber's usual allocation).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// At most one log line per second: `hit` counts events and says how many happened since
/// the last line when one may be written now.
#[derive(Debug, Default)]
pub struct Throttle {
    count: AtomicU64,
    last: Mutex<Option<Instant>>,
}

impl Throttle {
    /// A throttle that has logged nothing yet (usable in a `static`).
    pub const fn new() -> Throttle {
        Throttle {
            count: AtomicU64::new(0),
            last: Mutex::new(None),
        }
    }

    /// Count one event; `Some(events since the last line)` when a line may be logged.
    pub fn hit(&self) -> Option<u64> {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
            return None;
        }
        *last = Some(now);
        Some(self.count.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[tokio::test]
    async fn the_per_address_cap_refuses_the_extra_connection_and_frees_on_close() {
        let limits = ConnectionLimits::new(10, 2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let s1 = limits.admit(limits.slot().await, a).unwrap();
        let _s2 = limits.admit(limits.slot().await, a).unwrap();
        assert!(limits.admit(limits.slot().await, a).is_none());
        let _s3 = limits.admit(limits.slot().await, b).unwrap();
        assert_eq!(limits.open(), 3);
        drop(s1);
        assert!(limits.admit(limits.slot().await, a).is_some());
    }

    #[tokio::test]
    async fn the_total_cap_makes_the_next_connection_wait() {
        let limits = ConnectionLimits::new(1, 0);
        let first = limits.admit(limits.slot().await, [10, 0, 0, 1].into());
        assert!(
            limits.slot().now_or_never().is_none(),
            "a second slot was handed out over the cap"
        );
        drop(first);
        assert!(limits.slot().now_or_never().is_some());
    }

    #[test]
    fn ipv6_counts_per_slash_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), IpAddr::from([192, 0, 2, 7]));
    }

    #[test]
    fn the_log_throttle_counts_what_it_suppressed() {
        let t = Throttle::default();
        assert_eq!(t.hit(), Some(1));
        assert_eq!(t.hit(), None);
        assert_eq!(t.hit(), None);
        *t.last.lock().unwrap() = Some(Instant::now() - Duration::from_secs(2));
        assert_eq!(t.hit(), Some(3));
    }
}
