//! GGUF (llama.cpp): header, metadata key/values and tensor infos, every
//! count and length checked against the file size before it is trusted.
//! The chat template (Jinja) is checked for sandbox escapes.

use mlsecops_core::Severity;

use super::bytes::{Cursor, Eof};
use crate::ctx::Ctx;

const MAX_DIMS: u32 = 4;

/// A GGUF value, kept only as far as the checks need.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Num(u64),
    Other,
}

/// The parsed header.
#[derive(Debug, Default)]
pub struct Parsed {
    pub version: u32,
    pub kv: Vec<(String, Value, u64)>,
    pub tensors: u64,
}

/// Why a GGUF file is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufError {
    pub offset: u64,
    pub message: String,
}

fn e<T>(offset: usize, message: impl Into<String>) -> Result<T, GgufError> {
    Err(GgufError {
        offset: offset as u64,
        message: message.into(),
    })
}

fn eof(x: Eof) -> GgufError {
    GgufError {
        offset: x.offset as u64,
        message: "truncated".into(),
    }
}

fn string(c: &mut Cursor<'_>, v1: bool) -> Result<String, GgufError> {
    let at = c.pos();
    let n = if v1 {
        u64::from(c.u32().map_err(eof)?)
    } else {
        c.u64().map_err(eof)?
    };
    if n > c.remaining() as u64 {
        return e(
            at,
            format!(
                "string length {n} exceeds the {} bytes left in the file",
                c.remaining()
            ),
        );
    }
    let b = c.take_u64(n).map_err(eof)?;
    Ok(String::from_utf8_lossy(b).into_owned())
}

/// Size in bytes of a scalar value type.
fn scalar_size(t: u32) -> Option<u64> {
    Some(match t {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        10..=12 => 8,
        _ => return None,
    })
}

fn value(c: &mut Cursor<'_>, t: u32, v1: bool, depth: u32) -> Result<Value, GgufError> {
    let at = c.pos();
    if let Some(sz) = scalar_size(t) {
        let b = c.take_u64(sz).map_err(eof)?;
        let mut x = 0u64;
        for (i, &y) in b.iter().enumerate() {
            x |= u64::from(y) << (8 * i);
        }
        return Ok(Value::Num(x));
    }
    match t {
        8 => Ok(Value::Str(string(c, v1)?)),
        9 => {
            if depth > 2 {
                return e(at, "arrays nested too deeply");
            }
            let it = c.u32().map_err(eof)?;
            let n = if v1 {
                u64::from(c.u32().map_err(eof)?)
            } else {
                c.u64().map_err(eof)?
            };
            let min = scalar_size(it).unwrap_or(if it == 8 { if v1 { 4 } else { 8 } } else { 1 });
            if n.checked_mul(min)
                .is_none_or(|need| need > c.remaining() as u64)
            {
                return e(
                    at,
                    format!(
                        "array of {n} elements cannot fit in the {} bytes left",
                        c.remaining()
                    ),
                );
            }
            if let Some(sz) = scalar_size(it) {
                c.take_u64(n * sz).map_err(eof)?;
            } else {
                for _ in 0..n {
                    value(c, it, v1, depth + 1)?;
                }
            }
            Ok(Value::Other)
        }
        _ => e(at, format!("unknown metadata value type {t}")),
    }
}

/// Bytes per block and elements per block of a ggml tensor type.
fn ggml_block(t: u32) -> Option<(u64, u64)> {
    Some(match t {
        0 => (4, 1),
        1 | 30 => (2, 1),
        2 => (18, 32),
        3 => (20, 32),
        6 => (22, 32),
        7 => (24, 32),
        8 => (34, 32),
        9 => (36, 32),
        10 => (84, 256),
        11 => (110, 256),
        12 => (144, 256),
        13 => (176, 256),
        14 => (210, 256),
        15 => (292, 256),
        16 => (66, 256),
        17 => (74, 256),
        18 => (98, 256),
        19 => (50, 256),
        20 => (18, 32),
        21 => (110, 256),
        22 => (82, 256),
        23 => (136, 256),
        24 => (1, 1),
        25 => (2, 1),
        26 => (4, 1),
        27 | 28 => (8, 1),
        29 => (56, 256),
        34 => (54, 256),
        35 => (66, 256),
        39 => (17, 32),
        _ => return None,
    })
}

/// Parses and checks a GGUF file.
pub fn parse(data: &[u8]) -> Result<Parsed, GgufError> {
    let mut p = Parsed::default();
    parse_into(data, &mut p)?;
    Ok(p)
}

