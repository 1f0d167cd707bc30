//! The augmentation loop: train a model, attack it, add the adversarial
//! examples (true labels) to the training set, retrain, and attack the new
//! model from scratch (white-box, so the attack adapts to the new weights).
//! Robust accuracy must rise clearly while clean accuracy stays within a
//! tolerance.

use mlsecops_robust::ThreatModel;
use mlsecops_robust::augment::{SoftmaxLinear, generate};
use mlsecops_robust::pgd::{PgdOptions, pgd};
use mlsecops_robust::suite::{AttackKind, Budget, Target};

use crate::{models, read_rows};

#[test]
fn adversarial_training_raises_robust_accuracy_at_equal_clean_accuracy() {
    let (xtr, ytr) = read_rows(&models().join("train.csv"), usize::MAX);
    let (xte, yte) = read_rows(&models().join("test.csv"), usize::MAX);
    let threat = ThreatModel::linf(0.05, 0.0, 1.0);
    let attack = PgdOptions {
        steps: 20,
        step_size: 0.0125,
        ..PgdOptions::default()
    };
    let evaluate = |m: &SoftmaxLinear| {
        let r = pgd(m, &xte, &yte, &threat, &attack).unwrap();
        (r.clean_accuracy(), r.robust_accuracy())
    };
    let m0 = SoftmaxLinear::train(&xtr, &ytr, 64, 10, 0.1, 0).unwrap();
    let (clean0, robust0) = evaluate(&m0);
    // Five rounds: examples against the current model, added to the data
    // (an offline form of adversarial training).
    let (mut x, mut y) = (xtr.clone(), ytr.clone());
    let mut model = m0;
    let budget = Budget {
        steps: 20,
        step_size: Some(0.0125),
        ..Budget::default()
    };
    let mut added = 0;
    for round in 0..5 {
        let target = Target {
            oracle: &model,
            gradient: Some(&model),
            no_gradient: None,
        };
        let ex = generate(
            &[AttackKind::Pgd],
            target,
            &xtr,
            &ytr,
            &threat,
            &budget,
            false,
        )
        .unwrap();
        assert!(ex.len() > 1000, "round {round}: {} examples", ex.len());
        for e in &ex {
            assert!(threat.contains(&xtr[e.row * 64..(e.row + 1) * 64], &e.x));
            assert_eq!(e.label, ytr[e.row]);
            x.extend_from_slice(&e.x);
            y.push(e.label);
        }
        added += ex.len();
        model = SoftmaxLinear::train(&x, &y, 64, 10, 0.1, 0).unwrap();
    }
    let (clean1, robust1) = evaluate(&model);
    eprintln!(
        "clean {clean0:.3} -> {clean1:.3}, robust (PGD linf 0.05) {robust0:.3} -> {robust1:.3}, {added} examples added"
    );
    assert!(
        robust1 >= robust0 + 0.10,
        "robust {robust0:.3} -> {robust1:.3}"
    );
    assert!(clean1 >= clean0 - 0.02, "clean {clean0:.3} -> {clean1:.3}");
}
