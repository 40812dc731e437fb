//! Least-privilege checks of LND macaroons at start (issue #16 "L").
//!
//! The permissions are read from the macaroon itself: an LND macaroon identifier lists its
//! `entity:action` operations in the clear (see
//! [`gate402_rails::lnd::permissions`]). No RPC is needed, which matters because
//! `CheckMacaroonPermissions` itself needs `macaroon:read` — a permission a least-privilege
//! macaroon does not have.
//!
//! * Seller (`gate402 serve`): needs `invoices:read`/`invoices:write`, plus `offchain:write`
//!   only when MPP sessions refund balances. More → a warning, or a refusal to start with
//!   `[lightning] require_least_privilege = true`.
//! * Buyer (`get`, `mcp`): warns when handed an admin macaroon (one that can bake
//!   macaroons, send on-chain, …) instead of a `pay` one.

use gate402_rails::lnd::permissions::{config_perms, is_admin, seller_excess, BakeRole, Perm};
use gate402_rails::lnd::LndConfig;

/// The outcome of the seller's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SellerCheck {
    /// The macaroon holds no more than needed.
    Ok,
    /// It holds more (or its permissions cannot be read): the warning to log.
    Warn(String),
}

fn list(perms: &[Perm]) -> String {
    perms
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Check the seller's macaroon. `refunds`: MPP sessions are enabled (refunds pay).
/// `require`: `require_least_privilege`; then a macaroon holding more — or one whose
/// permissions cannot be read — is an `Err` (the gateway refuses to start).
pub fn seller(cfg: &LndConfig, refunds: bool, require: bool) -> Result<SellerCheck, String> {
    let role = if refunds { "pay" } else { "invoice" };
    let msg = match config_perms(cfg) {
        Ok(granted) => {
            let excess = seller_excess(&granted, refunds);
            if excess.is_empty() {
                return Ok(SellerCheck::Ok);
            }
            format!(
                "the {} grants more than the gateway needs ({}); bake a least-privilege one \
                 with `gate402 macaroon bake --role {role}`",
                cfg.macaroon,
                list(&excess)
            )
        }
        Err(e) => format!("cannot tell what the macaroon may do: {e}"),
    };
    if require {
        Err(format!("{msg} (refused: require_least_privilege = true)"))
    } else {
        Ok(SellerCheck::Warn(msg))
    }
}

/// The buyer's warning, if its macaroon is an admin one.
pub fn buyer_warning(cfg: &LndConfig) -> Option<String> {
    let granted = config_perms(cfg).ok()?;
    is_admin(&granted).then(|| {
        let more: Vec<Perm> = granted
            .difference(&BakeRole::Pay.perms())
            .cloned()
            .collect();
        format!(
            "warning: the {} is an admin macaroon (also grants {}); a buyer needs only \
             `gate402 macaroon bake --role pay`",
            cfg.macaroon,
            list(&more)
        )
    })
}
