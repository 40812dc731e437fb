//! Choosing the offer to pay, and the quote (`--dry-run`): every offer, the one that would be
//! paid, and why the others would not.
//!
//! An offer is acceptable if it is payable (see [`super::offers`]), its `protocol/rail` is in
//! the preference list, the domain is allowed, its amount is within the per-request maximum
//! (policy, EVM wallet cap and per-request override, the lowest wins) and today's budgets
//! leave room for it plus its maximum fee. The chosen one is the acceptable offer ranked
//! first by preference (ties: server order). The budget check here is advisory; the binding
//! one is the reservation made just before paying.

use serde::Serialize;

use super::offers::{Amount, Offer, RejectedOffer};
use super::{BuyerPolicy, Client, ClientError, ClientRequest, MaxCost, PolicyError};
use crate::clock::now_unix;

/// What `--dry-run` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Quote {
    /// The URL asked.
    pub url: String,
    /// The status of the unpaid request.
    pub status: u16,
    /// Every offer, with why it would not be paid.
    pub offers: Vec<Offer>,
    /// Challenges that did not parse.
    pub rejected: Vec<RejectedOffer>,
    /// Index of the offer that would be paid.
    pub chosen: Option<usize>,
    /// What would be paid.
    pub would_pay: Option<WouldPay>,
    /// Why nothing would be paid (402 without an acceptable offer).
    pub refusal: Option<String>,
    /// A cached L402 token or MPP session exists for this URL: `send` would present it first
    /// (the quote itself asks without credentials).
    pub cached_credential: bool,
}

/// The payment a quote would make.
#[derive(Debug, Clone, Serialize)]
pub struct WouldPay {
    /// Protocol.
    pub protocol: &'static str,
    /// Rail.
    pub rail: String,
    /// Amount.
    pub amount: Amount,
    /// Highest routing fee, msat (Lightning).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_fee_msat: Option<u64>,
}

impl Quote {
    /// Whether a payment would be made (or none is needed).
    pub fn payable(&self) -> bool {
        self.status != 402 || self.chosen.is_some()
    }
}

impl Client {
    /// Ask `req` once without paying and say what [`Client::send`] would pay.
    pub async fn quote(&self, req: &ClientRequest) -> Result<Quote, ClientError> {
        super::transport::Target::of(&req.url)?;
        let resp = self.execute(req, None).await?;
        self.quote_response(req, &resp)
    }

    /// What [`Client::send`] would pay for `resp`, the answer to `req` (already received):
    /// every offer marked acceptable or refused by the policy and `req.max_cost`.
    pub fn quote_response(
        &self,
        req: &ClientRequest,
        resp: &http::Response<bytes::Bytes>,
    ) -> Result<Quote, ClientError> {
        let target = super::transport::Target::of(&req.url)?;
        let now = now_unix();
        let status = resp.status().as_u16();
        let mut quote = Quote {
            url: req.url.to_string(),
            status,
            offers: Vec::new(),
            rejected: Vec::new(),
            chosen: None,
            would_pay: None,
            refusal: None,
            cached_credential: self.cache.get(&target.key, now).is_some()
                || self.cache.get_session(&target.session_key, now).is_some(),
        };
        if status != 402 {
            return Ok(quote);
        }
        let (mut offers, rejected) = self.offers(resp, &target, now);
        quote.chosen = self.choose(&mut offers, &target.host, req.max_cost, now);
        quote.would_pay = quote.chosen.map(|i| {
            let o = &offers[i];
            WouldPay {
                protocol: o.protocol,
                rail: o.rail.clone(),
                amount: o.amount.clone().unwrap_or_else(|| Amount::msat(0)),
                max_fee_msat: (o.rail == "lightning").then_some(self.limits.max_fee_msat),
            }
        });
        if quote.chosen.is_none() {
            quote.refusal = Some(refusal(&offers, &rejected, &self.policy).to_string());
        }
        quote.offers = offers;
        quote.rejected = rejected;
        Ok(quote)
    }

