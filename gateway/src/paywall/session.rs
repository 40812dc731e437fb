//! MPP Lightning sessions in the gateway: open (deposit), bearer use with per-request
//! deduction, top-up, close with a refund paid by our Lightning rail.
//!
//! The sans-IO checks are [`Mpp::verify_session`](gate402_protocols::mpp::Mpp); here are the
//! stateful steps: deposits and top-ups are consumed once through the replay guard, balances
//! live in the [`SessionStore`](crate::store::SessionStore) (persisted: sessions survive a
//! restart), refunds are paid by [`refund`](super::refund).

use axum::body::Body;
use gate402_protocols::{
    mpp::{session::session_key, BodyDigest, MppCredential, SessionStep},
    CredentialError, ProtocolId, Reference, Verified, VerifyError,
};
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::{check::Check, refund::check_return_invoice, Paywall, Receipt, Route};
use crate::store::{MppSessionRecord as SessionRecord, StoreError};

fn refused(e: impl Into<CredentialError>) -> Check {
    Check::Refused(Some((e.into(), ProtocolId::Mpp)))
}

fn verified(session_id: [u8; 32], challenge_id: Option<[u8; 32]>) -> Verified {
    Verified {
        protocol: ProtocolId::Mpp,
        reference: Reference::PaymentHash(session_id),
        token_id: challenge_id,
        single_use_key: None,
        expires_at: None,
    }
}

/// The payer of a session being opened: the payee node of its return invoice (where its
/// refund goes), else the client address.
fn payer_of(
    rail: &dyn gate402_rails::LightningRail,
    return_invoice: Option<&str>,
    client: Option<std::net::IpAddr>,
) -> Option<String> {
    if let Some(d) = return_invoice.and_then(|i| rail.decode(i).ok()) {
        return Some(format!("node:{}", hex::encode(d.payee_pubkey)));
    }
    client.map(|ip| format!("addr:{ip}"))
}

/// 429: the payer has `max` open sessions.
fn too_many_sessions(max: u64, retry_after_secs: u64) -> Response<Body> {
    let body = json!({
        "type": "https://gate402.dev/problems/too_many_sessions",
        "title": "Too Many Requests",
        "status": 429,
        "reason": "too_many_sessions",
        "detail": format!("{max} sessions are open for this payer: close one, then retry with the same credential before its challenge expires"),
    });
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    h.insert(
        super::edge::REASON_HEADER,
        HeaderValue::from_static("too_many_sessions"),
    );
    resp
}

fn balance_extra(rec: &SessionRecord) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("sessionId".into(), rec.id.clone().into());
    m.insert("spent".into(), rec.spent_sats.into());
    m.insert("balance".into(), rec.balance_sats().into());
    m
}

impl Paywall {
    pub(super) async fn session(
        &self,
        route: &Route,
        cred: &MppCredential,
        now: u64,
        body: Option<&BodyDigest>,
        client: Option<std::net::IpAddr>,
    ) -> Check {
        let (Some(m), Some(store)) = (&self.mpp, &self.sessions) else {
            return refused(VerifyError::MethodUnsupported("sessions are not offered"));
        };
        let step = match m.verify_session(cred, &route.offer, now, body) {
            Ok(s) => s,
            Err(e) => return refused(e),
        };
        let price = route.offer.price_msat / 1000;
        let result: Result<Check, StoreError> = async {
            Ok(match step {
                SessionStep::Open {
                    session_id,
                    deposit_sats,
                    return_invoice,
                    challenge_id,
                    expires_at,
                } => {
                    if let Some(inv) = &return_invoice {
                        let rail = self.lightning.as_ref();
                        if let Err(e) = check_return_invoice(rail, inv, deposit_sats, false, now) {
                            return Ok(refused(e));
                        }
                    }
                    let payer = payer_of(self.lightning.as_ref(), return_invoice.as_deref(), client);
                    // Before the deposit's proof is consumed: refused here, the credential
                    // stays valid (until its challenge expires) for a retry once the payer
                    // closed a session.
                    if let (Some(p), max @ 1..) = (&payer, self.max_sessions_per_payer) {
                        if store.open_sessions_of(p).await? >= max {
                            tracing::info!(route = %route.name, max, "open sessions per payer reached");
                            return Ok(Check::Respond(too_many_sessions(max, self.retry_after_secs)));
                        }
                    }
                    if !self
                        .reservations
                        .reserve(&session_key(&session_id), Some(expires_at), now)
                        .await?
                    {
                        return Ok(refused(VerifyError::Replayed));
                    }
                    let rec = SessionRecord {
                        id: hex::encode(session_id),
                        route: route.name.clone(),
                        deposited_sats: deposit_sats,
                        spent_sats: 0,
                        return_invoice,
                        closed: false,
                        last_used: now,
                        idle_timeout_secs: m.idle_timeout_secs(),
                        payer,
                    };
                    if !store.open(rec).await? {
                        return Ok(refused(VerifyError::Replayed));
                    }
                    self.serve(
                        route,
                        store
                            .debit(&hex::encode(session_id), &route.name, price, now)
                            .await?,
                        session_id,
                        Some(challenge_id),
                        now,
                    )
                }
                SessionStep::Bearer { session_id } => {
                    let rec = store
                        .debit(&hex::encode(session_id), &route.name, price, now)
                        .await?;
                    self.serve(route, rec, session_id, None, now)
                }
                SessionStep::TopUp {
                    session_id,
                    topup_hash,
                    deposit_sats,
                    expires_at,
                } => {
                    if !self
                        .reservations
                        .reserve(&session_key(&topup_hash), Some(expires_at), now)
                        .await?
                    {
                        return Ok(refused(VerifyError::Replayed));
                    }
                    match store
                        .credit(&hex::encode(session_id), deposit_sats, now)
                        .await?
                    {
                        Ok(rec) => self.json_answer(&rec, session_id, json!({"status": "ok"}), now),
                        Err(e) => refused(e),
                    }
                }
                SessionStep::Close {
                    session_id,
                    return_invoice,
                } => self.close(session_id, return_invoice, now).await?,
            })
        }
        .await;
        result.unwrap_or_else(|e| Check::Failed(e.into()))
    }

