//! The MPP part of `gate402 demo`: one Lightning charge with the `Payment` scheme, then a
//! short Lightning session (deposit → requests → close with a refund of the rest).

use std::{path::Path, sync::Arc};

use gate402_protocols::{mpp::MppReceipt, ProtocolId};
use gate402_rails::{simnet::SimNetwork, InvoiceRequest, LightningRail};
use http::{StatusCode, Uri};

use crate::client::{Client, ClientRequest, Policy, TokenCache};

fn err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Steps 4 and 5 of the demo; every amount is checked against the seller's balance.
pub(super) async fn mpp_steps(
    wallet: Arc<dyn LightningRail>,
    url: &Uri,
    net: &SimNetwork,
    cache_dir: &Path,
) -> Result<(), String> {
    let seller_before = net.balance_msat("seller").unwrap_or(0);
    let policy = Policy {
        max_cost_msat: 100_000,
        ..Policy::default()
    };
    let client =
        Client::new(wallet.clone(), TokenCache::new(cache_dir), policy).prefer(ProtocolId::Mpp);
    let get = || ClientRequest::get(url.clone());

    println!(
        "5. GET {} paying with MPP (WWW-Authenticate: Payment, method lightning, intent charge)",
        url.path()
    );
    let paid = client
        .send(&get())
        .await
        .map_err(|e| err("MPP charge")(&e))?;
    let payment = paid.payment.ok_or("the MPP client did not pay")?;
    if payment.protocol != ProtocolId::Mpp || paid.response.status() != StatusCode::OK {
        return Err(format!(
            "expected a paid MPP 200, got {} via {}",
            paid.response.status(),
            payment.protocol
        ));
    }
    let receipt = paid
        .response
        .headers()
        .get("payment-receipt")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| MppReceipt::parse(v).ok())
        .ok_or("no Payment-Receipt on the paid MPP response")?;
    println!(
        "   -> paid {} sat via MPP charge",
        payment.amount_msat / 1000
    );
    println!(
        "   <- {} Payment-Receipt: reference {}…",
        paid.response.status(),
        &receipt.reference[..16]
    );

    println!("6. MPP session: pay a deposit, make 3 requests, close and get the rest back");
    let (session, first) = client
        .open_session(&get(), None)
        .await
        .map_err(|e| err("open session")(&e))?;
    println!(
        "   -> deposit {} sat, session {}…; request 1 <- {}",
        session.deposited_sats,
        &hex::encode(session.session_id)[..16],
        first.status()
    );
    for i in 2..=3 {
        let r = client
            .session_send(&session, &get())
            .await
            .map_err(|e| err("session request")(&e))?;
        println!("   request {i} <- {} (paid from the session)", r.status());
        if r.status() != StatusCode::OK {
            return Err(format!("session request {i} got {}", r.status()));
        }
    }
    let refund_sats = session.deposited_sats - 3 * (payment.amount_msat / 1000);
    let return_invoice = wallet
        .create_invoice(InvoiceRequest {
            amount_msat: refund_sats * 1000,
            memo: "gate402 demo refund".into(),
            expiry_secs: 3600,
        })
        .await
        .map_err(|e| err("return invoice")(&e))?;
    let closed = client
        .session_close(&session, &get(), Some(return_invoice.bolt11))
        .await
        .map_err(|e| err("close")(&e))?;
    let body: serde_json::Value = serde_json::from_slice(closed.body()).unwrap_or_default();
    println!("   close <- {} {body}", closed.status());
    if body["refundSats"] != refund_sats || body["refundStatus"] != "succeeded" {
        return Err(format!("expected a {refund_sats} sat refund, got {body}"));
    }
    let seller_gain = net.balance_msat("seller").unwrap_or(0) - seller_before;
    let expected = payment.amount_msat + (session.deposited_sats - refund_sats) * 1000;
    if seller_gain != expected {
        return Err(format!(
            "seller gained {seller_gain} msat, expected {expected}"
        ));
    }
    Ok(())
}
