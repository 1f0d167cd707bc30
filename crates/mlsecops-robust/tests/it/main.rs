//! Attacks on the committed ONNX fixtures of mlsecops-model (digits in
//! [0, 1]): the attack must flip decisions of every model family, tree
//! ensembles included, and never leave the threat model.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod augment;
mod hsj;
mod pgd;
mod simba;

use std::path::PathBuf;

use mlsecops_model::{LoadOptions, Model};
use mlsecops_robust::ThreatModel;
use mlsecops_robust::square::{SquareOptions, square};

pub(crate) fn models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../mlsecops-model/tests/models")
}

pub(crate) fn test_rows(n: usize) -> (Vec<f32>, Vec<usize>) {
    read_rows(&models().join("test.csv"), n)
}

/// The first `n` rows of a fixture CSV (64 features, then the label).
pub(crate) fn read_rows(path: &std::path::Path, n: usize) -> (Vec<f32>, Vec<usize>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut x = Vec::new();
    let mut y = Vec::new();
    for line in text.lines().skip(1).take(n) {
        let cells: Vec<&str> = line.split(',').collect();
        x.extend(cells[..64].iter().map(|c| c.parse::<f32>().unwrap()));
        y.push(cells[64].parse().unwrap());
    }
    (x, y)
}

#[test]
fn square_flips_every_model_family_within_the_ball() {
    let (x, y) = test_rows(20);
    let threat = ThreatModel::linf(0.2, 0.0, 1.0);
    let opts = SquareOptions {
        max_queries: 300,
        ..SquareOptions::default()
    };
    for name in ["logreg", "mlp", "rf", "cnn"] {
        let m = Model::load_path(
            &models().join(format!("{name}.onnx")),
            &LoadOptions::default(),
        )
        .unwrap();
        let r = square(&m, &x, &y, &threat, &opts).unwrap();
        eprintln!(
            "{name}: clean {:.3} robust {:.3} success {:.3} mean queries {:.0}",
            r.clean_accuracy(),
            r.robust_accuracy(),
            r.success_rate(),
            r.mean_queries()
        );
        // Floors well under what was measured (clean ≥ 0.85, success ≥ 0.94).
        assert!(r.clean_accuracy() >= 0.8, "{name}");
        assert!(r.success_rate() >= 0.8, "{name}: {}", r.success_rate());
        for (s, x0) in r.samples.iter().zip(x.chunks(64)) {
            assert!(s.queries <= 300);
            for (a, b) in s.adversarial.iter().zip(x0) {
                assert!((a - b).abs() <= 0.2 + 1e-6 && (0.0..=1.0).contains(a));
            }
            if s.success {
                // The flip is real: the model says something else now.
                let p = m.predict(&s.adversarial).unwrap();
                assert_ne!(
                    p[0],
                    y[r.samples.iter().position(|t| std::ptr::eq(t, s)).unwrap()]
                );
            }
        }
    }
}
