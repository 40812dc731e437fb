//! Issuing fresh challenges: one new invoice per challenge, MPP offers ordered by the client's
//! `Accept-Payment`.

use gate402_protocols::{
    mpp::{self, BodyDigest},
    HeaderPair, InvoiceFacts, ProtocolId,
};
use http::{header::WWW_AUTHENTICATE, HeaderValue};

use super::{Paywall, Route};
use crate::{clock::now_unix, error::GateError};

impl Paywall {
    /// Fresh challenges of every protocol on the route, in order (L402 first by convention).
    pub async fn challenges(&self, route: &Route) -> Result<Vec<HeaderPair>, GateError> {
        self.challenges_for(route, None, None).await
    }

    /// Fresh challenges honouring an `Accept-Payment` header for the MPP offers: offers the
    /// client refuses (`q=0`, or unmatched) are not minted; the rest follow its order. Without
    /// the header MPP sends `session` before `charge` (clients that keep the last Payment
    /// challenge, such as Alby's `fetchWithMpp`, then pay the charge). `body` (the digest of
    /// the request's body) binds the MPP challenges to that body.
    pub async fn challenges_for(
        &self,
        route: &Route,
        accept_payment: Option<&str>,
        body: Option<&BodyDigest>,
    ) -> Result<Vec<HeaderPair>, GateError> {
        self.challenges_at(route, accept_payment, body, None).await
    }

    /// [`challenges_for`](Self::challenges_for) for a request made to `resource_url` (an
    /// absolute URL): x402's `resource.url` names it (else the route's path prefix).
    pub async fn challenges_at(
        &self,
        route: &Route,
        accept_payment: Option<&str>,
        body: Option<&BodyDigest>,
        resource_url: Option<&str>,
    ) -> Result<Vec<HeaderPair>, GateError> {
        self.issue(route, accept_payment, body, resource_url, None)
            .await
    }

    /// [`challenges_at`](Self::challenges_at), handing the L402 challenge's invoice to
    /// `l402_invoice` when asked (the browser paywall shows it).
    pub(super) async fn issue(
        &self,
        route: &Route,
        accept_payment: Option<&str>,
        body: Option<&BodyDigest>,
        resource_url: Option<&str>,
        mut l402_invoice: Option<&mut Option<InvoiceFacts>>,
    ) -> Result<Vec<HeaderPair>, GateError> {
        let now = now_unix();
        let mut out = Vec::new();
        for id in &route.protocols {
            let Some(proto) = self.protocol(*id) else {
                continue;
            };
            let before = out.len();
            if *id == ProtocolId::Mpp {
                self.mpp_challenges(route, accept_payment, body, now, &mut out)
                    .await?;
                self.count_challenges(route, *id, out.len() - before);
                continue;
            }
            let invoice = if proto.needs_invoice_for(&route.offer) {
                Some(self.invoice(route, route.offer.price_msat).await?)
            } else {
                None
            };
            if let (ProtocolId::L402, Some(slot), Some(inv)) =
                (*id, l402_invoice.as_deref_mut(), invoice.as_ref())
            {
                *slot = Some(inv.clone());
            }
            match (&self.x402, *id) {
                (Some(x), ProtocolId::X402) => out.extend(x.protocol.challenge_at(
                    &route.offer,
                    invoice.as_ref(),
                    now,
                    resource_url,
                )?),
                _ => out.extend(proto.challenge(&route.offer, invoice.as_ref(), now)?),
            }
            self.count_challenges(route, *id, out.len() - before);
        }
        Ok(out)
    }

    fn count_challenges(&self, route: &Route, id: ProtocolId, n: usize) {
        if let Some(m) = &self.metrics {
            for _ in 0..n {
                m.challenge(&route.name, id.as_str());
            }
        }
    }

    async fn mpp_challenges(
        &self,
        route: &Route,
        accept_payment: Option<&str>,
        body: Option<&BodyDigest>,
        now: u64,
        out: &mut Vec<HeaderPair>,
    ) -> Result<(), GateError> {
        let Some(m) = &self.mpp else { return Ok(()) };
        let mut offers = Vec::new();
        if self.sessions.is_some() {
            offers.push((mpp::METHOD, mpp::SESSION));
        }
        offers.push((mpp::METHOD, mpp::CHARGE));
        for i in mpp::accept::order(&offers, accept_payment) {
            let challenge = if offers[i].1 == mpp::CHARGE {
                let invoice = self.invoice(route, route.offer.price_msat).await?;
                m.charge_challenge_with(&route.offer, &invoice, now, body)
            } else {
                let deposit_msat = m.deposit_sats(&route.offer).saturating_mul(1000);
                let invoice = self.invoice(route, deposit_msat).await?;
                m.session_challenge(&route.offer, &invoice, now, body)
            };
            let value = challenge
                .to_header_value()
                .ok()
                .and_then(|v| HeaderValue::try_from(v).ok())
                .ok_or(gate402_protocols::ChallengeError::InvalidOffer(
                    "MPP challenge is not a valid header value",
                ))?;
            out.push((WWW_AUTHENTICATE, value));
        }
        Ok(())
    }
}
