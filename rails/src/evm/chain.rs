//! [`EvmRail`]: verify by `eth_call` simulation, settle by an EIP-1559 transaction signed with
//! the settler's alloy wallet, then poll the receipt within the confirmation timeout.
//!
//! Settlement steps: gas (`eth_estimateGas`, a revert here refuses the payment before any gas
//! is spent) and fees (alloy's EIP-1559 estimator over `eth_feeHistory`) outside any lock;
//! then, under the settler's nonce lock, nonce = max(node's pending count, our next), sign
//! (chain id from config), record the hash in [`PendingSettlements`], send the raw
//! transaction. Holding the lock across sign+send keeps concurrent settlements from one key on
//! distinct, gap-free nonces; a refused send resets our counter to the node's. (alloy's
//! `CachedNonceManager` reserves nonces before broadcast and never resynchronises after a
//! failed send, which would strand every later settlement behind the gap.)

use std::time::{Duration, Instant};

use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address as AlloyAddress, Bytes, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::sol_types::SolCall;
use async_trait::async_trait;
use gate402_protocols::x402::evm::{self, Address};
use tokio::sync::Mutex;

use super::errors::{classify, OnErrorAnswer};
use super::http::{parse_url, HttpOptions};
use super::pending::{Outcome, PendingSettlements, SettlementKey};
use super::token::{self, Eip3009Token};
use super::{EvmError, EvmErrorKind, ExactEvmBackend, PaymentRef, Settled, SettlerKey};

/// Receipt polling: first retry after this, doubling up to [`POLL_MAX`].
const POLL_FIRST: Duration = Duration::from_millis(1);
/// Longest wait between two receipt polls.
const POLL_MAX: Duration = Duration::from_millis(100);

