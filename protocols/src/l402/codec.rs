//! libmacaroons V2 binary codec (go-macaroon `marshal-v2.go` layout) and format dispatch.
//!
//! ```text
//! 0x02                                   version
//! [0x01 varint(len) location]            omitted when empty
//!  0x02 varint(len) identifier
//!  0x00                                  end of header section
//!  per caveat: [0x01 len loc] 0x02 len cid [0x04 len vid] 0x00
//!  0x00                                  end of caveats
//!  0x06 0x20 signature(32)               nothing after it
//! ```
//!
//! Fields of a section must appear in increasing type order, at most once each. Lengths are
//! unsigned LEB128 varints bounded by the remaining input. At most [`MAX_CAVEATS`] caveats are
//! accepted, which bounds the HMAC work an attacker can request per credential.

use super::macaroon::{Macaroon, RawCaveat, Span};
use super::v1;
use crate::ParseError;

/// Most caveats a decoded macaroon may carry (Aperture mints 2–4, lnget appends 1).
pub const MAX_CAVEATS: usize = 64;

const EOS: u8 = 0;
const LOCATION: u8 = 1;
const IDENTIFIER: u8 = 2;
const VID: u8 = 4;
const SIGNATURE: u8 = 6;
const V2: u8 = 2;

fn err(msg: &'static str) -> ParseError {
    ParseError::Macaroon(msg)
}

/// Decode V2 or V1 binary, keeping `buf` as the macaroon's storage.
pub(crate) fn decode(buf: Vec<u8>) -> Result<Macaroon, ParseError> {
    match buf.first() {
        Some(&V2) => decode_v2(buf),
        Some(b) if b.is_ascii_hexdigit() => v1::decode(buf),
        Some(b'{') => Err(err("JSON macaroons are not supported")),
        Some(_) => Err(err("unknown format version")),
        None => Err(err("empty input")),
    }
}

/// Cursor over V2 packets.
struct Reader<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn varint(&mut self) -> Result<usize, ParseError> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self.s.get(self.pos).ok_or(err("truncated length"))?;
            self.pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return usize::try_from(value).map_err(|_| err("length overflow"));
            }
        }
        Err(err("length overflow"))
    }

    /// Next packet: `(type, span)`; an EOS packet has no length and an empty span.
    fn packet(&mut self) -> Result<(u8, Span), ParseError> {
        let t = *self.s.get(self.pos).ok_or(err("truncated packet"))?;
        self.pos += 1;
        if t == EOS {
            return Ok((EOS, Span { start: 0, end: 0 }));
        }
        let len = self.varint()?;
        if len > self.s.len() - self.pos {
            return Err(err("field longer than input"));
        }
        let span = Span {
            start: self.pos,
            end: self.pos + len,
        };
        self.pos += len;
        Ok((t, span))
    }

    /// Read one section up to its EOS; returns `[location, identifier, vid]` spans.
    fn section(&mut self, allow_vid: bool) -> Result<[Option<Span>; 3], ParseError> {
        let mut fields = [None; 3];
        let mut last = EOS;
        loop {
            let (t, span) = self.packet()?;
            if t == EOS {
                return Ok(fields);
            }
            if t <= last {
                return Err(err("fields out of order"));
            }
            last = t;
            match t {
                LOCATION => fields[0] = Some(span),
                IDENTIFIER => fields[1] = Some(span),
                VID if allow_vid => fields[2] = Some(span),
                _ => return Err(err("unexpected field")),
            }
        }
    }
}

