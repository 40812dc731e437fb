//! Paying an invoice across the simulated network (LND `SendPaymentV2` semantics).
//!
//! Two phases under the network lock, with the injected latency between them (no lock held
//! while sleeping): a pre-flight check (what LND refuses before sending anything), then one
//! atomic check-and-settle that re-validates everything, so concurrent payers of one invoice
//! can never both succeed and a failed payment never moves money.

use std::time::Duration;

use super::mint::SIMNET_CHAIN;
use super::node::{node_state, SimNode};
use super::state::NetState;
use crate::{
    decode_bolt11, DecodedInvoice, InvoiceState, PayLimits, Payment, RailError, RailErrorKind,
};

fn err(kind: RailErrorKind, message: &str) -> RailError {
    RailError::new(kind, message)
}

fn incorrect_details() -> RailError {
    err(RailErrorKind::InvalidInvoice, "incorrect payment details")
}

/// Pay `bolt11` from `payer`: the invoice's amount, or `amount_msat` when the invoice is
/// amountless (LND's rules: exactly one of the two must be given).
pub(super) async fn pay(
    payer: &SimNode,
    bolt11: &str,
    amount_msat: Option<u64>,
    limits: PayLimits,
) -> Result<Payment, RailError> {
    payer.with_online_node(|_, _| Ok(()))?;
    let invoice = decode_bolt11(bolt11)?;
    if invoice.network != SIMNET_CHAIN {
        return Err(RailError::new(
            RailErrorKind::InvalidInvoice,
            format!("invoice not for current active network '{SIMNET_CHAIN}'"),
        ));
    }
    let amount_msat = amount_to_pay(invoice.amount_msat, amount_msat)?;

    let hash = invoice.payment_hash;
    let (delay, hold) = {
        let mut st = payer.net.lock();
        let payee = preflight(&mut st, payer.name(), &invoice, amount_msat, limits)?;
        let node_delay = |name: &str| {
            let n = st.nodes.get(name);
            n.and_then(|n| n.faults.pay_delay).unwrap_or_default()
        };
        let delay = node_delay(payer.name()).saturating_add(node_delay(&payee));
        let payer_state = node_state(&mut st, payer.name())?;
        let hold = payer_state.faults.hold_payments;
        // Initiated: in flight until settled or failed (what `TrackPaymentV2` reads).
        payer_state.outgoing.insert(hash, None);
        (delay, hold)
    };
    if let Some(hold) = hold {
        // An HTLC on the wire: settles after `hold` whatever the caller does meanwhile.
        let (node, invoice) = (payer.clone(), invoice.clone());
        let task = tokio::spawn(async move {
            tokio::time::sleep(hold).await;
            let mut st = node.net.lock();
            let result = settle(&mut st, node.name(), &invoice, amount_msat, limits);
            record(&mut st, node.name(), hash, &result);
            result
        });
        return task
            .await
            .unwrap_or_else(|e| Err(err(RailErrorKind::Internal, &e.to_string())));
    }
    if delay > limits.timeout {
        tokio::time::sleep(limits.timeout).await;
        let e = err(
            RailErrorKind::Timeout,
            "payment attempt not completed before timeout",
        );
        let mut st = payer.net.lock();
        record(&mut st, payer.name(), hash, &Err(e.clone()));
        return Err(e);
    }
    if delay > Duration::ZERO {
        tokio::time::sleep(delay).await;
    }

    let mut st = payer.net.lock();
    let result = settle(&mut st, payer.name(), &invoice, amount_msat, limits);
    record(&mut st, payer.name(), hash, &result);
    result
}

/// Keep an outgoing payment's final outcome for tracking.
fn record(
    st: &mut NetState,
    payer: &str,
    hash: crate::PaymentHash,
    r: &Result<Payment, RailError>,
) {
    if let Ok(n) = node_state(st, payer) {
        n.outgoing.insert(hash, Some(r.clone()));
    }
}

