//! Fuzz the lineage importers: OpenLineage events, `.dvc` files, `dvc.lock`
//! (and through them the bounded YAML subset reader).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mlsecops_lineage::import::{parse_dvc_file, parse_dvc_lock, parse_run_events, yaml};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_run_events(&text);
    let _ = parse_dvc_file(&text);
    let _ = parse_dvc_lock(&text);
    if let Ok(node) = yaml::parse_document(&text) {
        let _ = node.to_json().to_string();
    }
});
