//! The buyer client: send a request, read every challenge of a 402, choose one by policy, pay
//! it with the wallets configured, retry, and return the response with what it cost.
//!
//! Flow of [`Client::send`]: attach a cached L402 token for the service if there is one →
//! send → on 402 drop the stale token, normalise every challenge into an [`Offer`]
//! ([`offers`]: the hostile-402 checks), choose the first offer in the policy's preference
//! order that is payable and within every limit ([`choose`]) → reserve the amount (plus the
//! maximum fee) against the daily budgets in one SQLite transaction ([`budget`]) → pay →
//! record the spend, store the credential → retry once with it.
//! [`Client::quote`] does the first half only: it pays nothing.
//!
//! Per-request limits: [`ClientRequest::max_cost`] can only *lower* the policy's per-request
//! maximum (an agent cannot raise what its owner allowed).

pub mod budget;
mod cache;
mod choose;
mod error;
mod failover;
mod l402;
mod lightning;
mod mpp;
pub mod offers;
mod pay;
pub mod policy;
mod receipt;
mod sessions;
mod transport;
mod x402;

use std::sync::Arc;

pub use budget::BudgetStatus;
use bytes::Bytes;
pub use cache::{CachedToken, TokenCache};
pub use choose::{Quote, WouldPay};
pub use error::{ClientError, PolicyError};
pub use failover::Attempt;
use gate402_protocols::ProtocolId;
use gate402_rails::LightningRail;
use http::{HeaderMap, Method, Response, StatusCode, Uri};
pub use mpp::MppSession;
pub use offers::{Amount, Offer, RejectedOffer};
pub use pay::{CredentialHeader, PaidAttempt};
pub use policy::BuyerPolicy;
use serde_json::{json, Value};
pub use transport::RAW_BODY_LIMIT;
pub use x402::EvmWallet;

use crate::clock::now_unix;

/// Spending limits for one request (the msat-precise core of a [`BuyerPolicy`]).
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Highest price accepted for one request, millisatoshis.
    pub max_cost_msat: u64,
    /// Highest routing fee accepted, millisatoshis.
    pub max_fee_msat: u64,
    /// Give up on a payment after this long.
    pub payment_timeout: std::time::Duration,
}

impl Default for Policy {
    fn default() -> Self {
        let p = BuyerPolicy::default();
        Policy {
            max_cost_msat: p.max_cost_sat * 1000,
            max_fee_msat: p.max_fee_msat(),
            payment_timeout: p.payment_timeout(),
        }
    }
}

/// A per-request maximum price; each part can only lower the policy's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaxCost {
    /// Lightning, millisatoshis.
    pub msat: Option<u64>,
    /// Tokens, atomic units (any asset).
    pub evm: Option<u128>,
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct ClientRequest {
    /// Method.
    pub method: Method,
    /// Absolute `http://` or `https://` URL.
    pub url: Uri,
    /// Extra headers.
    pub headers: HeaderMap,
    /// Body (kept so the request can be retried after paying).
    pub body: Bytes,
    /// Lower per-request maximum price than the policy's, if any.
    pub max_cost: Option<MaxCost>,
}

impl ClientRequest {
    /// A GET of `url`.
    pub fn get(url: Uri) -> Self {
        ClientRequest {
            method: Method::GET,
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            max_cost: None,
        }
    }
}

/// What was paid for a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentInfo {
    /// Protocol used.
    pub protocol: ProtocolId,
    /// `lightning` or `evm:<network>`.
    pub rail: String,
    /// Amount paid in the rail's unit.
    pub amount: Amount,
    /// Amount paid, millisatoshis (0 for token payments).
    pub amount_msat: u64,
    /// Routing fee, millisatoshis.
    pub fee_msat: u64,
    /// Payment hash (hex) or transaction hash.
    pub payment_hash: String,
    /// The decoded receipt: `Payment-Receipt` (MPP), `PAYMENT-RESPONSE` (x402) or the L402
    /// token id.
    pub receipt: Option<Value>,
}

