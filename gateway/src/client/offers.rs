//! Every challenge of a 402, normalised into one [`Offer`] each: protocol, rail, amount in the
//! rail's unit, expiry, and whether it can be paid — before any policy is applied.
//!
//! The hostile-402 checks that do not depend on the policy live here, so the quote shows them
//! and [`super::choose`] never picks such an offer: a Lightning invoice must decode (signature
//! checked), carry an amount, ask exactly the amount the challenge states, pay the payment hash
//! the challenge is bound to and not be expired; an MPP challenge must not be expired; an x402
//! `resource` URL and a host-shaped MPP `realm` must name the requested host. Unparseable
//! challenges become [`RejectedOffer`]s (shown, never paid).
//!
//! MPP `realm` is an RFC 9110 protection space, free-form (gate402's default is `gate402`), so
//! it is treated as a host binding only when it is host-shaped (an IP literal or a dotted name,
//! optional port). It must then equal the requested host — except that a DNS-name realm
//! cannot be compared with a request made to an IP literal (a gateway reached by address), so
//! that case is accepted; the payment hash binding still protects the amount.

use gate402_protocols::{
    l402::{self, L402Challenge},
    mpp::{self, MppOffer},
    x402::X402Challenge,
    ProtocolId,
};
use gate402_rails::LightningRail;
use http::HeaderMap;
use serde::Serialize;
use serde_json::Value;

use super::{x402 as client_x402, PolicyError};

/// The unit of Lightning amounts.
pub const MSAT: &str = "msat";

/// An amount in a rail's smallest unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Amount {
    /// Atomic amount, as a decimal string in JSON (token amounts may exceed 2^53).
    #[serde(serialize_with = "as_string")]
    pub value: u128,
    /// `msat`, or `evm:<caip2 network>:<asset address, lowercase>` for tokens.
    pub unit: String,
    /// Token decimals when the challenge states them (`extra.decimals`), for display.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u8>,
}

fn as_string<S: serde::Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl Amount {
    /// Millisatoshis.
    pub fn msat(value: u64) -> Amount {
        Amount {
            value: value.into(),
            unit: MSAT.into(),
            decimals: None,
        }
    }

    /// Whether this is a Lightning amount.
    pub fn is_msat(&self) -> bool {
        self.unit == MSAT
    }
}

/// What to pay, per protocol (kept out of the JSON).
#[derive(Debug, Clone)]
pub enum Payload {
    /// An L402 challenge (macaroon + invoice).
    L402(L402Challenge),
    /// An MPP Lightning charge.
    MppCharge(MppOffer),
    /// An MPP Lightning session offer (deposit invoice).
    MppSession(MppOffer),
    /// Another MPP method/intent (never paid).
    MppOther(MppOffer),
    /// An x402 `accepts` entry.
    X402(X402Challenge),
}

/// One challenge of a 402, normalised.
#[derive(Debug, Clone, Serialize)]
pub struct Offer {
    /// Position among the offers of this 402.
    pub index: usize,
    /// `l402`, `mpp` or `x402`.
    pub protocol: &'static str,
    /// `charge`, `session` (MPP), `token` (L402), `exact` (x402) or what the server sent.
    pub intent: String,
    /// `lightning` or `evm:<caip2 network>`.
    pub rail: String,
    /// What the offer asks.
    pub amount: Option<Amount>,
    /// Human description from the challenge or invoice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Unix seconds after which the offer cannot be paid (invoice or challenge expiry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// Whether the offer is well-formed, honest and payable with the configured wallets.
    pub payable: bool,
    /// Why not (or, after [`super::choose`], why it was not chosen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The typed reason behind `refused`.
    #[serde(skip)]
    pub problem: Option<PolicyError>,
    /// What to pay.
    #[serde(skip)]
    pub payload: Payload,
}

impl Offer {
    /// The protocol id.
    pub fn protocol_id(&self) -> ProtocolId {
        ProtocolId::parse(self.protocol).unwrap_or(ProtocolId::L402)
    }

    /// `lightning` or `evm` (the network stripped).
    pub fn rail_kind(&self) -> &str {
        self.rail.split(':').next().unwrap_or(&self.rail)
    }

