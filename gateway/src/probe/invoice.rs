//! BOLT11 checks shared by every Lightning challenge (L402, MPP, the x402 Lightning variant):
//! the invoice decodes with a valid signature, carries an amount, and can still be paid.
//! Each protocol names its own rules; the checks are the same.

use gate402_rails::{decode_bolt11, DecodedInvoice};

use super::report::{Finding, Level, Rule};

/// Shortest validity worth paying: below it a payment may not land before expiry.
pub const MIN_VALIDITY_SECS: u64 = 60;

/// The rules a protocol uses for its invoice.
pub struct InvoiceRules {
    /// Decodes, signature valid.
    pub decode: &'static Rule,
    /// Has an amount.
    pub amount: &'static Rule,
    /// Not expired, not about to.
    pub expiry: &'static Rule,
}

/// Decode `bolt11` and check it; the decoded invoice when it decodes.
pub fn check(
    rules: &InvoiceRules,
    bolt11: Option<&str>,
    now: u64,
    out: &mut Vec<Finding>,
) -> Option<DecodedInvoice> {
    let Some(bolt11) = bolt11.filter(|b| !b.is_empty()) else {
        out.push(Finding::new(rules.decode, Level::Fail, "no BOLT11 invoice"));
        return None;
    };
    let inv = match decode_bolt11(bolt11) {
        Ok(inv) => inv,
        Err(e) => {
            out.push(Finding::new(rules.decode, Level::Fail, e.message));
            return None;
        }
    };
    out.push(Finding::new(
        rules.decode,
        Level::Pass,
        format!(
            "BOLT11 decodes, signature valid ({} invoice, payee {}…)",
            inv.network,
            &inv.payee_pubkey_hex()[..12]
        ),
    ));
    out.push(match inv.amount_msat {
        Some(a) => Finding::new(rules.amount, Level::Pass, format!("invoice asks {a} msat")),
        None => Finding::new(
            rules.amount,
            Level::Fail,
            "amountless invoice: the payee could take any amount, clients refuse it",
        ),
    });
    let left = inv.expires_at.saturating_sub(now);
    out.push(if inv.is_expired(now) {
        Finding::new(
            rules.expiry,
            Level::Fail,
            format!(
                "invoice expired {} s ago",
                now.saturating_sub(inv.expires_at)
            ),
        )
    } else if left < MIN_VALIDITY_SECS {
        Finding::new(
            rules.expiry,
            Level::Warn,
            format!("invoice expires in {left} s: too short to pay reliably"),
        )
    } else {
        Finding::new(rules.expiry, Level::Pass, format!("invoice valid {left} s"))
    });
    Some(inv)
}