/// A response with what it cost.
#[derive(Debug)]
pub struct PaidResponse {
    /// The URL requested.
    pub url: String,
    /// The final response (body collected).
    pub response: Response<Bytes>,
    /// A payment made for this request, if any.
    pub payment: Option<PaymentInfo>,
    /// Whether a cached credential was presented and accepted.
    pub reused_credential: bool,
    /// Failed payment attempts of other offers before this one (failover).
    pub attempts: Vec<Attempt>,
}

impl PaidResponse {
    /// What `gate402 get --json` prints, minus the body.
    pub fn summary(&self) -> Value {
        let p = self.payment.as_ref();
        json!({
            "url": self.url,
            "status": self.response.status().as_u16(),
            "paid": p.is_some(),
            "protocol": p.map(|p| p.protocol.as_str()),
            "rail": p.map(|p| p.rail.clone()),
            "amount": p.map(|p| p.amount.value.to_string()),
            "unit": p.map(|p| p.amount.unit.clone()),
            "fee_msat": p.map(|p| p.fee_msat),
            "payment_hash": p.map(|p| p.payment_hash.clone()),
            "receipt": p.and_then(|p| p.receipt.clone()),
            "reused_credential": self.reused_credential,
            "attempts": self.attempts.iter().map(Attempt::to_json).collect::<Vec<_>>(),
        })
    }
}

/// Progress events, for showing what happens while a payment is in flight.
#[derive(Debug, Clone)]
pub enum Event {
    /// A 402 was received with these protocols on offer.
    Challenged(Vec<ProtocolId>),
    /// Paying this many millisatoshis over Lightning.
    Paying(u64),
    /// Signing a token authorization for this amount (settled by the server on retry).
    Signing(Amount),
    /// Payment done.
    Paid(PaymentInfo),
    /// The payment failed or was refused.
    Failed(String),
    /// An attempt failed without moving money; the next offer is tried (failover).
    FailedOver(Attempt),
}

/// Callback receiving progress [`Event`]s.
pub type EventSink = Box<dyn Fn(&Event) + Send + Sync>;

/// Buyer client with wallets, a policy and a credential cache / budget ledger.
pub struct Client {
    http: transport::Http,
    wallet: Arc<dyn LightningRail>,
    cache: TokenCache,
    limits: Policy,
    policy: BuyerPolicy,
    on_event: Option<EventSink>,
    evm: Option<EvmWallet>,
    /// Try the next offer when a payment fails without moving money.
    failover: bool,
}

impl Client {
    /// A client paying with `wallet`, caching credentials in `cache`, with the default
    /// [`BuyerPolicy`] and the limits of `limits`.
    pub fn new(wallet: Arc<dyn LightningRail>, cache: TokenCache, limits: Policy) -> Self {
        let mut policy = BuyerPolicy {
            max_cost_sat: limits.max_cost_msat.div_ceil(1000),
            max_fee_sat: limits.max_fee_msat.div_ceil(1000),
            payment_timeout_secs: limits.payment_timeout.as_secs().max(1),
            ..BuyerPolicy::default()
        };
        policy.max_cost_evm.clear();
        Client {
            http: transport::client(None),
            wallet,
            cache,
            limits,
            policy,
            on_event: None,
            evm: None,
            failover: true,
        }
    }

    /// Enable (default) or disable failover to the next offer of a 402 when a payment fails
    /// without moving money (`--no-failover`).
    pub fn with_failover(mut self, on: bool) -> Self {
        self.failover = on;
        self
    }

    /// Use `policy` (preference order, limits, budgets, domain lists).
    pub fn with_policy(mut self, policy: BuyerPolicy) -> Self {
        self.limits = Policy {
            max_cost_msat: policy.max_cost_sat.saturating_mul(1000),
            max_fee_msat: policy.max_fee_msat(),
            payment_timeout: policy.payment_timeout(),
        };
        self.policy = policy;
        self
    }

    /// Trust these roots for `https://` instead of the built-in Mozilla roots.
    pub fn with_tls_roots(mut self, roots: rustls::RootCertStore) -> Self {
        self.http = transport::client(Some(roots));
        self
    }

