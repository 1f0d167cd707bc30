//! NumPy `.npy` arrays: the header is a Python literal; object arrays carry
//! a pickle after it, which is scanned like any other pickle.

use mlsecops_core::Severity;

use super::bytes::{le16, le32};
use crate::ctx::Ctx;

/// Header fields that matter.
#[derive(Debug, PartialEq, Eq)]
pub struct NpyHeader {
    pub descr: String,
    pub object: bool,
    pub shape: Option<Vec<u64>>,
    pub data_offset: usize,
}

/// A Python literal as numpy's `safe_eval` reads the header.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lit {
    Str(String),
    Word(String),
    Seq(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
}

struct Lexer<'a> {
    s: &'a [char],
    i: usize,
    depth: usize,
}

impl Lexer<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_whitespace()) {
            self.i += 1;
        }
    }

    fn string(&mut self, q: char) -> Option<String> {
        let mut out = String::new();
        self.i += 1;
        loop {
            let c = *self.s.get(self.i)?;
            self.i += 1;
            if c == q {
                return Some(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let e = *self.s.get(self.i)?;
            self.i += 1;
            let hex = |lex: &mut Self, n: usize| -> Option<char> {
                let h: String = lex.s.get(lex.i..lex.i + n)?.iter().collect();
                lex.i += n;
                char::from_u32(u32::from_str_radix(&h, 16).ok()?)
            };
            match e {
                'x' => out.push(hex(self, 2)?),
                'u' => out.push(hex(self, 4)?),
                'U' => out.push(hex(self, 8)?),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0'..='7' => {
                    let mut v = e.to_digit(8)?;
                    for _ in 0..2 {
                        match self.s.get(self.i).and_then(|c| c.to_digit(8)) {
                            Some(d) => {
                                v = v * 8 + d;
                                self.i += 1;
                            }
                            None => break,
                        }
                    }
                    out.push(char::from_u32(v)?);
                }
                '\n' => {}
                other => out.push(other),
            }
        }
    }

    fn value(&mut self) -> Option<Lit> {
        self.ws();
        self.depth += 1;
        if self.depth > 64 {
            return None;
        }
        let c = *self.s.get(self.i)?;
        let v = match c {
            '\'' | '"' => Lit::Str(self.string(c)?),
            '(' | '[' => {
                let close = if c == '(' { ')' } else { ']' };
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.s.get(self.i) == Some(&close) {
                        self.i += 1;
                        break;
                    }
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i)? {
                        ',' => self.i += 1,
                        x if *x == close => {}
                        _ => return None,
                    }
                }
                Lit::Seq(items)
            }
            '{' => {
                self.i += 1;
                let mut pairs = Vec::new();
                loop {
                    self.ws();
                    if self.s.get(self.i) == Some(&'}') {
                        self.i += 1;
                        break;
                    }
                    let k = self.value()?;
                    self.ws();
                    if self.s.get(self.i) != Some(&':') {
                        return None;
                    }
                    self.i += 1;
                    let v = self.value()?;
                    pairs.push((k, v));
                    self.ws();
                    match self.s.get(self.i)? {
                        ',' => self.i += 1,
                        '}' => {}
                        _ => return None,
                    }
                }
                Lit::Dict(pairs)
            }
            _ => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '+' | '.'))
                {
                    self.i += 1;
                }
                if self.i == start {
                    return None;
                }
                Lit::Word(self.s[start..self.i].iter().collect())
            }
        };
        self.depth -= 1;
        Some(v)
    }
}

/// Whether a dtype descriptor (string or structured list) holds objects.
fn has_object(l: &Lit) -> bool {
    match l {
        Lit::Str(s) => {
            let k = s.trim_start_matches(['<', '>', '|', '=', '!']);
            k == "object"
                || k == "object_"
                || (k.starts_with('O') && k[1..].bytes().all(|b| b.is_ascii_digit()))
        }
        Lit::Seq(items) => items.iter().any(has_object),
        Lit::Dict(pairs) => pairs.iter().any(|(_, v)| has_object(v)),
        Lit::Word(_) => false,
    }
}

