//! JSON documents inside model folders and archives: Keras configs (Lambda
//! layers, modules outside Keras), Hugging Face tokenizer configs (chat
//! templates), and any config that may carry a secret.

use mlsecops_core::Severity;
use serde_json::Value;

use crate::ctx::Ctx;
use crate::pickle::{Verdict, classify};

const KERAS_MODULES: &[&str] = &[
    "keras",
    "tf_keras",
    "keras_hub",
    "keras_nlp",
    "keras_cv",
    "tensorflow.keras",
    "tensorflow.python.keras",
];

pub(crate) fn scan(ctx: &mut Ctx<'_>, data: &[u8], name: &str) {
    ctx.saw("json");
    if data.len() > ctx.limits.max_json {
        ctx.report(
            "SCAN-INCOMPLETE",
            Severity::Medium,
            Some(0),
            format!(
                "JSON document larger than {} bytes was not parsed",
                ctx.limits.max_json
            ),
            None,
        );
        return;
    }
    let text = decode_json_bytes(data);
    match parse_lenient(&text) {
        Ok(v) => scan_value(ctx, &v, None),
        Err(e) => {
            if name.ends_with("config.json") {
                ctx.report(
                    "KERAS-MALFORMED",
                    Severity::Medium,
                    Some(0),
                    format!("`{name}` is not valid JSON: {e}"),
                    None,
                );
            }
            // Not parseable: still look for Keras markers and secrets.
            raw_keras_markers(ctx, &text, None);
            super::secrets::scan_text(ctx, text.as_bytes(), 0);
        }
    }
}

/// Bytes to text as Python's `json.loads(bytes)` detects the encoding:
/// UTF-8, or UTF-16/32 by BOM or NUL pattern.
fn decode_json_bytes(data: &[u8]) -> String {
    let utf16 = |le: bool, d: &[u8]| -> String {
        let units: Vec<u16> = d
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    let utf32 = |le: bool, d: &[u8]| -> String {
        d.chunks_exact(4)
            .filter_map(|c| {
                let v = if le {
                    u32::from_le_bytes([c[0], c[1], c[2], c[3]])
                } else {
                    u32::from_be_bytes([c[0], c[1], c[2], c[3]])
                };
                char::from_u32(v)
            })
            .collect()
    };
    match data {
        [0xff, 0xfe, 0, 0, rest @ ..] => utf32(true, rest),
        [0, 0, 0xfe, 0xff, rest @ ..] => utf32(false, rest),
        [0xff, 0xfe, rest @ ..] => utf16(true, rest),
        [0xfe, 0xff, rest @ ..] => utf16(false, rest),
        [0xef, 0xbb, 0xbf, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        [0, 0, 0, _, ..] => utf32(false, data),
        [_, 0, 0, 0, ..] => utf32(true, data),
        [0, _, ..] => utf16(false, data),
        [_, 0, ..] => utf16(true, data),
        _ => String::from_utf8_lossy(data).into_owned(),
    }
}

/// Parses JSON as Python's `json` module accepts it: `NaN`, `Infinity` and
/// `-Infinity` become null.
pub(crate) fn parse_lenient(text: &str) -> Result<Value, serde_json::Error> {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => Ok(v),
        Err(first) => {
            let mut out = String::with_capacity(text.len());
            let mut in_str = false;
            let mut esc = false;
            let b = text.as_bytes();
            let mut i = 0;
            while i < b.len() {
                let c = b[i];
                if in_str {
                    out.push(char::from(c));
                    if esc {
                        esc = false;
                    } else if c == b'\\' {
                        esc = true;
                    } else if c == b'"' {
                        in_str = false;
                    }
                    i += 1;
                    continue;
                }
                let rest = &text[i..];
                if c == b'"' {
                    in_str = true;
                } else if let Some(n) = ["-Infinity", "Infinity", "NaN"]
                    .iter()
                    .find(|k| rest.starts_with(**k))
                {
                    out.push_str("null");
                    i += n.len();
                    continue;
                }
                // copy one UTF-8 character
                let ch = rest.chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
            serde_json::from_str::<Value>(&out).map_err(|_| first)
        }
    }
}

/// Parses and checks JSON text from inside another format (HDF5
/// attributes, Keras metadata); falls back to raw markers when it does not
/// parse (too deep, not JSON).
pub(crate) fn scan_json_text(ctx: &mut Ctx<'_>, text: &str, offset: Option<u64>) -> bool {
    if let Ok(v) = parse_lenient(text) {
        scan_value(ctx, &v, offset);
        true
    } else {
        raw_keras_markers(ctx, text, offset);
        false
    }
}

/// Keras markers found in text that could not be parsed as JSON (nesting
/// beyond the parser's limit, syntax Python tolerates): a Lambda layer or a
/// `"module"` outside Keras is still reported.
fn raw_keras_markers(ctx: &mut Ctx<'_>, text: &str, offset: Option<u64>) {
    if text.contains("\"Lambda\"") || text.contains("\"__lambda__\"") {
        ctx.report(
            "KERAS-LAMBDA",
            Severity::Critical,
            offset,
            "unparsable Keras config names a Lambda layer (serialized Python bytecode)",
            None,
        );
    }
    let mut rest = text;
    let mut reported = 0;
    while let Some(i) = rest.find("\"module\"") {
        rest = &rest[i + 8..];
        let Some(v) = rest
            .trim_start()
            .strip_prefix(':')
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix('"'))
        else {
            continue;
        };
        let module = v.split('"').next().unwrap_or("");
        let keras = KERAS_MODULES
            .iter()
            .any(|k| module == *k || module.starts_with(&format!("{k}.")));
        if !keras && reported < 20 {
            reported += 1;
            let verdict = classify(module, "?");
            let (rule, sev) = if verdict > Verdict::Unknown {
                ("KERAS-UNSAFE-MODULE", Severity::Critical)
            } else {
                ("KERAS-CUSTOM-OBJECT", Severity::Medium)
            };
            ctx.report(
                rule,
                sev,
                offset,
                format!("unparsable Keras config references module `{module}`"),
                Some(module.to_owned()),
            );
        }
    }
}

/// Checks a parsed JSON config; `offset` is where it sits (for HDF5 attributes).
pub(crate) fn scan_value(ctx: &mut Ctx<'_>, v: &Value, offset: Option<u64>) {
    let mut path = Vec::new();
    walk(ctx, v, offset, &mut path, 0);
}

fn walk(ctx: &mut Ctx<'_>, v: &Value, offset: Option<u64>, path: &mut Vec<String>, depth: usize) {
    if depth > 256 {
        return;
    }
    match v {
        Value::String(s) => {
            let key = path.join(".");
            if path.last().is_some_and(|k| k == "chat_template") {
                super::jinja::check_template(ctx, s, offset, &key);
            }
            // The key gives context ("aws_secret_access_key": "…").
            let last = path.last().map_or("", String::as_str);
            super::secrets::scan_str(ctx, &format!("{last}={s}"), offset, &key);
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(i.to_string());
                // `chat_template` may be a list of {name, template}.
                if path.len() >= 2
                    && path[path.len() - 2] == "chat_template"
                    && let Some(t) = x.get("template").and_then(Value::as_str)
                {
                    super::jinja::check_template(ctx, t, offset, &path.join("."));
                }
                walk(ctx, x, offset, path, depth + 1);
                path.pop();
            }
        }
        Value::Object(m) => {
            keras_object(ctx, m, offset, path);
            for (k, x) in m {
                path.push(k.clone());
                walk(ctx, x, offset, path, depth + 1);
                path.pop();
            }
        }
        _ => {}
    }
}

