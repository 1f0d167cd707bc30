//! The decision-based attacks (HopSkipJump, Boundary) on every fixture
//! model family, tree ensemble included: most decisions flip inside an L2
//! ball of 1.5 (and, for HSJ, an L∞ ball of 0.3), every reported flip is
//! real, every reported input is inside the ball, and the query budget
//! holds.

use mlsecops_model::{LoadOptions, Model};
use mlsecops_robust::boundary::{BoundaryOptions, boundary};
use mlsecops_robust::hsj::{HsjOptions, hsj};
use mlsecops_robust::{AttackReport, Norm, ThreatModel};

use crate::{models, test_rows};

const BUDGET: u64 = 2000;

fn check(name: &str, m: &Model, r: &AttackReport, x: &[f32], y: &[usize], floor: f64) {
    eprintln!(
        "{} {name}: clean {:.3} robust {:.3} success {:.3} mean queries {:.0} mean {} of flips {:.3}",
        r.attack,
        r.clean_accuracy(),
        r.robust_accuracy(),
        r.success_rate(),
        r.mean_queries(),
        r.threat.norm,
        r.samples
            .iter()
            .filter(|s| s.success)
            .map(|s| f64::from(if r.threat.norm == Norm::L2 {
                s.l2
            } else {
                s.linf
            }))
            .sum::<f64>()
            / r.samples.iter().filter(|s| s.success).count().max(1) as f64
    );
    assert!(r.clean_accuracy() >= 0.8, "{name}");
    assert!(
        r.success_rate() >= floor,
        "{} {name}: {}",
        r.attack,
        r.success_rate()
    );
    for (i, s) in r.samples.iter().enumerate() {
        let row = &x[i * 64..(i + 1) * 64];
        assert!(s.queries <= BUDGET, "{name} row {i}: {}", s.queries);
        // Flipped or not, the reported input is inside the threat model.
        assert!(r.threat.contains(row, &s.adversarial), "{name} row {i}");
        if s.success {
            assert_ne!(
                m.predict(&s.adversarial).unwrap()[0],
                y[i],
                "{name} row {i}"
            );
        }
    }
}

#[test]
fn decision_based_attacks_flip_every_model_family_within_the_ball() {
    let (x, y) = test_rows(20);
    let l2 = ThreatModel::l2(1.5, 0.0, 1.0);
    let linf = ThreatModel::linf(0.3, 0.0, 1.0);
    let hsj_opts = HsjOptions {
        max_queries: BUDGET,
        ..HsjOptions::default()
    };
    let boundary_opts = BoundaryOptions {
        max_queries: BUDGET,
        ..BoundaryOptions::default()
    };
    for name in ["logreg", "mlp", "rf", "cnn"] {
        let m = Model::load_path(
            &models().join(format!("{name}.onnx")),
            &LoadOptions::default(),
        )
        .unwrap();
        // Floors under what was measured (success ≥ 0.94 everywhere; one
        // logreg row needs more than 1.5).
        let r = hsj(&m, &x, &y, &l2, &hsj_opts).unwrap();
        check(name, &m, &r, &x, &y, 0.85);
        let r = boundary(&m, &x, &y, &l2, &boundary_opts).unwrap();
        check(name, &m, &r, &x, &y, 0.85);
        let r = hsj(&m, &x, &y, &linf, &hsj_opts).unwrap();
        check(name, &m, &r, &x, &y, 0.85);
    }
}
