//! `invoicesrpc.Invoices/SubscribeSingleInvoice` over a simulated node: the current state
//! first, then each change, ending once the invoice is settled or canceled (as LND does).

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tonic::{Request, Response, Status};

use super::auth::Rpc;
use super::convert::{
    ensure_online, hash32, invoice_pb, is_final, status, stopping, stream_channel, PbStream,
};
use super::Shared;
use crate::lnd::proto::invoicesrpc::{invoices_server::Invoices, SubscribeSingleInvoiceRequest};
use crate::lnd::proto::lnrpc;

/// The `Invoices` service.
pub(crate) struct InvoicesSvc(pub(crate) Arc<Shared>);

#[tonic::async_trait]
impl Invoices for InvoicesSvc {
    type SubscribeSingleInvoiceStream = PbStream<lnrpc::Invoice>;

    async fn subscribe_single_invoice(
        &self,
        req: Request<SubscribeSingleInvoiceRequest>,
    ) -> Result<Response<Self::SubscribeSingleInvoiceStream>, Status> {
        self.0
            .auth
            .check(req.metadata(), Rpc::SubscribeSingleInvoice)?;
        ensure_online(&self.0.node)?;
        let hash = hash32(&req.into_inner().r_hash)?;
        // Subscribe before reading the current state so no transition is missed.
        let mut events = self.0.node.subscribe_invoices();
        let current = self.0.node.lookup_invoice(&hash).map_err(status)?;
        let (tx, stream) = stream_channel();
        let stop = stopping(self.0.shutdown.clone());
        tokio::spawn(async move {
            tokio::pin!(stop);
            let mut last = current.state;
            if tx.send(Ok(invoice_pb(&current))).await.is_err() || is_final(last) {
                return;
            }
            loop {
                let ev = tokio::select! {
                    _ = &mut stop => return,
                    _ = tx.closed() => return,
                    ev = events.recv() => ev,
                };
                match ev {
                    Ok(ev) if ev.invoice.payment_hash == hash && ev.invoice.state != last => {
                        last = ev.invoice.state;
                        if tx.send(Ok(invoice_pb(&ev.invoice))).await.is_err() || is_final(last) {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        let msg = "invoice subscriber lagged; resubscribe";
                        let _ = tx.send(Err(Status::resource_exhausted(msg))).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
        Ok(Response::new(stream))
    }
}
