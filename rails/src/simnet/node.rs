//! A simulated node: the [`LightningRail`] implementation over a [`SimNetwork`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bitcoin::secp256k1::{PublicKey, SecretKey};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use super::events::{InvoiceEvent, InvoiceRecord};
use super::mint::{mint, node_secret, Mint, DEFAULT_INVOICE_EXPIRY_SECS, SIMNET_CHAIN};
use super::state::{NetState, NodeState};
use super::SimNetwork;
use crate::invoice::secp;
use crate::{
    Invoice, InvoiceRequest, InvoiceState, LightningRail, NodeInfo, PayLimits, Payment,
    PaymentHash, RailError, RailErrorKind,
};

/// Handle to one node of a [`SimNetwork`]; cheap to clone.
///
/// Its key is `sha256("gate402-simnet/" ‖ name)` (re-hashed with a counter in the
/// astronomically unlikely case it is not a valid secp256k1 scalar): deterministic and public,
/// fit only for simulation.
#[derive(Clone)]
pub struct SimNode {
    pub(super) net: SimNetwork,
    name: Arc<str>,
    secret: SecretKey,
    pubkey: [u8; 33],
}

impl fmt::Debug for SimNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimNode")
            .field("name", &self.name)
            .field("pubkey", &self.pubkey_hex())
            .finish_non_exhaustive()
    }
}

fn node_missing() -> RailError {
    RailError::new(RailErrorKind::Internal, "simnet node does not exist")
}

impl SimNode {
    /// Handle for `name` (the node state itself is created by [`SimNetwork::add_node`]).
    pub(super) fn derive(net: SimNetwork, name: &str) -> Self {
        let secret = node_secret(name);
        let pubkey = PublicKey::from_secret_key(secp(), &secret).serialize();
        SimNode {
            net,
            name: Arc::from(name),
            secret,
            pubkey,
        }
    }

    /// Node name (also its alias).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Compressed public key.
    pub fn pubkey(&self) -> [u8; 33] {
        self.pubkey
    }

    /// Compressed public key, lowercase hex.
    pub fn pubkey_hex(&self) -> String {
        hex::encode(self.pubkey)
    }

    /// The network this node belongs to.
    pub fn network(&self) -> &SimNetwork {
        &self.net
    }

    /// Spendable balance in millisatoshis.
    pub fn balance_msat(&self) -> u64 {
        self.net.balance_msat(&self.name).unwrap_or(0)
    }

    /// Live invoice events (additions and settlements) of this node, from now on.
    ///
    /// Like LND's `SubscribeInvoices`, cancellations and expiries are not announced. A
    /// subscriber that falls more than 1024 events behind gets `RecvError::Lagged` and should
    /// resume with [`subscribe_invoices_since`](Self::subscribe_invoices_since). Subscribing
    /// works even while the node is offline (simulator convenience).
    pub fn subscribe_invoices(&self) -> broadcast::Receiver<InvoiceEvent> {
        self.subscribe_invoices_since(0, 0).1
    }

    /// Resumable subscription, as LND's `SubscribeInvoices{add_index, settle_index}`: the
    /// backlog (invoices added after `add_index`, then invoices settled after `settle_index`;
    /// 0 skips that sequence) and a receiver for everything later, taken atomically so nothing
    /// is missed or duplicated.
    pub fn subscribe_invoices_since(
        &self,
        add_index: u64,
        settle_index: u64,
    ) -> (Vec<InvoiceEvent>, broadcast::Receiver<InvoiceEvent>) {
        let st = self.net.lock();
        let now = st.now_secs();
        match st.nodes.get(&*self.name) {
            Some(n) => (
                n.backlog(add_index, settle_index, now),
                n.events.subscribe(),
            ),
            None => (Vec::new(), broadcast::channel(1).1),
        }
    }

    /// Full record of one of this node's invoices (LND `LookupInvoice`).
    pub fn lookup_invoice(&self, payment_hash: &PaymentHash) -> Result<InvoiceRecord, RailError> {
        self.with_online_node(|n, now| {
            let record = n.invoices.get(payment_hash).ok_or_else(unknown_invoice)?;
            let mut record = record.clone();
            record.state = record.state_at(now);
            Ok(record)
        })
    }

    /// Every invoice of this node, by `add_index` (LND `ListInvoices`), states as of now.
    pub fn invoices(&self) -> Result<Vec<InvoiceRecord>, RailError> {
        self.with_online_node(|n, now| {
            let mut all: Vec<InvoiceRecord> = n.invoices.values().cloned().collect();
            for r in &mut all {
                r.state = r.state_at(now);
            }
            all.sort_by_key(|r| r.add_index);
            Ok(all)
        })
    }

