//! `lnrpc.Lightning` over a simulated node: `GetInfo`, `AddInvoice`, `LookupInvoice`,
//! `SubscribeInvoices`, `DecodePayReq`, `ChannelBalance`, `BakeMacaroon`,
//! `CheckMacaroonPermissions`, and the listings of module `lists` (`WalletBalance`,
//! `ListChannels`, `ListInvoices`, `ListPayments`).

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tonic::{Request, Response, Status};

use super::auth::Rpc;
use super::convert::{
    ensure_online, hash32, invoice_pb, status, stopping, stream_channel, PbStream,
};
use super::lists;
use super::Shared;
use crate::lnd::permissions::{Perm, Perms};
use crate::lnd::proto::lnrpc::{self, lightning_server::Lightning};
use crate::{decode_bolt11, InvoiceRequest, LightningRail};

/// Version string reported by `GetInfo`.
const VERSION: &str = "0.19.0-beta gate402-simnet";

/// The `Lightning` service.
pub(crate) struct LightningSvc(pub(crate) Arc<Shared>);

fn amount(msat: u64) -> lnrpc::Amount {
    lnrpc::Amount {
        sat: msat / 1000,
        msat,
    }
}

#[tonic::async_trait]
impl Lightning for LightningSvc {
    async fn channel_balance(
        &self,
        req: Request<lnrpc::ChannelBalanceRequest>,
    ) -> Result<Response<lnrpc::ChannelBalanceResponse>, Status> {
        self.0.auth.check(req.metadata(), Rpc::ChannelBalance)?;
        ensure_online(&self.0.node)?;
        let msat = self.0.node.balance_msat();
        Ok(Response::new(lnrpc::ChannelBalanceResponse {
            local_balance: Some(amount(msat)),
            remote_balance: Some(amount(0)),
            unsettled_local_balance: Some(amount(0)),
            unsettled_remote_balance: Some(amount(0)),
            pending_open_local_balance: Some(amount(0)),
            pending_open_remote_balance: Some(amount(0)),
            ..Default::default()
        }))
    }

    async fn get_info(
        &self,
        req: Request<lnrpc::GetInfoRequest>,
    ) -> Result<Response<lnrpc::GetInfoResponse>, Status> {
        self.0.auth.check(req.metadata(), Rpc::GetInfo)?;
        let info = self.0.node.info().await.map_err(status)?;
        let peers = self.0.node.network().node_names().len().saturating_sub(1);
        let peers = u32::try_from(peers).unwrap_or(u32::MAX);
        Ok(Response::new(lnrpc::GetInfoResponse {
            identity_pubkey: info.pubkey,
            alias: info.alias,
            num_active_channels: peers,
            num_peers: peers,
            synced_to_chain: info.synced,
            synced_to_graph: info.synced,
            version: VERSION.to_owned(),
            chains: vec![lnrpc::Chain {
                network: info.network,
                ..Default::default()
            }],
            color: "#3399ff".to_owned(),
            best_header_timestamp: super::convert::now_ns() / 1_000_000_000,
            ..Default::default()
        }))
    }

    async fn add_invoice(
        &self,
        req: Request<lnrpc::Invoice>,
    ) -> Result<Response<lnrpc::AddInvoiceResponse>, Status> {
        self.0.auth.check(req.metadata(), Rpc::AddInvoice)?;
        let inv = req.into_inner();
        if inv.value != 0 && inv.value_msat != 0 {
            return Err(Status::invalid_argument(
                "value and value_msat are mutually exclusive",
            ));
        }
        if !inv.r_preimage.is_empty() || !inv.description_hash.is_empty() {
            return Err(Status::unimplemented(
                "r_preimage and description_hash are not supported by the simulator",
            ));
        }
        let msat = if inv.value_msat != 0 {
            inv.value_msat
        } else {
            inv.value.saturating_mul(1000)
        };
        let amount_msat = u64::try_from(msat)
            .map_err(|_| Status::invalid_argument("amount must not be negative"))?;
        let expiry_secs = u64::try_from(inv.expiry)
            .map_err(|_| Status::invalid_argument("expiry must not be negative"))?;
        let created = self
            .0
            .node
            .create_invoice(InvoiceRequest {
                amount_msat,
                memo: inv.memo,
                expiry_secs,
            })
            .await
            .map_err(status)?;
        let record = self.0.node.lookup_invoice(&created.payment_hash).ok();
        Ok(Response::new(lnrpc::AddInvoiceResponse {
            r_hash: created.payment_hash.to_vec(),
            payment_request: created.bolt11,
            add_index: record.as_ref().map_or(0, |r| r.add_index),
            payment_addr: record.map_or_else(Vec::new, |r| r.payment_secret.to_vec()),
        }))
    }

