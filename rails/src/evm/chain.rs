//! [`EvmRail`]: verify by `eth_call` simulation, settle by a signed EIP-1559 transaction from
//! the settler key + receipt.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use gate402_protocols::x402::evm::{self, Address};
use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::rpc::{parse_quantity, Rpc};
use super::tx::{self, Eip1559Tx};
use super::{
    revert_reason, EvmError, EvmErrorKind, ExactEvmBackend, PaymentRef, Settled, SettlerKey,
};

/// Gas limit for `transferWithAuthorization` (≈ 66–83 k used).
const GAS_LIMIT: u64 = 150_000;
/// Receipt polling: first retry after this, doubling up to [`POLL_MAX`].
const POLL_FIRST: Duration = Duration::from_millis(1);
/// Longest wait between two receipt polls.
const POLL_MAX: Duration = Duration::from_millis(100);

/// Direct chain access over JSON-RPC, settling from a configured key.
pub struct EvmRail {
    rpc: Rpc,
    url: String,
    chain_id: u64,
    settler: Option<SettlerKey>,
    confirm_timeout: Duration,
    /// Next sender nonce (serialises broadcasts from the settler key).
    next_nonce: Mutex<Option<u64>>,
}

impl EvmRail {
    /// A rail for chain `chain_id` at `rpc_url`; `settler` may be `None` for verify-only use.
    pub fn new(
        rpc_url: &str,
        chain_id: u64,
        settler: Option<SettlerKey>,
        rpc_timeout: Duration,
        confirm_timeout: Duration,
    ) -> Self {
        EvmRail {
            rpc: Rpc::new(rpc_url, rpc_timeout),
            url: rpc_url.to_string(),
            chain_id,
            settler,
            confirm_timeout,
            next_nonce: Mutex::new(None),
        }
    }

    /// The chain id configured.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The settler's address, if a key is configured.
    pub fn settler_address(&self) -> Option<Address> {
        self.settler.as_ref().map(SettlerKey::address)
    }

    /// Check the node is reachable and on the configured chain.
    pub async fn check_chain(&self) -> Result<(), EvmError> {
        let id = self.rpc.quantity("eth_chainId", json!([])).await?;
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
        let v = self
            .eth_call(token, &tx::authorization_state(from, nonce))
            .await?;
        Ok(word_is_nonzero(&v))
    }

    /// `balanceOf(who)` of the token (low 128 bits).
    pub async fn balance_of(&self, token: &Address, who: &Address) -> Result<u128, EvmError> {
        let v = self.eth_call(token, &tx::balance_of(who)).await?;
        let h = v.as_str().and_then(|s| s.strip_prefix("0x")).unwrap_or("");
        let low = &h[h.len().saturating_sub(32)..];
        Ok(u128::from_str_radix(if low.is_empty() { "0" } else { low }, 16).unwrap_or(0))
    }

    async fn eth_call(&self, to: &Address, data: &[u8]) -> Result<Value, EvmError> {
        let call = json!({"to": evm::checksum(to), "data": format!("0x{}", hex::encode(data))});
        self.rpc.call_ok("eth_call", json!([call, "latest"])).await
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

    async fn broadcast(
        &self,
        key: &SettlerKey,
        data: Vec<u8>,
        to: Address,
    ) -> Result<[u8; 32], EvmError> {
        let mut next = self.next_nonce.lock().await;
        let from = evm::checksum(&key.address());
        let chain_nonce = self
            .rpc
            .quantity("eth_getTransactionCount", json!([from, "pending"]))
            .await?;
        let nonce = next.map_or(chain_nonce, |n| n.max(chain_nonce));
        let block = self
            .rpc
            .call_ok("eth_getBlockByNumber", json!(["latest", false]))
            .await?;
        let base_fee = parse_quantity(&block["baseFeePerGas"]).unwrap_or(0);
        let tip = self
            .rpc
            .quantity("eth_maxPriorityFeePerGas", json!([]))
            .await?;
        let txn = Eip1559Tx {
            chain_id: self.chain_id,
            nonce,
            max_priority_fee_per_gas: tip.into(),
            // Room for the base fee to double before inclusion.
            max_fee_per_gas: u128::from(base_fee) * 2 + u128::from(tip),
            gas: GAS_LIMIT,
            to,
            data,
        };
        let (raw, hash) = txn.sign(key.secret());
        let sent = self
            .rpc
            .call(
                "eth_sendRawTransaction",
                json!([format!("0x{}", hex::encode(raw))]),
            )
            .await;
        match sent {
            Ok(Ok(_)) => {
                *next = Some(nonce + 1);
                Ok(hash)
            }
            Ok(Err(f)) => {
                *next = None;
                Err(EvmError::new(
                    EvmErrorKind::Rejected,
                    revert_reason(&f.message),
                    f.message,
                ))
            }
            Err(e) => {
                *next = None;
                Err(e)
            }
        }
    }

    async fn await_receipt(&self, hash: &str) -> Result<Value, EvmError> {
        let deadline = Instant::now() + self.confirm_timeout;
        let mut wait = POLL_FIRST;
        loop {
            let r = self
                .rpc
                .call_ok("eth_getTransactionReceipt", json!([hash]))
                .await?;
            if !r.is_null() {
                return Ok(r);
            }
            if Instant::now() >= deadline {
                let mut e = EvmError::new(
                    EvmErrorKind::Unavailable,
                    "settlement_pending",
                    "no receipt before the confirmation timeout",
                );
                e.transaction = Some(hash.to_string());
                return Err(e);
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(POLL_MAX);
        }
    }
}

fn word_is_nonzero(v: &Value) -> bool {
    v.as_str()
        .and_then(|s| s.strip_prefix("0x"))
        .is_some_and(|h| h.bytes().any(|b| b != b'0'))
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
        let data = tx::transfer_with_authorization(&p.payment.authorization, &Self::sig65(&p)?);
        let from = self.settler_address().unwrap_or(p.price.pay_to);
        let call = json!({
            "from": evm::checksum(&from),
            "to": evm::checksum(&p.price.asset),
            "data": format!("0x{}", hex::encode(data)),
        });
        match self.rpc.call("eth_call", json!([call, "latest"])).await? {
            Ok(_) => Ok(()),
            Err(f) => Err(EvmError::new(
                EvmErrorKind::Rejected,
                revert_reason(&f.message),
                f.message,
            )),
        }
    }

    async fn settle(&self, p: PaymentRef<'_>) -> Result<Settled, EvmError> {
        let key = self.settler.as_ref().ok_or_else(|| {
            EvmError::new(
                EvmErrorKind::Config,
                "no_settler_key",
                "no settler key configured",
            )
        })?;
        let data = tx::transfer_with_authorization(&p.payment.authorization, &Self::sig65(&p)?);
        let hash = format!(
            "0x{}",
            hex::encode(self.broadcast(key, data, p.price.asset).await?)
        );
        let receipt = self.await_receipt(&hash).await?;
        if parse_quantity(&receipt["status"]) != Some(1) {
            let mut e = EvmError::new(EvmErrorKind::Rejected, "transaction_failed", "reverted");
            e.transaction = Some(hash);
            return Err(e);
        }
        Ok(Settled {
            transaction: hash,
            payer: evm::checksum(&p.payment.authorization.from),
        })
    }

    fn describe(&self) -> String {
        format!("rpc {} (chain {})", self.url, self.chain_id)
    }
}
