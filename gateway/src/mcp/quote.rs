//! A quote from a 402 response: every offer it carries (L402, MPP, x402) with its price, and
//! the one the client would pay under its policy. Pure (no I/O, nothing paid).
//!
//! The choice mirrors [`crate::client::Client::send`]: L402 first, then an MPP Lightning
//! charge, then an x402 Lightning entry, then x402 `exact` EVM when an EVM key is configured.

use gate402_protocols::{x402::X402, ClientChallenge, PaymentProtocol};
use gate402_rails::decode_bolt11;
use http::HeaderMap;
use serde::Serialize;

/// One offer of a 402.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotedOffer {
    /// `l402`, `mpp` or `x402`.
    pub protocol: &'static str,
    /// Price in millisatoshis (Lightning offers).
    pub amount_msat: Option<u64>,
    /// Price in token atomic units (x402 EVM offers).
    pub amount: Option<String>,
    /// Asset (x402: token contract; Lightning: `BTC`).
    pub asset: Option<String>,
    /// Network (x402 `network`, e.g. `eip155:8453`; `lightning` for L402 and MPP).
    pub network: Option<String>,
    /// MPP intent (`charge`, `session`).
    pub intent: Option<String>,
    /// Whether this client could pay it within its limits.
    pub payable: bool,
    /// Why not, when `payable` is false.
    pub reason: Option<String>,
}

/// Limits a quote is checked against.
#[derive(Debug, Clone, Copy)]
pub struct QuoteLimits {
    /// Highest Lightning price, millisatoshis.
    pub max_cost_msat: u64,
    /// Highest x402 EVM price (token units) when an EVM key is configured.
    pub max_evm_amount: Option<u128>,
}

fn lightning(protocol: &'static str, bolt11: Option<&str>, lim: QuoteLimits) -> QuotedOffer {
    let amount = bolt11.and_then(|b| decode_bolt11(b).ok()?.amount_msat);
    let reason = match amount {
        None => Some("no invoice with an amount".to_string()),
        Some(a) if a > lim.max_cost_msat => Some(format!(
            "price {a} msat exceeds the maximum of {} msat",
            lim.max_cost_msat
        )),
        Some(_) => None,
    };
    QuotedOffer {
        protocol,
        amount_msat: amount,
        amount: None,
        asset: Some("BTC".into()),
        network: Some("lightning".into()),
        intent: None,
        payable: reason.is_none(),
        reason,
    }
}

/// Every offer in a 402's `headers` and `body`, in the order the client prefers them.
pub fn offers(headers: &HeaderMap, body: &[u8], lim: QuoteLimits) -> Vec<QuotedOffer> {
    let mut out = Vec::new();
    for c in gate402_protocols::l402::parse_challenges(headers)
        .into_iter()
        .flatten()
    {
        out.push(lightning("l402", Some(&c.invoice), lim));
    }
    for o in gate402_protocols::mpp::client::parse_challenges(headers)
        .into_iter()
        .flatten()
    {
        let mut q = lightning("mpp", o.invoice.as_deref(), lim);
        q.intent = Some(o.challenge.intent.clone());
        if !o.is_lightning_charge() {
            q.payable = false;
            q.reason = Some(format!(
                "MPP {}/{} is not paid per request by this client",
                o.challenge.method, o.challenge.intent
            ));
        }
        out.push(q);
    }
    let x402: Vec<_> = X402::new([])
        .parse_challenges(headers, body)
        .into_iter()
        .filter_map(|c| match c {
            Ok(ClientChallenge::X402(x)) => Some(x),
            _ => None,
        })
        .collect();
    let (ln, evm): (Vec<_>, Vec<_>) = x402.into_iter().partition(|c| c.is_lightning());
    for c in ln {
        let mut q = lightning("x402", c.invoice(), lim);
        q.network = Some(c.requirement.network.clone());
        out.push(q);
    }
    for c in evm {
        let r = &c.requirement;
        let reason = match (lim.max_evm_amount, r.amount.parse::<u128>()) {
            (None, _) => Some("no EVM key configured".to_string()),
            (_, Err(_)) => Some("amount is not a number".to_string()),
            (Some(max), Ok(a)) if a > max => Some(format!(
                "price {a} exceeds the maximum of {max} token units"
            )),
            _ if r.scheme != "exact" => Some(format!("scheme `{}` is not supported", r.scheme)),
            _ => None,
        };
        out.push(QuotedOffer {
            protocol: "x402",
            amount_msat: None,
            amount: Some(r.amount.clone()),
            asset: Some(r.asset.clone()),
            network: Some(r.network.clone()),
            intent: None,
            payable: reason.is_none(),
            reason,
        });
    }
    out
}

/// The offer the client picks (L402 or MPP charge, else x402 Lightning, else x402 EVM with a
/// key): `Ok` if it would pay it, `Err(reason)` if nothing would be paid.
pub fn would_pay(offers: &[QuotedOffer]) -> Result<&QuotedOffer, String> {
    let picked = offers
        .iter()
        .find(|o| {
            o.protocol == "l402" || (o.protocol == "mpp" && o.intent.as_deref() == Some("charge"))
        })
        .or_else(|| {
            offers
                .iter()
                .find(|o| o.protocol == "x402" && o.amount.is_none())
        })
        .or_else(|| offers.iter().find(|o| o.protocol == "x402" && o.payable));
    match picked {
        None if offers.is_empty() => Err("no payment offer".into()),
        None => Err("no offer this client can pay".into()),
        Some(o) if o.payable => Ok(o),
        Some(o) => Err(o.reason.clone().unwrap_or_else(|| "not payable".into())),
    }
}

#[cfg(test)]
mod tests;