    /// Put `protocol` first in the preference order.
    pub fn prefer(mut self, protocol: ProtocolId) -> Self {
        let id = protocol.as_str();
        self.policy
            .prefer
            .retain(|p| !p.eq_ignore_ascii_case(id) && !p.starts_with(&format!("{id}/")));
        self.policy.prefer.insert(0, id.to_string());
        self
    }

    /// Also pay x402 `exact` EVM offers, signing with `wallet` (at most its `max_amount`).
    pub fn with_evm_wallet(mut self, wallet: EvmWallet) -> Self {
        self.evm = Some(wallet);
        self
    }

    /// Report progress events to `f`.
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Box::new(f));
        self
    }

    /// The policy in force.
    pub fn policy(&self) -> &BuyerPolicy {
        &self.policy
    }

    /// The credential cache and budget ledger.
    pub fn cache(&self) -> &TokenCache {
        &self.cache
    }

    /// Today's spend against the policy's budgets.
    pub fn budget_status(&self) -> Result<BudgetStatus, ClientError> {
        Ok(self.cache.budget_status(&self.policy, now_unix())?)
    }

    fn emit(&self, e: Event) {
        if let Some(f) = &self.on_event {
            f(&e);
        }
    }

    /// Send `req`, paying a 402 within policy, and return the final response.
    pub async fn send(&self, req: &ClientRequest) -> Result<PaidResponse, ClientError> {
        let target = transport::Target::of(&req.url)?;
        let now = now_unix();
        let cached = self.cache.get(&target.key, now);
        let session = match cached {
            Some(_) => None,
            None => self.cache.get_session(&target.session_key, now),
        };
        let auth = match (&cached, &session) {
            (Some(t), _) => l402::authorization(t),
            (None, Some(s)) => s.bearer().ok(),
            (None, None) => None,
        };
        let first = self.execute(req, auth.clone()).await?;
        if first.status() != StatusCode::PAYMENT_REQUIRED {
            if session.is_some() {
                self.cache.touch_session(&target.session_key, now);
            }
            return Ok(PaidResponse {
                url: req.url.to_string(),
                response: first,
                payment: None,
                reused_credential: auth.is_some(),
                attempts: Vec::new(),
            });
        }
        if cached.is_some() {
            self.cache.remove(&target.key);
        }
        if session.is_some() {
            self.cache.remove_session(&target.session_key);
        }
        let (mut offers, rejected) = self.offers(&first, &target, now);
        self.emit(Event::Challenged(
            offers.iter().map(Offer::protocol_id).collect(),
        ));
        let mut attempts: Vec<Attempt> = Vec::new();
        loop {
            let chosen = match self.choose(&mut offers, &target.host, req.max_cost, now) {
                Some(i) => offers.swap_remove(i),
                None => {
                    let e = choose::refusal(&offers, &rejected, &self.policy);
                    self.emit(Event::Failed(e.to_string()));
                    return Err(e);
                }
            };
            let (protocol, rail) = (chosen.protocol_id(), chosen.rail.clone());
            match self.pay_and_retry(req, &target, chosen, now).await {
                Ok(mut paid) => {
                    paid.attempts = attempts;
                    return Ok(paid);
                }
                Err(e) => {
                    self.emit(Event::Failed(e.to_string()));
                    let next = self.failover && failover::may_fail_over(&e) && !offers.is_empty();
                    if !next {
                        return Err(e);
                    }
                    tracing::warn!(protocol = protocol.as_str(), %rail, error = %e, "payment failed, nothing moved: trying the next offer");
                    let attempt = Attempt::new(protocol, rail, &e);
                    self.emit(Event::FailedOver(attempt.clone()));
                    attempts.push(attempt);
                }
            }
        }
    }

    fn offers(
        &self,
        resp: &Response<Bytes>,
        target: &transport::Target,
        now: u64,
    ) -> (Vec<Offer>, Vec<RejectedOffer>) {
        let ctx = offers::OfferContext {
            decoder: self.wallet.as_ref(),
            lightning: self.wallet.rail_id() != "none",
            evm: self.evm.is_some(),
            host: target.host.clone(),
            now,
        };
        offers::parse(resp.headers(), resp.body(), &ctx)
    }
}
