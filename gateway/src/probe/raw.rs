//! How each `WWW-Authenticate` challenge is *written*: which values are quoted, what separates
//! the parameters, where the challenge sits among the lines. The protocol parsers
//! ([`gate402_protocols::auth_header`], used by the client) say what a challenge *means*; this
//! lexer only records the style their tolerance hides, so the probe can tell which strict
//! clients (regex parsers) will read it. It runs only on lines the real parser accepted.

use gate402_protocols::auth_header;
use http::{header::WWW_AUTHENTICATE, HeaderMap};

/// What precedes a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sep {
    /// The first parameter (after the scheme and a space).
    First,
    /// A comma (with optional whitespace).
    Comma,
    /// Whitespace only (a form some servers use, outside RFC 9110).
    Space,
}

/// One parameter as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawParam {
    /// Name as sent.
    pub name: String,
    /// Value, unquoted (escapes kept as written).
    pub value: String,
    /// Whether the value was a quoted-string.
    pub quoted: bool,
    /// What came before it.
    pub sep: Sep,
}

/// One challenge as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawChallenge {
    /// 0-based `WWW-Authenticate` line.
    pub line: usize,
    /// 0-based position among the challenges of that line.
    pub pos: usize,
    /// Position among every challenge of the response.
    pub order: usize,
    /// Scheme as sent.
    pub scheme: String,
    /// Parameters as written.
    pub params: Vec<RawParam>,
}

impl RawChallenge {
    /// Whether the scheme is `name`, ignoring case.
    pub fn scheme_is(&self, name: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(name)
    }

    /// The first parameter called `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&RawParam> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// Every `WWW-Authenticate` line as text (lines that are not UTF-8 become empty).
pub fn lines(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|v| String::from_utf8(v.as_bytes().to_vec()).unwrap_or_default())
        .collect()
}

