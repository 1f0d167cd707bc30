//! Fuzz ONNX model loading (protobuf decode, operator precheck, tract's
//! graph building and optimization) and one inference on the result.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mlsecops_model::{LoadOptions, Model};

fuzz_target!(|data: &[u8]| {
    let opts = LoadOptions {
        max_bytes: 1 << 20,
        batch: 4,
        output: None,
    };
    if let Ok(m) = Model::load("fuzz.onnx", data, &opts) {
        // Only small inputs: a fuzzed shape may declare huge dimensions.
        let d = m.features();
        if d > 0 && d <= 4096 {
            let _ = m.predict_proba(&vec![0.5; d * 2]);
        }
    }
});
