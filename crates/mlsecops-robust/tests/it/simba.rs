//! SimBA and NES on the committed fixtures: within 1000 queries they flip
//! nearly every decision of every model family (logistic regression, MLP,
//! random forest, CNN) inside an L∞ ball of 0.2 and an L2 ball of 1.5, and
//! every flip they report is real and inside the ball.

use mlsecops_model::{LoadOptions, Model};
use mlsecops_robust::nes::{NesOptions, nes};
use mlsecops_robust::simba::{Basis, SimbaOptions, simba};
use mlsecops_robust::{AttackReport, Norm, ThreatModel};

use crate::{models, test_rows};

const BUDGET: u64 = 1000;

fn load(name: &str) -> Model {
    Model::load_path(
        &models().join(format!("{name}.onnx")),
        &LoadOptions::default(),
    )
    .unwrap()
}

fn threats() -> [ThreatModel; 2] {
    [
        ThreatModel::linf(0.2, 0.0, 1.0),
        ThreatModel::l2(1.5, 0.0, 1.0),
    ]
}

/// Prints the figures and checks every sample: in the ball and box, within
/// budget, and each reported flip confirmed by a fresh query.
fn check(name: &str, m: &Model, x: &[f32], y: &[usize], r: &AttackReport, floor: f64) {
    eprintln!(
        "{name:6} {:15} clean {:.2} success {:.3} mean queries {:4.0}",
        r.attack,
        r.clean_accuracy(),
        r.success_rate(),
        r.mean_queries()
    );
    assert!(r.clean_accuracy() >= 0.8, "{name}");
    assert!(
        r.success_rate() >= floor,
        "{name} {}: {} < {floor}",
        r.attack,
        r.success_rate()
    );
    for (i, (s, x0)) in r.samples.iter().zip(x.chunks(64)).enumerate() {
        assert!(s.queries <= BUDGET, "{name} row {i}: {}", s.queries);
        assert!(
            r.threat.contains(x0, &s.adversarial),
            "{name} {} row {i}",
            r.attack
        );
        if s.success {
            assert!(s.clean_correct);
            assert_ne!(
                m.predict(&s.adversarial).unwrap()[0],
                y[i],
                "{name} row {i}"
            );
        }
    }
}

#[test]
fn simba_flips_every_family_inside_the_ball() {
    let (x, y) = test_rows(20);
    for name in ["logreg", "mlp", "rf", "cnn"] {
        let m = load(name);
        for threat in threats() {
            let opts = SimbaOptions {
                max_queries: BUDGET,
                ..SimbaOptions::default()
            };
            let r = simba(&m, &x, &y, &threat, &opts).unwrap();
            // Measured: 0.94–1.00 on every model and norm.
            check(name, &m, &x, &y, &r, 0.85);
            if name == "cnn" {
                let dct = SimbaOptions {
                    basis: Basis::Dct,
                    ..opts
                };
                let r = simba(&m, &x, &y, &threat, &dct).unwrap();
                // Measured: 1.00 for L2, the basis' own setting, and 0.84
                // for L∞, where a unit DCT pattern moves each pixel by at
                // most a quarter of the step, so corners of the cube take
                // many accepted steps to reach.
                let floor = if threat.norm == Norm::L2 { 0.85 } else { 0.7 };
                check(name, &m, &x, &y, &r, floor);
            }
        }
    }
}

#[test]
fn nes_flips_every_family_inside_the_ball() {
    let (x, y) = test_rows(20);
    for name in ["logreg", "mlp", "rf", "cnn"] {
        let m = load(name);
        for threat in threats() {
            let opts = NesOptions {
                max_queries: BUDGET,
                ..NesOptions::default()
            };
            let r = nes(&m, &x, &y, &threat, &opts).unwrap();
            // Measured: 0.95–1.00 on the smooth models. The random forest's
            // scores are piecewise constant, so an estimate is non-zero
            // only when probes cross a split: at the default σ (0.05 of
            // the box) they do, and it measured 1.00 too; at σ = 0.01 it
            // fell to 0.88 (L2) with twice the queries. Its floor leaves
            // room for that sensitivity.
            let floor = if name == "rf" { 0.7 } else { 0.85 };
            check(name, &m, &x, &y, &r, floor);
        }
    }
}