/// Direct chain access over JSON-RPC (alloy provider), settling from a configured key.
pub struct EvmRail {
    pub(super) provider: DynProvider,
    wallet: Option<(EthereumWallet, AlloyAddress)>,
    url: String,
    chain_id: u64,
    confirm_timeout: Duration,
    /// Next sender nonce (serialises sign+send from the settler key).
    next_nonce: Mutex<Option<u64>>,
    pub(super) pending: PendingSettlements,
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
            next_nonce: Mutex::new(None),
            pending: PendingSettlements::default(),
        })
    }

    /// The chain id configured.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The settler's address, if a key is configured.
    pub fn settler_address(&self) -> Option<Address> {
        self.wallet.as_ref().map(|(_, a)| a.into_array())
    }

    /// Settlements broadcast but not (yet) confirmed to their buyer.
    pub fn pending(&self) -> &PendingSettlements {
        &self.pending
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

    fn sig65(p: &PaymentRef<'_>) -> Result<[u8; 65], EvmError> {
        p.payment.signature.as_slice().try_into().map_err(|_| {
            EvmError::new(
                EvmErrorKind::Rejected,
                "invalid_signature",
                "only 65-byte EOA signatures are supported",
            )
        })
    }

    /// The settlement transaction with gas and fees filled (no nonce, unsigned).
    async fn prepare(
        &self,
        from: AlloyAddress,
        p: &PaymentRef<'_>,
    ) -> Result<TransactionRequest, EvmError> {
        let data = token::transfer_with_authorization(&p.payment.authorization, &Self::sig65(p)?);
        let req = TransactionRequest::default()
            .with_from(from)
            .with_to(AlloyAddress::from(p.price.asset))
            .with_input(data)
            .with_chain_id(self.chain_id);
        let (gas, fees) = tokio::join!(
            self.provider.estimate_gas(req.clone()),
            self.provider.estimate_eip1559_fees()
        );
        let gas = gas.map_err(|e| classify("eth_estimateGas", &e, OnErrorAnswer::Reject))?;
        let fees = fees.map_err(|e| classify("eth_feeHistory", &e, OnErrorAnswer::Outage))?;
        Ok(req
            .with_gas_limit(gas)
            .with_max_fee_per_gas(fees.max_fee_per_gas)
            .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas))
    }

    /// Sign and send under the nonce lock; the hash is in [`PendingSettlements`] from before
    /// the send until the caller disarms the returned [`Outcome`].
    async fn broadcast(
        &self,
        wallet: &EthereumWallet,
        from: AlloyAddress,
        req: TransactionRequest,
        key: SettlementKey,
    ) -> Result<(B256, Outcome<'_>), EvmError> {
        let mut next = self.next_nonce.lock().await;
        let chain_nonce = self
            .provider
            .get_transaction_count(from)
            .pending()
            .await
            .map_err(|e| classify("eth_getTransactionCount", &e, OnErrorAnswer::Outage))?;
        let nonce = next.map_or(chain_nonce, |n| n.max(chain_nonce));
        let envelope =
            req.with_nonce(nonce).build(wallet).await.map_err(|e| {
                EvmError::new(EvmErrorKind::Config, "signing_failed", e.to_string())
            })?;
        let hash = *envelope.tx_hash();
        let outcome = Outcome::new(&self.pending, key, hash.to_string(), now_unix());
        match self.provider.send_tx_envelope(envelope).await {
            Ok(_) => {
                *next = Some(nonce + 1);
                tracing::info!(transaction = %hash, nonce, "x402 settlement broadcast");
                Ok((hash, outcome))
            }
            Err(e) => {
                *next = None;
                let mut err = classify("eth_sendRawTransaction", &e, OnErrorAnswer::Reject);
                if err.kind == EvmErrorKind::Rejected {
                    // The node refused it: nothing was broadcast.
                    outcome.delivered();
                } else {
                    // It may or may not have reached the node: keep the hash.
                    err.transaction = Some(hash.to_string());
                }
                Err(err)
            }
        }
    }

    async fn await_receipt(&self, hash: B256) -> Result<TransactionReceipt, EvmError> {
        let deadline = Instant::now() + self.confirm_timeout;
        let mut wait = POLL_FIRST;
        loop {
            let r = self.receipt(hash).await?;
            if let Some(r) = r {
                return Ok(r);
            }
            if Instant::now() >= deadline {
                return Err(EvmError::new(
                    EvmErrorKind::Unavailable,
                    "settlement_pending",
                    "no receipt before the confirmation timeout",
                ));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(POLL_MAX);
        }
    }

    pub(super) async fn receipt(&self, hash: B256) -> Result<Option<TransactionReceipt>, EvmError> {
        self.provider
            .get_transaction_receipt(hash)
            .await
            .map_err(|e| classify("eth_getTransactionReceipt", &e, OnErrorAnswer::Outage))
    }
}

pub(super) fn settlement_key(p: &PaymentRef<'_>) -> SettlementKey {
    SettlementKey {
        token: p.price.asset,
        from: p.payment.authorization.from,
        nonce: p.payment.authorization.nonce,
    }
}

/// The receipt's verdict on a settlement transaction `hash`.
pub(super) fn judge(
    p: &PaymentRef<'_>,
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
        payer: evm::checksum(&p.payment.authorization.from),
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
        let Some((wallet, from)) = &self.wallet else {
            return Err(EvmError::new(
                EvmErrorKind::Config,
                "no_settler_key",
                "no settler key configured",
            ));
        };
        let req = self.prepare(*from, &p).await?;
        let (hash, outcome) = self
            .broadcast(wallet, *from, req, settlement_key(&p))
            .await?;
        let receipt = self.await_receipt(hash).await.map_err(|mut e| {
            // `outcome` is dropped with the error: the settlement stays pending.
            e.transaction = Some(hash.to_string());
            e
        })?;
        outcome.delivered();
        judge(&p, hash.to_string(), &receipt)
    }

    fn describe(&self) -> String {
        format!("rpc {} (chain {})", self.url, self.chain_id)
    }

    async fn reconcile(&self, p: PaymentRef<'_>) -> Result<Option<Settled>, EvmError> {
        self.reconcile_pending(&p).await
    }

    fn unserved(&self, p: PaymentRef<'_>, settled: Settled) {
        self.pending.insert(
            settlement_key(&p),
            super::Unserved {
                transaction: settled.transaction,
                broadcast_at: now_unix(),
            },
        );
    }
}
