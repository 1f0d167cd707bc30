//! Timing at scale: 1 000 000 rows × 16 features, 5 Gaussian classes with 5 %
//! flipped labels; 5-fold logistic cross-validation, confident learning and
//! the backdoor detectors, each timed.
//!
//! Run: `cargo run --release -p mlsecops-stats --example label_scale -- [rows]`
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use mlsecops_stats::backdoor::{BackdoorOptions, detect};
use mlsecops_stats::label::{LabelOptions, find_label_issues};
use mlsecops_stats::learn::{LogisticOptions, ModelKind, accuracy, cross_val_proba, log_loss};
use mlsecops_stats::{Matrix, Rng};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let (d, k) = (16, 5);
    let mut rng = Rng::new(1);
    let centers: Vec<Vec<f64>> = (0..k)
        .map(|_| (0..d).map(|_| rng.normal() * 1.2).collect())
        .collect();
    let mut data = Vec::with_capacity(n * d);
    let mut labels = Vec::with_capacity(n);
    let mut truth = Vec::with_capacity(n);
    for _ in 0..n {
        let c = rng.below(k);
        data.extend(centers[c].iter().map(|m| m + rng.normal()));
        let flip = rng.next_f64() < 0.05;
        labels.push(if flip {
            ((c + 1 + rng.below(k - 1)) % k) as u32
        } else {
            c as u32
        });
        truth.push(flip);
    }
    let x = Matrix::from_vec(n, d, data).unwrap();
    let all = Instant::now();
    let t = Instant::now();
    let p = cross_val_proba(
        &x,
        &labels,
        k,
        5,
        &ModelKind::Logistic(LogisticOptions::default()),
        0,
    )
    .unwrap();
    let cv = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let rep = find_label_issues(&p, &labels, &LabelOptions::default()).unwrap();
    let cl = t.elapsed().as_secs_f64();
    let tp = rep
        .is_issue
        .iter()
        .zip(&truth)
        .filter(|(a, b)| **a && **b)
        .count() as f64;
    let fl = rep.is_issue.iter().filter(|v| **v).count() as f64;
    let tr = truth.iter().filter(|v| **v).count() as f64;
    let t = Instant::now();
    let bd = detect(&x, &labels, k, &BackdoorOptions::default()).unwrap();
    let bt = t.elapsed().as_secs_f64();
    println!(
        "rows {n} cv5 logistic {cv:.2}s (ll {:.4} acc {:.4}) | confident learning {cl:.2}s P {:.3} R {:.3} | backdoor {bt:.2}s flagged {} | total {:.2}s",
        log_loss(&p, &labels),
        accuracy(&p, &labels),
        tp / fl.max(1.0),
        tp / tr.max(1.0),
        bd.flagged.len(),
        all.elapsed().as_secs_f64()
    );
}
