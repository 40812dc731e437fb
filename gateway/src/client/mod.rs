//! The buyer client: send a request, pay a 402 within policy, retry, cache the credential.
//!
//! Flow for one request: attach a cached credential for the host if there is one → send → on
//! 402 drop the stale credential, read the challenges, check the offer against the policy
//! (amount present, ≤ max cost, invoice bound to the token, not expired) → pay with the wallet
//! → store the credential → retry once with it.

mod cache;
mod error;
mod l402;
mod lightning;
mod mpp;
mod x402;

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
pub use cache::{CachedToken, TokenCache};
pub use error::{ClientError, PolicyError};
use gate402_protocols::{l402::L402Challenge, mpp::MppOffer, ProtocolId};
use gate402_rails::LightningRail;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client as HyperClient},
    rt::TokioExecutor,
};
pub use mpp::MppSession;
pub use x402::EvmWallet;

use crate::clock::now_unix;

/// Spending limits for one request.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Highest price accepted for one request, millisatoshis.
    pub max_cost_msat: u64,
    /// Highest routing fee accepted, millisatoshis.
    pub max_fee_msat: u64,
    /// Give up on a payment after this long.
    pub payment_timeout: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_cost_msat: 1_000_000,
            max_fee_msat: 10_000,
            payment_timeout: Duration::from_secs(60),
        }
    }
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct ClientRequest {
    /// Method.
    pub method: Method,
    /// Absolute `http://` URL.
    pub url: Uri,
    /// Extra headers.
    pub headers: HeaderMap,
    /// Body (kept so the request can be retried after paying).
    pub body: Bytes,
}

impl ClientRequest {
    /// A GET of `url`.
    pub fn get(url: Uri) -> Self {
        ClientRequest {
            method: Method::GET,
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }
}

/// What was paid for a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentInfo {
    /// Protocol used.
    pub protocol: ProtocolId,
    /// Amount paid, millisatoshis.
    pub amount_msat: u64,
    /// Routing fee, millisatoshis.
    pub fee_msat: u64,
    /// Payment hash, hex.
    pub payment_hash: String,
}

/// A response with what it cost.
#[derive(Debug)]
pub struct PaidResponse {
    /// The final response (body collected).
    pub response: Response<Bytes>,
    /// A payment made for this request, if any.
    pub payment: Option<PaymentInfo>,
    /// Whether a cached credential was presented and accepted.
    pub reused_credential: bool,
}

/// Progress events, for showing what happens while a payment is in flight.
#[derive(Debug, Clone)]
pub enum Event {
    /// A 402 was received with these protocols on offer.
    Challenged(Vec<ProtocolId>),
    /// Paying this many millisatoshis.
    Paying(u64),
    /// Payment done.
    Paid(PaymentInfo),
}

/// Callback receiving progress [`Event`]s.
pub type EventSink = Box<dyn Fn(&Event) + Send + Sync>;

/// Buyer client with a Lightning wallet and a credential cache.
pub struct Client {
    http: HyperClient<HttpConnector, Full<Bytes>>,
    wallet: Arc<dyn LightningRail>,
    cache: TokenCache,
    policy: Policy,
    prefer: ProtocolId,
    on_event: Option<EventSink>,
    evm: Option<EvmWallet>,
}

/// The challenge chosen to pay.
enum Pick {
    L402(L402Challenge),
    Mpp(MppOffer),
}

