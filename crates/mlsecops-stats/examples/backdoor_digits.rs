//! Backdoor experiment on scikit-learn's digits exported to CSV (64 pixel
//! columns then `label`): poisons rows of other classes with a trigger
//! (pixels 0–3 set to 16) relabelled to a target class, runs
//! [`mlsecops_stats::backdoor::detect`] and reports precision, recall and F1
//! of the flagged rows against the poisoned rows; then runs the clean data
//! to count false positives.
//!
//! Run: `cargo run --release -p mlsecops-stats --example backdoor_digits -- /tmp/digits.csv`
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use mlsecops_stats::backdoor::{BackdoorOptions, detect};
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

fn run(name: &str, x: &Matrix, labels: &[u32], truth: &[bool], opts: &BackdoorOptions) {
    let t = Instant::now();
    let res = detect(x, labels, 10, opts).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let mut flagged = vec![false; labels.len()];
    for f in &res.flagged {
        flagged[f.row] = true;
    }
    let (p, r, f) = prf(&flagged, truth);
    let n_flag = res.flagged.len();
    println!(
        "{name:28} poisoned {:3} flagged {n_flag:3} ({:.2}%) P {p:.3} R {r:.3} F1 {f:.3} classes {:?} {secs:.2}s",
        truth.iter().filter(|v| **v).count(),
        100.0 * n_flag as f64 / labels.len() as f64,
        res.suspicious
            .iter()
            .map(|s| (s.class, s.flagged))
            .collect::<Vec<_>>(),
    );
    for p in &res.patterns {
        let items: Vec<String> = p
            .items
            .iter()
            .map(|i| format!("x{}={}", i.feature, i.value))
            .collect();
        println!(
            "    pattern [{}] -> label {} support {} purity {:.2} lift {:.1} mismatch {:.2}",
            items.join(" & "),
            p.label,
            p.support,
            p.purity,
            p.lift,
            p.mismatch
        );
    }
    for s in &res.spectral {
        let a = res.clusters.iter().find(|a| a.class == s.class);
        println!(
            "    class {} spectral gap {:.2} sep {:.2} small {:.3}{} | ac small {:.3} sil {:.3}{}",
            s.class,
            s.spectral_gap,
            s.separation,
            s.small_fraction,
            if s.suspicious { " *" } else { "" },
            a.map_or(0.0, |a| a.small_fraction),
            a.map_or(0.0, |a| a.silhouette),
            if a.is_some_and(|a| a.suspicious) {
                " *"
            } else {
                ""
            },
        );
    }
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/digits.csv".into());
    let verbose = std::env::args().any(|a| a == "-v");
    let (x, labels) = load(&path);
    let n = labels.len();
    let opts = BackdoorOptions::default();
    let quiet = |res_name: &str, x: &Matrix, l: &[u32], t: &[bool]| {
        if verbose {
            run(res_name, x, l, t, &opts);
        } else {
            let res = detect(x, l, 10, &opts).unwrap();
            let mut flagged = vec![false; l.len()];
            for f in &res.flagged {
                flagged[f.row] = true;
            }
            let (p, r, f) = prf(&flagged, t);
            println!(
                "{res_name:28} poisoned {:3} flagged {:3} P {p:.3} R {r:.3} F1 {f:.3} classes {:?}",
                t.iter().filter(|v| **v).count(),
                res.flagged.len(),
                res.suspicious
                    .iter()
                    .map(|s| (s.class, s.flagged))
                    .collect::<Vec<_>>()
            );
        }
    };
    run("clean (no poison)", &x, &labels, &vec![false; n], &opts);
    for (target, count, trigger) in [
        (0u32, 54usize, vec![0usize, 1, 2, 3]),
        (3, 18, vec![0, 1, 2, 3]),
        (7, 30, vec![0, 1, 2, 3]),
        (5, 54, vec![60, 61, 62, 63]),
    ] {
        for seed in 0..3u64 {
            let mut rng = Rng::new(seed + 100);
            let mut pool: Vec<usize> = (0..n).filter(|&i| labels[i] != target).collect();
            rng.shuffle(&mut pool);
            let mut rows: Vec<Vec<f64>> = (0..n).map(|i| x.row(i).to_vec()).collect();
            let mut l = labels.clone();
            let mut truth = vec![false; n];
            for &i in &pool[..count] {
                let mut r = x.row(i).to_vec();
                for &j in &trigger {
                    r[j] = 16.0;
                }
                rows.push(r);
                l.push(target);
                truth.push(true);
            }
            let xp = Matrix::from_rows(&rows).unwrap();
            let name = format!("t{target} n{count} px{:?} s{seed}", trigger[0]);
            if seed == 0 {
                run(&name, &xp, &l, &truth, &opts);
            } else {
                quiet(&name, &xp, &l, &truth);
            }
        }
    }
}