/// Parses into `p`, keeping every key/value read before an error (so the
/// chat template of a file with a broken tensor table is still checked).
pub fn parse_into(data: &[u8], out: &mut Parsed) -> Result<(), GgufError> {
    let mut c = Cursor::new(data);
    if c.take(4).map_err(eof)? != b"GGUF" {
        return e(0, "missing GGUF magic");
    }
    let version = c.u32().map_err(eof)?;
    if !(1..=3).contains(&version) {
        return e(4, format!("unsupported GGUF version {version}"));
    }
    let v1 = version == 1;
    let (nt, nkv) = if v1 {
        (
            u64::from(c.u32().map_err(eof)?),
            u64::from(c.u32().map_err(eof)?),
        )
    } else {
        (c.u64().map_err(eof)?, c.u64().map_err(eof)?)
    };
    // Each key/value needs at least 8 + 4 + 1 bytes, each tensor info 8 + 4 + 8 + 4 + 8.
    // An impossible metadata count is reported after reading what is there:
    // other readers (gguf-py) consume key/values one by one.
    let impossible_kv = nkv.checked_mul(13).is_none_or(|n| n > data.len() as u64);
    if nt.checked_mul(32).is_none_or(|n| n > data.len() as u64) {
        return e(
            8,
            format!("tensor count {nt} cannot fit in a {}-byte file", data.len()),
        );
    }
    let p = out;
    *p = Parsed {
        version,
        kv: Vec::new(),
        tensors: nt,
    };
    let mut alignment = 32u64;
    for _ in 0..nkv {
        let at = c.pos() as u64;
        let kv = (|| -> Result<(String, u32), GgufError> {
            Ok((string(&mut c, v1)?, c.u32().map_err(eof)?))
        })();
        let (k, t) = match kv {
            Ok(kt) => kt,
            Err(err) if impossible_kv => {
                return e(
                    16,
                    format!(
                        "metadata count {nkv} cannot fit in a {}-byte file ({})",
                        data.len(),
                        err.message
                    ),
                );
            }
            Err(err) => return Err(err),
        };
        let v = value(&mut c, t, v1, 0)?;
        if k == "general.alignment"
            && let Value::Num(a) = v
        {
            if a == 0 || !a.is_power_of_two() {
                return e(
                    at as usize,
                    format!("general.alignment {a} is not a power of two"),
                );
            }
            alignment = a;
        }
        if p.kv.len() < 100_000 {
            p.kv.push((k, v, at));
        }
    }
    let mut infos = Vec::new();
    for _ in 0..nt {
        let at = c.pos();
        let name = string(&mut c, v1)?;
        let nd = c.u32().map_err(eof)?;
        if nd > MAX_DIMS {
            return e(
                at,
                format!("tensor `{name}` has {nd} dimensions (at most {MAX_DIMS})"),
            );
        }
        let mut n: u64 = 1;
        for _ in 0..nd {
            let d = if v1 {
                u64::from(c.u32().map_err(eof)?)
            } else {
                c.u64().map_err(eof)?
            };
            n = n.checked_mul(d).ok_or(GgufError {
                offset: at as u64,
                message: format!("tensor `{name}` element count overflows"),
            })?;
        }
        let ty = c.u32().map_err(eof)?;
        let off = c.u64().map_err(eof)?;
        infos.push((name, n, ty, off, at));
    }
    let data_start = (c.pos() as u64).div_ceil(alignment) * alignment;
    let data_len = (data.len() as u64).saturating_sub(data_start);
    for (name, n, ty, off, at) in infos {
        if off % alignment != 0 {
            return e(
                at,
                format!("tensor `{name}` offset {off} is not aligned to {alignment}"),
            );
        }
        let Some((bb, be)) = ggml_block(ty) else {
            // New ggml types appear often: without a size, check the offset only.
            if off > data_len {
                return e(
                    at,
                    format!(
                        "tensor `{name}` offset {off} lies outside the {data_len}-byte data section"
                    ),
                );
            }
            continue;
        };
        if n % be != 0 {
            return e(
                at,
                format!("tensor `{name}` has {n} elements, not a multiple of its block size {be}"),
            );
        }
        let size = (n / be).checked_mul(bb);
        if size
            .and_then(|s| s.checked_add(off))
            .is_none_or(|end| end > data_len)
        {
            return e(
                at,
                format!(
                    "tensor `{name}` data [{off}, +{}) lies outside the {data_len}-byte data section",
                    size.unwrap_or(u64::MAX)
                ),
            );
        }
    }
    Ok(())
}

pub(crate) fn scan(ctx: &mut Ctx<'_>, data: &[u8]) {
    ctx.saw("gguf");
    let mut p = Parsed::default();
    if let Err(err) = parse_into(data, &mut p) {
        ctx.report(
            "GGUF-HEADER-INVALID",
            Severity::High,
            Some(err.offset),
            format!("GGUF header is invalid: {}", err.message),
            None,
        );
    }
    for (k, v, at) in &p.kv {
        if let Value::Str(s) = v {
            if k.starts_with("tokenizer.chat_template") {
                super::jinja::check_template(ctx, s, Some(*at), k);
            }
            super::secrets::scan_str(ctx, s, Some(*at), k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gguf(kv: &[(&str, &str)]) -> Vec<u8> {
        let mut v = b"GGUF".to_vec();
        v.extend_from_slice(&3u32.to_le_bytes());
        v.extend_from_slice(&0u64.to_le_bytes());
        v.extend_from_slice(&(kv.len() as u64).to_le_bytes());
        for (k, s) in kv {
            v.extend_from_slice(&(k.len() as u64).to_le_bytes());
            v.extend_from_slice(k.as_bytes());
            v.extend_from_slice(&8u32.to_le_bytes());
            v.extend_from_slice(&(s.len() as u64).to_le_bytes());
            v.extend_from_slice(s.as_bytes());
        }
        v
    }

    #[test]
    fn parses_and_bounds() {
        let f = gguf(&[("general.name", "x")]);
        assert_eq!(parse(&f).unwrap().kv.len(), 1);
        for cut in 0..f.len() {
            assert!(parse(&f[..cut]).is_err());
        }
        let mut huge = f.clone();
        huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(parse(&huge).unwrap_err().message.contains("cannot fit"));
    }
}