impl Client {
    /// A client paying with `wallet`, caching credentials in `cache`.
    pub fn new(wallet: Arc<dyn LightningRail>, cache: TokenCache, policy: Policy) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Client {
            http: HyperClient::builder(TokioExecutor::new()).build(connector),
            wallet,
            cache,
            policy,
            prefer: ProtocolId::L402,
            on_event: None,
            evm: None,
        }
    }

    /// Which protocol to pay when a 402 offers several (default L402; the other one is
    /// still paid when it is the only payable offer).
    pub fn prefer(mut self, protocol: ProtocolId) -> Self {
        self.prefer = protocol;
        self
    }

    /// Also pay x402 `exact` EVM offers, signing with `wallet` (L402 stays preferred).
    pub fn with_evm_wallet(mut self, wallet: EvmWallet) -> Self {
        self.evm = Some(wallet);
        self
    }

    /// Report progress events to `f`.
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Box::new(f));
        self
    }

    fn emit(&self, e: Event) {
        if let Some(f) = &self.on_event {
            f(&e);
        }
    }

    /// Send `req`, paying a 402 within policy, and return the final response.
    pub async fn send(&self, req: &ClientRequest) -> Result<PaidResponse, ClientError> {
        let key = cache_key(&req.url)?;
        let now = now_unix();
        let cached = self.cache.get(&key, now);
        let auth = cached.as_ref().and_then(|t| {
            HeaderValue::from_str(&format!("L402 {}:{}", t.macaroon, t.preimage)).ok()
        });
        let auth = auth.map(|v| (http::header::AUTHORIZATION, v));
        let first = self.execute(req, auth.clone()).await?;
        if first.status() != StatusCode::PAYMENT_REQUIRED {
            return Ok(PaidResponse {
                response: first,
                payment: None,
                reused_credential: auth.is_some(),
            });
        }
        if cached.is_some() {
            self.cache.remove(&key);
        }
        let picked = match self.pick_challenge(first.headers()) {
            Ok(p) => p,
            Err(e) => {
                // No payable L402/MPP offer: x402 (v2 header or v1 body), if any.
                let offers = x402::challenges(first.headers(), first.body());
                if offers.is_empty() {
                    return Err(e);
                }
                self.emit(Event::Challenged(vec![ProtocolId::X402]));
                return self.pay_x402(req, offers).await;
            }
        };
        let (info, header) = match picked {
            Pick::L402(challenge) => {
                let (payment, token) = self.pay(&challenge).await?;
                self.cache.put(&key, &token)?;
                let value =
                    HeaderValue::from_str(&challenge.credential(payment.preimage).authorization())
                        .map_err(|e| ClientError::Usage(e.to_string()))?;
                (
                    info(ProtocolId::L402, &payment),
                    (http::header::AUTHORIZATION, value),
                )
            }
            Pick::Mpp(offer) => {
                let (payment, header) = self.pay_mpp_charge(&offer).await?;
                (info(ProtocolId::Mpp, &payment), header)
            }
        };
        self.emit(Event::Paid(info.clone()));
        let response = self.execute(req, Some(header)).await?;
        Ok(PaidResponse {
            response,
            payment: Some(info),
            reused_credential: false,
        })
    }

    fn pick_challenge(&self, headers: &HeaderMap) -> Result<Pick, ClientError> {
        let mut first_err = None;
        let mut offered = Vec::new();
        let mut l402 = None;
        for c in gate402_protocols::l402::parse_challenges(headers) {
            match c {
                Ok(c) => {
                    offered.push(ProtocolId::L402);
                    l402.get_or_insert(c);
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        let mut mpp = None;
        for c in gate402_protocols::mpp::client::parse_challenges(headers) {
            match c {
                Ok(o) if o.is_lightning_charge() => {
                    offered.push(ProtocolId::Mpp);
                    mpp.get_or_insert(o);
                }
                Ok(_) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        self.emit(Event::Challenged(offered));
        let (l402, mpp) = (l402.map(Pick::L402), mpp.map(Pick::Mpp));
        let picked = match self.prefer {
            ProtocolId::Mpp => mpp.or(l402),
            _ => l402.or(mpp),
        };
        picked.ok_or(ClientError::NoPayableChallenge(first_err))
    }

    /// Send `req` once, with `credential` (header name and value) if any.
    async fn execute(
        &self,
        req: &ClientRequest,
        credential: Option<(HeaderName, HeaderValue)>,
    ) -> Result<Response<Bytes>, ClientError> {
        let mut builder = Request::builder()
            .method(req.method.clone())
            .uri(req.url.clone());
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        if !req.headers.contains_key(mpp::ACCEPT_PAYMENT) {
            builder = builder.header(mpp::ACCEPT_PAYMENT, mpp::ACCEPT_CHARGE);
        }
        if let Some((name, value)) = credential {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Full::new(req.body.clone()))
            .map_err(|e| ClientError::Usage(e.to_string()))?;
        let resp = self
            .http
            .request(request)
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let (parts, body) = resp.into_parts();
        let bytes = body
            .collect()
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?
            .to_bytes();
        Ok(Response::from_parts(parts, bytes))
    }
}

fn info(protocol: ProtocolId, p: &gate402_rails::Payment) -> PaymentInfo {
    PaymentInfo {
        protocol,
        amount_msat: p.amount_msat,
        fee_msat: p.fee_msat,
        payment_hash: hex::encode(p.payment_hash),
    }
}

/// Cache key of a URL: `host[:port]` (tokens are per service host, like lnget).
fn cache_key(url: &Uri) -> Result<String, ClientError> {
    if url.scheme_str() != Some("http") {
        return Err(ClientError::Usage(format!(
            "only http:// URLs are supported: {url}"
        )));
    }
    url.authority()
        .map(|a| a.as_str().to_ascii_lowercase())
        .ok_or_else(|| ClientError::Usage(format!("URL has no host: {url}")))
}
