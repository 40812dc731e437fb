//! Verifying the credential of a request: parse → verify (sans-IO) → consume single-use proofs
//! atomically (the async step) → receipt.

use axum::body::Body;
use gate402_protocols::{
    mpp::{self, BodyDigest},
    Credential, CredentialError, NoRailFacts, ProtocolId, Reference, Verified, VerifyError,
};
use http::{HeaderMap, Response};

use super::{
    settle::{Settled, Unsettled},
    Paywall, Receipt, Route,
};
use crate::{clock::now_unix, error::GateError};

/// The outcome of checking a request's credential.
// One `Check` per request, moved once: boxing the receipt would add an allocation to every
// paid request.
#[allow(clippy::large_enum_variant)]
pub(super) enum Check {
    /// Paid: serve with this receipt.
    Paid(Receipt),
    /// Answer with this response without serving (MPP session top-up and close).
    Respond(Response<Body>),
    /// Refused (`None`: no credential), by the given protocol: 402 with fresh challenges.
    Refused(Option<(CredentialError, ProtocolId)>),
    /// A store or rail failed: 5xx, never a 402 a client would pay again.
    Failed(GateError),
}

impl Paywall {
    /// The gateway's half of a verified payment. With a store: refuse revoked tokens, consume
    /// a single-use proof and record its payment in one transaction, record a reusable
    /// token's first use (see [`super::settle`]). Without one: consume single-use proofs in
    /// the in-memory reservations. Exactly one of any concurrent duplicates gets `Ok`.
    ///
    /// `gate402_store_seconds` times the store writes only (a token recorded before settles
    /// in memory).
    async fn settle(&self, receipt: &Receipt, now: u64) -> Settled {
        if let Some(s) = &self.settlement {
            if let Some(done) = s.in_memory(&receipt.verified) {
                return done;
            }
            let started = self.metrics.as_ref().map(|_| std::time::Instant::now());
            let settled = s.write(receipt, self.lightning.rail_id()).await;
            if let (Some(m), Some(t)) = (&self.metrics, started) {
                m.store_seconds.observe(t.elapsed().as_secs_f64());
            }
            return settled;
        }
        let v = &receipt.verified;
        let Some(key) = &v.single_use_key else {
            return Ok((None, None));
        };
        let keep_until = v.expires_at.unwrap_or(now + 86_400);
        match self.reservations.reserve(key, Some(keep_until), now).await {
            Ok(true) => Ok((None, None)),
            Ok(false) => Err(Unsettled::Refused(VerifyError::Replayed)),
            Err(e) => Err(Unsettled::Failed(e.into())),
        }
    }

    /// Count one use of a reusable token on a route sold by the use (`uses = N`): `false`
    /// once the quota is spent. Other routes and credentials: `true`, no store access.
    async fn count_use(
        &self,
        route: &Route,
        receipt: &Receipt,
        now: u64,
    ) -> Result<bool, GateError> {
        let (Some(max), Some(token_id)) = (route.uses, receipt.verified.token_id) else {
            return Ok(true);
        };
        let Some(store) = self.store() else {
            return Err(GateError::Store(crate::store::StoreError::Config(
                "a route with `uses` needs a store to count them".into(),
            )));
        };
        let keep_until = receipt.verified.expires_at.unwrap_or(now + 365 * 86_400);
        Ok(store.use_quota(&token_id, max, keep_until).await?)
    }

    /// Verify whatever credential the request carries, consuming single-use proofs.
    ///
    /// The consumption is the gateway's half of the exactly-once rule: a proof that verifies
    /// is served only if [`Reservations::reserve`](super::Reservations::reserve) of its
    /// key returns `true`, which happens for exactly one of any concurrent duplicates.
    /// `body` is the digest of the request's body (MPP credentials are checked against it).
    pub(super) async fn check(
        &self,
        route: &Route,
        headers: &HeaderMap,
        body: Option<&BodyDigest>,
        client: Option<std::net::IpAddr>,
    ) -> Check {
        let now = now_unix();
        let mut refused = None;
        for id in &route.protocols {
            let Some(proto) = self.protocol(*id) else {
                continue;
            };
            // A reusable L402 token seen before: its verified facts from the cache.
            let cacheable = (*id == ProtocolId::L402 && route.pricer.is_none())
                .then(|| super::verified::single_authorization(headers))
                .flatten();
            if let Some(v) = cacheable.and_then(|a| self.verified.get(a, &route.name, now)) {
                match self
                    .admit(route, self.receipt(route, proto, v, now), now)
                    .await
                {
                    Ok(done) => return done,
                    Err(e) => {
                        refused = Some((e, *id));
                        continue;
                    }
                }
            }
            let cred = match proto.parse_credential(headers) {
                None => continue,
                Some(Err(e)) => {
                    refused = Some((CredentialError::from(e), *id));
                    continue;
                }
                Some(Ok(c)) => c,
            };
            if let Credential::Mpp(c) = &cred {
                if c.challenge.intent == mpp::SESSION {
                    // Boxed, as the other rare branches: see `authorize_priced`.
                    return Box::pin(self.session(route, c, now, body, client)).await;
                }
            }
            let verify = |offer: &gate402_protocols::Offer| match (&cred, &self.mpp) {
                (Credential::Mpp(c), Some(m)) if c.challenge.intent == mpp::CHARGE => {
                    m.verify_charge_with(c, offer, now, body)
                }
                _ => proto.verify(&cred, offer, &NoRailFacts, now),
            };
            // After a run-time price change, a single-use credential for a challenge issued
            // at an older price (at or above the floor) still pays for what it bought.
            let floor;
            let (route, result) = match (verify(&route.offer), route.at_floor()) {
                (Err(e), Some(f)) if *id != ProtocolId::L402 => {
                    floor = f;
                    (&floor, verify(&floor.offer).map_err(|_| e))
                }
                (result, _) => (route, result),
            };
            let mut verified = match result {
                Ok(v) => v,
                Err(e) => {
                    refused = Some((e, *id));
                    continue;
                }
            };
            // x402 reserves its proof and checks it with the rail now, settles after the
            // upstream answered (and records the payment then): see `x402_settle`.
            if let Credential::X402(c) = &cred {
                match Box::pin(self.x402_admit(route, c, &mut verified)).await {
                    Ok(pending) => {
                        return Check::Paid(Receipt {
                            route: route.name.clone(),
                            price_msat: route.offer.price_msat,
                            headers: proto.receipt_at(&verified, now),
                            verified,
                            pending: Some(pending),
                            ledger: None,
                            first_use: None,
                        })
                    }
                    Err(super::x402::Refusal::Payment(e)) => {
                        refused = Some((e, *id));
                        continue;
                    }
                    Err(super::x402::Refusal::Outage(e)) => return Check::Failed(e),
                }
            }
            if let Some(a) = cacheable {
                self.verified.put(a, &route.name, &verified, now);
            }
            match self
                .admit(route, self.receipt(route, proto, verified, now), now)
                .await
            {
                Ok(done) => return done,
                Err(e) => refused = Some((e, *id)),
            }
        }
        if refused.is_none() {
            if let Some(b) = &self.browser {
                return Box::pin(self.check_cookies(route, b, headers, now)).await;
            }
        }
        Check::Refused(refused)
    }