    fn serve(
        &self,
        route: &Route,
        rec: Result<SessionRecord, VerifyError>,
        session_id: [u8; 32],
        challenge_id: Option<[u8; 32]>,
        now: u64,
    ) -> Check {
        let (Some(m), Ok(rec)) = (&self.mpp, rec.as_ref()) else {
            return rec.err().map_or(Check::Refused(None), refused);
        };
        let v = verified(session_id, challenge_id);
        Check::Paid(Receipt {
            route: route.name.clone(),
            price_msat: route.offer.price_msat,
            headers: m.receipt_headers(&v, now, balance_extra(rec)),
            verified: v,
            pending: None,
            ledger: None,
            first_use: None,
        })
    }

    fn json_answer(
        &self,
        rec: &SessionRecord,
        session_id: [u8; 32],
        body: Value,
        now: u64,
    ) -> Check {
        let mut resp = Response::new(Body::from(body.to_string()));
        *resp.status_mut() = StatusCode::OK;
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(m) = &self.mpp {
            let mut extra = balance_extra(rec);
            if let Value::Object(b) = &body {
                extra.extend(
                    b.iter()
                        .filter(|(k, _)| k.starts_with("refund"))
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
            }
            for (k, v) in m.receipt_headers(&verified(session_id, None), now, extra) {
                h.insert(k, v);
            }
        }
        Check::Respond(resp)
    }

    /// Close: check the refund invoice, mark closed (atomically), pay the refund once.
    async fn close(
        &self,
        session_id: [u8; 32],
        close_invoice: Option<String>,
        now: u64,
    ) -> Result<Check, StoreError> {
        let Some(store) = &self.sessions else {
            return Ok(Check::Refused(None));
        };
        let id = hex::encode(session_id);
        let Some(current) = store.get(&id).await? else {
            return Ok(refused(VerifyError::SessionNotFound));
        };
        if current.closed {
            return Ok(refused(VerifyError::SessionClosed));
        }
        // The refund goes to the invoice sent with the close, else the one given at open; it
        // must be able to carry the balance, or the session stays open (nothing is lost).
        let invoice = close_invoice.or_else(|| current.return_invoice.clone());
        let balance = current.balance_sats();
        match &invoice {
            Some(inv) => {
                let rail = self.lightning.as_ref();
                if let Err(e) = check_return_invoice(rail, inv, balance, true, now) {
                    return Ok(refused(e));
                }
            }
            None if balance > 0 => {
                return Ok(refused(VerifyError::InvalidReturnInvoice(
                    "no return invoice for the refund",
                )))
            }
            None => {}
        }
        let rec = match store.close(&id).await? {
            Ok(r) => r,
            Err(e) => return Ok(refused(e)),
        };
        let refund = rec.balance_sats();
        let status = self.pay_refund(&id, refund, invoice.as_deref()).await;
        tracing::info!(session = %id, refund, status = status.as_str(), "session closed");
        let body =
            json!({"status": "closed", "refundSats": refund, "refundStatus": status.as_str()});
        Ok(self.json_answer(&rec, session_id, body, now))
    }
}
