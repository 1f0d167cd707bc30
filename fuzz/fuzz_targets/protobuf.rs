//! Fuzz the protobuf wire reader and the ONNX / TensorFlow walkers behind it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mlsecops_scan::{ScanOptions, Scanner};

fuzz_target!(|data: &[u8]| {
    let n = mlsecops_scan::formats::protobuf::fields(data).take(10_000).count();
    assert!(n <= data.len());
    let scanner = Scanner::new(ScanOptions::default());
    let _ = scanner.scan_bytes("model.onnx", data);
    let _ = scanner.scan_bytes("saved_model.pb", data);
});