    async fn lookup_invoice(
        &self,
        req: Request<lnrpc::PaymentHash>,
    ) -> Result<Response<lnrpc::Invoice>, Status> {
        self.0.auth.check(req.metadata(), Rpc::LookupInvoice)?;
        let req = req.into_inner();
        #[allow(deprecated)]
        let hash = if req.r_hash.is_empty() && !req.r_hash_str.is_empty() {
            hex::decode(&req.r_hash_str)
                .map_err(|_| Status::invalid_argument("r_hash_str is not hex"))?
        } else {
            req.r_hash
        };
        let hash = hash32(&hash)?;
        self.0.node.stall().await;
        let record = self.0.node.lookup_invoice(&hash).map_err(status)?;
        Ok(Response::new(invoice_pb(&record)))
    }

    type SubscribeInvoicesStream = PbStream<lnrpc::Invoice>;

    async fn subscribe_invoices(
        &self,
        req: Request<lnrpc::InvoiceSubscription>,
    ) -> Result<Response<Self::SubscribeInvoicesStream>, Status> {
        self.0.auth.check(req.metadata(), Rpc::SubscribeInvoices)?;
        ensure_online(&self.0.node)?;
        let sub = req.into_inner();
        let (backlog, mut events) = self
            .0
            .node
            .subscribe_invoices_since(sub.add_index, sub.settle_index);
        let (tx, stream) = stream_channel();
        let stop = stopping(self.0.shutdown.clone());
        tokio::spawn(async move {
            tokio::pin!(stop);
            for ev in backlog {
                if tx.send(Ok(invoice_pb(&ev.invoice))).await.is_err() {
                    return;
                }
            }
            loop {
                let ev = tokio::select! {
                    _ = &mut stop => return,
                    _ = tx.closed() => return,
                    ev = events.recv() => ev,
                };
                let item = match ev {
                    Ok(ev) => Ok(invoice_pb(&ev.invoice)),
                    Err(RecvError::Lagged(n)) => Err(Status::resource_exhausted(format!(
                        "invoice subscriber lagged by {n} events; resubscribe with the last indices"
                    ))),
                    Err(RecvError::Closed) => return,
                };
                let last = item.is_err();
                if tx.send(item).await.is_err() || last {
                    return;
                }
            }
        });
        Ok(Response::new(stream))
    }

    async fn decode_pay_req(
        &self,
        req: Request<lnrpc::PayReqString>,
    ) -> Result<Response<lnrpc::PayReq>, Status> {
        self.0.auth.check(req.metadata(), Rpc::DecodePayReq)?;
        ensure_online(&self.0.node)?;
        let d = decode_bolt11(&req.into_inner().pay_req).map_err(status)?;
        let msat = d.amount_msat.unwrap_or(0);
        let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Ok(Response::new(lnrpc::PayReq {
            destination: d.payee_pubkey_hex(),
            payment_hash: hex::encode(d.payment_hash),
            num_satoshis: i(msat / 1000),
            num_msat: i(msat),
            timestamp: i(d.created_at),
            expiry: i(d.expiry_secs()),
            description: d.description.clone().unwrap_or_default(),
            description_hash: d.description_hash.map(hex::encode).unwrap_or_default(),
            cltv_expiry: i(d.min_final_cltv_expiry_delta),
            payment_addr: d.payment_secret.to_vec(),
            ..Default::default()
        }))
    }

