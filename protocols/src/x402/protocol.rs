//! [`X402`] as a [`PaymentProtocol`]: challenges, credential parsing and local verification.

use std::collections::HashMap;

use http::{HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::Value;

use super::exact::{EvmPayment, EvmPrice};
use super::wire::{
    self, PaymentPayload, PaymentRequired, PaymentRequirements, PaymentRequirementsV1, ResourceInfo,
};
use super::{client, lightning, X402Credential, X402Kind, PAYMENT_REQUIRED, PAYMENT_SIGNATURE};
use super::{SCHEME_EXACT, X_PAYMENT};
use crate::{
    ChallengeError, ClientChallenge, Credential, CredentialError, HeaderPair, InvoiceFacts, Offer,
    ParseError, PaymentProof, PaymentProtocol, ProtocolId, RailFacts, Reference, Verified,
    VerifyError, MAX_HEADER_BYTES,
};

/// What one priced route accepts over x402.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X402Route {
    /// The v2 `resource` object.
    pub resource: ResourceInfo,
    /// The EVM `exact` price, if offered.
    pub evm: Option<EvmPrice>,
    /// Whether the Lightning variant is offered (one fresh invoice per challenge).
    pub lightning: bool,
}

struct Entry {
    route: X402Route,
    /// `(price, domain separator)`, precomputed for the hot path.
    evm: Option<(EvmPrice, [u8; 32])>,
}

/// The x402 protocol for a set of routes, keyed by service name ([`Offer::service`]).
pub struct X402 {
    routes: HashMap<String, Entry>,
}

