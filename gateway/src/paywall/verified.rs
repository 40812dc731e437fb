//! The L402 credentials this process verified recently, so a token reused request after
//! request skips the macaroon decoding and its HMAC chain (≈ 1.3 µs of the paid path, see
//! `docs/benchmarks.md`). What still runs on every request: revocation, the paid rate limit,
//! use quotas (`check::admit`).
//!
//! * Only reusable L402 tokens that verified, on routes without a dynamic price, presented in
//!   exactly one `Authorization` header (the bytes verified are the bytes looked up).
//! * An entry answers only for the route it was verified on, until the token's own expiry or
//!   [`TTL`] seconds, whichever is first; a route table reload clears the cache.
//! * Lookup: a keyed hash of the header value (foldhash, random seed per process) finds the
//!   entry, then the stored value is compared without an early exit (time depends on the
//!   length only). Only credentials that verified are stored, so strangers cannot grow it
//!   (nor flood a bucket: the hash needs no DoS resistance, and a colliding stranger's
//!   lookup just misses); it holds at most [`MAX_ENTRIES`] (then starts over).

use std::{collections::HashMap, hash::BuildHasher, sync::RwLock};

use foldhash::fast::RandomState;

use gate402_protocols::Verified;
use http::HeaderMap;

/// Seconds an entry is trusted without verifying the token again.
pub const TTL: u64 = 60;
/// Entries at most.
pub const MAX_ENTRIES: usize = 10_000;

struct Entry {
    credential: Box<[u8]>,
    route: Box<str>,
    verified: Verified,
    until: u64,
}

/// See the module docs.
#[derive(Default)]
pub(crate) struct VerifiedCache {
    entries: RwLock<HashMap<u64, Entry, RandomState>>,
    keys: RandomState,
}

/// `a == b` in time that depends on the length only: every byte is compared (no early
/// exit), one `black_box` on the result (`subtle`'s byte-by-byte barrier cost 0.36 µs per
/// lookup of a 300-byte token).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The one `Authorization` value of `headers` (`None` for none or several).
pub(crate) fn single_authorization(headers: &HeaderMap) -> Option<&[u8]> {
    let mut all = headers.get_all(http::header::AUTHORIZATION).iter();
    let first = all.next()?;
    all.next().is_none().then(|| first.as_bytes())
}

impl VerifiedCache {
    /// The verified facts of `credential` on `route`, if cached and still valid at `now`.
    pub(crate) fn get(&self, credential: &[u8], route: &str, now: u64) -> Option<Verified> {
        let key = self.keys.hash_one(credential);
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let e = entries.get(&key)?;
        let same = same_bytes(&e.credential, credential) && &*e.route == route;
        (same && now < e.until).then(|| e.verified.clone())
    }

    /// Remember that `credential` verified as `verified` on `route` at `now` (reusable tokens
    /// only).
    pub(crate) fn put(&self, credential: &[u8], route: &str, verified: &Verified, now: u64) {
        if verified.single_use_key.is_some() || verified.token_id.is_none() {
            return;
        }
        let until = verified.expires_at.unwrap_or(u64::MAX).min(now + TTL);
        let key = self.keys.hash_one(credential);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                credential: credential.into(),
                route: route.into(),
                verified: verified.clone(),
                until,
            },
        );
    }

    /// Forget everything (the routes changed).
    pub(crate) fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gate402_protocols::{ProtocolId, Reference};

    fn verified(expires_at: Option<u64>) -> Verified {
        Verified {
            protocol: ProtocolId::L402,
            reference: Reference::PaymentHash([1; 32]),
            token_id: Some([2; 32]),
            single_use_key: None,
            expires_at,
        }
    }

    #[test]
    fn an_entry_answers_for_its_bytes_and_route_until_it_expires() {
        let c = VerifiedCache::default();
        c.put(b"L402 abc:01", "api", &verified(None), 1_000);
        assert!(c.get(b"L402 abc:01", "api", 1_000).is_some());
        assert!(c.get(b"L402 abc:02", "api", 1_000).is_none());
        assert!(c.get(b"L402 abc:01", "other", 1_000).is_none());
        assert!(c.get(b"L402 abc:01", "api", 1_000 + TTL).is_none());
        c.put(b"L402 x:1", "api", &verified(Some(1_010)), 1_000);
        assert!(c.get(b"L402 x:1", "api", 1_009).is_some());
        assert!(c.get(b"L402 x:1", "api", 1_010).is_none());
        c.clear();
        assert!(c.get(b"L402 abc:01", "api", 1_000).is_none());
    }

    #[test]
    fn single_use_proofs_are_never_cached_and_the_size_is_bounded() {
        let c = VerifiedCache::default();
        let mut v = verified(None);
        v.single_use_key = Some(vec![1]);
        c.put(b"k", "api", &v, 0);
        assert!(c.get(b"k", "api", 0).is_none());
        for i in 0..=MAX_ENTRIES {
            c.put(format!("L402 {i}").as_bytes(), "api", &verified(None), 0);
        }
        assert!(c.entries.read().unwrap().len() <= MAX_ENTRIES);
    }

    #[test]
    fn byte_comparison() {
        assert!(same_bytes(b"abc", b"abc"));
        assert!(!same_bytes(b"abc", b"abd"));
        assert!(!same_bytes(b"abc", b"abcd"));
        assert!(same_bytes(b"", b""));
    }

    #[test]
    fn only_one_authorization_header_is_looked_up() {
        let mut h = HeaderMap::new();
        assert!(single_authorization(&h).is_none());
        h.append("authorization", "L402 a:b".parse().unwrap());
        assert_eq!(single_authorization(&h), Some(&b"L402 a:b"[..]));
        h.append("authorization", "L402 c:d".parse().unwrap());
        assert!(single_authorization(&h).is_none());
    }
}
