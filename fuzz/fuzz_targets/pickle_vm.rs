//! Fuzz the symbolic pickle VM directly (both container-tracking modes).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mlsecops_scan::pickle::{VmLimits, analyze};

fuzz_target!(|data: &[u8]| {
    let limits = VmLimits { max_stack: 1 << 16, max_memo: 1 << 16, max_nested_depth: 4 };
    let rich = data.first().is_some_and(|b| b & 1 == 1);
    let a = analyze(data, 0, 0, &limits, rich);
    if let Ok(end) = a.end {
        assert!(end <= data.len());
    }
});
