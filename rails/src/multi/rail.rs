//! The [`LightningRail`] implementation of [`MultiNode`]: mint with failover, look invoice
//! states up on their node, probe every node for readiness, pay from a node that can.

use async_trait::async_trait;

use super::{bounded, MultiNode};
use crate::{
    DecodedInvoice, Invoice, InvoiceRequest, InvoiceState, LightningRail, NodeInfo, PayLimits,
    Payment, PaymentHash, RailError, RailErrorKind,
};

/// Errors of a payment attempt that prove nothing moved, so another node may pay.
fn nothing_moved(e: &RailError) -> bool {
    matches!(
        e.kind,
        RailErrorKind::NoRoute
            | RailErrorKind::InsufficientBalance
            | RailErrorKind::PermissionDenied
    )
}

fn none_up() -> RailError {
    RailError::new(RailErrorKind::Unavailable, "no lightning node is available")
}

impl MultiNode {
    /// Pay `bolt11` (`amount_msat` for an amountless invoice) with the first node that is
    /// up, moving on only when nothing moved.
    async fn pay_with(
        &self,
        bolt11: &str,
        amount_msat: Option<u64>,
        limits: PayLimits,
    ) -> Result<Payment, RailError> {
        let mut last = none_up();
        for node in self.nodes.iter().filter(|n| n.health.is_up()) {
            let paid = match amount_msat {
                None => node.rail.pay_invoice(bolt11, limits).await,
                Some(a) => node.rail.pay_amountless_invoice(bolt11, a, limits).await,
            };
            match paid {
                Ok(p) => return Ok(p),
                Err(e) if nothing_moved(&e) => {
                    tracing::warn!(node = %node.name, error = %e, "payment failed; trying the next node");
                    last = e;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }
}

#[async_trait]
impl LightningRail for MultiNode {
    fn rail_id(&self) -> &'static str {
        self.nodes[0].rail.rail_id()
    }

    async fn info(&self) -> Result<NodeInfo, RailError> {
        let mut last = none_up();
        for node in self.nodes.iter().filter(|n| n.health.is_up()) {
            match node.rail.info().await {
                Ok(info) => return Ok(info),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Probe every node at once (each bounded by `probe_timeout`) and record its health;
    /// ready while at least one node is.
    async fn ready(&self) -> Result<(), RailError> {
        let limit = self.opts.probe_timeout;
        let probes = self.nodes.iter().map(|n| async move {
            let r = bounded(limit, "readiness check", n.rail.ready()).await;
            n.health.observe(&r, self.opts.retry_after);
            r.map_err(|e| format!("{}: {e}", n.name))
        });
        let results = futures_util::future::join_all(probes).await;
        if results.iter().any(Result::is_ok) {
            return Ok(());
        }
        let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
        Err(RailError::new(
            RailErrorKind::Unavailable,
            format!("no lightning node is ready ({})", errors.join("; ")),
        ))
    }

    async fn create_invoice(&self, req: InvoiceRequest) -> Result<Invoice, RailError> {
        let mut last = none_up();
        for idx in self.mint_order() {
            let node = &self.nodes[idx];
            let call = node.rail.create_invoice(req.clone());
            let r = bounded(self.opts.call_timeout, "AddInvoice", call).await;
            node.health.observe(&r, self.opts.retry_after);
            match r {
                Ok(inv) => {
                    node.health.minted();
                    self.remember(inv.payment_hash, idx, inv.expires_at);
                    return Ok(inv);
                }
                Err(e) if super::health::node_fault(&e) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    async fn invoice_state(&self, payment_hash: &PaymentHash) -> Result<InvoiceState, RailError> {
        let owner = self.owners().get(payment_hash).map(|(i, _)| *i);
        match owner {
            Some(idx) => self.state_on(idx, payment_hash).await.map_err(|e| {
                if e.kind == RailErrorKind::NotFound {
                    e
                } else {
                    let msg = format!(
                        "node {} (which minted this invoice): {}",
                        self.name(idx),
                        e.message
                    );
                    RailError::new(e.kind, msg)
                }
            }),
            None => self.state_anywhere(payment_hash).await,
        }
    }

    async fn pay_invoice(&self, bolt11: &str, limits: PayLimits) -> Result<Payment, RailError> {
        self.pay_with(bolt11, None, limits).await
    }

    async fn pay_amountless_invoice(
        &self,
        bolt11: &str,
        amount_msat: u64,
        limits: PayLimits,
    ) -> Result<Payment, RailError> {
        self.pay_with(bolt11, Some(amount_msat), limits).await
    }

    fn decode(&self, bolt11: &str) -> Result<DecodedInvoice, RailError> {
        self.nodes[0].rail.decode(bolt11)
    }

    fn nodes(&self) -> Vec<super::NodeStatus> {
        self.status()
    }
}
