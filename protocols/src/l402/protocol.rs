//! [`L402`]: minting, challenges and stateless verification, as a [`PaymentProtocol`].

use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::keys::KeySchedule;
use super::{caveat, client, header, Identifier, L402Credential, Macaroon, LATEST_VERSION};
use crate::{
    ChallengeError, ClientChallenge, Credential, CredentialError, HeaderPair, InvoiceFacts, Offer,
    ParseError, PaymentProof, PaymentProtocol, ProtocolId, RailFacts, Reference, Verified,
    VerifyError, MAX_HEADER_BYTES,
};

/// Shortest accepted master secret, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// The L402 protocol with a stateless key schedule.
///
/// From the master secret: `token_id = HMAC(master, "gate402/l402/token-id" ‖ payment_hash)`
/// and `root_key = HMAC(master, "gate402/l402/root-key" ‖ token_id)`. Minting is deterministic
/// (no randomness, sans-IO) and verification needs no secret store. Revocation, if wanted, is
/// the gateway's in-memory set of token ids ([`Verified::token_id`]).
#[derive(Clone)]
pub struct L402 {
    keys: KeySchedule,
}

impl std::fmt::Debug for L402 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("L402 { .. }")
    }
}

impl L402 {
    /// Create the protocol from a master secret of at least [`MIN_SECRET_LEN`] bytes.
    pub fn new(master_secret: &[u8]) -> Result<L402, ChallengeError> {
        if master_secret.len() < MIN_SECRET_LEN {
            return Err(ChallengeError::InvalidOffer(
                "L402 master secret must be at least 32 bytes",
            ));
        }
        Ok(L402 {
            keys: KeySchedule::new(master_secret),
        })
    }

    /// Token id minted for `payment_hash`.
    pub fn token_id_for(&self, payment_hash: &[u8; 32]) -> [u8; 32] {
        self.keys.token_id(payment_hash)
    }

    /// Root key of the token with id `token_id` (the key passed to go-macaroon `New`).
    pub fn root_key_for(&self, token_id: &[u8; 32]) -> [u8; 32] {
        self.keys.root_key(token_id)
    }

    /// Mint the macaroon for `offer` and an invoice's `payment_hash`, with Aperture's caveats in
    /// Aperture's order: `services=<service>:0`, `<service>_capabilities=<list>` (always), and
    /// `<service>_valid_until=<now + valid_for>` when the offer expires, and
    /// `<service>_max_price_msat=<price>` when the price is [bound](Offer::bind_price). The
    /// offer is not validated here; [`challenge`](PaymentProtocol::challenge) does that.
    pub fn mint(&self, offer: &Offer, payment_hash: [u8; 32], now: u64) -> Macaroon {
        use std::fmt::Write as _;
        let token_id = self.keys.token_id(&payment_hash);
        let k0 = self.keys.chain_key(&self.keys.root_key(&token_id));
        let svc = offer.service.as_str();
        let caps_len: usize = offer.capabilities.iter().map(|c| c.len() + 1).sum();
        // One buffer for the identifier, the location and every caveat (sized here, so the
        // macaroon never reallocates it: at least what `with_chain_key` reserves, 192 bytes of
        // caveats; the four caveats take 4 × the service name + the capabilities + ≤ 94),
        // and one for the caveat being written.
        let caveats = (4 * svc.len() + caps_len + 96).max(192);
        let mut id =
            Vec::with_capacity(super::identifier::IDENTIFIER_LEN + super::LOCATION.len() + caveats);
        id.extend_from_slice(&Identifier::new(payment_hash, token_id).encode());
        let mut m = Macaroon::with_chain_key(&k0, id, Some(super::LOCATION.as_bytes()));
        let mut c = String::with_capacity(svc.len() + caps_len + 40);
        c.push_str(caveat::SERVICES);
        c.push('=');
        c.push_str(svc);
        c.push_str(":0");
        m.add_first_party_caveat(c.as_bytes());
        c.clear();
        c.push_str(svc);
        c.push_str(caveat::CAPABILITIES_SUFFIX);
        c.push('=');
        for (i, cap) in offer.capabilities.iter().enumerate() {
            if i > 0 {
                c.push(',');
            }
            c.push_str(cap);
        }
        m.add_first_party_caveat(c.as_bytes());
        if let Some(valid_for) = offer.valid_for_secs {
            c.clear();
            let until = now.saturating_add(valid_for);
            let _ = write!(c, "{svc}{}={until}", caveat::VALID_UNTIL_SUFFIX);
            m.add_first_party_caveat(c.as_bytes());
        }
        if offer.bind_price {
            c.clear();
            let price = offer.price_msat;
            let _ = write!(c, "{svc}{}={price}", caveat::MAX_PRICE_SUFFIX);
            m.add_first_party_caveat(c.as_bytes());
        }
        m
    }

