//! The EIP-3009 token interface (`sol!`) and the calls the rail makes: calldata for
//! `transferWithAuthorization`, `authorizationState` and `balanceOf` from the protocol
//! crate's decoded [`Authorization`].

use alloy::primitives::{Address as AlloyAddress, Bytes, FixedBytes, U256};
use alloy::sol;
use alloy::sol_types::SolCall;
use gate402_protocols::x402::evm::{Address, Authorization};

sol! {
    /// The subset of an EIP-3009 token (USDC's FiatTokenV2) the rail uses.
    interface Eip3009Token {
        /// Move `value` from `from` to `to` with `from`'s signed authorization.
        function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s) external;
        /// Whether `authorizer` already used (or cancelled) `nonce`.
        function authorizationState(address authorizer, bytes32 nonce) external view returns (bool);
        /// Token balance of `account`.
        function balanceOf(address account) external view returns (uint256);
    }
}

/// `transferWithAuthorization(…)` calldata for `a` signed with the 65-byte `sig` (`r‖s‖v`,
/// `v` as 0/1 or 27/28).
pub fn transfer_with_authorization(a: &Authorization, sig: &[u8; 65]) -> Bytes {
    let v = if sig[64] < 27 { sig[64] + 27 } else { sig[64] };
    Eip3009Token::transferWithAuthorizationCall {
        from: AlloyAddress::from(a.from),
        to: AlloyAddress::from(a.to),
        value: U256::from(a.value),
        validAfter: U256::from(a.valid_after),
        validBefore: U256::from(a.valid_before),
        nonce: FixedBytes(a.nonce),
        v,
        r: FixedBytes::from_slice(&sig[..32]),
        s: FixedBytes::from_slice(&sig[32..64]),
    }
    .abi_encode()
    .into()
}

/// `authorizationState(from, nonce)` calldata.
pub fn authorization_state(from: &Address, nonce: &[u8; 32]) -> Bytes {
    Eip3009Token::authorizationStateCall {
        authorizer: AlloyAddress::from(*from),
        nonce: FixedBytes(*nonce),
    }
    .abi_encode()
    .into()
}

/// `balanceOf(who)` calldata.
pub fn balance_of(who: &Address) -> Bytes {
    Eip3009Token::balanceOfCall {
        account: AlloyAddress::from(*who),
    }
    .abi_encode()
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_the_token_abi() {
        assert_eq!(
            hex::encode(Eip3009Token::balanceOfCall::SELECTOR),
            "70a08231"
        );
        assert_eq!(
            hex::encode(Eip3009Token::transferWithAuthorizationCall::SELECTOR),
            "e3ee160e"
        );
    }

    #[test]
    fn transfer_calldata_layout() {
        let a = Authorization {
            from: [1; 20],
            to: [2; 20],
            value: 10_000,
            valid_after: 5,
            valid_before: 6,
            nonce: [9; 32],
        };
        let mut sig = [0u8; 65];
        sig[..32].copy_from_slice(&[0xaa; 32]);
        sig[32..64].copy_from_slice(&[0xbb; 32]);
        sig[64] = 1;
        let d = transfer_with_authorization(&a, &sig);
        assert_eq!(d.len(), 4 + 9 * 32);
        let word = |i: usize| &d[4 + 32 * i..4 + 32 * (i + 1)];
        assert_eq!(&word(0)[12..], &[1; 20]);
        assert_eq!(word(2)[31], 0x10);
        assert_eq!(word(2)[30], 0x27);
        assert_eq!(word(5), &[9; 32]);
        assert_eq!(word(6)[31], 28, "v normalised to 27/28");
        assert_eq!(word(7), &[0xaa; 32]);
        assert_eq!(word(8), &[0xbb; 32]);
    }
}
