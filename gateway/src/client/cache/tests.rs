//! Unit tests of the SQLite token cache and spend ledger.

use super::*;

fn token(expires_at: Option<u64>, hash: u8) -> CachedToken {
    CachedToken {
        protocol: "l402".into(),
        macaroon: "AgE=".into(),
        preimage: "00".repeat(32),
        payment_hash: format!("{hash:02x}").repeat(32),
        amount_msat: 1000,
        fee_msat: 3,
        created_at: 86_400 * 5 + 10,
        expires_at,
    }
}

#[test]
fn put_get_remove_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let cache = TokenCache::new(dir.path().join("tokens"));
    assert_eq!(cache.get("h", 0), None, "no database yet");
    cache.put("127.0.0.1:80", &token(Some(100), 1)).unwrap();
    assert_eq!(cache.get("127.0.0.1:80", 50), Some(token(Some(100), 1)));
    assert_eq!(
        cache.get("127.0.0.1:80", 100),
        None,
        "expired entries are dropped"
    );
    assert_eq!(cache.get("127.0.0.1:80", 0), None, "and deleted");
    cache.put("h", &token(None, 2)).unwrap();
    cache.remove("h");
    assert_eq!(cache.get("h", 0), None);
}

#[cfg(unix)]
#[test]
fn the_database_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = TokenCache::new(dir.path());
    cache.put("h", &token(None, 1)).unwrap();
    let mode = std::fs::metadata(cache.db_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
}

#[test]
fn debug_redacts_the_preimage() {
    let dbg = format!("{:?}", token(None, 1));
    assert!(!dbg.contains(&"00".repeat(32)));
}