    /// The rail used for preference ranking: `session` for MPP session offers.
    pub fn pref_rail(&self) -> &str {
        match self.payload {
            Payload::MppSession(_) => "session",
            _ => &self.rail,
        }
    }

    fn refuse(&mut self, p: PolicyError) {
        self.payable = false;
        self.refused = Some(p.to_string());
        self.problem = Some(p);
    }
}

/// A challenge that could not be parsed (never paid).
#[derive(Debug, Clone, Serialize)]
pub struct RejectedOffer {
    /// The protocol it claimed to be.
    pub protocol: &'static str,
    /// The parse error.
    pub error: String,
    /// The typed parse error.
    #[serde(skip)]
    pub cause: gate402_protocols::ParseError,
}

/// What a payer has and where it asked: the facts offers are checked against.
pub struct OfferContext<'a> {
    /// Decodes BOLT11 invoices (signature checked).
    pub decoder: &'a dyn LightningRail,
    /// A Lightning wallet is configured.
    pub lightning: bool,
    /// An EVM key is configured.
    pub evm: bool,
    /// The requested host (lowercase, no port).
    pub host: String,
    /// Unix seconds.
    pub now: u64,
}

/// Every offer of a 402 response, and the challenges that did not parse.
pub fn parse(
    headers: &HeaderMap,
    body: &[u8],
    ctx: &OfferContext<'_>,
) -> (Vec<Offer>, Vec<RejectedOffer>) {
    let mut offers = Vec::new();
    let mut rejected = Vec::new();
    for c in l402::parse_challenges(headers) {
        match c {
            Ok(c) => offers.push(l402_offer(c, ctx)),
            Err(e) => rejected.push(RejectedOffer {
                protocol: "l402",
                error: e.to_string(),
                cause: e,
            }),
        }
    }
    for c in mpp::client::parse_challenges(headers) {
        match c {
            Ok(o) => offers.push(mpp_offer(o, ctx)),
            Err(e) => rejected.push(RejectedOffer {
                protocol: "mpp",
                error: e.to_string(),
                cause: e,
            }),
        }
    }
    for c in client_x402::parse_all(headers, body) {
        match c {
            Ok(c) => offers.push(x402_offer(c, ctx)),
            Err(e) => rejected.push(RejectedOffer {
                protocol: "x402",
                error: e.to_string(),
                cause: e,
            }),
        }
    }
    for (i, o) in offers.iter_mut().enumerate() {
        o.index = i;
    }
    (offers, rejected)
}

fn base(protocol: &'static str, intent: &str, rail: String, payload: Payload) -> Offer {
    Offer {
        index: 0,
        protocol,
        intent: intent.into(),
        rail,
        amount: None,
        description: None,
        expires_at: None,
        payable: true,
        refused: None,
        problem: None,
        payload,
    }
}

/// Check a Lightning offer's invoice against what the challenge states; fills amount, expiry
/// and description.
fn check_invoice(
    o: &mut Offer,
    bolt11: Option<&str>,
    stated_msat: Option<u64>,
    bound_hash: Option<Option<[u8; 32]>>,
    ctx: &OfferContext<'_>,
) {
    if let Some(m) = stated_msat {
        o.amount = Some(Amount::msat(m));
    }
    let Some(bolt11) = bolt11 else {
        return o.refuse(PolicyError::InvoiceMismatch("no invoice"));
    };
    let inv = match ctx.decoder.decode(bolt11) {
        Ok(inv) => inv,
        Err(e) => return o.refuse(PolicyError::InvalidInvoice(e.to_string())),
    };
    o.expires_at = Some(
        o.expires_at
            .map_or(inv.expires_at, |e| e.min(inv.expires_at)),
    );
    if o.description.is_none() {
        o.description = inv.description.clone().filter(|d| !d.is_empty());
    }
    let Some(amount) = inv.amount_msat else {
        return o.refuse(PolicyError::AmountlessInvoice);
    };
    match stated_msat {
        Some(offered) if offered != amount => {
            return o.refuse(PolicyError::AmountMismatch {
                offered_msat: offered,
                invoice_msat: amount,
            })
        }
        _ => o.amount = Some(Amount::msat(amount)),
    }
    if bound_hash.is_some_and(|h| h != Some(inv.payment_hash)) {
        return o.refuse(PolicyError::InvoiceMismatch(
            "payment hash differs from the offer",
        ));
    }
    if inv.is_expired(ctx.now) {
        return o.refuse(PolicyError::ExpiredInvoice);
    }
    if !ctx.lightning {
        o.refuse(PolicyError::NoWallet("lightning".into()));
    }
}