    /// Verify an L402 credential for `offer` at `now`, in Aperture's order: identifier version,
    /// `sha256(preimage) == payment_hash`, root key, HMAC chain, caveat satisfiers.
    ///
    /// No rail is consulted: the preimage is the proof of payment (only the payee's node could
    /// have revealed it, and only once paid), as with Aperture's default `strictverify: false`.
    pub fn verify_credential(
        &self,
        credential: &L402Credential,
        offer: &Offer,
        now: u64,
    ) -> Result<Verified, CredentialError> {
        let mac = &credential.macaroon;
        match Identifier::peek_version(mac.identifier()) {
            Some(v) if v != LATEST_VERSION => return Err(VerifyError::UnknownVersion(v).into()),
            _ => {}
        }
        let id = Identifier::decode(mac.identifier())?;
        let hash: [u8; 32] = Sha256::digest(credential.preimage).into();
        if !bool::from(hash.ct_eq(&id.payment_hash)) {
            return Err(VerifyError::PreimageMismatch.into());
        }
        if mac.has_third_party_caveats() {
            return Err(
                VerifyError::BadCaveat("third-party caveats are not supported".into()).into(),
            );
        }
        let k0 = self.keys.chain_key(&self.keys.root_key(&id.token_id));
        if !mac.verify_with_chain_key(&k0) {
            return Err(VerifyError::BadSignature.into());
        }
        let satisfied = caveat::check_all(mac.caveats(), &offer.service, now)?;
        if offer.bind_price {
            let paid = satisfied.max_price_msat.unwrap_or(0);
            if paid < offer.price_msat {
                return Err(VerifyError::PriceNotCovered {
                    paid_msat: paid,
                    price_msat: offer.price_msat,
                }
                .into());
            }
        }
        let expires_at = satisfied.valid_until;
        Ok(Verified {
            protocol: ProtocolId::L402,
            reference: Reference::PaymentHash(id.payment_hash),
            token_id: Some(id.token_id),
            single_use_key: None,
            expires_at,
        })
    }
}

fn validate_offer(offer: &Offer, invoice: &InvoiceFacts) -> Result<(), ChallengeError> {
    if !caveat::valid_service_name(&offer.service) {
        return Err(ChallengeError::InvalidOffer(
            "service name must be non-empty, without `:`, `,`, `=` or whitespace",
        ));
    }
    let cap_ok = |c: &String| !c.is_empty() && c.bytes().all(|b| b.is_ascii_graphic() && b != b',');
    if !offer.capabilities.iter().all(cap_ok) {
        return Err(ChallengeError::InvalidOffer(
            "capabilities must be non-empty, without `,` or whitespace",
        ));
    }
    if invoice.bolt11.is_empty() || !invoice.bolt11.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ChallengeError::InvalidOffer("invoice is not BOLT11 text"));
    }
    Ok(())
}

impl PaymentProtocol for L402 {
    fn id(&self) -> ProtocolId {
        ProtocolId::L402
    }

    fn needs_invoice(&self) -> bool {
        true
    }

    fn challenge(
        &self,
        offer: &Offer,
        invoice: Option<&InvoiceFacts>,
        now: u64,
    ) -> Result<Vec<HeaderPair>, ChallengeError> {
        let invoice = invoice.ok_or(ChallengeError::InvoiceRequired)?;
        validate_offer(offer, invoice)?;
        let mac = self.mint(offer, invoice.payment_hash, now);
        let value = client::challenge_value_v2(&mac.encode_v2(), &invoice.bolt11);
        if value.len() > MAX_HEADER_BYTES {
            return Err(ChallengeError::InvalidOffer(
                "challenge larger than MAX_HEADER_BYTES",
            ));
        }
        let value = HeaderValue::try_from(value)
            .map_err(|_| ChallengeError::InvalidOffer("challenge is not a valid header value"))?;
        Ok(vec![(WWW_AUTHENTICATE, value)])
    }

    fn parse_credential(&self, headers: &HeaderMap) -> Option<Result<Credential, ParseError>> {
        header::parse_credential(headers).map(|r| r.map(Credential::L402))
    }

    /// Stateless: `facts` are not consulted (see [`L402::verify_credential`]).
    fn verify(
        &self,
        credential: &Credential,
        offer: &Offer,
        _facts: &dyn RailFacts,
        now: u64,
    ) -> Result<Verified, CredentialError> {
        #[allow(unreachable_patterns)]
        match credential {
            Credential::L402(c) => self.verify_credential(c, offer, now),
            _ => Err(ParseError::Syntax("not an L402 credential").into()),
        }
    }

    fn receipt(&self, _verified: &Verified) -> Vec<HeaderPair> {
        Vec::new()
    }

    fn parse_challenges(
        &self,
        headers: &HeaderMap,
        _body: &[u8],
    ) -> Vec<Result<ClientChallenge, ParseError>> {
        client::parse_challenges(headers)
            .into_iter()
            .map(|r| r.map(ClientChallenge::L402))
            .collect()
    }

    fn credential_header(
        &self,
        challenge: &ClientChallenge,
        proof: &PaymentProof,
    ) -> Result<HeaderPair, ParseError> {
        #[allow(unreachable_patterns)]
        let (c, preimage) = match (challenge, proof) {
            (ClientChallenge::L402(c), PaymentProof::Preimage(p)) => (c, p),
            _ => return Err(ParseError::Syntax("not an L402 challenge and preimage")),
        };
        let value = header::authorization_value(&c.macaroon, preimage);
        let value =
            HeaderValue::try_from(value).map_err(|_| ParseError::Syntax("invalid header value"))?;
        Ok((AUTHORIZATION, value))
    }
}
