//! Macaroon authentication of the simulator's RPCs, with LND's error texts.
//!
//! Every call must carry exactly one hex macaroon in the `macaroon` metadata, signed with the
//! server's root key. Identifiers are LND's (byte 3 + protobuf `MacaroonId`), so the
//! `entity:action` operations a macaroon grants are read as LND reads them, and each RPC
//! needs LND's permission for it (a missing one fails with LND's `permission denied`).
//! `BakeMacaroon` (`macaroon:generate`) mints macaroons with any subset of permissions.
//! Deviations from LND: the simulator's `invoice.macaroon` also grants `info:read`, and
//! `DecodePayReq` accepts `invoices:read` as well as `offchain:read`. First-party caveats
//! are not supported: a macaroon carrying any is refused.

use gate402_protocols::l402::Macaroon;
use tonic::metadata::MetadataMap;
use tonic::Status;

use crate::lnd::permissions::{encode_identifier, identifier_perms, perms, Perm, Perms};

/// Storage id written into the identifiers (LND's default root key id is `0`).
const STORAGE_ID: &[u8] = b"0";

/// The RPCs the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rpc {
    GetInfo,
    AddInvoice,
    LookupInvoice,
    SubscribeInvoices,
    SubscribeSingleInvoice,
    DecodePayReq,
    ChannelBalance,
    SendPaymentV2,
    TrackPaymentV2,
    BakeMacaroon,
    CheckMacaroonPermissions,
    WalletBalance,
    ListChannels,
    ListInvoices,
    ListPayments,
    EstimateRouteFee,
}

impl Rpc {
    /// The permissions that each allow the call (LND's, plus the simulator's deviations).
    fn allowed_by(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Rpc::GetInfo => &[("info", "read")],
            Rpc::AddInvoice => &[("invoices", "write")],
            Rpc::LookupInvoice
            | Rpc::SubscribeInvoices
            | Rpc::SubscribeSingleInvoice
            | Rpc::ListInvoices => &[("invoices", "read")],
            Rpc::DecodePayReq => &[("offchain", "read"), ("invoices", "read")],
            Rpc::ChannelBalance
            | Rpc::TrackPaymentV2
            | Rpc::ListChannels
            | Rpc::ListPayments
            | Rpc::EstimateRouteFee => &[("offchain", "read")],
            Rpc::WalletBalance => &[("onchain", "read")],
            Rpc::SendPaymentV2 => &[("offchain", "write")],
            Rpc::BakeMacaroon => &[("macaroon", "generate")],
            Rpc::CheckMacaroonPermissions => &[("macaroon", "read")],
        }
    }
}

/// The macaroons the simulator writes into its data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Every permission (`admin.macaroon`).
    Admin,
    /// Invoices and addresses read/write plus `info:read` (`invoice.macaroon`).
    Invoice,
}

/// Entities of LND's `admin.macaroon` (each with `read` and `write`).
const ADMIN_ENTITIES: [&str; 9] = [
    "onchain", "offchain", "address", "message", "peers", "info", "invoices", "signer", "macaroon",
];

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Invoice => "invoice",
        }
    }

    /// The permissions of this role.
    pub(crate) fn perms(self) -> Perms {
        match self {
            Role::Admin => {
                let mut p: Perms = ADMIN_ENTITIES
                    .iter()
                    .flat_map(|e| [Perm::new(e, "read"), Perm::new(e, "write")])
                    .collect();
                p.insert(Perm::new("macaroon", "generate"));
                p
            }
            Role::Invoice => perms(&[
                ("invoices", "read"),
                ("invoices", "write"),
                ("address", "read"),
                ("address", "write"),
                ("info", "read"),
            ]),
        }
    }

    /// The macaroon identifier of this role (deterministic: the nonce is the role's name).
    pub(crate) fn identifier(self) -> Vec<u8> {
        encode_identifier(self.name().as_bytes(), STORAGE_ID, &self.perms())
    }
}

/// Checks the macaroon of each call. Holds the root key: its `Debug` output redacts it.
#[derive(Clone)]
pub(crate) struct Auth {
    root_key: [u8; 32],
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth { root_key: <redacted> }")
    }
}

impl Auth {
    /// Verifier for macaroons minted with `root_key`.
    pub(crate) fn new(root_key: [u8; 32]) -> Self {
        Auth { root_key }
    }