    /// Mark each offer acceptable or not (setting `refused`); the index of the chosen one.
    pub(super) fn choose(
        &self,
        offers: &mut [Offer],
        host: &str,
        max: Option<MaxCost>,
        now: u64,
    ) -> Option<usize> {
        let mut best: Option<(usize, usize)> = None;
        for o in offers.iter_mut() {
            if let Err(p) = self.acceptable(o, host, max, now) {
                o.refused = Some(p.to_string());
                o.problem = Some(p);
                continue;
            }
            let rank = self
                .policy
                .rank(o.protocol, o.pref_rail())
                .unwrap_or(usize::MAX);
            if best.is_none_or(|(r, _)| rank < r) {
                best = Some((rank, o.index));
            }
        }
        let chosen = best.map(|(_, i)| i)?;
        offers.iter().position(|o| o.index == chosen)
    }

    pub(super) fn acceptable(
        &self,
        o: &Offer,
        host: &str,
        max: Option<MaxCost>,
        now: u64,
    ) -> Result<(), PolicyError> {
        if let Some(p) = &o.problem {
            return Err(p.clone());
        }
        if self.policy.rank(o.protocol, o.pref_rail()).is_none() {
            let rail = match o.pref_rail() {
                "session" => "session",
                _ => o.rail_kind(),
            };
            return Err(PolicyError::NotPreferred(format!("{}/{rail}", o.protocol)));
        }
        if !self.policy.domain_allowed(host) {
            return Err(PolicyError::DomainDenied(host.to_string()));
        }
        let amount = o
            .amount
            .as_ref()
            .ok_or(PolicyError::InvoiceMismatch("no amount"))?;
        let fee = if amount.is_msat() {
            let cap = max
                .and_then(|m| m.msat)
                .map_or(self.limits.max_cost_msat, |m| {
                    m.min(self.limits.max_cost_msat)
                });
            if amount.value > u128::from(cap) {
                return Err(PolicyError::OverMaxCost {
                    amount_msat: u64::try_from(amount.value).unwrap_or(u64::MAX),
                    max_msat: cap,
                });
            }
            u128::from(self.limits.max_fee_msat)
        } else {
            let caps = [
                self.policy.max_cost(&amount.unit),
                self.evm.as_ref().map(|w| w.max_amount),
                max.and_then(|m| m.evm),
            ];
            let cap = caps.into_iter().flatten().min().unwrap_or(0);
            if amount.value > cap {
                return Err(PolicyError::OverMaxEvmAmount {
                    amount: amount.value,
                    max: cap,
                });
            }
            0
        };
        self.budget_room(host, &amount.unit, amount.value + fee, now)
    }

    /// Advisory budget check (no reservation).
    fn budget_room(
        &self,
        host: &str,
        unit: &str,
        amount: u128,
        now: u64,
    ) -> Result<(), PolicyError> {
        let limits = [
            (
                format!("domain {host}"),
                Some(host),
                self.policy.daily_per_domain(unit),
            ),
            ("total".to_string(), None, self.policy.daily_total(unit)),
        ];
        for (scope, domain, limit) in limits {
            let Some(limit) = limit else { continue };
            let Ok((spent, pending)) = self.cache.spent(unit, domain, now) else {
                continue; // the reservation will report the cache error
            };
            if spent + pending + amount > limit {
                return Err(PolicyError::BudgetExceeded {
                    scope,
                    unit: unit.to_string(),
                    spent,
                    pending,
                    amount,
                    limit,
                });
            }
        }
        Ok(())
    }
}

/// The error for a 402 with nothing acceptable: the refusal of the most preferred offer, or
/// the first parse error when nothing parsed.
pub(super) fn refusal(
    offers: &[Offer],
    rejected: &[RejectedOffer],
    policy: &BuyerPolicy,
) -> ClientError {
    let best = offers
        .iter()
        .filter_map(|o| o.problem.as_ref().map(|p| (o, p)))
        .min_by_key(|(o, _)| {
            (
                policy.rank(o.protocol, &o.rail).unwrap_or(usize::MAX),
                o.index,
            )
        });
    match best {
        Some((_, p)) => ClientError::Policy(p.clone()),
        None => ClientError::NoPayableChallenge(rejected.first().map(|r| r.cause.clone())),
    }
}
