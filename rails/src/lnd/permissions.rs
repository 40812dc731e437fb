//! LND macaroon permissions: decoding the `entity:action` operations an LND macaroon grants
//! (its identifier is the byte 3 followed by a protobuf `lnrpc.MacaroonId`), the permission
//! sets of the roles `gate402 macaroon bake` offers, and the least-privilege checks the
//! seller (`gate402 serve`) and the buyer (`get`, `mcp`) run at start.
//!
//! Decoding needs no secret and no RPC: the operations are in the clear in the identifier
//! (they are covered by the signature, which only the node can check).

use std::collections::BTreeSet;
use std::fmt;

use gate402_protocols::l402::Macaroon;
use prost::Message as _;

use super::proto::lnrpc::{
    BakeMacaroonRequest, CheckMacPermRequest, MacaroonId, MacaroonPermission, Op,
};
use super::{config, LndConfig, LndRail};
use crate::RailError;

/// Version byte of LND's protobuf macaroon identifiers.
pub const LND_ID_VERSION: u8 = 3;

/// One `entity:action` permission.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Perm {
    /// Entity, e.g. `invoices`, `offchain`, `macaroon`.
    pub entity: String,
    /// Action, e.g. `read`, `write`, `generate`.
    pub action: String,
}

impl Perm {
    /// `entity:action`.
    pub fn new(entity: &str, action: &str) -> Perm {
        Perm {
            entity: entity.to_owned(),
            action: action.to_owned(),
        }
    }

    /// As LND's `MacaroonPermission` message.
    pub fn to_pb(&self) -> MacaroonPermission {
        MacaroonPermission {
            entity: self.entity.clone(),
            action: self.action.clone(),
        }
    }
}

impl fmt::Display for Perm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.entity, self.action)
    }
}

/// The set of permissions a macaroon grants.
pub type Perms = BTreeSet<Perm>;

/// Build a set from `entity:action` pairs.
pub fn perms(pairs: &[(&str, &str)]) -> Perms {
    pairs.iter().map(|(e, a)| Perm::new(e, a)).collect()
}

/// Why a macaroon's permissions could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermError {
    /// Not a binary V2 macaroon.
    #[error("not a macaroon: {0}")]
    NotAMacaroon(String),
    /// The identifier is not LND's protobuf format (version 3).
    #[error("macaroon identifier is not in LND's format (version byte {0})")]
    UnknownIdentifier(u8),
    /// The identifier's protobuf does not decode.
    #[error("macaroon identifier does not decode: {0}")]
    BadIdentifier(String),
}

/// Encode an LND identifier: version byte 3, then `MacaroonId { nonce, storageId, ops }`.
pub fn encode_identifier(nonce: &[u8], storage_id: &[u8], granted: &Perms) -> Vec<u8> {
    let mut ops: Vec<Op> = Vec::new();
    for p in granted {
        match ops.iter_mut().find(|o| o.entity == p.entity) {
            Some(op) => op.actions.push(p.action.clone()),
            None => ops.push(Op {
                entity: p.entity.clone(),
                actions: vec![p.action.clone()],
            }),
        }
    }
    let id = MacaroonId {
        nonce: nonce.to_vec(),
        storage_id: storage_id.to_vec(),
        ops,
    };
    let mut out = vec![LND_ID_VERSION];
    out.extend(id.encode_to_vec());
    out
}

/// The permissions named by an LND identifier.
pub fn identifier_perms(id: &[u8]) -> Result<Perms, PermError> {
    let (&version, rest) = id
        .split_first()
        .ok_or_else(|| PermError::BadIdentifier("empty identifier".into()))?;
    if version != LND_ID_VERSION {
        return Err(PermError::UnknownIdentifier(version));
    }
    let id = MacaroonId::decode(rest).map_err(|e| PermError::BadIdentifier(e.to_string()))?;
    Ok(id
        .ops
        .iter()
        .flat_map(|op| op.actions.iter().map(|a| Perm::new(&op.entity, a)))
        .collect())
}

/// The permissions a binary (V2) macaroon grants according to its identifier.
pub fn macaroon_perms(bytes: &[u8]) -> Result<Perms, PermError> {
    let mac = Macaroon::decode(bytes).map_err(|e| PermError::NotAMacaroon(e.to_string()))?;
    identifier_perms(mac.identifier())
}

/// Roles `gate402 macaroon bake --role` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BakeRole {
    /// What a seller needs: invoices read/write (`gate402 serve` without MPP refunds).
    Invoice,
    /// What a buyer needs: pay (`offchain:write`), follow payments and read balances.
    Pay,
    /// Read only: node info, balances, channels, invoices, payments (the `--node-tools`).
    ReadOnly,
}

impl BakeRole {
    /// Parse `invoice`, `pay`, `read-only`.
    pub fn parse(s: &str) -> Option<BakeRole> {
        match s {
            "invoice" => Some(BakeRole::Invoice),
            "pay" => Some(BakeRole::Pay),
            "read-only" | "readonly" => Some(BakeRole::ReadOnly),
            _ => None,
        }
    }