/// The challenges of every line the protocol parser accepts, in response order.
pub fn challenges(lines: &[String]) -> Vec<RawChallenge> {
    let mut out = Vec::new();
    for (line, text) in lines.iter().enumerate() {
        if auth_header::parse_challenges(text).is_err() {
            continue;
        }
        for (pos, mut c) in lex(text).into_iter().enumerate() {
            c.line = line;
            c.pos = pos;
            c.order = out.len();
            out.push(c);
        }
    }
    out
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Cursor mirroring [`auth_header`]'s grammar, recording style instead of meaning.
struct Lexer<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Lexer<'_> {
    fn peek_at(&self, at: usize) -> Option<u8> {
        self.s.get(at).copied()
    }

    fn run(&self, at: usize, f: fn(u8) -> bool) -> usize {
        self.s
            .get(at..)
            .map_or(0, |r| r.iter().take_while(|&&b| f(b)).count())
    }

    fn skip_ws(&mut self) -> bool {
        let n = self.run(self.pos, is_ws);
        self.pos += n;
        n > 0
    }

    fn slice(&self, from: usize, to: usize) -> String {
        self.text.get(from..to).unwrap_or_default().to_string()
    }

    /// `name BWS "=" BWS value` starts here (for the first item, not a token68 `x=`).
    fn at_param(&self, first: bool) -> bool {
        let n = self.run(self.pos, is_tchar);
        if n == 0 {
            return false;
        }
        let mut at = self.pos + n;
        at += self.run(at, is_ws);
        if self.peek_at(at) != Some(b'=') {
            return false;
        }
        if !first {
            return true;
        }
        at += 1;
        at += self.run(at, is_ws);
        !matches!(self.peek_at(at), None | Some(b'=') | Some(b','))
    }

    fn list(mut self) -> Vec<RawChallenge> {
        let mut out = Vec::new();
        loop {
            self.pos += self.run(self.pos, |b| is_ws(b) || b == b',');
            if self.pos >= self.s.len() {
                return out;
            }
            let before = self.pos;
            out.push(self.challenge());
            if self.pos == before {
                self.pos += 1; // defensive: the parser accepted the line, so never reached
            }
        }
    }

    fn challenge(&mut self) -> RawChallenge {
        let n = self.run(self.pos, is_tchar);
        let mut c = RawChallenge {
            line: 0,
            pos: 0,
            order: 0,
            scheme: self.slice(self.pos, self.pos + n),
            params: Vec::new(),
        };
        self.pos += n;
        self.skip_ws();
        if matches!(self.peek_at(self.pos), None | Some(b',')) {
            return c;
        }
        if !self.at_param(true) {
            self.pos += self.run(self.pos, |b| !is_ws(b) && b != b',');
            return c;
        }
        let mut sep = Sep::First;
        loop {
            c.params.push(self.param(sep));
            self.skip_ws();
            match self.peek_at(self.pos) {
                None => return c,
                Some(b',') => {
                    self.pos += self.run(self.pos, |b| is_ws(b) || b == b',');
                    sep = Sep::Comma;
                }
                _ => sep = Sep::Space,
            }
            if !self.at_param(false) {
                return c;
            }
        }
    }

    fn param(&mut self, sep: Sep) -> RawParam {
        let n = self.run(self.pos, is_tchar);
        let name = self.slice(self.pos, self.pos + n);
        self.pos += n;
        self.skip_ws();
        self.pos += 1; // `=`
        self.skip_ws();
        if self.peek_at(self.pos) == Some(b'"') {
            self.pos += 1;
            let start = self.pos;
            while let Some(b) = self.peek_at(self.pos) {
                if b == b'"' {
                    break;
                }
                self.pos += if b == b'\\' { 2 } else { 1 };
            }
            let end = self.pos.min(self.s.len());
            self.pos = end + 1;
            return RawParam {
                name,
                value: self.slice(start, end),
                quoted: true,
                sep,
            };
        }
        let n = self.run(self.pos, |b| {
            b > b' ' && b != 0x7f && b != b',' && b != b'"'
        });
        let value = self.slice(self.pos, self.pos + n);
        self.pos += n;
        RawParam {
            name,
            value,
            quoted: false,
            sep,
        }
    }
}

/// Lex one header value the parser accepted (never panics).
fn lex(text: &str) -> Vec<RawChallenge> {
    Lexer {
        s: text.as_bytes(),
        text,
        pos: 0,
    }
    .list()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Vec<RawChallenge> {
        challenges(&[text.to_string()])
    }

    #[test]
    fn records_quoting_and_separators() {
        let c = one(r#"L402 macaroon="M=", invoice="I", Payment id="a", realm=r"#);
        assert_eq!(c.len(), 2);
        assert!(c[0].scheme_is("l402"));
        assert_eq!(c[0].params[0].sep, Sep::First);
        assert_eq!(c[0].params[0].value, "M=");
        assert!(c[0].params[1].quoted);
        assert_eq!(c[0].params[1].sep, Sep::Comma);
        assert!(c[1].scheme_is("payment"));
        assert_eq!((c[1].pos, c[1].order), (1, 1));
        assert!(!c[1].param("realm").unwrap().quoted);
    }

    #[test]
    fn space_separated_and_unquoted_forms() {
        let c = one(r#"L402 version="0" token="T", invoice="I""#);
        assert_eq!(c[0].params.len(), 3);
        assert_eq!(c[0].params[1].sep, Sep::Space);
        assert_eq!(c[0].params[2].sep, Sep::Comma);
        let c = one("L402 version=0 macaroon=M invoice=I");
        assert_eq!(c[0].params.len(), 3);
        assert!(c[0].params.iter().all(|p| !p.quoted));
        assert_eq!(c[0].params[2].sep, Sep::Space);
    }

    #[test]
    fn lines_the_parser_refuses_are_skipped() {
        let c = challenges(&[
            "L402 macaroon=\"unterminated".into(),
            "Basic realm=x".into(),
        ]);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].line, c[0].order), (1, 0));
    }
}
