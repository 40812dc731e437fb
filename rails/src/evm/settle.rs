//! Settling on [`EvmRail`]: prepare (gas, fees), sign and journal under the settler's nonce
//! lock, send, then wait (bounded) for the receipt and the configured confirmations.
//!
//! * **Nonce**: the node's pending count, unless the rail is ahead of it. Ahead means either
//!   the node lags (a load-balanced RPC: our last transaction is known to it, keep our
//!   counter) or it dropped our transactions (a mempool flush: a *nonce gap* that would strand
//!   every later settlement; resynchronise to the node's count and log it). The lock is held
//!   across sign+send, so concurrent settlements of one process get distinct, gap-free
//!   nonces; a send refused because another process (a fleet sharing the settler key) took
//!   the nonce is signed again on the next one.
//! * **Journal first**: the signed transaction is in the [`SettlementJournal`] before it is
//!   sent; if the journal cannot be written nothing is sent (503).
//! * **Outcome**: receipt success (and confirmations) → `Ok`, the entry stays with the
//!   caller, who records the payment and removes it; receipt failure → resolved as
//!   released; no receipt in time, an ambiguous send or a dropped caller → the lease ends
//!   ([`Guard`]) and the entry waits for reconciliation (`reconcile.rs`).
//! * **Reorgs**: a receipt that disappears before its confirmations are reached (its block
//!   was reorganised away) is waited for again, and the signed transaction is sent again
//!   when the node no longer knows it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::eips::eip2718::Encodable2718;
use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address as AlloyAddress, B256};
use alloy::providers::Provider;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};

use super::chain::{judge, now_unix, settlement_key, EvmRail};
use super::errors::{classify, OnErrorAnswer};
use super::journal::{PendingSettlement, Resolution, SettlementJournal, SettlementKey};
use super::token;
use super::{EvmError, EvmErrorKind, PaymentRef, Settled};

/// Receipt polling: first retry after this, doubling up to [`POLL_MAX`].
const POLL_FIRST: Duration = Duration::from_millis(1);
/// Longest wait between two receipt polls.
const POLL_MAX: Duration = Duration::from_millis(100);
/// Signing attempts when the node refuses a settlement for its nonce.
const NONCE_ATTEMPTS: u32 = 5;

/// Whether a refused send's message says its nonce is used or being used.
fn nonce_taken(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "nonce too low",
        "already known",
        "already imported",
        "replacement transaction underpriced",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// A waiting caller's lease on its journal entry lasts the confirmation timeout plus this
/// (RPC round trips), so a crashed gateway's settlements are reconciled soon after.
pub(super) const LEASE_SLACK_SECS: u64 = 5;

/// Ends the journal lease of a settlement when dropped armed: its caller stopped waiting
/// without learning the outcome (dropped future, receipt timeout, ambiguous send).
pub(super) struct Guard {
    journal: Arc<dyn SettlementJournal>,
    key: SettlementKey,
    transaction: String,
    armed: bool,
}

impl Guard {
    /// The outcome is known and handled: nothing to do on drop.
    pub(super) fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        tracing::warn!(
            transaction = %self.transaction,
            from = %gate402_protocols::x402::evm::checksum(&self.key.from),
            "x402 settlement sent but not confirmed to its buyer; left for reconciliation"
        );
        let (journal, key) = (self.journal.clone(), self.key);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = journal.abandon(&key).await {
                    // The lease runs out by itself: reconciliation is only later.
                    tracing::warn!(error = %e, "cannot end a settlement's lease");
                }
            });
        }
    }
}

impl EvmRail {
    /// Settle `p`, journaling it with `tag` (see the module docs).
    pub(super) async fn settle_tagged(
        &self,
        p: &PaymentRef<'_>,
        tag: &str,
    ) -> Result<Settled, EvmError> {
        let Some((wallet, from)) = &self.wallet else {
            return Err(EvmError::new(
                EvmErrorKind::Config,
                "no_settler_key",
                "no settler key configured",
            ));
        };
        let req = self.prepare(*from, p).await?;
        let (pending, guard) = self.broadcast(wallet, *from, req, p, tag).await?;
        let hash: B256 = pending.transaction.parse().unwrap_or_default();
        let receipt = self
            .await_receipt(hash, &pending.raw)
            .await
            .map_err(|mut e| {
                // `guard` is dropped with the error: the settlement waits for reconciliation.
                e.transaction = Some(pending.transaction.clone());
                e
            })?;
        let verdict = judge(&pending.key, pending.transaction.clone(), &receipt);
        if let Err(e) = &verdict {
            let released = Resolution::Released { reason: e.reason };
            if self.journal().resolve(&pending, &released).await.is_err() {
                // Left for the reconciler, which reaches the same verdict.
                return verdict;
            }
        }
        guard.disarm();
        verdict
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
            .with_chain_id(self.chain_id());
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

    /// Under the nonce lock: pick the nonce, sign, journal, send. A send refused for its
    /// nonce (another process settling from the same key took it: a fleet sharing one
    /// settler) is signed again on the node's next nonce, at most [`NONCE_ATTEMPTS`] times.
    async fn broadcast(
        &self,
        wallet: &EthereumWallet,
        from: AlloyAddress,
        req: TransactionRequest,
        p: &PaymentRef<'_>,
        tag: &str,
    ) -> Result<(PendingSettlement, Guard), EvmError> {
        let journal = self.journal();
        let mut nonces = self.nonces.lock().await;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let nonce = self.next_nonce(from, &nonces).await?;
            let envelope = req
                .clone()
                .with_nonce(nonce)
                .build(wallet)
                .await
                .map_err(|e| {
                    EvmError::new(EvmErrorKind::Config, "signing_failed", e.to_string())
                })?;
            let hash = *envelope.tx_hash();
            let pending = PendingSettlement {
                key: settlement_key(p),
                transaction: hash.to_string(),
                raw: envelope.encoded_2718(),
                tx_nonce: nonce,
                valid_before: p.payment.authorization.valid_before,
                broadcast_at: now_unix(),
                tag: tag.to_owned(),
            };
            let lease = now_unix() + self.confirm_timeout.as_secs() + LEASE_SLACK_SECS;
            journal.begin(&pending, lease).await?;
            let guard = Guard {
                journal: journal.clone(),
                key: pending.key,
                transaction: pending.transaction.clone(),
                armed: true,
            };
            match self.provider.send_raw_transaction(&pending.raw).await {
                Ok(_) => {
                    nonces.next = Some(nonce + 1);
                    nonces.last = Some(hash);
                    tracing::info!(transaction = %hash, nonce, "x402 settlement broadcast");
                    return Ok((pending, guard));
                }
                Err(e) => {
                    nonces.next = None;
                    nonces.last = None;
                    let mut err = classify("eth_sendRawTransaction", &e, OnErrorAnswer::Reject);
                    if err.kind != EvmErrorKind::Rejected {
                        // It may or may not have reached the node: left for reconciliation.
                        err.transaction = Some(pending.transaction.clone());
                        return Err(err);
                    }
                    // The node refused it: nothing was broadcast.
                    guard.disarm();
                    if nonce_taken(&err.message) && attempt < NONCE_ATTEMPTS {
                        tracing::info!(
                            nonce,
                            "settler nonce taken by another sender; signing again"
                        );
                        continue;
                    }
                    if let Err(e) = journal.remove(&pending.key).await {
                        tracing::warn!(error = %e, "cannot remove a refused settlement");
                    }
                    return Err(err);
                }
            }
        }
    }

