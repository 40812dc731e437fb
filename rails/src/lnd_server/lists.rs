//! The simulator's read-only listing RPCs: `WalletBalance`, `ListChannels`, `ListInvoices`,
//! `ListPayments` (`lnrpc.Lightning`) and `EstimateRouteFee` (`routerrpc.Router`).
//!
//! Simulator model: no chain, so every on-chain balance is 0; every pair of nodes shares one
//! public channel (the network where "all nodes can pay each other"), and a node's balance is
//! split evenly over its channels; a channel is inactive while the peer is offline. Listings
//! paginate as LND does: `index_offset` is exclusive, `reversed` seeks backwards from it (0:
//! from the newest), results are oldest first, the default page is 100.

use sha2::{Digest, Sha256};
use tonic::Status;

use super::convert::invoice_pb;
use crate::decode_bolt11;
use crate::lnd::proto::lnrpc::{self, PaymentFailureReason};
use crate::lnd::proto::routerrpc::{RouteFeeRequest, RouteFeeResponse};
use crate::simnet::{SimNode, MIN_FINAL_CLTV_EXPIRY_DELTA};

/// LND's page size when none is asked for.
const DEFAULT_PAGE: u64 = 100;
/// Time-lock delta of the simulated hop (LND's default `bitcoin.timelockdelta`).
const HOP_TIME_LOCK_DELTA: i64 = 80;

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// One page of `items` (sorted by `index`), LND's pagination rules.
pub(crate) fn page<T>(
    items: Vec<T>,
    index: impl Fn(&T) -> u64,
    offset: u64,
    max: u64,
    reversed: bool,
) -> Vec<T> {
    let max = usize::try_from(if max == 0 { DEFAULT_PAGE } else { max }).unwrap_or(usize::MAX);
    if reversed {
        let mut before: Vec<T> = items
            .into_iter()
            .filter(|t| offset == 0 || index(t) < offset)
            .collect();
        let skip = before.len().saturating_sub(max);
        before.drain(..skip);
        before
    } else {
        items
            .into_iter()
            .filter(|t| index(t) > offset)
            .take(max)
            .collect()
    }
}

/// `WalletBalance`: the simulator has no chain.
pub(crate) fn wallet_balance() -> lnrpc::WalletBalanceResponse {
    lnrpc::WalletBalanceResponse::default()
}

/// `ListChannels`: one public channel per peer.
pub(crate) fn list_channels(
    node: &SimNode,
    req: &lnrpc::ListChannelsRequest,
) -> Vec<lnrpc::Channel> {
    let net = node.network();
    let peers: Vec<SimNode> = net
        .node_names()
        .iter()
        .filter(|n| n.as_str() != node.name())
        .filter_map(|n| net.node(n))
        .collect();
    let share = |n: &SimNode| {
        let count = u64::try_from(peers.len()).unwrap_or(1).max(1);
        n.balance_msat() / 1000 / count
    };
    let local = share(node);
    peers
        .iter()
        .filter(|p| req.peer.is_empty() || req.peer == p.pubkey())
        .map(|p| {
            let (a, b) = if node.pubkey() < p.pubkey() {
                (node.pubkey(), p.pubkey())
            } else {
                (p.pubkey(), node.pubkey())
            };
            let txid = Sha256::new().chain_update(a).chain_update(b).finalize();
            let mut id = [0u8; 8];
            id.copy_from_slice(&txid[..8]);
            let remote = share(p);
            lnrpc::Channel {
                active: !net.faults(p.name()).offline,
                remote_pubkey: p.pubkey_hex(),
                channel_point: format!("{}:0", hex::encode(txid)),
                chan_id: u64::from_be_bytes(id) >> 1,
                capacity: i64_of(local + remote),
                local_balance: i64_of(local),
                remote_balance: i64_of(remote),
                private: false,
                initiator: node.pubkey() < p.pubkey(),
            }
        })
        .filter(|c| (!req.active_only || c.active) && (!req.inactive_only || !c.active))
        .filter(|c| !req.private_only || c.private)
        .collect()
}

