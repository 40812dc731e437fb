//! [`EvmRail`]: verify by `eth_call` simulation, settle by an EIP-1559 transaction signed with
//! the settler's alloy wallet, then poll the receipt within the confirmation timeout.
//!
//! Settlement steps (`settle.rs`): gas (`eth_estimateGas`, a revert here refuses the payment
//! before any gas is spent) and fees (alloy's EIP-1559 estimator over `eth_feeHistory`)
//! outside any lock; then, under the settler's nonce lock, pick the nonce, sign (chain id from
//! config), write the signed transaction to the [`SettlementJournal`] and send it; then wait
//! for its receipt and `confirmations`. Reconciling what was left behind: `reconcile.rs`.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address as AlloyAddress, Bytes, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::sol_types::SolCall;
use async_trait::async_trait;
use gate402_protocols::x402::evm::{self, Address};
use tokio::sync::Mutex;

use super::errors::{classify, OnErrorAnswer};
use super::http::{parse_url, HttpOptions};
use super::journal::{MemoryJournal, SettlementJournal, SettlementKey};
use super::token::{self, Eip3009Token};
use super::{EvmError, EvmErrorKind, ExactEvmBackend, PaymentRef, Settled, SettlerKey};

/// Direct chain access over JSON-RPC (alloy provider), settling from a configured key.
pub struct EvmRail {
    pub(super) provider: DynProvider,
    pub(super) wallet: Option<(EthereumWallet, AlloyAddress)>,
    url: String,
    chain_id: u64,
    pub(super) confirm_timeout: Duration,
    /// Blocks a settlement's block must have on top of it (itself included) before the
    /// settlement counts as done.
    pub(super) confirmations: u64,
    /// The settler's nonce state; its lock serialises sign+send (and re-sends).
    pub(super) nonces: Mutex<NonceState>,
    journal: RwLock<Arc<dyn SettlementJournal>>,
}

/// What the rail last sent from the settler key.
#[derive(Debug, Default)]
pub(super) struct NonceState {
    /// The nonce after the last transaction the node accepted.
    pub(super) next: Option<u64>,
    /// That transaction's hash.
    pub(super) last: Option<B256>,
}

impl EvmRail {
    /// A rail for chain `chain_id` at `rpc_url` (`http://` or `https://`); `settler` may be
    /// `None` for verify-only use. Fails on a bad URL or CA file.
    pub fn new(
        rpc_url: &str,
        chain_id: u64,
        settler: Option<SettlerKey>,
        http: &HttpOptions,
        confirm_timeout: Duration,
    ) -> Result<Self, EvmError> {
        let url = parse_url(rpc_url)?;
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_reqwest(http.client()?, url)
            .erased();
        Ok(EvmRail {
            provider,
            wallet: settler.map(|k| {
                let from = AlloyAddress::from(k.address());
                (EthereumWallet::from(k.signer().clone()), from)
            }),
            url: rpc_url.to_string(),
            chain_id,
            confirm_timeout,
            confirmations: 1,
            nonces: Mutex::new(NonceState::default()),
            journal: RwLock::new(Arc::new(MemoryJournal::default())),
        })
    }

    /// Count a settlement as done only once its block has `n - 1` blocks on top (`n` ≥ 1;
    /// default 1: the receipt). A settlement whose block is reorganised away before that is
    /// sent again and waited for anew.
    pub fn with_confirmations(mut self, n: u64) -> Self {
        self.confirmations = n.max(1);
        self
    }

    /// Journal settlements in `journal` (a store shared by a fleet) instead of memory.
    /// Entries already in the memory journal are not moved: attach it before serving.
    pub fn set_journal(&self, journal: Arc<dyn SettlementJournal>) {
        *self.journal.write().unwrap_or_else(|p| p.into_inner()) = journal;
    }

