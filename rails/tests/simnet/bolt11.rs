//! BOLT11 decoding: round trip, hostile input (mutation loop), signatures, networks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use gate402_rails::{decode_bolt11, InvoiceRequest, LightningRail, RailErrorKind};
use lightning_invoice::{Currency, InvoiceBuilder, PaymentSecret};

use super::{invoice, limits, two_nodes, ALICE_START};

#[tokio::test]
async fn round_trips_created_invoice() {
    let (_net, _alice, bob) = two_nodes();
    let inv = bob
        .create_invoice(InvoiceRequest {
            amount_msat: 123_456,
            memo: "weather API, 1 call".into(),
            expiry_secs: 600,
        })
        .await
        .unwrap();
    let d = decode_bolt11(&inv.bolt11).unwrap();
    assert_eq!(d.payment_hash, inv.payment_hash);
    assert_eq!(d.amount_msat, Some(123_456));
    assert_eq!(
        (d.created_at, d.expires_at),
        (inv.created_at, inv.expires_at)
    );
    assert_eq!(d.expiry_secs(), 600);
    assert_eq!(d.description.as_deref(), Some("weather API, 1 call"));
    assert_eq!(d.network, "regtest");
    assert_eq!(d.payee_pubkey, bob.pubkey());
    assert_eq!(d.min_final_cltv_expiry_delta, 18);
    let record = bob.lookup_invoice(&inv.payment_hash).unwrap();
    assert_eq!(d.payment_secret, record.payment_secret);
    assert!(!d.is_expired(inv.created_at + 599));
    assert!(d.is_expired(inv.expires_at));
    // URI prefix, surrounding whitespace and upper case are accepted.
    let uri = format!("  lightning:{}\n", inv.bolt11.to_uppercase());
    assert_eq!(decode_bolt11(&uri).unwrap(), d);
    assert_eq!(bob.decode(&inv.bolt11).unwrap(), d);
}

/// xorshift64*: small deterministic PRNG for the mutation loop.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mutate(rng: &mut Rng, s: &str) -> String {
    const CHARS: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l1bIO\xc3\xa9 :-_";
    let mut b = s.as_bytes().to_vec();
    let pos = rng.below(b.len());
    match rng.below(6) {
        0 => b.truncate(pos),
        1 => b[pos] = CHARS[rng.below(CHARS.len())],
        2 => b.insert(pos, CHARS[rng.below(CHARS.len())]),
        3 => {
            b.remove(pos);
        }
        4 => {
            let other = rng.below(b.len());
            b.swap(pos, other);
        }
        _ => {
            let tail = b[pos..].to_vec();
            b.extend_from_slice(&tail);
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[tokio::test]
async fn mutated_invoices_are_rejected_without_panicking() {
    let (_net, _alice, bob) = two_nodes();
    let valid = invoice(&bob, 50_000).await.bolt11;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut checked = 0;
    for _ in 0..3_000 {
        let m = mutate(&mut rng, &valid);
        if m == valid || m.eq_ignore_ascii_case(&valid) {
            continue;
        }
        let e = decode_bolt11(&m).expect_err(&m);
        assert_eq!(e.kind, RailErrorKind::InvalidInvoice, "{m}");
        assert!(!e.message.is_empty());
        checked += 1;
    }
    assert!(checked > 2_500);
    let huge = "lnbcrt1".repeat(200_000);
    assert_eq!(
        decode_bolt11(&huge).unwrap_err().kind,
        RailErrorKind::InvalidInvoice
    );
    let binary = String::from_utf8_lossy(&[0xff, 0x00, 0x80, b'l', b'n']).into_owned();
    assert_eq!(
        decode_bolt11(&binary).unwrap_err().kind,
        RailErrorKind::InvalidInvoice
    );
}

/// Sign a BOLT11 by hand: `signer` signs; `payee` (if any) is written as the `n` field.
fn hand_made(
    currency: Currency,
    amount_msat: Option<u64>,
    signer: &SecretKey,
    payee: Option<PublicKey>,
) -> String {
    let secp = Secp256k1::new();
    let mut b = InvoiceBuilder::new(currency)
        .description("hand made".into())
        .payment_hash(sha256::Hash::hash(b"preimage"))
        .payment_secret(PaymentSecret([3; 32]))
        .duration_since_epoch(SystemTime::now().duration_since(UNIX_EPOCH).unwrap())
        .min_final_cltv_expiry_delta(18)
        .expiry_time(Duration::from_secs(3600));
    if let Some(a) = amount_msat {
        b = b.amount_milli_satoshis(a);
    }
    if let Some(p) = payee {
        b = b.payee_pub_key(p);
    }
    let raw = b.build_raw().unwrap();
    let signed = raw.sign::<_, ()>(|m| Ok(secp.sign_ecdsa_recoverable(m, signer)));
    signed.unwrap().to_string()
}

fn key(byte: u8) -> SecretKey {
    SecretKey::from_slice(&[byte; 32]).unwrap()
}

#[tokio::test]
async fn signatures_networks_and_amounts() {
    let (net, alice, _bob) = two_nodes();
    let secp = Secp256k1::new();
    let (k1, k2) = (key(1), key(2));
    let pk2 = PublicKey::from_secret_key(&secp, &k2);

    // `n` field says k2, signature by k1: invalid signature.
    let forged = hand_made(Currency::Regtest, Some(1_000), &k1, Some(pk2));
    let e = decode_bolt11(&forged).unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InvalidInvoice);
    assert!(
        e.message.to_lowercase().contains("signature"),
        "{}",
        e.message
    );
    // Correct `n` field: valid, and the pubkey comes from it.
    let honest = hand_made(Currency::Regtest, Some(1_000), &k2, Some(pk2));
    assert_eq!(
        decode_bolt11(&honest).unwrap().payee_pubkey,
        pk2.serialize()
    );

    // Mainnet invoice on a regtest node.
    let mainnet = hand_made(Currency::Bitcoin, Some(1_000), &k1, None);
    assert_eq!(decode_bolt11(&mainnet).unwrap().network, "bitcoin");
    let e = alice.pay_invoice(&mainnet, limits()).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InvalidInvoice);
    assert!(e.message.contains("network"));

    // Amountless invoices decode but are never paid.
    let amountless = hand_made(Currency::Regtest, None, &k1, None);
    assert_eq!(decode_bolt11(&amountless).unwrap().amount_msat, None);
    let e = alice.pay_invoice(&amountless, limits()).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InvalidInvoice);
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START));
}