impl std::fmt::Debug for X402 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X402")
            .field("services", &self.routes.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl X402 {
    /// The protocol for `routes` (service name → what the route accepts).
    pub fn new(routes: impl IntoIterator<Item = (String, X402Route)>) -> X402 {
        let routes = routes
            .into_iter()
            .map(|(k, route)| {
                let evm = route.evm.clone().map(|p| {
                    let sep = p.domain().separator();
                    (p, sep)
                });
                (k, Entry { route, evm })
            })
            .collect();
        X402 { routes }
    }

    /// What the route of `service` accepts.
    pub fn route(&self, service: &str) -> Option<&X402Route> {
        self.routes.get(service).map(|e| &e.route)
    }

    /// The `accepts` entries for `offer` (EVM first, then Lightning when an invoice is given).
    pub fn requirements(
        &self,
        offer: &Offer,
        invoice: Option<&InvoiceFacts>,
        now: u64,
    ) -> Vec<PaymentRequirements> {
        let Some(e) = self.routes.get(&offer.service) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some((p, _)) = &e.evm {
            out.push(p.requirement());
        }
        if let (true, Some(inv)) = (e.route.lightning, invoice) {
            out.push(lightning::requirement(inv, now));
        }
        out
    }

    /// The v2 `PaymentRequired` object for `offer`.
    pub fn payment_required(
        &self,
        offer: &Offer,
        invoice: Option<&InvoiceFacts>,
        now: u64,
    ) -> PaymentRequired {
        self.payment_required_at(offer, invoice, now, None)
    }

    /// [`payment_required`](Self::payment_required) for a request made to `resource_url`
    /// (the absolute URL the spec's `resource.url` names; `None`: the route's own).
    pub fn payment_required_at(
        &self,
        offer: &Offer,
        invoice: Option<&InvoiceFacts>,
        now: u64,
        resource_url: Option<&str>,
    ) -> PaymentRequired {
        let mut resource = self
            .route(&offer.service)
            .map(|r| r.resource.clone())
            .unwrap_or_default();
        if let Some(url) = resource_url {
            resource.url = url.to_owned();
        }
        PaymentRequired {
            x402_version: 2,
            error: Some("Payment required".into()),
            resource,
            accepts: self
                .requirements(offer, invoice, now)
                .into_iter()
                .filter_map(|r| serde_json::to_value(r).ok())
                .collect(),
        }
    }

    /// x402 v1 members for a 402 JSON body (`x402Version: 1`, `error`, `accepts`): the EVM
    /// price with a v1 network name where the reference SDK has one (else CAIP-2).
    pub fn v1_body(&self, offer: &Offer) -> Option<serde_json::Map<String, Value>> {
        self.v1_body_at(offer, None)
    }

    /// [`v1_body`](Self::v1_body) with the entry's `resource` = `resource_url` when given.
    pub fn v1_body_at(
        &self,
        offer: &Offer,
        resource_url: Option<&str>,
    ) -> Option<serde_json::Map<String, Value>> {
        let e = self.routes.get(&offer.service)?;
        let (p, _) = e.evm.as_ref()?;
        let r = p.requirement();
        let entry = PaymentRequirementsV1 {
            scheme: r.scheme,
            network: super::exact::v1_network_name(p.chain_id).map_or(r.network, str::to_string),
            max_amount_required: r.amount,
            resource: resource_url.map_or_else(|| e.route.resource.url.clone(), str::to_owned),
            description: e.route.resource.description.clone().unwrap_or_default(),
            mime_type: String::new(),
            asset: r.asset,
            pay_to: r.pay_to,
            max_timeout_seconds: r.max_timeout_seconds,
            extra: r.extra,
        };
        let mut m = serde_json::Map::new();
        m.insert("x402Version".into(), 1.into());
        m.insert("error".into(), "X-PAYMENT header is required".into());
        m.insert(
            "accepts".into(),
            Value::Array(vec![serde_json::to_value(entry).ok()?]),
        );
        Some(m)
    }

    /// The `PAYMENT-REQUIRED` header for a request made to `resource_url` (see
    /// [`payment_required_at`](Self::payment_required_at)); `None` when nothing is offered.
    pub fn challenge_at(
        &self,
        offer: &Offer,
        invoice: Option<&InvoiceFacts>,
        now: u64,
        resource_url: Option<&str>,
    ) -> Result<Vec<HeaderPair>, ChallengeError> {
        let pr = self.payment_required_at(offer, invoice, now, resource_url);
        if pr.accepts.is_empty() {
            return Ok(Vec::new());
        }
        let value = wire::encode_header(&pr);
        if value.len() > MAX_HEADER_BYTES {
            return Err(ChallengeError::InvalidOffer(
                "challenge larger than MAX_HEADER_BYTES",
            ));
        }
        let value = HeaderValue::try_from(value)
            .map_err(|_| ChallengeError::InvalidOffer("challenge is not a valid header value"))?;
        Ok(vec![(PAYMENT_REQUIRED, value)])
    }

    /// Verify an x402 credential for `offer` at `now` (no chain access; see module docs).
    pub fn verify_credential(
        &self,
        c: &X402Credential,
        offer: &Offer,
        now: u64,
    ) -> Result<Verified, VerifyError> {
        let e = self
            .routes
            .get(&offer.service)
            .ok_or(VerifyError::Mismatch("not_offered"))?;
        match &c.kind {
            X402Kind::Evm(p) => {
                let (price, sep) = e.evm.as_ref().ok_or(VerifyError::Mismatch("not_offered"))?;
                if c.version == 1 {
                    if c.accepted.scheme != SCHEME_EXACT {
                        return Err(VerifyError::Mismatch("scheme_mismatch"));
                    }
                    if super::exact::parse_network(&c.accepted.network) != Some(price.chain_id) {
                        return Err(VerifyError::Mismatch("network_mismatch"));
                    }
                } else {
                    price.check_accepted(&c.accepted)?;
                }
                price.verify_with_digest(p, &p.authorization.digest(sep), now)?;
                Ok(Verified {
                    protocol: ProtocolId::X402,
                    reference: Reference::Text(format!(
                        "{}:{}",
                        super::evm::checksum(&p.authorization.from),
                        hex::encode(p.authorization.nonce)
                    )),
                    token_id: None,
                    single_use_key: Some(p.single_use_key(price.chain_id, &price.asset)),
                    expires_at: Some(p.authorization.valid_before),
                })
            }
            X402Kind::Lightning { invoice } => {
                if !e.route.lightning {
                    return Err(VerifyError::Mismatch("not_offered"));
                }
                lightning::check(&c.accepted, invoice, offer)?;
                Ok(Verified {
                    protocol: ProtocolId::X402,
                    reference: Reference::Text(invoice.clone()),
                    token_id: None,
                    single_use_key: Some(lightning::single_use_key(invoice)),
                    expires_at: None,
                })
            }
        }
    }
}

/// Parse a `PAYMENT-SIGNATURE` (v2) or `X-PAYMENT` (v1) header value.
pub fn parse_payment(value: &[u8], header_version: u8) -> Result<X402Credential, ParseError> {
    let payload: PaymentPayload = wire::decode_header(value, "x402 payment header")?;
    if payload.x402_version != header_version {
        return Err(ParseError::Syntax("x402Version does not match the header"));
    }
    let accepted = match (header_version, &payload.accepted) {
        (2, Some(a)) => {
            PaymentRequirements::deserialize(a).map_err(|_| ParseError::Json("accepted"))?
        }
        (2, None) => return Err(ParseError::MissingParam("accepted")),
        _ => PaymentRequirements {
            scheme: payload
                .scheme
                .clone()
                .ok_or(ParseError::MissingParam("scheme"))?,
            network: payload
                .network
                .clone()
                .ok_or(ParseError::MissingParam("network"))?,
            amount: String::new(),
            asset: String::new(),
            pay_to: String::new(),
            max_timeout_seconds: 0,
            extra: Default::default(),
        },
    };
    let kind = if lightning::is_lightning(&accepted) {
        X402Kind::Lightning {
            invoice: lightning::payload_invoice(&payload.payload)?,
        }
    } else {
        X402Kind::Evm(EvmPayment::from_payload(&payload.payload)?)
    };
    Ok(X402Credential {
        version: header_version,
        accepted,
        kind,
        payload,
    })
}

impl PaymentProtocol for X402 {
    fn id(&self) -> ProtocolId {
        ProtocolId::X402
    }

    fn needs_invoice(&self) -> bool {
        self.routes.values().any(|e| e.route.lightning)
    }

    fn needs_invoice_for(&self, offer: &Offer) -> bool {
        self.route(&offer.service).is_some_and(|r| r.lightning)
    }

    fn challenge(
        &self,
        offer: &Offer,
        invoice: Option<&InvoiceFacts>,
        now: u64,
    ) -> Result<Vec<HeaderPair>, ChallengeError> {
        self.challenge_at(offer, invoice, now, None)
    }

    fn parse_credential(&self, headers: &HeaderMap) -> Option<Result<Credential, ParseError>> {
        let (v, version) = match headers.get(PAYMENT_SIGNATURE) {
            Some(v) => (v, 2),
            None => (headers.get(X_PAYMENT)?, 1),
        };
        Some(parse_payment(v.as_bytes(), version).map(|c| Credential::X402(Box::new(c))))
    }

    fn verify(
        &self,
        credential: &Credential,
        offer: &Offer,
        _facts: &dyn RailFacts,
        now: u64,
    ) -> Result<Verified, CredentialError> {
        match credential {
            Credential::X402(c) => Ok(self.verify_credential(c, offer, now)?),
            _ => Err(ParseError::Syntax("not an x402 credential").into()),
        }
    }

    /// Empty: the x402 receipt (`PAYMENT-RESPONSE`) exists only after settlement.
    fn receipt(&self, _verified: &Verified) -> Vec<HeaderPair> {
        Vec::new()
    }

    fn parse_challenges(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Vec<Result<ClientChallenge, ParseError>> {
        client::parse_challenges(headers, body)
            .into_iter()
            .map(|r| r.map(ClientChallenge::X402))
            .collect()
    }

    fn credential_header(
        &self,
        challenge: &ClientChallenge,
        proof: &PaymentProof,
    ) -> Result<HeaderPair, ParseError> {
        match challenge {
            ClientChallenge::X402(c) => client::credential_header(c, proof),
            _ => Err(ParseError::Syntax("not an x402 challenge")),
        }
    }
}