fn decode_v2(buf: Vec<u8>) -> Result<Macaroon, ParseError> {
    let mut r = Reader { s: &buf, pos: 1 };
    let [location, identifier, _] = r.section(false)?;
    let identifier = identifier.ok_or(err("missing identifier"))?;
    let mut caveats = Vec::with_capacity(4);
    loop {
        match r.s.get(r.pos) {
            None => return Err(err("truncated caveats")),
            Some(&EOS) => {
                r.pos += 1;
                break;
            }
            Some(_) => {}
        }
        if caveats.len() == MAX_CAVEATS {
            return Err(err("too many caveats"));
        }
        let [location, id, vid] = r.section(true)?;
        let id = id.ok_or(err("caveat without identifier"))?;
        caveats.push(RawCaveat {
            id,
            vid,
            location: location.filter(|s| s.end > s.start),
        });
    }
    let (t, span) = r.packet()?;
    if t != SIGNATURE || span.end - span.start != 32 {
        return Err(err("expected a 32-byte signature"));
    }
    if r.pos != buf.len() {
        return Err(err("trailing bytes after signature"));
    }
    let mut signature = [0u8; 32];
    signature.copy_from_slice(&buf[span.start..span.end]);
    Ok(Macaroon {
        location: location.filter(|s| s.end > s.start),
        identifier,
        caveats,
        signature,
        buf,
    })
}

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_field(out: &mut Vec<u8>, t: u8, data: &[u8]) {
    out.push(t);
    put_varint(out, data.len());
    out.extend_from_slice(data);
}

/// V2 binary of `m`.
pub(crate) fn encode_v2(m: &Macaroon) -> Vec<u8> {
    let mut out = Vec::with_capacity(m.buf.len() + 8 + 6 * m.caveats.len() + 34);
    out.push(V2);
    if let Some(loc) = m.location() {
        put_field(&mut out, LOCATION, loc);
    }
    put_field(&mut out, IDENTIFIER, m.identifier());
    out.push(EOS);
    for c in m.all_caveats() {
        if let Some(loc) = c.location {
            put_field(&mut out, LOCATION, loc);
        }
        put_field(&mut out, IDENTIFIER, c.id);
        if let Some(vid) = c.verification_id {
            put_field(&mut out, VID, vid);
        }
        out.push(EOS);
    }
    out.push(EOS);
    put_field(&mut out, SIGNATURE, m.signature());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip() {
        for n in [0usize, 1, 127, 128, 300, 16_383, 16_384, 1 << 20] {
            let mut out = Vec::new();
            put_varint(&mut out, n);
            let mut r = Reader { s: &out, pos: 0 };
            assert_eq!(r.varint().unwrap(), n);
            assert_eq!(r.pos, out.len());
        }
        let mut r = Reader {
            s: &[0xff; 11],
            pos: 0,
        };
        assert!(r.varint().is_err());
    }

    #[test]
    fn third_party_caveat_round_trips() {
        let mut bytes = vec![2, 2, 1, b'i', 0];
        bytes.extend_from_slice(&[1, 2, b'l', b'c', 2, 1, b'c', 4, 2, b'v', b'v', 0, 0, 6, 32]);
        bytes.extend_from_slice(&[9u8; 32]);
        let m = decode(bytes.clone()).unwrap();
        assert!(m.has_third_party_caveats());
        assert_eq!(m.caveats().count(), 0);
        assert_eq!(m.encode_v2(), bytes);
        assert!(!m.verify_signature(b"k"));
    }

    #[test]
    fn rejects_structural_errors() {
        let sig = [6u8, 32]
            .iter()
            .chain(&[0u8; 32])
            .copied()
            .collect::<Vec<_>>();
        let ok: Vec<u8> = [&[2u8, 2, 1, b'i', 0, 0][..], &sig].concat();
        assert!(decode(ok.clone()).is_ok());
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            [&ok[..], &[0]].concat(),          // trailing byte
            ok[..ok.len() - 1].to_vec(),       // short signature
            [&[2u8, 0, 0][..], &sig].concat(), // no identifier
            [&[2u8, 2, 1, b'i', 1, 1, b'l', 0, 0][..], &sig].concat(), // out of order
            [&[2u8, 2, 1, b'i', 4, 1, b'v', 0, 0][..], &sig].concat(), // vid in header
            [&[2u8, 2, 9, b'i', 0, 0][..], &sig].concat(), // length past end
            vec![3, 2, 1, b'i', 0, 0],
            b"{\"v\":2}".to_vec(),
        ];
        for c in cases {
            assert!(decode(c.clone()).is_err(), "{c:?}");
        }
    }
}