#[tokio::test]
async fn resigned_invoice_cannot_redirect_a_payment() {
    // Without an `n` field, re-signing bob's invoice with another key yields a valid BOLT11
    // for a *different* payee: the network has no such node, so no money moves.
    let (net, alice, bob) = two_nodes();
    let inv = invoice(&bob, 1_000).await;
    let signed: lightning_invoice::SignedRawBolt11Invoice = inv.bolt11.parse().unwrap();
    let (raw, _, _) = signed.into_parts();
    let secp = Secp256k1::new();
    let mallory = raw
        .sign::<_, ()>(|m| Ok(secp.sign_ecdsa_recoverable(m, &key(9))))
        .unwrap()
        .to_string();
    let d = decode_bolt11(&mallory).unwrap();
    assert_ne!(d.payee_pubkey, bob.pubkey());
    let e = alice.pay_invoice(&mallory, limits()).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::NoRoute);
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START));
}

const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// BIP-173 bech32 checksum (BOLT11 uses plain bech32 without the 90-char limit).
fn bech32_encode(hrp: &str, data: &[u8]) -> String {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut values: Vec<u8> = hrp.bytes().map(|c| c >> 5).collect();
    values.push(0);
    values.extend(hrp.bytes().map(|c| c & 31));
    values.extend_from_slice(data);
    values.extend_from_slice(&[0; 6]);
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk ^= 1;
    let mut out = format!("{hrp}1");
    out.extend(data.iter().map(|&d| CHARSET[usize::from(d)] as char));
    out.extend((0..6).map(|i| CHARSET[((chk >> (5 * (5 - i))) & 31) as usize] as char));
    out
}

#[tokio::test]
async fn checksum_valid_mutations_never_panic_or_move_money() {
    // Mutate the 5-bit data and re-checksum, so the field parser, semantic checks and
    // signature recovery all see hostile input (not just the bech32 layer).
    let (net, alice, bob) = two_nodes();
    let valid = invoice(&bob, 50_000).await.bolt11;
    let sep = valid.rfind('1').unwrap();
    let hrp = &valid[..sep];
    let data: Vec<u8> = valid[sep + 1..valid.len() - 6]
        .bytes()
        .map(|c| CHARSET.iter().position(|&x| x == c).unwrap() as u8)
        .collect();
    assert_eq!(bech32_encode(hrp, &data), valid);
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let (mut decoded, mut rejected, mut skipped) = (0, 0, 0);
    for _ in 0..400 {
        let mut d = data.clone();
        for _ in 0..=rng.below(3) {
            let pos = rng.below(d.len());
            match rng.below(4) {
                0 => d[pos] = rng.below(32) as u8,
                1 => d.truncate(pos),
                2 => d.insert(pos, rng.below(32) as u8),
                _ => {
                    d.remove(pos);
                }
            }
            if d.is_empty() {
                break;
            }
        }
        if d == data {
            skipped += 1;
            continue;
        }
        let s = bech32_encode(hrp, &d);
        match decode_bolt11(&s) {
            Ok(_) => {
                decoded += 1;
                let e = alice.pay_invoice(&s, limits()).await.unwrap_err();
                assert_ne!(e.kind, RailErrorKind::Internal, "{e}");
            }
            Err(e) => {
                assert_eq!(e.kind, RailErrorKind::InvalidInvoice);
                rejected += 1;
            }
        }
    }
    assert!(rejected > 100, "{rejected}");
    assert_eq!(decoded + rejected + skipped, 400);
    assert!(skipped < 20, "{skipped}");
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START));
    assert_eq!(net.balance_msat("bob"), Some(0));
}