    /// The receipt of a credential `proto` verified on `route`.
    pub(super) fn receipt(
        &self,
        route: &Route,
        proto: &std::sync::Arc<dyn gate402_protocols::PaymentProtocol>,
        verified: Verified,
        now: u64,
    ) -> Receipt {
        Receipt {
            route: route.name.clone(),
            price_msat: route.offer.price_msat,
            headers: proto.receipt_at(&verified, now),
            verified,
            pending: None,
            ledger: None,
            first_use: None,
        }
    }

    /// The gateway's half for a credential that verified: settle (revocation, ledger),
    /// then the paid rate limit and the quota. `Err`: refused after all (402).
    async fn admit(
        &self,
        route: &Route,
        mut receipt: Receipt,
        now: u64,
    ) -> Result<Check, CredentialError> {
        let settled = self.settle(&receipt, now).await;
        if let Some(m) = &self.metrics {
            // A first use is counted once its write tells whether it was new.
            if let Ok((Some(l), None)) = &settled {
                if l.fresh {
                    m.payment(
                        &route.name,
                        &l.protocol,
                        self.lightning.rail_id(),
                        route.offer.price_msat,
                    );
                }
            }
        }
        match settled {
            Ok((ledger, first_use)) => {
                receipt.ledger = ledger;
                receipt.first_use = first_use;
                // A reusable token over its rate: 429, and the token stays valid (nothing
                // single-use was consumed, no quota use counted).
                if let (Some(limit), Some(tid), None) = (
                    &route.limits.paid,
                    receipt.verified.token_id,
                    &receipt.verified.single_use_key,
                ) {
                    if let Some(resp) = limit.check(&tid) {
                        return Ok(Check::Respond(resp));
                    }
                }
                match self.count_use(route, &receipt, now).await {
                    Ok(true) => Ok(Check::Paid(receipt)),
                    Ok(false) => Err(VerifyError::QuotaSpent.into()),
                    Err(e) => Ok(Check::Failed(e)),
                }
            }
            Err(Unsettled::Refused(e)) => Err(e.into()),
            Err(Unsettled::Failed(e)) => Ok(Check::Failed(e)),
        }
    }

    /// No protocol credential: a browser's session cookie, if any (the first that verifies
    /// for this route). Refused cookies → 402 with reason, the page again.
    async fn check_cookies(
        &self,
        route: &Route,
        browser: &super::browser::Browser,
        headers: &HeaderMap,
        now: u64,
    ) -> Check {
        let cookies = super::browser::cookie::session_cookies(headers);
        if cookies.is_empty() || route.pricer.is_some() {
            return Check::Refused(None);
        }
        let mut refused = None;
        for token in cookies {
            let session = match browser.verify_session(token, &route.name, now) {
                Ok(s) => s,
                Err(e) => {
                    let e = if e.is_expired() {
                        VerifyError::Expired
                    } else if matches!(e, super::browser::BrowserError::OtherRoute) {
                        VerifyError::WrongService(route.name.clone())
                    } else {
                        VerifyError::BadSignature
                    };
                    refused = Some((e.into(), ProtocolId::Browser));
                    continue;
                }
            };
            let receipt = Receipt {
                route: route.name.clone(),
                price_msat: route.offer.price_msat,
                headers: Vec::new(),
                verified: Verified {
                    protocol: ProtocolId::Browser,
                    reference: Reference::PaymentHash(session.payment_hash),
                    token_id: Some(session.token_id),
                    single_use_key: None,
                    expires_at: Some(session.expires_at),
                },
                pending: None,
                ledger: None,
                first_use: None,
            };
            match self.admit(route, receipt, now).await {
                Ok(done) => return done,
                Err(e) => refused = Some((e, ProtocolId::Browser)),
            }
        }
        Check::Refused(refused)
    }
}
