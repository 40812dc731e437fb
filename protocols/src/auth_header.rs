//! A tolerant parser for `WWW-Authenticate` challenge lists (RFC 9110 §11.6.1).
//!
//! ```text
//! challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param  = token BWS "=" BWS ( token / quoted-string )
//! ```
//!
//! One header value may hold several challenges joined by commas (what `fetch`'s
//! `Headers.get()` produces), e.g. `L402 macaroon="..", invoice="..", Payment id="..", method="x"`.
//! Besides the RFC grammar the parser tolerates forms seen in the wild: parameters separated by
//! spaces only (`L402 version="0" token="T", invoice="I"`, `L402 version=0 macaroon=M invoice=I`),
//! unquoted values containing `/`, `+` or `=` (base64), empty values and extra commas.
//!
//! Work is linear in the input and the input is capped at [`MAX_HEADER_BYTES`]; no input panics.

use crate::{ParseError, MAX_HEADER_BYTES};

/// One challenge of a `WWW-Authenticate` value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Challenge {
    /// The auth-scheme as sent (compare case-insensitively, e.g. with [`Challenge::scheme_is`]).
    pub scheme: String,
    /// Auth-params in order, names as sent, values unquoted and unescaped.
    pub params: Vec<(String, String)>,
    /// The token68 form (`Basic dXNlcg==`), exclusive with `params`.
    pub token68: Option<String>,
}

impl Challenge {
    /// Whether the scheme equals `name`, ignoring ASCII case.
    pub fn scheme_is(&self, name: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(name)
    }