/// An L402 challenge as an offer (invoice checked against the macaroon's payment hash).
pub fn l402_offer(c: L402Challenge, ctx: &OfferContext<'_>) -> Offer {
    let (bolt11, hash) = (c.invoice.clone(), c.payment_hash());
    let mut o = base("l402", "token", "lightning".into(), Payload::L402(c));
    check_invoice(&mut o, Some(&bolt11), None, Some(hash), ctx);
    o
}

/// A `Payment` challenge as an offer (expiry, `header`, realm binding, invoice checked).
pub fn mpp_offer(m: MppOffer, ctx: &OfferContext<'_>) -> Offer {
    let ch = &m.challenge;
    let rail = if ch.method == mpp::METHOD {
        "lightning".to_string()
    } else {
        ch.method.clone()
    };
    let intent = ch.intent.clone();
    let description = ch.description.clone().or_else(|| {
        m.request
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let expires = ch.expires.as_deref().map(mpp::time::parse_rfc3339);
    let realm = ch.realm.clone();
    let header = ch.header.clone();
    let (payload, stated, bolt11) = if m.is_lightning_charge() {
        let stated = m.amount_sats().map(|s| s.saturating_mul(1000));
        let inv = m.invoice.clone();
        (Payload::MppCharge(m), stated, inv)
    } else if m.is_lightning_session() {
        let stated = m
            .request
            .get("depositAmount")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<u64>().ok())
            .map(|s| s.saturating_mul(1000));
        let inv = m.invoice.clone();
        (Payload::MppSession(m), stated, inv)
    } else {
        let mut o = base("mpp", &intent, rail, Payload::MppOther(m));
        o.description = description;
        o.refuse(PolicyError::Unsupported(format!(
            "MPP method/intent {}/{}",
            o.rail, o.intent
        )));
        return o;
    };
    let hash = match &payload {
        Payload::MppCharge(m) | Payload::MppSession(m) => m.payment_hash(),
        _ => None,
    };
    let mut o = base("mpp", &intent, rail, payload);
    o.description = description;
    match expires {
        Some(None) => return refused(o, PolicyError::Unsupported("unreadable expires".into())),
        Some(Some(e)) if e <= ctx.now => return refused(o, PolicyError::ExpiredChallenge),
        Some(Some(e)) => o.expires_at = Some(e),
        None => {}
    }
    if header.is_some_and(|h| !h.eq_ignore_ascii_case("payment-authorization")) {
        return refused(o, PolicyError::Unsupported("MPP `header` parameter".into()));
    }
    if let Some(p) = realm_binding(&realm, &ctx.host) {
        return refused(o, p);
    }
    check_invoice(&mut o, bolt11.as_deref(), stated, Some(hash), ctx);
    o
}

fn refused(mut o: Offer, p: PolicyError) -> Offer {
    o.refuse(p);
    o
}

/// `Some(error)` if a host-shaped MPP realm names another host than `host` (see module doc).
fn realm_binding(realm: &str, host: &str) -> Option<PolicyError> {
    let r = realm.trim().to_ascii_lowercase();
    let name = match r.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => r.as_str(),
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    let realm_ip = name.parse::<std::net::IpAddr>().is_ok();
    let host_ip = host.parse::<std::net::IpAddr>().is_ok();
    let host_shaped = realm_ip
        || (name.contains('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'));
    let comparable = realm_ip || !host_ip;
    (host_shaped && comparable && name != host).then(|| PolicyError::ForeignHost {
        bound: name.to_string(),
        requested: host.to_string(),
    })
}

#[path = "offers_x402.rs"]
mod x402_offers;
#[cfg(test)]
use x402_offers::resource_binding;
pub use x402_offers::x402_offer;

#[cfg(test)]
#[path = "offers_tests.rs"]
mod tests;
