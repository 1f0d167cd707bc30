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
    match serde_json::from_slice::<Value>(data) {
        Ok(v) => scan_value(ctx, &v, None),
        Err(e) => {
            // Not JSON after all: still look for secrets in the text.
            if name.ends_with("config.json") {
                ctx.report(
                    "KERAS-MALFORMED",
                    Severity::Medium,
                    Some(0),
                    format!("`{name}` is not valid JSON: {e}"),
                    None,
                );
            }
            super::secrets::scan_text(ctx, data, 0);
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