fn keras_object(
    ctx: &mut Ctx<'_>,
    m: &serde_json::Map<String, Value>,
    offset: Option<u64>,
    path: &[String],
) {
    let class = m.get("class_name").and_then(Value::as_str);
    let Some(class) = class else { return };
    let at = if path.is_empty() {
        "<root>".to_owned()
    } else {
        path.join(".")
    };
    let layer_name = m
        .get("config")
        .and_then(|c| c.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    if class == "Lambda" || class == "__lambda__" {
        let func = m
            .get("config")
            .and_then(|c| c.get("function").or_else(|| c.get("code")));
        // A Keras 3 Lambda layer's `function` is itself a `__lambda__`
        // object: report the layer (it has the name), not both.
        let inside_lambda_layer =
            class == "__lambda__" && path.last().is_some_and(|k| k == "function");
        if !inside_lambda_layer && (class == "__lambda__" || func.is_some()) {
            ctx.report(
                "KERAS-LAMBDA",
                Severity::Critical,
                offset,
                format!("Lambda layer `{layer_name}` at `{at}` carries serialized Python bytecode that runs when the model is loaded or called"),
                Some(format!("{class} {layer_name}")),
            );
        }
    }
    if let Some(module) = m.get("module").and_then(Value::as_str) {
        let keras = KERAS_MODULES
            .iter()
            .any(|k| module == *k || module.starts_with(&format!("{k}.")));
        if !keras {
            let verdict = classify(module, class);
            match verdict {
                Verdict::Safe => {}
                Verdict::CodeExec | Verdict::FileAccess | Verdict::Network => ctx.report(
                    "KERAS-UNSAFE-MODULE",
                    Severity::Critical,
                    offset,
                    format!("config object at `{at}` is deserialized from `{module}.{class}`, which can execute code or touch files"),
                    Some(format!("{module}.{class}")),
                ),
                Verdict::Unknown => ctx.report(
                    "KERAS-CUSTOM-OBJECT",
                    Severity::Medium,
                    offset,
                    format!("config object at `{at}` needs custom code `{module}.{class}` to load"),
                    Some(format!("{module}.{class}")),
                ),
            }
            return;
        }
    }
    if let Some(reg) = m.get("registered_name").and_then(Value::as_str)
        && reg.contains('>')
    {
        ctx.report(
            "KERAS-CUSTOM-OBJECT",
            Severity::Medium,
            offset,
            format!("config object at `{at}` is the registered custom object `{reg}` (custom code needed to load)"),
            Some(reg.to_owned()),
        );
    }
}
