//! Macaroon authentication of the simulator's RPCs, with LND's error texts.
//!
//! Every call must carry exactly one hex macaroon in the `macaroon` metadata, signed with the
//! server's root key. The identifier names a [`Role`]; each role may call a fixed set of RPCs.
//! The simulator's `invoice` role may call `GetInfo` and `DecodePayReq` in addition to the
//! invoice RPCs (real LND's `invoice.macaroon` has no `info:read`/`offchain:read`), but never
//! `SendPaymentV2`, `TrackPaymentV2` or `ChannelBalance`. First-party caveats are not
//! supported: a macaroon carrying any is refused.

use gate402_protocols::l402::Macaroon;
use tonic::metadata::MetadataMap;
use tonic::Status;

/// Identifier prefix of the simulator's macaroons.
const ID_PREFIX: &str = "gate402-simnet-lnd/v1/";

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
}

/// What a macaroon allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Every RPC (`admin.macaroon`).
    Admin,
    /// Invoice RPCs plus `GetInfo` and `DecodePayReq` (`invoice.macaroon`).
    Invoice,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Invoice => "invoice",
        }
    }

    /// The macaroon identifier of this role.
    pub(crate) fn identifier(self) -> Vec<u8> {
        format!("{ID_PREFIX}{}", self.name()).into_bytes()
    }

    fn from_identifier(id: &[u8]) -> Option<Role> {
        let name = std::str::from_utf8(id).ok()?.strip_prefix(ID_PREFIX)?;
        [Role::Admin, Role::Invoice]
            .into_iter()
            .find(|r| r.name() == name)
    }

    fn allows(self, rpc: Rpc) -> bool {
        match self {
            Role::Admin => true,
            Role::Invoice => !matches!(
                rpc,
                Rpc::SendPaymentV2 | Rpc::TrackPaymentV2 | Rpc::ChannelBalance
            ),
        }
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
        let mac = Macaroon::decode(&bytes)
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
        let role = Role::from_identifier(mac.identifier()).ok_or_else(|| {
            Status::permission_denied("verification failed: unknown macaroon identifier")
        })?;
        if !role.allows(rpc) {
            return Err(Status::permission_denied("permission denied"));
        }
        Ok(())
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