    /// The nonce to sign with: the node's pending count, unless the rail is ahead of it
    /// (see the module docs).
    async fn next_nonce(
        &self,
        from: AlloyAddress,
        nonces: &super::chain::NonceState,
    ) -> Result<u64, EvmError> {
        let chain_nonce = self
            .provider
            .get_transaction_count(from)
            .pending()
            .await
            .map_err(|e| classify("eth_getTransactionCount", &e, OnErrorAnswer::Outage))?;
        Ok(match (nonces.next, nonces.last) {
            (Some(next), Some(last)) if next > chain_nonce => {
                if self.knows(last).await {
                    next // the node lags behind what it accepted
                } else {
                    tracing::warn!(
                        ours = next,
                        node = chain_nonce,
                        "nonce gap: the node dropped settlement transactions; resynchronising"
                    );
                    chain_nonce
                }
            }
            _ => chain_nonce,
        })
    }

    /// Wait (bounded by the confirmation timeout) for a successful or failed receipt of
    /// `hash` with the configured confirmations; `raw` is sent again if the node lost it.
    async fn await_receipt(&self, hash: B256, raw: &[u8]) -> Result<TransactionReceipt, EvmError> {
        let deadline = Instant::now() + self.confirm_timeout;
        let mut wait = POLL_FIRST;
        let mut seen = false;
        loop {
            match self.receipt(hash).await? {
                Some(r) if self.confirmed(&r).await? => return Ok(r),
                Some(_) => seen = true,
                None if seen => {
                    // Mined, then reorganised away: make sure the node has it again.
                    tracing::warn!(transaction = %hash, "x402 settlement's block was reorganised away");
                    self.resend(hash, raw).await;
                    seen = false;
                }
                None => {}
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

    /// Whether receipt `r`'s block has the configured confirmations (a failed receipt needs
    /// none: a revert is final for this transaction).
    async fn confirmed(&self, r: &TransactionReceipt) -> Result<bool, EvmError> {
        if self.confirmations <= 1 || !r.status() {
            return Ok(true);
        }
        let Some(block) = r.block_number else {
            return Ok(false);
        };
        let head = self
            .provider
            .get_block_number()
            .await
            .map_err(|e| classify("eth_blockNumber", &e, OnErrorAnswer::Outage))?;
        Ok(head + 1 >= block + self.confirmations)
    }

    /// Send `raw` again (under the nonce lock) unless the node knows `hash`; errors are only
    /// logged: the next look at the chain decides.
    pub(super) async fn resend(&self, hash: B256, raw: &[u8]) {
        if raw.is_empty() || self.knows(hash).await {
            return;
        }
        let _nonces = self.nonces.lock().await;
        match self.provider.send_raw_transaction(raw).await {
            Ok(_) => tracing::info!(transaction = %hash, "x402 settlement sent again"),
            Err(e) => {
                tracing::info!(transaction = %hash, error = %e, "x402 settlement not sent again")
            }
        }
    }

    /// Whether the node knows transaction `hash` (pending or mined); `true` when unsure.
    pub(super) async fn knows(&self, hash: B256) -> bool {
        !matches!(self.provider.get_transaction_by_hash(hash).await, Ok(None))
    }
}

#[cfg(test)]
mod tests {
    use super::nonce_taken;

    #[test]
    fn refusals_for_a_taken_nonce_are_recognised() {
        for m in [
            "eth_sendRawTransaction: nonce too low",
            "eth_sendRawTransaction: replacement transaction underpriced",
            "eth_sendRawTransaction: already known",
            "Transaction already imported",
        ] {
            assert!(nonce_taken(m), "{m}");
        }
        assert!(!nonce_taken(
            "execution reverted: FiatTokenV2: authorization is used"
        ));
        assert!(!nonce_taken("insufficient funds for gas * price + value"));
    }
}
