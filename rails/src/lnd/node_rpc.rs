//! Read-only node RPCs of [`LndRail`] for agents' node tools: `WalletBalance`,
//! `ListChannels`, `ListInvoices`, `ListPayments` and `routerrpc.EstimateRouteFee`. Each needs
//! only a `read` permission (`onchain`, `offchain` or `invoices`). The responses are LND's
//! messages as they come: `ListInvoices` carries each invoice's preimage and `ListPayments`
//! each payment's, so callers that show them to anyone must leave those fields out.

use super::proto::lnrpc;
use super::proto::routerrpc::{RouteFeeRequest, RouteFeeResponse};
use super::rpc::unary;
use super::LndRail;
use crate::RailError;

impl LndRail {
    /// `WalletBalance` (on-chain, in satoshis).
    pub async fn wallet_balance(&self) -> Result<lnrpc::WalletBalanceResponse, RailError> {
        let mut client = self.inner.lightning.clone();
        let req = lnrpc::WalletBalanceRequest::default();
        unary("WalletBalance", client.wallet_balance(req)).await
    }

    /// `ListChannels` with LND's filters.
    pub async fn list_channels(
        &self,
        req: lnrpc::ListChannelsRequest,
    ) -> Result<Vec<lnrpc::Channel>, RailError> {
        let mut client = self.inner.lightning.clone();
        let resp = unary("ListChannels", client.list_channels(req)).await?;
        Ok(resp.channels)
    }

    /// `ListInvoices`: one page by add index.
    pub async fn list_invoices(
        &self,
        req: lnrpc::ListInvoiceRequest,
    ) -> Result<lnrpc::ListInvoiceResponse, RailError> {
        let mut client = self.inner.lightning.clone();
        unary("ListInvoices", client.list_invoices(req)).await
    }

    /// `ListPayments`: one page by payment index.
    pub async fn list_payments(
        &self,
        req: lnrpc::ListPaymentsRequest,
    ) -> Result<lnrpc::ListPaymentsResponse, RailError> {
        let mut client = self.inner.lightning.clone();
        unary("ListPayments", client.list_payments(req)).await
    }

    /// `routerrpc.EstimateRouteFee`: a graph estimate (`dest` + `amt_sat`) or a probe for a
    /// payment request (`payment_request`, bounded by `timeout` seconds).
    pub async fn estimate_route_fee(
        &self,
        req: RouteFeeRequest,
    ) -> Result<RouteFeeResponse, RailError> {
        let mut client = self.inner.router.clone();
        unary("EstimateRouteFee", client.estimate_route_fee(req)).await
    }
}
