//! Differential: our macaroon codec against `libmacaroon` (the maintained, pure-Rust
//! continuation of the `macaroon` crate; `macaroon` 0.3 itself needs the libsodium C library).
//!
//! For binary V1/V2 input: whenever both decode, identifier, location, every caveat (id,
//! verification id, location) and the signature agree; whatever `libmacaroon` decodes, we
//! decode too (a V2 macaroon the ecosystem reads must not be refused by us), except the
//! documented leniencies listed in `lenient`. And our V2 encoding of anything we decode is
//! read back by `libmacaroon` with the same fields.
#![no_main]

use gate402_protocols::l402::Macaroon;
use libfuzzer_sys::fuzz_target;
use libmacaroon::{Caveat, Macaroon as Lib};

/// An empty location is no location (Go's `Location() == ""`).
fn empty_none(l: Option<&[u8]>) -> Option<&[u8]> {
    l.filter(|l| !l.is_empty())
}

/// Field-by-field comparison; `None` when equal, else what differs.
fn differs(ours: &Macaroon, lib: &Lib) -> Option<&'static str> {
    if ours.identifier() != lib.identifier() {
        return Some("identifier");
    }
    if empty_none(ours.location()) != empty_none(lib.location().map(str::as_bytes)) {
        return Some("location");
    }
    if ours.signature()[..] != AsRef::<[u8]>::as_ref(lib.signature())[..] {
        return Some("signature");
    }
    let theirs = lib.caveats();
    let mine: Vec<_> = ours.all_caveats().collect();
    if mine.len() != theirs.len() {
        return Some("caveat count");
    }
    for (m, t) in mine.iter().zip(theirs) {
        match t {
            Caveat::FirstParty(fp) => {
                if m.id != fp.predicate() || m.verification_id.is_some() {
                    return Some("first-party caveat");
                }
            }
            Caveat::ThirdParty(tp) => {
                if m.id != tp.id()
                    || m.verification_id != Some(tp.verifier_id())
                    || empty_none(m.location) != empty_none(Some(tp.location().as_bytes()))
                {
                    return Some("third-party caveat");
                }
            }
        }
    }
    None
}

/// What `libmacaroon` accepts and we refuse on purpose, as Go's `gopkg.in/macaroon.v2` (what
/// Aperture and lnget decode with) does: bytes after the signature; and in the legacy V1
/// text packets, anything `libmacaroon` reads loosely (a packet without its newline, a `+` in
/// the hex size, a repeated or unknown field — it keeps the last one or skips it: ambiguities
/// we refuse). And our own bound on the number of caveats (`MAX_CAVEATS`: a stranger's
/// header must not make us index thousands). For V2 every other refusal of ours must be a
/// refusal of theirs too.
fn lenient(data: &[u8], our_error: &str) -> bool {
    data.first() != Some(&2)
        || ["trailing bytes after signature", "too many caveats"]
            .iter()
            .any(|e| our_error.contains(e))
}

fuzz_target!(|data: &[u8]| {
    let ours = Macaroon::decode(data);
    let lib = Lib::deserialize_binary(data);
    match (&ours, &lib) {
        (Ok(m), Ok(l)) => {
            if let Some(field) = differs(m, l) {
                panic!("decoders disagree on the {field}: ours {m:?}, libmacaroon {l:?}");
            }
        }
        (Err(e), Ok(l)) if !lenient(data, &e.to_string()) => {
            panic!("libmacaroon decodes what we refuse ({e}): {l:?}")
        }
        _ => {}
    }
    if let Ok(m) = &ours {
        let v2 = m.encode_v2();
        // libmacaroon needs a non-empty identifier, UTF-8 locations (Rust `String`), a
        // non-empty location on a third-party caveat and none on a first-party one; ours keeps
        // bytes and, as Go, writes no empty location.
        let readable = !m.identifier().is_empty()
            && m.location().is_none_or(|l| std::str::from_utf8(l).is_ok())
            && m.all_caveats().all(|c| {
                c.location.is_none_or(|l| std::str::from_utf8(l).is_ok())
                    && c.is_third_party() == empty_none(c.location).is_some()
            });
        if readable {
            match Lib::deserialize_binary(&v2) {
                Ok(l) => {
                    if let Some(field) = differs(m, &l) {
                        panic!("our V2 encoding reads back with another {field}");
                    }
                }
                Err(e) => panic!("libmacaroon refuses our V2 encoding of {m:?}: {e:?}"),
            }
        }
    }
});
