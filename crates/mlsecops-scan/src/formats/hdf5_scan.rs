//! HDF5 files (legacy Keras `.h5`): string attributes such as
//! `model_config` and `training_config` are Keras JSON and get the Keras
//! checks; other string attributes are checked for secrets. A damaged file
//! is reported and still checked as far as it can be read, and its global
//! heaps are searched so a config the walk cannot reach is not missed.

use mlsecops_core::Severity;

use super::hdf5::{AttrValue, Attribute, Hdf5Limits, attributes_partial, global_heap_strings};
use crate::ctx::Ctx;

fn check_attribute(ctx: &mut Ctx<'_>, a: Attribute) {
    let texts: Vec<String> = match a.value {
        AttrValue::Str(s) => vec![s],
        AttrValue::StrList(v) => v,
        AttrValue::Other => return,
    };
    let key = format!("{}@{}", a.object_path, a.name);
    for t in texts {
        let trimmed = t.trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            if !super::jsondoc::scan_json_text(ctx, trimmed, Some(a.offset))
                && a.name.ends_with("_config")
            {
                ctx.report(
                    "KERAS-MALFORMED",
                    Severity::Medium,
                    Some(a.offset),
                    format!("attribute `{key}` is not valid JSON"),
                    None,
                );
            }
        } else {
            super::secrets::scan_str(ctx, &format!("{}={t}", a.name), Some(a.offset), &key);
        }
    }
}

pub(crate) fn scan(ctx: &mut Ctx<'_>, data: &[u8]) {
    ctx.saw("hdf5");
    let limits = Hdf5Limits::default();
    let (attrs, err) = attributes_partial(data, &limits);
    let found_config = attrs.iter().any(|a| a.name == "model_config");
    for a in attrs {
        check_attribute(ctx, a);
    }
    if let Some(e) = err {
        ctx.report(
            "HDF5-MALFORMED",
            Severity::Medium,
            Some(0),
            format!("HDF5 structure cannot be fully read: {e}"),
            None,
        );
        if !found_config {
            // Fall back to the raw global heaps so a Lambda hidden in a
            // damaged file is still seen.
            for (off, s) in global_heap_strings(data, &limits) {
                if s.trim_start().starts_with('{') {
                    super::jsondoc::scan_json_text(ctx, s.trim_start(), Some(off));
                }
            }
        }
    }
}