    /// Cancel an unpaid invoice (LND `invoicesrpc.CancelInvoice`): further payments fail with
    /// "incorrect payment details". Settled → `AlreadyPaid`; unknown → `NotFound`.
    pub fn cancel_invoice(&self, payment_hash: &PaymentHash) -> Result<(), RailError> {
        self.with_online_node(|n, _| {
            let record = n
                .invoices
                .get_mut(payment_hash)
                .ok_or_else(unknown_invoice)?;
            match record.state {
                InvoiceState::Settled => Err(RailError::new(
                    RailErrorKind::AlreadyPaid,
                    "invoice already settled",
                )),
                _ => {
                    record.state = InvoiceState::Canceled;
                    Ok(())
                }
            }
        })
    }

    /// Wait while the node is hung ([`Faults::hang`](super::Faults)): a call made now
    /// answers only once the fault is cleared.
    pub async fn stall(&self) {
        while self.net.faults(&self.name).hang {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Run `f` on this node's state (and the network time) if the node is online.
    pub(super) fn with_online_node<R>(
        &self,
        f: impl FnOnce(&mut NodeState, u64) -> Result<R, RailError>,
    ) -> Result<R, RailError> {
        let mut st = self.net.lock();
        let now = st.now_secs();
        let node = node_state(&mut st, &self.name)?;
        node.ensure_online()?;
        f(node, now)
    }
}

pub(super) fn node_state<'a>(
    st: &'a mut NetState,
    name: &str,
) -> Result<&'a mut NodeState, RailError> {
    st.nodes.get_mut(name).ok_or_else(node_missing)
}

fn unknown_invoice() -> RailError {
    RailError::new(RailErrorKind::NotFound, "unable to locate invoice")
}

#[async_trait]
impl LightningRail for SimNode {
    fn rail_id(&self) -> &'static str {
        "simnet"
    }

    async fn info(&self) -> Result<NodeInfo, RailError> {
        self.stall().await;
        self.with_online_node(|_, _| Ok(()))?;
        Ok(NodeInfo {
            alias: self.name.to_string(),
            pubkey: self.pubkey_hex(),
            network: SIMNET_CHAIN.to_owned(),
            synced: true,
        })
    }

    async fn create_invoice(&self, req: InvoiceRequest) -> Result<Invoice, RailError> {
        self.stall().await;
        let delay = self.with_online_node(|n, _| Ok(n.faults.add_invoice_delay))?;
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        let expiry_secs = match req.expiry_secs {
            0 => DEFAULT_INVOICE_EXPIRY_SECS,
            s => s,
        };
        let preimage: [u8; 32] = rand::random();
        let payment_secret: [u8; 32] = rand::random();
        let payment_hash: PaymentHash = Sha256::digest(preimage).into();
        let created_at = self.net.now_secs();
        let bolt11 = mint(
            &self.secret,
            &Mint {
                memo: &req.memo,
                payment_hash,
                payment_secret,
                amount_msat: req.amount_msat,
                created_at,
                expiry_secs,
            },
        )?;
        let expires_at = created_at.saturating_add(expiry_secs);
        let record = InvoiceRecord {
            payment_hash,
            preimage,
            payment_secret,
            bolt11: bolt11.clone(),
            memo: req.memo,
            amount_msat: req.amount_msat,
            state: InvoiceState::Open,
            created_at,
            expires_at,
            settled_at: None,
            amt_paid_msat: 0,
            add_index: 0,
            settle_index: 0,
        };
        // The node may have gone down during the delay.
        self.with_online_node(|n, _| {
            n.insert_invoice(record);
            Ok(())
        })?;
        Ok(Invoice {
            bolt11,
            payment_hash,
            amount_msat: req.amount_msat,
            created_at,
            expires_at,
        })
    }

    async fn invoice_state(&self, payment_hash: &PaymentHash) -> Result<InvoiceState, RailError> {
        self.stall().await;
        self.with_online_node(|n, now| {
            let record = n.invoices.get(payment_hash).ok_or_else(unknown_invoice)?;
            Ok(record.state_at(now))
        })
    }

    async fn pay_invoice(&self, bolt11: &str, limits: PayLimits) -> Result<Payment, RailError> {
        self.stall().await;
        self.count_failure(super::pay::pay(self, bolt11, None, limits).await)
    }

    async fn pay_amountless_invoice(
        &self,
        bolt11: &str,
        amount_msat: u64,
        limits: PayLimits,
    ) -> Result<Payment, RailError> {
        self.count_failure(super::pay::pay(self, bolt11, Some(amount_msat), limits).await)
    }

    async fn track_payment(
        &self,
        payment_hash: &PaymentHash,
        wait: std::time::Duration,
    ) -> Result<crate::PaymentStatus, RailError> {
        self.stall().await;
        super::pay::track(self, payment_hash, wait).await
    }
}

impl SimNode {
    /// Count a failed payment in the node's statistics.
    fn count_failure(&self, result: Result<Payment, RailError>) -> Result<Payment, RailError> {
        if result.is_err() {
            let mut st = self.net.lock();
            if let Ok(n) = node_state(&mut st, &self.name) {
                n.payments_failed += 1;
            }
        }
        result
    }
}
