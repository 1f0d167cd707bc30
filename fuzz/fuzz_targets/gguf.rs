//! Fuzz the GGUF header parser and the chat-template check.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut g = b"GGUF".to_vec();
    g.extend_from_slice(data);
    let _ = mlsecops_scan::formats::gguf::parse(&g);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = mlsecops_scan::formats::jinja::suspicious(s);
    }
});
