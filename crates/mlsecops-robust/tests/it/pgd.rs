//! PGD and FGSM on the differentiable fixtures: stronger with more steps,
//! never outside the ball, and refused (with the operator named) on the
//! tree ensemble.

use mlsecops_model::{LoadOptions, Model};
use mlsecops_robust::ThreatModel;
use mlsecops_robust::pgd::{PgdOptions, pgd};

use crate::{models, test_rows};

#[test]
fn pgd_beats_fgsm_and_stays_in_the_ball() {
    let (x, y) = test_rows(60);
    for name in ["logreg", "mlp", "cnn"] {
        let m = Model::load_path(
            &models().join(format!("{name}.onnx")),
            &LoadOptions::default(),
        )
        .unwrap();
        for threat in [
            ThreatModel::linf(0.2, 0.0, 1.0),
            ThreatModel::l2(2.0, 0.0, 1.0),
        ] {
            let fgsm = pgd(&m, &x, &y, &threat, &PgdOptions::fgsm(threat.eps)).unwrap();
            let opts = PgdOptions {
                steps: 40,
                step_size: threat.eps / 10.0,
                ..PgdOptions::default()
            };
            let strong = pgd(&m, &x, &y, &threat, &opts).unwrap();
            eprintln!(
                "{name} {:?} eps {}: clean {:.3}, fgsm robust {:.3}, pgd robust {:.3}",
                threat.norm,
                threat.eps,
                strong.clean_accuracy(),
                fgsm.robust_accuracy(),
                strong.robust_accuracy()
            );
            assert!(strong.clean_accuracy() > 0.9);
            assert!(strong.robust_accuracy() <= fgsm.robust_accuracy());
            assert!(
                strong.success_rate() > 0.5,
                "{name}: {}",
                strong.success_rate()
            );
            for (i, s) in strong.samples.iter().enumerate() {
                let row = &x[i * 64..(i + 1) * 64];
                assert!(threat.contains(row, &s.adversarial), "{name} row {i}");
                if s.success {
                    // The model really decides otherwise on the kept input.
                    assert_ne!(
                        m.predict(&s.adversarial).unwrap()[0],
                        y[i],
                        "{name} row {i}"
                    );
                }
            }
        }
    }
    let rf = Model::load_path(&models().join("rf.onnx"), &LoadOptions::default()).unwrap();
    let err = pgd(
        &rf,
        &x,
        &y,
        &ThreatModel::linf(0.1, 0.0, 1.0),
        &PgdOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("TreeEnsembleClassifier"), "{err}");
}