    /// The settlement journal in use.
    pub fn journal(&self) -> Arc<dyn SettlementJournal> {
        self.journal
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The chain id configured.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The settler's address, if a key is configured.
    pub fn settler_address(&self) -> Option<Address> {
        self.wallet.as_ref().map(|(_, a)| a.into_array())
    }

    /// Check the node is reachable and on the configured chain.
    pub async fn check_chain(&self) -> Result<(), EvmError> {
        let id = self
            .provider
            .get_chain_id()
            .await
            .map_err(|e| classify("eth_chainId", &e, OnErrorAnswer::Outage))?;
        if id != self.chain_id {
            return Err(EvmError::new(
                EvmErrorKind::Config,
                "wrong_chain",
                format!("node is on chain {id}, configured {}", self.chain_id),
            ));
        }
        Ok(())
    }

    /// `authorizationState(from, nonce)` of the token.
    pub async fn authorization_used(
        &self,
        token: &Address,
        from: &Address,
        nonce: &[u8; 32],
    ) -> Result<bool, EvmError> {
        let out = self
            .read(token, token::authorization_state(from, nonce))
            .await?;
        Eip3009Token::authorizationStateCall::abi_decode_returns(&out).map_err(bad_answer)
    }

    /// `balanceOf(who)` of the token.
    pub async fn balance_of(&self, token: &Address, who: &Address) -> Result<U256, EvmError> {
        let out = self.read(token, token::balance_of(who)).await?;
        Eip3009Token::balanceOfCall::abi_decode_returns(&out).map_err(bad_answer)
    }

    async fn read(&self, to: &Address, data: Bytes) -> Result<Bytes, EvmError> {
        let req = TransactionRequest::default()
            .with_to(AlloyAddress::from(*to))
            .with_input(data);
        self.provider
            .call(req)
            .await
            .map_err(|e| classify("eth_call", &e, OnErrorAnswer::Outage))
    }

    pub(super) fn sig65(p: &PaymentRef<'_>) -> Result<[u8; 65], EvmError> {
        p.payment.signature.as_slice().try_into().map_err(|_| {
            EvmError::new(
                EvmErrorKind::Rejected,
                "invalid_signature",
                "only 65-byte EOA signatures are supported",
            )
        })
    }

    pub(super) async fn receipt(&self, hash: B256) -> Result<Option<TransactionReceipt>, EvmError> {
        self.provider
            .get_transaction_receipt(hash)
            .await
            .map_err(|e| classify("eth_getTransactionReceipt", &e, OnErrorAnswer::Outage))
    }
}

/// The journal key of payment `p`.
pub fn settlement_key(p: &PaymentRef<'_>) -> SettlementKey {
    SettlementKey {
        token: p.price.asset,
        from: p.payment.authorization.from,
        nonce: p.payment.authorization.nonce,
    }
}

/// The receipt's verdict on a settlement transaction `hash` of `key`'s authorization.
pub(super) fn judge(
    key: &SettlementKey,
    hash: String,
    r: &TransactionReceipt,
) -> Result<Settled, EvmError> {
    if !r.status() {
        let mut e = EvmError::new(EvmErrorKind::Rejected, "transaction_failed", "reverted");
        e.transaction = Some(hash);
        return Err(e);
    }
    Ok(Settled {
        transaction: hash,
        payer: evm::checksum(&key.from),
    })
}

fn bad_answer(e: alloy::sol_types::Error) -> EvmError {
    EvmError::new(
        EvmErrorKind::Unavailable,
        "rpc_bad_answer",
        format!("undecodable eth_call result: {e}"),
    )
}

pub(super) fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[async_trait]
impl ExactEvmBackend for EvmRail {
    async fn verify(&self, p: PaymentRef<'_>) -> Result<(), EvmError> {
        if p.price.chain_id != self.chain_id {
            return Err(EvmError::new(
                EvmErrorKind::Rejected,
                "invalid_network",
                "other chain",
            ));
        }
        let data = token::transfer_with_authorization(&p.payment.authorization, &Self::sig65(&p)?);
        let from = self.settler_address().unwrap_or(p.price.pay_to);
        let req = TransactionRequest::default()
            .with_from(AlloyAddress::from(from))
            .with_to(AlloyAddress::from(p.price.asset))
            .with_input(data);
        self.provider
            .call(req)
            .await
            .map(drop)
            .map_err(|e| classify("eth_call", &e, OnErrorAnswer::Reject))
    }

    async fn settle(&self, p: PaymentRef<'_>) -> Result<Settled, EvmError> {
        self.settle_tagged(&p, "").await
    }

    async fn settle_with(&self, p: PaymentRef<'_>, tag: &str) -> Result<Settled, EvmError> {
        self.settle_tagged(&p, tag).await
    }

    fn describe(&self) -> String {
        format!("rpc {} (chain {})", self.url, self.chain_id)
    }

    async fn reconcile(&self, p: PaymentRef<'_>) -> Result<Option<Settled>, EvmError> {
        self.reconcile_pending(&p).await
    }

    async fn reconcile_due(&self, limit: u32) -> Result<super::Reconciled, EvmError> {
        self.reconcile_left_behind(limit).await
    }

    async fn unserved(&self, p: PaymentRef<'_>) {
        // Anyone (the buyer's retry, a reconciler) may take it up again.
        if let Err(e) = self.journal().abandon(&settlement_key(&p)).await {
            tracing::warn!(error = %e, "cannot hand a landed settlement back to the journal");
        }
    }

    async fn forget(&self, p: PaymentRef<'_>) {
        if let Err(e) = self.journal().remove(&settlement_key(&p)).await {
            tracing::warn!(error = %e, "cannot remove a delivered settlement from the journal");
        }
    }

    fn set_journal(&self, journal: Arc<dyn SettlementJournal>) {
        EvmRail::set_journal(self, journal);
    }
}