/// `ListInvoices` (LND returns each invoice's `r_preimage` too, and so does this).
pub(crate) fn list_invoices(
    node: &SimNode,
    req: &lnrpc::ListInvoiceRequest,
) -> Result<lnrpc::ListInvoiceResponse, Status> {
    let all = node.invoices().map_err(super::convert::status)?;
    let all: Vec<_> = all
        .into_iter()
        .filter(|r| !req.pending_only || matches!(r.state, crate::InvoiceState::Open))
        .filter(|r| req.creation_date_start == 0 || r.created_at >= req.creation_date_start)
        .filter(|r| req.creation_date_end == 0 || r.created_at <= req.creation_date_end)
        .collect();
    let slice = page(
        all,
        |r| r.add_index,
        req.index_offset,
        req.num_max_invoices,
        req.reversed,
    );
    Ok(lnrpc::ListInvoiceResponse {
        first_index_offset: slice.first().map_or(0, |r| r.add_index),
        last_index_offset: slice.last().map_or(0, |r| r.add_index),
        invoices: slice.iter().map(invoice_pb).collect(),
    })
}

/// `ListPayments` over the payments this server sent (sorted by `payment_index`).
pub(crate) fn list_payments(
    all: Vec<lnrpc::Payment>,
    req: &lnrpc::ListPaymentsRequest,
) -> lnrpc::ListPaymentsResponse {
    use lnrpc::payment::PaymentStatus;
    let total = u64::try_from(all.len()).unwrap_or(u64::MAX);
    let shown: Vec<_> = all
        .into_iter()
        .filter(|p| req.include_incomplete || p.status() == PaymentStatus::Succeeded)
        .collect();
    let slice = page(
        shown,
        |p| p.payment_index,
        req.index_offset,
        req.max_payments,
        req.reversed,
    );
    lnrpc::ListPaymentsResponse {
        first_index_offset: slice.first().map_or(0, |p| p.payment_index),
        last_index_offset: slice.last().map_or(0, |p| p.payment_index),
        total_num_payments: if req.count_total_payments { total } else { 0 },
        payments: slice,
    }
}

/// `EstimateRouteFee`: a graph estimate for `dest` + `amt_sat`, or a simulated probe for a
/// payment request; an unreachable destination answers `FAILURE_REASON_NO_ROUTE`.
pub(crate) fn estimate_route_fee(
    node: &SimNode,
    req: &RouteFeeRequest,
) -> Result<RouteFeeResponse, Status> {
    let (dest, final_cltv) = match (req.payment_request.is_empty(), req.dest.is_empty()) {
        (false, true) if req.amt_sat == 0 => {
            let d = decode_bolt11(&req.payment_request)
                .map_err(|e| Status::invalid_argument(e.message))?;
            (d.payee_pubkey.to_vec(), d.min_final_cltv_expiry_delta)
        }
        (true, false) if req.amt_sat > 0 => (req.dest.clone(), MIN_FINAL_CLTV_EXPIRY_DELTA),
        _ => {
            return Err(Status::invalid_argument(
                "either dest and amt_sat or payment_request must be set",
            ))
        }
    };
    if dest.len() != 33 {
        return Err(Status::invalid_argument(
            "dest must be a 33-byte public key",
        ));
    }
    let net = node.network();
    let payee = net
        .node_names()
        .into_iter()
        .filter_map(|n| net.node(&n))
        .find(|n| n.pubkey().as_slice() == dest.as_slice());
    let reachable = payee.is_some_and(|p| {
        let (f, me) = (net.faults(p.name()), net.faults(node.name()));
        p.name() != node.name() && !f.offline && !f.no_route && !me.no_route
    });
    let mut resp = RouteFeeResponse::default();
    if reachable {
        resp.routing_fee_msat = i64_of(net.routing_fee_msat());
        resp.time_lock_delay = HOP_TIME_LOCK_DELTA + i64_of(final_cltv);
    } else {
        resp.set_failure_reason(PaymentFailureReason::FailureReasonNoRoute);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::page;

    #[test]
    fn pages_like_lnd() {
        let all = || (1..=10u64).collect::<Vec<_>>();
        let p = |offset, max, rev| page(all(), |i| *i, offset, max, rev);
        assert_eq!(p(0, 3, false), [1, 2, 3]);
        assert_eq!(p(3, 3, false), [4, 5, 6]);
        assert_eq!(p(9, 3, false), [10]);
        assert_eq!(p(0, 3, true), [8, 9, 10]);
        assert_eq!(p(8, 3, true), [5, 6, 7]);
        assert_eq!(p(2, 3, true), [1]);
        assert_eq!(p(0, 0, false).len(), 10);
    }
}
