//! Fuzz the safetensors header checker.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let c = mlsecops_scan::formats::safetensors::check(data);
    if let Some(t) = c.trailing {
        assert!(t <= data.len() as u64);
    }
});