    /// `Ok` if the call's macaroon is valid and allows `rpc`.
    pub(crate) fn check(&self, md: &MetadataMap, rpc: Rpc) -> Result<(), Status> {
        let values: Vec<_> = md.get_all("macaroon").iter().collect();
        let [value] = values.as_slice() else {
            return Err(Status::unauthenticated(format!(
                "expected 1 macaroon, got {}",
                values.len()
            )));
        };
        let bytes = value
            .to_str()
            .ok()
            .and_then(|s| hex::decode(s.trim()).ok())
            .ok_or_else(|| {
                Status::unauthenticated("cannot get macaroon: encoding/hex: invalid byte")
            })?;
        let granted = self.verify(&bytes)?;
        let allowed = rpc
            .allowed_by()
            .iter()
            .any(|(e, a)| granted.contains(&Perm::new(e, a)));
        if !allowed {
            return Err(Status::permission_denied("permission denied"));
        }
        Ok(())
    }

    /// Verify a binary macaroon and return the permissions it grants.
    pub(crate) fn verify(&self, bytes: &[u8]) -> Result<Perms, Status> {
        let mac = Macaroon::decode(bytes)
            .map_err(|_| Status::unauthenticated("cannot get macaroon: unmarshal failed"))?;
        if !mac.verify_signature(&self.root_key) {
            return Err(Status::permission_denied(
                "verification failed: signature mismatch after caveat verification",
            ));
        }
        if mac.caveats().next().is_some() || mac.has_third_party_caveats() {
            return Err(Status::permission_denied(
                "verification failed: caveat not satisfied (unsupported by the simulator)",
            ));
        }
        identifier_perms(mac.identifier()).map_err(|_| {
            Status::permission_denied("verification failed: unknown macaroon identifier")
        })
    }

    /// A new macaroon granting `granted`, with a random nonce.
    pub(crate) fn bake(&self, granted: &Perms) -> Macaroon {
        let nonce: [u8; 16] = rand::random();
        Macaroon::new(
            &self.root_key,
            encode_identifier(&nonce, STORAGE_ID, granted),
            Some(b"lnd".to_vec()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataValue;

    fn md(mac: &Macaroon) -> MetadataMap {
        let mut m = MetadataMap::new();
        let v = MetadataValue::try_from(hex::encode(mac.encode_v2())).unwrap();
        m.insert("macaroon", v);
        m
    }

    #[test]
    fn roles_and_signatures() {
        let key = [7; 32];
        let auth = Auth::new(key);
        let admin = super::super::files::mint(&key, Role::Admin);
        let invoice = super::super::files::mint(&key, Role::Invoice);
        assert!(auth.check(&md(&admin), Rpc::SendPaymentV2).is_ok());
        assert!(auth.check(&md(&invoice), Rpc::AddInvoice).is_ok());
        assert!(auth.check(&md(&invoice), Rpc::GetInfo).is_ok());
        for rpc in [Rpc::SendPaymentV2, Rpc::TrackPaymentV2, Rpc::ChannelBalance] {
            let e = auth.check(&md(&invoice), rpc).unwrap_err();
            assert_eq!(e.code(), tonic::Code::PermissionDenied);
        }
        assert!(auth.check(&md(&invoice), Rpc::BakeMacaroon).is_err());
        assert!(auth.check(&md(&admin), Rpc::BakeMacaroon).is_ok());
        let ro = auth.bake(&perms(&[("info", "read"), ("offchain", "read")]));
        assert!(auth.check(&md(&ro), Rpc::ChannelBalance).is_ok());
        for rpc in [Rpc::SendPaymentV2, Rpc::AddInvoice, Rpc::BakeMacaroon] {
            let e = auth.check(&md(&ro), rpc).unwrap_err();
            assert_eq!(e.message(), "permission denied");
        }
        let e = auth.check(&MetadataMap::new(), Rpc::GetInfo).unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        assert_eq!(e.message(), "expected 1 macaroon, got 0");
        let other = super::super::files::mint(&[8; 32], Role::Admin);
        let e = auth.check(&md(&other), Rpc::GetInfo).unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
        assert!(e.message().contains("signature mismatch"));
        let mut caveated = admin.clone();
        caveated.add_first_party_caveat(b"ipaddr 10.0.0.1");
        let e = auth.check(&md(&caveated), Rpc::GetInfo).unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
    }
}
