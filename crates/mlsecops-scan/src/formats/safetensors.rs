//! safetensors: an 8-byte header length, a JSON header, then tensor bytes.
//! The header is checked the way the reference loader checks it — and more:
//! duplicate keys, overlaps, gaps and trailing bytes are all reported.

use std::collections::HashSet;

use mlsecops_core::Severity;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use crate::ctx::Ctx;

/// The reference loader refuses headers above 100 MB.
pub const MAX_HEADER: u64 = 100_000_000;

/// A JSON object kept as an ordered list so duplicate keys stay visible.
struct Pairs(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Pairs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Pairs, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, serde_json::Value>()? {
                    v.push((k, val));
                }
                Ok(Pairs(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// Bits per element of a safetensors dtype.
fn dtype_bits(d: &str) -> Option<u64> {
    Some(match d {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        "F6_E2M3" | "F6_E3M2" => 6,
        "F4" => 4,
        _ => return None,
    })
}

/// One tensor entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub begin: u64,
    pub end: u64,
}

/// A problem in a safetensors file, with its byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub rule: &'static str,
    pub offset: u64,
    pub message: String,
}

/// The result of checking a safetensors file.
#[derive(Debug, Default)]
pub struct Checked {
    pub tensors: Vec<TensorInfo>,
    pub metadata: Vec<(String, String)>,
    pub problems: Vec<Problem>,
    /// Start offset of bytes after the last tensor, when there are any.
    pub trailing: Option<u64>,
}

fn problem(c: &mut Checked, rule: &'static str, offset: u64, message: String) {
    if c.problems.len() < 200 {
        c.problems.push(Problem {
            rule,
            offset,
            message,
        });
    }
}

/// Checks a safetensors file's header against its data section.
#[must_use]
pub fn check(data: &[u8]) -> Checked {
    const INVALID: &str = "SAFETENSORS-HEADER-INVALID";
    let mut c = Checked::default();
    let Some(n) = super::bytes::le64(data, 0) else {
        problem(
            &mut c,
            INVALID,
            0,
            "file is shorter than the 8-byte header length".into(),
        );
        return c;
    };
    if n > MAX_HEADER {
        problem(
            &mut c,
            INVALID,
            0,
            format!(
                "header length {n} exceeds the {MAX_HEADER}-byte limit of the reference loader"
            ),
        );
        return c;
    }
    let Some(hdr) = usize::try_from(n).ok().and_then(|n| data.get(8..8 + n)) else {
        problem(
            &mut c,
            INVALID,
            0,
            format!(
                "header length {n} runs past the end of the {}-byte file",
                data.len()
            ),
        );
        return c;
    };
    let base = 8 + n;
    let data_len = data.len() as u64 - base;
    let pairs: Pairs = match serde_json::from_slice(hdr) {
        Ok(p) => p,
        Err(e) => {
            problem(
                &mut c,
                INVALID,
                8 + e.column() as u64,
                format!("header is not a valid JSON object: {e}"),
            );
            return c;
        }
    };
    let mut seen = HashSet::new();
    for (name, v) in pairs.0 {
        if !seen.insert(name.clone()) {
            problem(
                &mut c,
                INVALID,
                8,
                format!(
                    "key `{name}` appears twice in the header (loaders disagree on which wins)"
                ),
            );
        }
        if name == "__metadata__" {
            match v.as_object() {
                Some(m) => {
                    for (k, val) in m {
                        match val.as_str() {
                            Some(s) => c.metadata.push((k.clone(), s.to_owned())),
                            None => problem(
                                &mut c,
                                INVALID,
                                8,
                                format!("__metadata__ value `{k}` is not a string"),
                            ),
                        }
                    }
                }
                None => problem(&mut c, INVALID, 8, "__metadata__ is not an object".into()),
            }
            continue;
        }
        let dtype = v.get("dtype").and_then(|d| d.as_str()).unwrap_or("");
        let Some(bits) = dtype_bits(dtype) else {
            problem(
                &mut c,
                INVALID,
                8,
                format!("tensor `{name}` has unknown dtype `{dtype}`"),
            );
            continue;
        };
        let shape: Option<Vec<u64>> = v
            .get("shape")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(serde_json::Value::as_u64).collect());
        let offs: Option<Vec<u64>> = v
            .get("data_offsets")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(serde_json::Value::as_u64).collect());
        let (Some(shape), Some(offs)) = (shape, offs) else {
            problem(
                &mut c,
                INVALID,
                8,
                format!("tensor `{name}` lacks a valid shape or data_offsets"),
            );
            continue;
        };
        let [begin, end] = offs[..] else {
            problem(
                &mut c,
                INVALID,
                8,
                format!("tensor `{name}` data_offsets must have two numbers"),
            );
            continue;
        };
        if end < begin {
            problem(
                &mut c,
                INVALID,
                8,
                format!("tensor `{name}` ends ({end}) before it begins ({begin})"),
            );
            continue;
        }
        let nbits = shape.iter().try_fold(bits, |acc, &d| acc.checked_mul(d));
        match nbits {
            None => problem(
                &mut c,
                INVALID,
                8,
                format!("tensor `{name}` shape {shape:?} overflows"),
            ),
            Some(nb) if nb.div_ceil(8) != end - begin => problem(
                &mut c,
                INVALID,
                8,
                format!(
                    "tensor `{name}`: dtype {dtype} × shape {shape:?} is {} bytes but data_offsets span {}",
                    nb.div_ceil(8),
                    end - begin
                ),
            ),
            Some(_) => {}
        }
        if end > data_len {
            problem(
                &mut c,
                INVALID,
                base + begin.min(data_len),
                format!(
                    "tensor `{name}` [{begin}, {end}) lies outside the {data_len}-byte data section"
                ),
            );
        }
        c.tensors.push(TensorInfo { name, begin, end });
    }
    let mut spans: Vec<&TensorInfo> = c.tensors.iter().collect();
    spans.sort_by_key(|t| (t.begin, t.end));
    let mut cursor = 0u64;
    let mut msgs = Vec::new();
    for t in &spans {
        if t.begin < cursor {
            msgs.push((
                base + t.begin,
                format!("tensor `{}` overlaps the tensor before it", t.name),
            ));
        } else if t.begin > cursor {
            msgs.push((
                base + cursor,
                format!(
                    "{} unused bytes before tensor `{}`",
                    t.begin - cursor,
                    t.name
                ),
            ));
        }
        cursor = cursor.max(t.end);
    }
    for (o, m) in msgs {
        problem(&mut c, INVALID, o, m);
    }
    if cursor < data_len {
        c.trailing = Some(base + cursor);
    }
    c
}

pub(crate) fn scan(ctx: &mut Ctx<'_>, data: &[u8]) {
    ctx.saw("safetensors");
    let c = check(data);
    for p in &c.problems {
        ctx.report(
            p.rule,
            Severity::High,
            Some(p.offset),
            p.message.clone(),
            None,
        );
    }
    for (k, v) in &c.metadata {
        super::secrets::scan_str(ctx, v, Some(8), &format!("__metadata__.{k}"));
    }
    if let Some(t) = c.trailing {
        let rest = &data[usize::try_from(t).unwrap_or(data.len()).min(data.len())..];
        ctx.report(
            "SAFETENSORS-TRAILING-DATA",
            Severity::Medium,
            Some(t),
            format!(
                "{} bytes follow the last tensor (content hidden from the header)",
                rest.len()
            ),
            None,
        );
        ctx.in_member("<trailing data>", |c| {
            crate::dispatch::scan_blob(c, rest, "");
        });
    }
}