    async fn bake_macaroon(
        &self,
        req: Request<lnrpc::BakeMacaroonRequest>,
    ) -> Result<Response<lnrpc::BakeMacaroonResponse>, Status> {
        self.0.auth.check(req.metadata(), Rpc::BakeMacaroon)?;
        let req = req.into_inner();
        let granted = permission_set(&req.permissions)?;
        if granted.is_empty() {
            return Err(Status::invalid_argument(
                "permission list cannot be empty. specify at least one action/entity pair",
            ));
        }
        let mac = self.0.auth.bake(&granted);
        Ok(Response::new(lnrpc::BakeMacaroonResponse {
            macaroon: hex::encode(mac.encode_v2()),
        }))
    }

    async fn check_macaroon_permissions(
        &self,
        req: Request<lnrpc::CheckMacPermRequest>,
    ) -> Result<Response<lnrpc::CheckMacPermResponse>, Status> {
        self.0
            .auth
            .check(req.metadata(), Rpc::CheckMacaroonPermissions)?;
        let req = req.into_inner();
        let wanted = permission_set(&req.permissions)?;
        let granted = self.0.auth.verify(&req.macaroon)?;
        Ok(Response::new(lnrpc::CheckMacPermResponse {
            valid: wanted.is_subset(&granted),
        }))
    }

    async fn wallet_balance(
        &self,
        req: Request<lnrpc::WalletBalanceRequest>,
    ) -> Result<Response<lnrpc::WalletBalanceResponse>, Status> {
        self.0.auth.check(req.metadata(), Rpc::WalletBalance)?;
        ensure_online(&self.0.node)?;
        Ok(Response::new(lists::wallet_balance()))
    }

    async fn list_channels(
        &self,
        req: Request<lnrpc::ListChannelsRequest>,
    ) -> Result<Response<lnrpc::ListChannelsResponse>, Status> {
        self.0.auth.check(req.metadata(), Rpc::ListChannels)?;
        ensure_online(&self.0.node)?;
        let channels = lists::list_channels(&self.0.node, req.get_ref());
        Ok(Response::new(lnrpc::ListChannelsResponse { channels }))
    }

    async fn list_invoices(
        &self,
        req: Request<lnrpc::ListInvoiceRequest>,
    ) -> Result<Response<lnrpc::ListInvoiceResponse>, Status> {
        self.0.auth.check(req.metadata(), Rpc::ListInvoices)?;
        Ok(Response::new(lists::list_invoices(
            &self.0.node,
            req.get_ref(),
        )?))
    }

    async fn list_payments(
        &self,
        req: Request<lnrpc::ListPaymentsRequest>,
    ) -> Result<Response<lnrpc::ListPaymentsResponse>, Status> {
        self.0.auth.check(req.metadata(), Rpc::ListPayments)?;
        ensure_online(&self.0.node)?;
        let all = self.0.payments.all();
        Ok(Response::new(lists::list_payments(all, req.get_ref())))
    }
}

/// Most permissions accepted in one request.
const MAX_PERMISSIONS: usize = 64;
/// Entities LND knows (its `listpermissions`, subset).
const ENTITIES: [&str; 10] = [
    "onchain", "offchain", "address", "message", "peers", "info", "invoices", "signer", "macaroon",
    "uri",
];

/// Validate requested permissions like LND does (known entity, known action).
fn permission_set(list: &[lnrpc::MacaroonPermission]) -> Result<Perms, Status> {
    if list.len() > MAX_PERMISSIONS {
        return Err(Status::invalid_argument("too many permissions"));
    }
    let mut out = Perms::new();
    for p in list {
        if !ENTITIES.contains(&p.entity.as_str()) {
            return Err(Status::invalid_argument(format!(
                "invalid permission entity. allowed entities are {ENTITIES:?}"
            )));
        }
        if !matches!(p.action.as_str(), "read" | "write" | "generate") {
            return Err(Status::invalid_argument(
                "invalid permission action. allowed actions are [read write generate]",
            ));
        }
        out.insert(Perm::new(&p.entity, &p.action));
    }
    Ok(out)
}