    /// Value of the first parameter called `name` (names compare case-insensitively).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parse every challenge of one `WWW-Authenticate` header value.
///
/// Errors: [`ParseError::Oversized`] above [`MAX_HEADER_BYTES`], [`ParseError::Syntax`] for input
/// that fits no challenge shape (unterminated quote, control character, stray `=`...).
pub fn parse_challenges(value: &str) -> Result<Vec<Challenge>, ParseError> {
    parse_challenges_max(MAX_HEADER_BYTES)(value)
}

/// [`parse_challenges`] with another size cap (a comma-merged list of several MPP challenges
/// may legitimately exceed one challenge's 8 KiB).
pub fn parse_challenges_max(max: usize) -> impl Fn(&str) -> Result<Vec<Challenge>, ParseError> {
    move |value| parse_capped(value, max)
}

fn parse_capped(value: &str, max: usize) -> Result<Vec<Challenge>, ParseError> {
    if value.len() > max {
        return Err(ParseError::Oversized {
            len: value.len(),
            max,
        });
    }
    Parser {
        s: value.as_bytes(),
        pos: 0,
    }
    .list()
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 9110 `token68` characters (without the trailing `=`).
fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

/// Control characters other than HTAB (never allowed, not even quoted).
fn is_ctl(b: u8) -> bool {
    (b < b' ' && b != b'\t') || b == 0x7f
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Cursor over the header bytes.
struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn peek_at(&self, at: usize) -> Option<u8> {
        self.s.get(at).copied()
    }

    /// Skip spaces and tabs; report whether any were skipped.
    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Length of the run of bytes satisfying `f` starting at `at`.
    fn run_len(&self, at: usize, f: fn(u8) -> bool) -> usize {
        self.s
            .get(at..)
            .map_or(0, |rest| rest.iter().take_while(|&&b| f(b)).count())
    }

    fn text(&self, from: usize, to: usize) -> Result<String, ParseError> {
        let bytes = self.s.get(from..to).ok_or(ParseError::Syntax("bounds"))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| ParseError::NotText)
    }

    fn list(mut self) -> Result<Vec<Challenge>, ParseError> {
        let mut out = Vec::new();
        loop {
            while self.peek().is_some_and(|b| is_ws(b) || b == b',') {
                self.pos += 1;
            }
            if self.peek().is_none() {
                return Ok(out);
            }
            out.push(self.challenge()?);
        }
    }

    fn challenge(&mut self) -> Result<Challenge, ParseError> {
        let n = self.run_len(self.pos, is_tchar);
        if n == 0 {
            return Err(ParseError::Syntax("expected an auth-scheme"));
        }
        let mut ch = Challenge {
            scheme: self.text(self.pos, self.pos + n)?,
            ..Challenge::default()
        };
        self.pos += n;
        let had_ws = self.skip_ws();
        match self.peek() {
            None | Some(b',') => return Ok(ch),
            Some(_) if !had_ws => return Err(ParseError::Syntax("expected a space after scheme")),
            Some(_) => {}
        }
        if self.at_param(true) {
            self.params(&mut ch)?;
        } else {
            ch.token68 = Some(self.token68()?);
        }
        Ok(ch)
    }

    /// Whether an `name BWS "=" BWS value` parameter starts here. For the first item after the
    /// scheme, `name=` followed by end, comma or another `=` is token68 instead.
    fn at_param(&self, first: bool) -> bool {
        let n = self.run_len(self.pos, is_tchar);
        if n == 0 {
            return false;
        }
        let mut at = self.pos + n;
        at += self.run_len(at, is_ws);
        if self.peek_at(at) != Some(b'=') {
            return false;
        }
        if !first {
            return true;
        }
        at += 1;
        at += self.run_len(at, is_ws);
        !matches!(self.peek_at(at), None | Some(b'=') | Some(b','))
    }

    fn params(&mut self, ch: &mut Challenge) -> Result<(), ParseError> {
        loop {
            let (name, value) = self.param()?;
            ch.params.push((name, value));
            let had_ws = self.skip_ws();
            match self.peek() {
                None => return Ok(()),
                Some(b',') => {
                    while self.peek().is_some_and(|b| is_ws(b) || b == b',') {
                        self.pos += 1;
                    }
                }
                Some(_) if had_ws => {}
                Some(_) => return Err(ParseError::Syntax("unexpected character after a value")),
            }
            // Another parameter of this challenge, or the start of the next challenge.
            if !self.at_param(false) {
                return Ok(());
            }
        }
    }

    fn param(&mut self) -> Result<(String, String), ParseError> {
        let n = self.run_len(self.pos, is_tchar);
        let name = self.text(self.pos, self.pos + n)?;
        self.pos += n;
        self.skip_ws();
        if self.peek() != Some(b'=') {
            return Err(ParseError::Syntax("expected `=`"));
        }
        self.pos += 1;
        self.skip_ws();
        let value = if self.peek() == Some(b'"') {
            self.quoted()?
        } else {
            let n = self.run_len(self.pos, |b| {
                b > b' ' && b != 0x7f && b != b',' && b != b'"'
            });
            let v = self.text(self.pos, self.pos + n)?;
            self.pos += n;
            v
        };
        Ok((name, value))
    }

    /// A quoted-string starting at the opening `"`; backslash escapes any next byte.
    fn quoted(&mut self) -> Result<String, ParseError> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let b = self
                .peek()
                .ok_or(ParseError::Syntax("unterminated quoted string"))?;
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let e = self
                        .peek()
                        .ok_or(ParseError::Syntax("unterminated quoted string"))?;
                    if is_ctl(e) {
                        return Err(ParseError::Syntax("control character in quoted string"));
                    }
                    if e == b'u' {
                        if let Some(c) = self.unicode_escape() {
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                            continue;
                        }
                    }
                    out.push(e);
                    self.pos += 1;
                }
                b if is_ctl(b) => {
                    return Err(ParseError::Syntax("control character in quoted string"));
                }
                b => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| ParseError::NotText)
    }

    /// At `u` after a backslash: decode `uXXXX` (a surrogate pair as `uD8xx\\uDCxx`), the
    /// SDKs' extension for non-ASCII in quoted strings. `None` (nothing consumed) when the
    /// bytes are not a valid escape; the backslash then quotes the `u` as in RFC 9110.
    fn unicode_escape(&mut self) -> Option<char> {
        let hex4 = |at: usize| -> Option<u32> {
            let digits = self.s.get(at..at + 4)?;
            let text = std::str::from_utf8(digits).ok()?;
            u32::from_str_radix(text, 16)
                .ok()
                .filter(|_| digits.iter().all(u8::is_ascii_hexdigit))
        };
        let hi = hex4(self.pos + 1)?;
        if (0xD800..0xDC00).contains(&hi) {
            if self.s.get(self.pos + 5..self.pos + 7) != Some(b"\\u") {
                return None;
            }
            let lo = hex4(self.pos + 7).filter(|lo| (0xDC00..0xE000).contains(lo))?;
            let c = char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?;
            self.pos += 11;
            return Some(c);
        }
        let c = char::from_u32(hi)?;
        self.pos += 5;
        Some(c)
    }

    fn token68(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        let n = self.run_len(self.pos, is_token68);
        if n == 0 {
            return Err(ParseError::Syntax("expected token68 or auth-param"));
        }
        self.pos += n;
        self.pos += self.run_len(self.pos, |b| b == b'=');
        let end = self.pos;
        let had_ws = self.skip_ws();
        match self.peek() {
            None | Some(b',') => {}
            Some(_) if had_ws => {}
            Some(_) => return Err(ParseError::Syntax("unexpected character after token68")),
        }
        self.text(start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example() {
        let v = r#"Basic realm="simple", Newauth realm="apps", type=1, title="Login to \"apps\"""#;
        let c = parse_challenges(v).unwrap();
        assert_eq!(c.len(), 2);
        assert!(c[0].scheme_is("basic"));
        assert_eq!(c[1].param("TITLE"), Some(r#"Login to "apps""#));
        assert_eq!(c[1].param("type"), Some("1"));
    }

    #[test]
    fn token68_forms() {
        let c = parse_challenges("Basic dXNlcjpwYXM=, Bearer, Negotiate abc").unwrap();
        assert_eq!(c[0].token68.as_deref(), Some("dXNlcjpwYXM="));
        assert_eq!(
            c[1],
            Challenge {
                scheme: "Bearer".into(),
                ..Default::default()
            }
        );
        assert_eq!(c[2].token68.as_deref(), Some("abc"));
    }

    #[test]
    fn unicode_escapes_are_decoded() {
        let c =
            parse_challenges(r#"Payment description="caf\u00e9 \ud83d\ude00 \uzz \"x\"""#).unwrap();
        assert_eq!(c[0].param("description"), Some("café 😀 uzz \"x\""));
    }
}
