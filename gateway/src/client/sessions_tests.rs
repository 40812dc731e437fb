//! Unit tests of the persisted MPP sessions.

use super::*;

fn session(idle: &str) -> MppSession {
    let request = serde_json::json!({"amount": "10", "depositAmount": "100", "idleTimeout": idle});
    let challenge = MppChallenge {
        id: "id".into(),
        realm: "gate402".into(),
        method: "lightning".into(),
        intent: "session".into(),
        request: gate402_protocols::mpp::b64url::encode(request.to_string().as_bytes()),
        ..MppChallenge::default()
    };
    let offer = MppOffer::from_challenge(challenge).unwrap();
    MppSession::restore(offer, [1; 32], [2; 32], 100, 3)
}

#[test]
fn sessions_persist_and_expire_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let cache = TokenCache::new(dir.path());
    assert!(cache.get_session("h", 0).is_none(), "no database yet");
    cache.put_session("h", &session("60"), 1000).unwrap();
    let again = TokenCache::new(dir.path()).get_session("h", 1059).unwrap();
    assert_eq!(again.session_id, [1; 32]);
    assert_eq!(again.preimage(), [2; 32]);
    assert_eq!(again.deposited_sats, 100);
    assert_eq!(again.offer.challenge.realm, "gate402");
    cache.touch_session("h", 1059);
    assert!(
        cache.get_session("h", 1118).is_some(),
        "touch restarts the idle timer"
    );
    assert!(
        cache.get_session("h", 1119).is_none(),
        "idle too long: dropped"
    );
    assert!(cache.get_session("h", 0).is_none(), "and deleted");
    cache.put_session("h", &session("x"), 0).unwrap();
    assert!(cache.get_session("h", 299).is_some(), "default idle 300 s");
    cache.remove_session("h");
    assert!(cache.get_session("h", 1).is_none());
}
