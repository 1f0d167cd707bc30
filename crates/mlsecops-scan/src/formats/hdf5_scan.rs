//! HDF5 files (legacy Keras `.h5`): string attributes such as
//! `model_config` and `training_config` are Keras JSON and get the Keras
//! checks; every string in the file's global heaps is checked for secrets.

use mlsecops_core::Severity;

use super::hdf5::{AttrValue, Hdf5Limits, attributes, global_heap_strings};
use crate::ctx::Ctx;

pub(crate) fn scan(ctx: &mut Ctx<'_>, data: &[u8]) {
    ctx.saw("hdf5");
    let limits = Hdf5Limits::default();
    match attributes(data, &limits) {
        Ok(attrs) => {
            for a in attrs {
                let texts: Vec<String> = match a.value {
                    AttrValue::Str(s) => vec![s],
                    AttrValue::StrList(v) => v,
                    AttrValue::Other => continue,
                };
                let key = format!("{}@{}", a.object_path, a.name);
                for t in texts {
                    let trimmed = t.trim_start();
                    if trimmed.starts_with('{') || trimmed.starts_with('[') {
                        match serde_json::from_str::<serde_json::Value>(trimmed) {
                            Ok(v) => super::jsondoc::scan_value(ctx, &v, Some(a.offset), &key),
                            Err(e) if a.name.ends_with("_config") => ctx.report(
                                "KERAS-MALFORMED",
                                Severity::Medium,
                                Some(a.offset),
                                format!("attribute `{key}` is not valid JSON: {e}"),
                                None,
                            ),
                            Err(_) => {}
                        }
                    } else {
                        super::secrets::scan_str(ctx, &t, Some(a.offset), &key);
                    }
                }
            }
        }
        Err(e) => {
            ctx.report(
                "HDF5-MALFORMED",
                Severity::Medium,
                Some(0),
                format!("HDF5 structure cannot be read: {e}"),
                None,
            );
            // Fall back to the raw global heaps so a Lambda hidden in a
            // damaged file is still seen.
            for (off, s) in global_heap_strings(data, &limits) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(s.trim_start()) {
                    super::jsondoc::scan_value(ctx, &v, Some(off), "global heap");
                }
            }
        }
    }
}
