//! Fuzz the whole dispatcher: any bytes, any format, nested.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mlsecops_scan::{ScanOptions, Scanner};

fuzz_target!(|data: &[u8]| {
    let mut opts = ScanOptions::default();
    opts.limits.max_decompressed = 1 << 20;
    opts.limits.max_total_decompressed = 4 << 20;
    let _ = Scanner::new(opts).scan_bytes("fuzz.bin", data);
});
