//! Tickets: what the paywall page presents to the settlement endpoint.
//!
//! A ticket is an HS256 JWT under its own derived key and audience (it can never pass for a
//! session cookie, nor a cookie for a ticket), naming the payment hash, the route and the
//! invoice's expiry. Only the gateway can mint one, so the endpoint watches only invoices this
//! gateway issued to a browser, never a hash a stranger makes up.

use serde::{Deserialize, Serialize};

use super::{cookie::parse_hash, Browser, BrowserError};

/// `aud` of tickets.
pub(crate) const AUDIENCE: &str = "gate402/paywall/ticket";

/// How long after its invoice expired a ticket still answers (a paid invoice whose page
/// was asleep can still collect its cookie).
const GRACE_SECS: u64 = 3600;

#[derive(Debug, Serialize, Deserialize)]
struct TicketClaims {
    aud: String,
    sub: String,
    route: String,
    /// Invoice expiry, Unix seconds.
    iex: u64,
    exp: u64,
}

/// A verified ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The invoice's payment hash.
    pub payment_hash: [u8; 32],
    /// Route name.
    pub route: String,
    /// The invoice's expiry, Unix seconds.
    pub invoice_expires_at: u64,
}

impl Browser {
    /// Mint the ticket for an invoice issued on `route`.
    pub fn mint_ticket(
        &self,
        route: &str,
        payment_hash: &[u8; 32],
        invoice_expires_at: u64,
    ) -> Result<String, BrowserError> {
        let claims = TicketClaims {
            aud: AUDIENCE.into(),
            sub: hex::encode(payment_hash),
            route: route.into(),
            iex: invoice_expires_at,
            exp: invoice_expires_at.saturating_add(GRACE_SECS),
        };
        Ok(self.ticket_key.sign(&claims)?)
    }

    /// Verify a ticket at `now`.
    pub fn verify_ticket(&self, token: &str, now: u64) -> Result<Ticket, BrowserError> {
        if token.len() > 1024 {
            return Err(BrowserError::Malformed);
        }
        let c: TicketClaims = self.ticket_key.verify(token, now)?;
        Ok(Ticket {
            payment_hash: parse_hash(&c.sub).ok_or(BrowserError::Malformed)?,
            route: c.route,
            invoice_expires_at: c.iex,
        })
    }
}
