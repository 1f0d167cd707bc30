//! Label-noise experiment on scikit-learn's digits exported to CSV (64 pixel
//! columns then `label`): flips 10 % of the labels uniformly to another class
//! (and, second, 30 % of one class to a fixed other class), finds the issues
//! with 5-fold out-of-sample probabilities and reports precision, recall and
//! F1 of the flagged rows against the flipped rows.
//!
//! Run: `cargo run --release -p mlsecops-stats --example label_digits -- /tmp/digits.csv`
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use mlsecops_stats::label::{LabelOptions, find_label_issues_cv};
use mlsecops_stats::learn::SelectOptions;
use mlsecops_stats::{Matrix, Rng};

fn load(path: &str) -> (Matrix, Vec<u32>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for line in text.lines().skip(1) {
        let mut v: Vec<f64> = line.split(',').map(|s| s.trim().parse().unwrap()).collect();
        labels.push(v.pop().unwrap() as u32);
        rows.push(v);
    }
    (Matrix::from_rows(&rows).unwrap(), labels)
}

fn prf(flagged: &[bool], truth: &[bool]) -> (f64, f64, f64) {
    let tp = flagged
        .iter()
        .zip(truth)
        .filter(|(a, b)| **a && **b)
        .count() as f64;
    let fl = flagged.iter().filter(|a| **a).count() as f64;
    let tr = truth.iter().filter(|a| **a).count() as f64;
    let p = if fl > 0.0 { tp / fl } else { 0.0 };
    let r = if tr > 0.0 { tp / tr } else { 0.0 };
    let f = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    (p, r, f)
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/digits.csv".into());
    let (x, clean) = load(&path);
    let k = 10;
    let n = clean.len();
    for seed in 0..3u64 {
        for targeted in [false, true] {
            let mut rng = Rng::new(seed);
            let mut noisy = clean.clone();
            if targeted {
                // 30 % of class a relabelled as b.
                let (a, b) = (seed as u32 + 1, (seed as u32 + 7) % 10);
                let mut rows: Vec<usize> = (0..n).filter(|&i| clean[i] == a).collect();
                rng.shuffle(&mut rows);
                let m = rows.len() * 3 / 10;
                for &i in &rows[..m] {
                    noisy[i] = b;
                }
            } else {
                let mut rows: Vec<usize> = (0..n).collect();
                rng.shuffle(&mut rows);
                for &i in &rows[..n / 10] {
                    noisy[i] = (clean[i] + 1 + rng.below(k - 1) as u32) % k as u32;
                }
            }
            let truth: Vec<bool> = (0..n).map(|i| noisy[i] != clean[i]).collect();
            let t = Instant::now();
            let sel = SelectOptions {
                seed,
                ..SelectOptions::default()
            };
            let rep = find_label_issues_cv(&x, &noisy, k, &sel, &LabelOptions::default()).unwrap();
            let secs = t.elapsed().as_secs_f64();
            let (p, r, f) = prf(&rep.is_issue, &truth);
            let kind = if targeted { "targeted" } else { "random" };
            let scores: Vec<String> = rep
                .models
                .iter()
                .map(|m| format!("{} ll={:.4} acc={:.4}", m.model, m.log_loss, m.accuracy))
                .collect();
            println!(
                "seed {seed} {kind:8} flipped {:4} flagged {:4} P {p:.3} R {r:.3} F1 {f:.3} model {} [{}] {secs:.2}s",
                truth.iter().filter(|v| **v).count(),
                rep.is_issue.iter().filter(|v| **v).count(),
                rep.model.unwrap_or("-"),
                scores.join("; ")
            );
        }
    }
}