    /// The permissions baked into the role's macaroon.
    pub fn perms(self) -> Perms {
        match self {
            BakeRole::Invoice => perms(&[("invoices", "read"), ("invoices", "write")]),
            BakeRole::Pay => perms(&[
                ("info", "read"),
                ("offchain", "read"),
                ("offchain", "write"),
                ("invoices", "read"),
            ]),
            BakeRole::ReadOnly => perms(&[
                ("info", "read"),
                ("offchain", "read"),
                ("onchain", "read"),
                ("invoices", "read"),
                ("peers", "read"),
            ]),
        }
    }
}

/// Whether the permissions can move money (`offchain:write` pays, `onchain:write` sends).
pub fn can_spend(granted: &Perms) -> bool {
    granted.contains(&Perm::new("offchain", "write"))
        || granted.contains(&Perm::new("onchain", "write"))
}

/// Whether this looks like LND's `admin.macaroon` (it alone may bake macaroons).
pub fn is_admin(granted: &Perms) -> bool {
    granted.contains(&Perm::new("macaroon", "generate"))
}

/// The permissions a seller holds beyond what it needs: every non-read permission other than
/// `invoices:write` and `address:write` (both in LND's own `invoice.macaroon`), and
/// `offchain:write` unless `refunds` (MPP sessions refund balances by paying).
pub fn seller_excess(granted: &Perms, refunds: bool) -> Vec<Perm> {
    granted
        .iter()
        .filter(|p| p.action != "read")
        .filter(|p| {
            !matches!(
                (p.entity.as_str(), p.action.as_str()),
                ("invoices" | "address", "write")
            )
        })
        .filter(|p| !(refunds && p.entity == "offchain" && p.action == "write"))
        .cloned()
        .collect()
}

/// The permissions a node tool holder has beyond reading (all of them must be read-only).
pub fn non_read(granted: &Perms) -> Vec<Perm> {
    granted
        .iter()
        .filter(|p| p.action != "read")
        .cloned()
        .collect()
}

/// The permissions of the macaroon `cfg` names (read from its file or inline value).
pub fn config_perms(cfg: &LndConfig) -> Result<Perms, String> {
    let bytes = config::load_macaroon(&cfg.macaroon).map_err(|e| e.to_string())?;
    macaroon_perms(&bytes).map_err(|e| format!("{}: {e}", cfg.macaroon))
}

impl LndRail {
    /// `BakeMacaroon`: a new macaroon (binary) granting exactly `granted` (root key 0).
    /// Needs `macaroon:generate` (LND's `admin.macaroon`).
    pub async fn bake_macaroon(&self, granted: &Perms) -> Result<Vec<u8>, RailError> {
        let req = BakeMacaroonRequest {
            permissions: granted.iter().map(Perm::to_pb).collect(),
            root_key_id: 0,
            allow_external_permissions: false,
        };
        let mut client = self.inner.lightning.clone();
        let resp = super::rpc::unary("BakeMacaroon", client.bake_macaroon(req)).await?;
        hex::decode(resp.macaroon.trim()).map_err(|_| {
            RailError::new(
                crate::RailErrorKind::Internal,
                "BakeMacaroon returned a macaroon that is not hex",
            )
        })
    }

    /// `CheckMacaroonPermissions`: whether `macaroon` grants every permission in `wanted`.
    /// Needs `macaroon:read`.
    pub async fn check_macaroon_permissions(
        &self,
        macaroon: &[u8],
        wanted: &Perms,
    ) -> Result<bool, RailError> {
        let req = CheckMacPermRequest {
            macaroon: macaroon.to_vec(),
            permissions: wanted.iter().map(Perm::to_pb).collect(),
            full_method: String::new(),
        };
        let mut client = self.inner.lightning.clone();
        let resp = super::rpc::unary(
            "CheckMacaroonPermissions",
            client.check_macaroon_permissions(req),
        )
        .await?;
        Ok(resp.valid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_round_trips_and_checks() {
        let p = BakeRole::Pay.perms();
        let id = encode_identifier(b"n", b"0", &p);
        assert_eq!(id[0], LND_ID_VERSION);
        assert_eq!(identifier_perms(&id).unwrap(), p);
        assert_eq!(
            identifier_perms(b"\x02abc").unwrap_err(),
            PermError::UnknownIdentifier(2)
        );
        assert!(identifier_perms(b"").is_err());
        assert!(identifier_perms(b"\x03\xff\xff").is_err());
        assert!(macaroon_perms(b"junk").is_err());
        let mac = Macaroon::new(&[1; 32], id, None);
        assert_eq!(macaroon_perms(&mac.encode_v2()).unwrap(), p);
    }

    #[test]
    fn least_privilege_rules() {
        assert!(seller_excess(&BakeRole::Invoice.perms(), false).is_empty());
        assert!(!can_spend(&BakeRole::Invoice.perms()));
        assert!(can_spend(&BakeRole::Pay.perms()));
        assert!(non_read(&BakeRole::ReadOnly.perms()).is_empty());
        let pay = BakeRole::Pay.perms();
        let excess: Vec<String> = seller_excess(&pay, false)
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(excess, ["offchain:write"]);
        assert!(seller_excess(&pay, true).is_empty());
        let admin = perms(&[
            ("macaroon", "generate"),
            ("onchain", "write"),
            ("invoices", "write"),
        ]);
        assert!(is_admin(&admin));
        assert_eq!(seller_excess(&admin, true).len(), 2);
        assert_eq!(BakeRole::parse("read-only"), Some(BakeRole::ReadOnly));
        assert_eq!(BakeRole::parse("root"), None);
    }
}
