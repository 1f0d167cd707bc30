//! Fuzz the defensive zip indexer, then the full scan of the same bytes as a zip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mlsecops_scan::{ScanOptions, Scanner};

fuzz_target!(|data: &[u8]| {
    if let Ok(ix) = mlsecops_scan::formats::zip::parse(data, 1000) {
        for e in &ix.entries {
            let _ = mlsecops_scan::formats::zip::is_traversal(&e.name);
        }
    }
    let mut z = b"PK\x03\x04".to_vec();
    z.extend_from_slice(data);
    let mut opts = ScanOptions::default();
    opts.limits.max_decompressed = 1 << 20;
    let _ = Scanner::new(opts).scan_bytes("fuzz.zip", &z);
});
