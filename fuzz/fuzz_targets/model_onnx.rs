//! Fuzz ONNX model loading (protobuf decode, operator precheck, tract's
//! graph building and optimization), one inference on the result, and one
//! input gradient (the graph re-interpreted and walked backwards).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mlsecops_model::{LoadOptions, Model};

fuzz_target!(init: {
    // `Model` turns tract's internal panics into errors (`catch_unwind`
    // around loading and inference). libfuzzer-sys's hook would abort on
    // those caught panics, so it is replaced by a silent one: a panic that
    // escapes `Model` still aborts the target (libFuzzer reports it).
    std::panic::set_hook(Box::new(|_| {}));
}, |data: &[u8]| {
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
            if m.classes() > 0 {
                let _ = m.loss_gradient(&vec![0.5; d * 2], &[0, m.classes() - 1]);
            }
        }
    }
});
