//! Code generated at build time from `proto/*.proto` (LND's `lnrpc`, `routerrpc` and
//! `invoicesrpc` subsets): messages, clients and servers.
//!
//! `lnrpc.Invoice` and `lnrpc.Payment` carry preimages, so their generated `Debug` is
//! suppressed (see `build.rs`) and replaced here by impls that redact them.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

use std::fmt;

/// Package `lnrpc` (`lightning.proto`).
pub mod lnrpc {
    include!(concat!(env!("OUT_DIR"), "/lnrpc.rs"));
}

/// Package `routerrpc` (`router.proto`).
pub mod routerrpc {
    include!(concat!(env!("OUT_DIR"), "/routerrpc.rs"));
}

/// Package `invoicesrpc` (`invoices.proto`).
pub mod invoicesrpc {
    include!(concat!(env!("OUT_DIR"), "/invoicesrpc.rs"));
}

const REDACTED: &str = "<redacted>";

fn redacted_if_set(v: bool) -> &'static str {
    if v {
        REDACTED
    } else {
        ""
    }
}

impl fmt::Debug for lnrpc::Invoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invoice")
            .field("memo", &self.memo)
            .field("r_preimage", &redacted_if_set(!self.r_preimage.is_empty()))
            .field("r_hash", &hex::encode(&self.r_hash))
            .field("value_msat", &self.value_msat)
            .field("creation_date", &self.creation_date)
            .field("settle_date", &self.settle_date)
            .field("payment_request", &self.payment_request)
            .field("expiry", &self.expiry)
            .field("add_index", &self.add_index)
            .field("settle_index", &self.settle_index)
            .field("amt_paid_msat", &self.amt_paid_msat)
            .field("state", &self.state().as_str_name())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for lnrpc::Payment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payment")
            .field("payment_hash", &self.payment_hash)
            .field(
                "payment_preimage",
                &redacted_if_set(!self.payment_preimage.is_empty()),
            )
            .field("value_msat", &self.value_msat)
            .field("fee_msat", &self.fee_msat)
            .field("payment_request", &self.payment_request)
            .field("status", &self.status().as_str_name())
            .field("failure_reason", &self.failure_reason())
            .field("payment_index", &self.payment_index)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::lnrpc::{Invoice, Payment};

    #[test]
    fn debug_redacts_preimages() {
        let inv = Invoice {
            r_preimage: vec![0xab; 32],
            ..Invoice::default()
        };
        let pay = Payment {
            payment_preimage: "ab".repeat(32),
            ..Payment::default()
        };
        for s in [format!("{inv:?}"), format!("{pay:?}")] {
            assert!(!s.contains("abab"), "{s}");
            assert!(!s.contains("171"), "{s}");
            assert!(s.contains("<redacted>"), "{s}");
        }
    }
}
