//! x402 entries as offers: the Lightning variant (invoice checked against the stated msat
//! amount) and `exact` on EVM (amount in token atomic units of `evm:<network>:<asset>`); the
//! `resource` URL (v2 top level, v1 per entry) must name the requested host.

use gate402_protocols::x402::X402Challenge;
use serde_json::Value;

use super::{base, check_invoice, refused, Amount, Offer, OfferContext, Payload, PolicyError};

/// An x402 `accepts` entry as an offer.
pub fn x402_offer(c: X402Challenge, ctx: &OfferContext<'_>) -> Offer {
    let req = c.requirement.clone();
    let resource = c
        .resource
        .as_ref()
        .and_then(|r| r.get("url"))
        .or_else(|| c.raw.get("resource"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let description = c
        .resource
        .as_ref()
        .and_then(|r| r.get("description"))
        .or_else(|| c.raw.get("description"))
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let lightning = c.is_lightning();
    let rail = if lightning {
        "lightning".to_string()
    } else {
        format!("evm:{}", req.network)
    };
    let invoice = c.invoice().map(str::to_owned);
    let mut o = base("x402", &req.scheme, rail, Payload::X402(c));
    o.description = description;
    if let Some(p) = resource.and_then(|r| resource_binding(&r, &ctx.host)) {
        return refused(o, p);
    }
    if lightning {
        let Ok(stated) = req.amount.parse::<u64>() else {
            return refused(
                o,
                PolicyError::InvoiceMismatch("the offer's amount is not a number"),
            );
        };
        check_invoice(&mut o, invoice.as_deref(), Some(stated), None, ctx);
        return o;
    }
    let Ok(value) = req.amount.parse::<u128>() else {
        return refused(
            o,
            PolicyError::Unsupported("x402 amount is not a number".into()),
        );
    };
    o.amount = Some(Amount {
        value,
        unit: format!("evm:{}:{}", req.network, req.asset.to_ascii_lowercase()),
        decimals: req
            .extra
            .get("decimals")
            .and_then(Value::as_u64)
            .and_then(|d| u8::try_from(d).ok()),
    });
    if req.scheme != "exact" || !req.network.starts_with("eip155:") {
        return refused(
            o,
            PolicyError::Unsupported(format!("x402 scheme {} on {}", req.scheme, req.network)),
        );
    }
    if !ctx.evm {
        o.refuse(PolicyError::NoWallet(o.rail.clone()));
    }
    o
}

/// `Some(error)` if an x402 `resource` URL names another host than `host`.
pub(super) fn resource_binding(resource: &str, host: &str) -> Option<PolicyError> {
    let uri: http::Uri = resource.parse().ok()?;
    let bound = uri.host()?.to_ascii_lowercase();
    let bound = bound.trim_start_matches('[').trim_end_matches(']');
    (bound != host).then(|| PolicyError::ForeignHost {
        bound: bound.to_string(),
        requested: host.to_string(),
    })
}
