//! x402 EIP-712 golden vector (`specs/x402.md` §4, computed with viem 2.x): domain separator,
//! `TransferWithAuthorization` digest, RFC 6979 signature, recovery, typehashes, EIP-55.

use gate402_protocols::x402::evm::{self, Authorization, Domain};

const KEY1: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const TOKEN: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const PAYEE: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

fn key() -> secp256k1::SecretKey {
    secp256k1::SecretKey::from_slice(&hex::decode(KEY1).unwrap()).unwrap()
}

#[test]
fn golden_eip712_vector_from_viem() {
    let domain = Domain {
        name: "USD Coin".into(),
        version: "2".into(),
        chain_id: 31337,
        verifying_contract: evm::parse_address(TOKEN).unwrap(),
    };
    let sep = domain.separator();
    assert_eq!(
        hex::encode(sep),
        "fc557a58e1177dd0b729c40130003009d1ffed5a502b494889e2711c7726dd52"
    );
    let auth = Authorization {
        from: evm::parse_address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8").unwrap(),
        to: evm::parse_address(PAYEE).unwrap(),
        value: 10_000,
        valid_after: 0,
        valid_before: 1_999_999_999,
        nonce: [0x11; 32],
    };
    let digest = auth.digest(&sep);
    assert_eq!(
        hex::encode(digest),
        "611026b7ad20bbcec7bebd197710649f5609af0feae677b696245698667f1b90"
    );
    let sig = evm::sign(&key(), &digest);
    assert_eq!(hex::encode(sig), "4bf94bda5fea1495a16a6867c0fb883eb3ceb57f153a3c02216fe99437c9bf172104d8e6dcda54915b805f5bbd92605bee752b97c2f55458909cf596f986c4421b");
    assert_eq!(evm::recover(&digest, &sig), Ok(auth.from));
    assert_eq!(evm::address_of_key(&key()), auth.from);
    assert_eq!(
        evm::checksum(&auth.from),
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    );
    assert_eq!(
        evm::TRANSFER_WITH_AUTHORIZATION_TYPEHASH,
        evm::keccak256(b"TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)")
    );
    assert_eq!(
        evm::EIP712_DOMAIN_TYPEHASH,
        evm::keccak256(
            b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
        )
    );
}

#[test]
fn malformed_signatures_are_typed_errors() {
    let d = [1u8; 32];
    assert_eq!(evm::recover(&d, &[0; 64]), Err(evm::SignatureError::Length));
    let mut sig = [0u8; 65];
    sig[64] = 29;
    assert_eq!(evm::recover(&d, &sig), Err(evm::SignatureError::RecoveryId));
    sig[64] = 27;
    sig[32] = 0xff;
    assert_eq!(evm::recover(&d, &sig), Err(evm::SignatureError::HighS));
    sig[32] = 0;
    assert_eq!(evm::recover(&d, &sig), Err(evm::SignatureError::Invalid));
}
