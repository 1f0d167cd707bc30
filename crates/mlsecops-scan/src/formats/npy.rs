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

/// Parses the `.npy` preamble and header dictionary.
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
    let text = std::str::from_utf8(&data[start..end]).map_err(|_| "header is not text")?;
    let t = text.trim();
    if !t.starts_with('{') {
        return Err("header is not a dict literal".into());
    }
    let descr = field(t, "descr").ok_or("header has no 'descr'")?;
    let object = descr.contains("'O")
        || descr.contains("\"O")
        || descr.contains("|O")
        || descr.contains("O'");
    let shape = field(t, "shape").and_then(|s| {
        let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
        inner
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| p.trim().trim_end_matches('L').parse::<u64>().ok())
            .collect()
    });
    if shape.is_none() {
        return Err("header 'shape' is not a tuple of integers".into());
    }
    if field(t, "fortran_order").is_none() {
        return Err("header has no 'fortran_order'".into());
    }
    Ok(NpyHeader {
        descr,
        object,
        shape,
        data_offset: end,
    })
}

/// The raw text of a top-level value in the header dict (balanced brackets).
fn field(t: &str, key: &str) -> Option<String> {
    let k1 = format!("'{key}'");
    let k2 = format!("\"{key}\"");
    let at = t
        .find(&k1)
        .map(|i| i + k1.len())
        .or_else(|| t.find(&k2).map(|i| i + k2.len()))?;
    let rest = t[at..].trim_start().strip_prefix(':')?.trim_start();
    let mut depth = 0i32;
    let mut in_str: Option<char> = None;
    for (i, c) in rest.char_indices() {
        match (in_str, c) {
            (Some(q), c) if c == q => in_str = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => in_str = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') if depth > 0 => depth -= 1,
            (None, ',' | '}') if depth == 0 => return Some(rest[..i].trim().to_owned()),
            _ => {}
        }
    }
    None
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
        assert_eq!(h.descr, "'<f8'");
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
    }
}
