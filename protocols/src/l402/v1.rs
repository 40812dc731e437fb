//! libmacaroons V1 binary decoding (decode only; gate402 always emits V2).
//!
//! V1 is a sequence of text packets `SSSS<key> <value>\n`, where `SSSS` is the packet size in
//! four hex digits counting the prefix and the newline. Keys in order: `location`,
//! `identifier`, then per caveat `cid` optionally followed by `vid` and `cl`, and finally
//! `signature` with 32 raw bytes. Old LSAT/LND tokens (`MDAx…` in base64) use it.

use super::codec::MAX_CAVEATS;
use super::macaroon::{Macaroon, RawCaveat, Span};
use crate::ParseError;

fn err(msg: &'static str) -> ParseError {
    ParseError::Macaroon(msg)
}

/// One packet: key and value spans into the input.
fn packet(buf: &[u8], pos: usize) -> Result<(&[u8], Span, usize), ParseError> {
    let head = buf.get(pos..pos + 4).ok_or(err("truncated V1 packet"))?;
    let mut size = 0usize;
    for &h in head {
        let d = (h as char).to_digit(16).ok_or(err("bad V1 packet size"))?;
        size = size * 16 + d as usize;
    }
    let body = buf
        .get(pos + 4..pos + size.max(5))
        .ok_or(err("V1 packet longer than input"))?;
    let (last, body) = body.split_last().ok_or(err("empty V1 packet"))?;
    if size < 5 || *last != b'\n' {
        return Err(err("V1 packet without newline"));
    }
    let sp = body
        .iter()
        .position(|&b| b == b' ')
        .ok_or(err("V1 packet without key"))?;
    let start = pos + 4 + sp + 1;
    let value = Span {
        start,
        end: pos + size - 1,
    };
    Ok((&body[..sp], value, pos + size))
}

/// Decode V1 packets, keeping `buf` as the macaroon's storage.
pub(crate) fn decode(buf: Vec<u8>) -> Result<Macaroon, ParseError> {
    let mut pos = 0;
    let mut location = None;
    let mut identifier = None;
    let mut caveats: Vec<RawCaveat> = Vec::new();
    let mut signature = None;
    while pos < buf.len() {
        if signature.is_some() {
            return Err(err("data after V1 signature"));
        }
        let (key, value, next) = packet(&buf, pos)?;
        pos = next;
        let empty = value.end == value.start;
        match key {
            b"location" if location.is_none() && identifier.is_none() => {
                location = Some(value).filter(|_| !empty);
            }
            b"identifier" if identifier.is_none() => identifier = Some(value),
            _ if identifier.is_none() => return Err(err("V1 identifier missing")),
            b"cid" => {
                if caveats.len() == MAX_CAVEATS {
                    return Err(err("too many caveats"));
                }
                caveats.push(RawCaveat {
                    id: value,
                    vid: None,
                    location: None,
                });
            }
            b"vid" | b"cl" => {
                let c = caveats.last_mut().ok_or(err("V1 vid/cl before cid"))?;
                let slot = if key == b"vid" {
                    &mut c.vid
                } else {
                    &mut c.location
                };
                if slot.is_some() {
                    return Err(err("duplicate V1 caveat field"));
                }
                *slot = Some(value);
            }
            b"signature" => {
                let bytes = buf.get(value.start..value.end).unwrap_or(&[]);
                let sig: [u8; 32] = bytes.try_into().map_err(|_| err("bad V1 signature"))?;
                signature = Some(sig);
            }
            _ => return Err(err("unexpected V1 field")),
        }
    }
    let identifier = identifier.ok_or(err("V1 identifier missing"))?;
    let signature = signature.ok_or(err("V1 signature missing"))?;
    for c in &mut caveats {
        c.location = c.location.filter(|s| s.end > s.start);
    }
    Ok(Macaroon {
        buf,
        location,
        identifier,
        caveats,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(key: &str, value: &[u8]) -> Vec<u8> {
        let size = 4 + key.len() + 1 + value.len() + 1;
        let mut out = format!("{size:04x}{key} ").into_bytes();
        out.extend_from_slice(value);
        out.push(b'\n');
        out
    }

    #[test]
    fn v1_decodes_to_same_macaroon_as_v2() {
        let mut m = Macaroon::new(b"root", b"id-1".to_vec(), Some(b"loc".to_vec()));
        m.add_first_party_caveat(b"a=1");
        let v1 = [
            pkt("location", b"loc"),
            pkt("identifier", b"id-1"),
            pkt("cid", b"a=1"),
            pkt("signature", m.signature()),
        ]
        .concat();
        let d = Macaroon::decode(&v1).unwrap();
        assert_eq!(d, m);
        assert!(d.verify_signature(b"root"));
        assert!(Macaroon::decode(&v1[..v1.len() - 1]).is_err());
        let dup = [pkt("identifier", b"x"), pkt("identifier", b"y")].concat();
        assert!(Macaroon::decode(&dup).is_err());
    }
}