/// Parses the `.npy` preamble and header dictionary (as a Python literal,
/// escapes and all: the header is decoded the way numpy decodes it).
pub fn parse_header(data: &[u8]) -> Result<NpyHeader, String> {
    if !data.starts_with(b"\x93NUMPY") || data.len() < 10 {
        return Err("missing \\x93NUMPY magic".into());
    }
    let major = data[6];
    let (len, start): (usize, usize) = match major {
        1 => (
            usize::from(le16(data, 8).ok_or("truncated header length")?),
            10,
        ),
        2 | 3 => (le32(data, 8).ok_or("truncated header length")? as usize, 12),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let end = start
        .checked_add(len)
        .filter(|&e| e <= data.len())
        .ok_or("header length runs past the end")?;
    let raw = &data[start..end];
    // Versions 1 and 2 are latin-1, version 3 is UTF-8.
    let chars: Vec<char> = if major == 3 {
        std::str::from_utf8(raw)
            .map_err(|_| "header is not UTF-8")?
            .chars()
            .collect()
    } else {
        raw.iter().map(|&b| char::from(b)).collect()
    };
    let mut lex = Lexer {
        s: &chars,
        i: 0,
        depth: 0,
    };
    let Some(Lit::Dict(pairs)) = lex.value() else {
        return Err("header is not a dict literal".into());
    };
    let get = |k: &str| {
        pairs
            .iter()
            .rev()
            .find(|(key, _)| *key == Lit::Str(k.to_owned()))
            .map(|(_, v)| v)
    };
    let descr = get("descr").ok_or("header has no 'descr'")?;
    let object = has_object(descr);
    let shape = match get("shape") {
        Some(Lit::Seq(items)) => items
            .iter()
            .map(|d| match d {
                Lit::Word(w) => w.trim_end_matches('L').parse::<u64>().ok(),
                _ => None,
            })
            .collect::<Option<Vec<u64>>>(),
        _ => None,
    };
    if shape.is_none() {
        return Err("header 'shape' is not a tuple of integers".into());
    }
    if get("fortran_order").is_none() {
        return Err("header has no 'fortran_order'".into());
    }
    let descr = match descr {
        Lit::Str(s) => s.clone(),
        other => format!("{other:?}"),
    };
    Ok(NpyHeader {
        descr,
        object,
        shape,
        data_offset: end,
    })
}

pub(crate) fn scan(ctx: &mut Ctx<'_>, data: &[u8]) {
    ctx.saw("npy");
    match parse_header(data) {
        Err(e) => ctx.report(
            "NUMPY-MALFORMED",
            Severity::Medium,
            Some(0),
            format!(".npy header cannot be read: {e}"),
            None,
        ),
        Ok(h) if h.object => {
            ctx.report("NUMPY-OBJECT-ARRAY", Severity::Low, Some(0), format!("object array (dtype {}) is stored as a pickle and needs allow_pickle=True to load", h.descr), None);
            let body = &data[h.data_offset..];
            ctx.in_member("<object-array pickle>", |c| {
                crate::pickle::scan_stream(c, body);
            });
        }
        Ok(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str) -> Vec<u8> {
        let mut v = b"\x93NUMPY\x01\x00".to_vec();
        v.extend_from_slice(&(header.len() as u16).to_le_bytes());
        v.extend_from_slice(header.as_bytes());
        v
    }

    #[test]
    fn headers() {
        let h = parse_header(&npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }",
        ))
        .unwrap();
        assert_eq!(h.descr, "<f8");
        assert!(!h.object);
        assert_eq!(h.shape, Some(vec![3, 4]));
        let h = parse_header(&npy(
            "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
        ))
        .unwrap();
        assert!(h.object);
        let h = parse_header(&npy(
            "{'descr': [('a', '<i4'), ('b', 'O')], 'fortran_order': False, 'shape': (), }",
        ))
        .unwrap();
        assert!(h.object);
        assert!(parse_header(b"\x93NUMPY\x01\x00\xff\xff{").is_err());
        // object dtypes however they are spelled
        for d in [
            "'object'",
            "'\\x4f'",
            "[('a', 'object')]",
            "'|O8'",
            "[('a', [('b', 'O')])]",
        ] {
            let h = parse_header(&npy(&format!(
                "{{'descr': {d}, 'fortran_order': False, 'shape': (2,), }}"
            )))
            .unwrap();
            assert!(h.object, "{d}");
        }
        // an escaped key is still the key
        let h = parse_header(&npy(
            "{'\\x64escr': 'O', 'fortran_order': False, 'shape': (2,), }",
        ))
        .unwrap();
        assert!(h.object);
        // a field *named* O is not an object field
        let h = parse_header(&npy(
            "{'descr': [('Output', '<f4')], 'fortran_order': False, 'shape': (2,), }",
        ))
        .unwrap();
        assert!(!h.object);
    }
}