/// Where `payer`'s payment of `hash` stands, waiting at most `wait` for a final state
/// (`TrackPaymentV2` with `no_inflight_updates`). Never initiated: `Failed(NotFound)`.
pub(super) async fn track(
    payer: &SimNode,
    hash: &crate::PaymentHash,
    wait: Duration,
) -> Result<crate::PaymentStatus, RailError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let entry = {
            let mut st = payer.net.lock();
            let n = node_state(&mut st, payer.name())?;
            n.ensure_online()?;
            n.outgoing.get(hash).cloned()
        };
        match entry {
            None => {
                return Ok(crate::PaymentStatus::Failed(err(
                    RailErrorKind::NotFound,
                    "payment isn't initiated",
                )))
            }
            Some(Some(Ok(p))) => return Ok(crate::PaymentStatus::Succeeded(p)),
            Some(Some(Err(e))) => return Ok(crate::PaymentStatus::Failed(e)),
            Some(None) if tokio::time::Instant::now() >= deadline => {
                return Ok(crate::PaymentStatus::InFlight)
            }
            // The simulator's own wait for its in-memory state (not a test synchronisation).
            Some(None) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// The amount to send: the invoice's, or the payer's for an amountless invoice (LND's
/// `router_backend` rules and messages).
pub(crate) fn amount_to_pay(
    invoice: Option<u64>,
    requested: Option<u64>,
) -> Result<u64, RailError> {
    match (invoice.filter(|a| *a > 0), requested.filter(|a| *a > 0)) {
        (Some(a), None) => Ok(a),
        (None, Some(a)) => Ok(a),
        (Some(_), Some(_)) => Err(err(
            RailErrorKind::InvalidInvoice,
            "amount must not be specified when paying a non-zero amount invoice",
        )),
        (None, None) => Err(err(
            RailErrorKind::InvalidInvoice,
            "amount must be specified when paying a zero amount invoice",
        )),
    }
}

/// Checks LND makes before sending: expiry, self-payment, already paid by us, route, fee,
/// balance, injected failures. Returns the payee's name.
fn preflight(
    st: &mut NetState,
    payer: &str,
    invoice: &DecodedInvoice,
    amount_msat: u64,
    limits: PayLimits,
) -> Result<String, RailError> {
    let now = st.now_secs();
    if invoice.is_expired(now) {
        return Err(err(RailErrorKind::InvalidInvoice, "invoice expired"));
    }
    if matches!(
        node_state(st, payer)?.outgoing.get(&invoice.payment_hash),
        Some(None)
    ) {
        // LND: a second SendPaymentV2 for a hash in flight.
        return Err(err(RailErrorKind::Internal, "payment is in transition"));
    }
    let payee = route_checks(st, payer, invoice, amount_msat, limits)?;
    let faults = &mut node_state(st, payer)?.faults;
    if faults.fail_next_payments > 0 {
        faults.fail_next_payments -= 1;
        return Err(err(
            RailErrorKind::NoRoute,
            "simulated payment failure (no route)",
        ));
    }
    Ok(payee)
}

/// Checks that can change while a payment is in flight; run before and at settlement.
fn route_checks(
    st: &NetState,
    payer: &str,
    invoice: &DecodedInvoice,
    amount_msat: u64,
    limits: PayLimits,
) -> Result<String, RailError> {
    let payer_state = st
        .nodes
        .get(payer)
        .ok_or_else(|| err(RailErrorKind::Internal, "simnet node does not exist"))?;
    payer_state.ensure_online()?;
    let payee = st.by_pubkey.get(&invoice.payee_pubkey);
    if payee.is_some_and(|p| p == payer) {
        return Err(err(
            RailErrorKind::InvalidInvoice,
            "no self-payments allowed",
        ));
    }
    if payer_state.paid_hashes.contains(&invoice.payment_hash) {
        return Err(err(RailErrorKind::AlreadyPaid, "invoice is already paid"));
    }
    let no_path = || {
        err(
            RailErrorKind::NoRoute,
            "unable to find a path to destination",
        )
    };
    if payer_state.faults.no_route {
        return Err(no_path());
    }
    let payee = payee.ok_or_else(no_path)?;
    let payee_state = st.nodes.get(payee).ok_or_else(no_path)?;
    if payee_state.faults.offline || payee_state.faults.no_route {
        return Err(no_path());
    }
    if st.routing_fee_msat > limits.max_fee_msat {
        return Err(RailError::new(
            RailErrorKind::FeeLimitExceeded,
            format!(
                "route fee {} msat exceeds fee limit {} msat",
                st.routing_fee_msat, limits.max_fee_msat
            ),
        ));
    }
    let needed = amount_msat.checked_add(st.routing_fee_msat);
    if needed.is_none_or(|needed| payer_state.balance_msat < needed) {
        return Err(err(
            RailErrorKind::InsufficientBalance,
            "insufficient local balance",
        ));
    }
    Ok(payee.clone())
}

/// Atomic check-and-settle: re-run the route checks, let the payee validate the HTLC against
/// its invoice, then move the money and settle.
fn settle(
    st: &mut NetState,
    payer: &str,
    invoice: &DecodedInvoice,
    amount_msat: u64,
    limits: PayLimits,
) -> Result<Payment, RailError> {
    let payee = route_checks(st, payer, invoice, amount_msat, limits)?;
    let now = st.now_secs();
    let fee_msat = st.routing_fee_msat;
    let payee_state = node_state(st, &payee)?;
    let record = payee_state
        .invoices
        .get(&invoice.payment_hash)
        .ok_or_else(incorrect_details)?;
    match record.state_at(now) {
        InvoiceState::Settled => {
            return Err(err(RailErrorKind::AlreadyPaid, "invoice is already paid"))
        }
        InvoiceState::Canceled | InvoiceState::Accepted => return Err(incorrect_details()),
        InvoiceState::Open => {}
    }
    // An amountless invoice (amount 0) takes whatever the payer sends.
    let amount_ok = record.amount_msat == 0 || record.amount_msat == amount_msat;
    if !amount_ok || record.payment_secret != invoice.payment_secret {
        return Err(incorrect_details());
    }
    let preimage = record.preimage;
    payee_state.balance_msat = payee_state.balance_msat.saturating_add(amount_msat);
    payee_state.settle_invoice(&invoice.payment_hash, amount_msat, now);
    let payer_state = node_state(st, payer)?;
    // route_checks proved balance >= amount + fee under this same lock.
    payer_state.balance_msat -= amount_msat + fee_msat;
    payer_state.paid_hashes.insert(invoice.payment_hash);
    payer_state.payments_sent += 1;
    st.payments_total += 1;
    Ok(Payment {
        preimage,
        payment_hash: invoice.payment_hash,
        amount_msat,
        fee_msat,
    })
}
