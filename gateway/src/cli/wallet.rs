//! Wallet selection for the buyer CLI: an LND node over gRPC (TLS + macaroon).
//!
//! `--lnd-dir DIR` reads `DIR/rpc.addr`, `DIR/tls.cert` and `DIR/admin.macaroon` (the layout
//! `gate402 simnet` writes); the explicit flags (or their `GATE402_LND_*` variables) override
//! single parts. Secrets come from files or the environment, never from the command line.

use std::{path::PathBuf, sync::Arc};

use clap::Args;
use gate402_rails::{
    lnd::LndRail, Invoice, InvoiceRequest, InvoiceState, LightningRail, NodeInfo, PayLimits,
    Payment, PaymentHash, RailError, RailErrorKind,
};

use crate::lnd_conn::{self, LndSection};

/// Lightning wallet flags.
#[derive(Debug, Clone, Args)]
pub struct WalletArgs {
    /// Directory with `rpc.addr`, `tls.cert` and `admin.macaroon` of an LND(-compatible) node.
    #[arg(long = "lnd-dir", env = "GATE402_LND_DIR")]
    pub lnd_dir: Option<PathBuf>,
    /// LND gRPC address `host:port`.
    #[arg(long = "lnd-address", env = "GATE402_LND_ADDRESS")]
    pub lnd_address: Option<String>,
    /// Path of LND's `tls.cert`.
    #[arg(long = "lnd-cert", env = "GATE402_LND_CERT")]
    pub lnd_cert: Option<PathBuf>,
    /// Path of a macaroon that can pay (e.g. `admin.macaroon`).
    #[arg(long = "lnd-macaroon", env = "GATE402_LND_MACAROON")]
    pub lnd_macaroon: Option<PathBuf>,
}

impl WalletArgs {
    /// Whether any Lightning wallet flag (or variable) was given.
    pub fn configured(&self) -> bool {
        self.lnd_dir.is_some()
            || self.lnd_address.is_some()
            || self.lnd_cert.is_some()
            || self.lnd_macaroon.is_some()
    }

    /// The LND connection settings of the configured wallet.
    pub fn lnd_config(&self) -> Result<gate402_rails::lnd::LndConfig, String> {
        if self.lnd_dir.is_none() && self.lnd_address.is_none() {
            return Err(
                "no wallet configured: pass --lnd-dir or --lnd-address/--lnd-cert/--lnd-macaroon"
                    .into(),
            );
        }
        let section = LndSection {
            address: self.lnd_address.clone(),
            dir: self.lnd_dir.clone(),
            tls_cert: self.lnd_cert.clone(),
            macaroon: self.lnd_macaroon.clone(),
            ..LndSection::default()
        };
        lnd_conn::lnd_config(&section, lnd_conn::BUYER_MACAROON)
    }

    /// Connect the configured wallet.
    pub async fn connect(&self) -> Result<Arc<dyn LightningRail>, String> {
        let cfg = self.lnd_config()?;
        // Least privilege (issue #16 "L"): say so when handed an admin macaroon.
        if let Some(w) = crate::least_privilege::buyer_warning(&cfg) {
            eprintln!("{w}");
        }
        let rail = LndRail::connect(cfg).await.map_err(|e| e.to_string())?;
        Ok(Arc::new(rail))
    }
}

/// The wallet used when only an EVM key is configured: it cannot pay Lightning invoices.
#[derive(Debug, Clone, Copy)]
pub struct NoWallet;

#[async_trait::async_trait]
impl LightningRail for NoWallet {
    fn rail_id(&self) -> &'static str {
        "none"
    }

    async fn info(&self) -> Result<NodeInfo, RailError> {
        Err(Self::err())
    }

    async fn create_invoice(&self, _req: InvoiceRequest) -> Result<Invoice, RailError> {
        Err(Self::err())
    }

    async fn invoice_state(&self, _hash: &PaymentHash) -> Result<InvoiceState, RailError> {
        Err(Self::err())
    }

    async fn pay_invoice(&self, _bolt11: &str, _limits: PayLimits) -> Result<Payment, RailError> {
        Err(Self::err())
    }
}

impl NoWallet {
    fn err() -> RailError {
        RailError::new(
            RailErrorKind::Unavailable,
            "no Lightning wallet configured (--lnd-dir)",
        )
    }
}
