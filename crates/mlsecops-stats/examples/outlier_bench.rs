//! Timing of the neighbour search, outlier detectors and near-duplicate
//! grouping on synthetic data: `cargo run --release -p mlsecops-stats
//! --example outlier_bench [rows] [cols]` (default 1 000 000 × 16).
#![allow(clippy::print_stdout)]

use std::time::Instant;

use mlsecops_stats::neighbors::{KnnOptions, Method, knn_with};
use mlsecops_stats::{Matrix, Rng};

/// Gaussian blobs with per-cluster scales: "random data with some structure".
fn data(n: usize, d: usize, seed: u64) -> Matrix {
    let mut rng = Rng::new(seed);
    let centers: Vec<Vec<f64>> = (0..20)
        .map(|_| (0..d).map(|_| rng.normal() * 2.0).collect())
        .collect();
    let mut v = Vec::with_capacity(n * d);
    for _ in 0..n {
        let c = &centers[rng.below(centers.len())];
        for &cj in c {
            v.push(cj + rng.normal());
        }
    }
    let mut m = Matrix::from_vec(n, d, v).unwrap_or_else(|_| Matrix::zeros(0, d));
    m.standardize();
    m
}

fn recall_sample(m: &Matrix, g: &mlsecops_stats::neighbors::Knn, samples: usize) -> f64 {
    let mut rng = Rng::new(99);
    let mut hit = 0usize;
    for _ in 0..samples {
        let i = rng.below(m.rows());
        let mut d: Vec<(f64, usize)> = (0..m.rows())
            .filter(|&j| j != i)
            .map(|j| {
                let s: f64 = m
                    .row(i)
                    .iter()
                    .zip(m.row(j))
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                (s, j)
            })
            .collect();
        d.select_nth_unstable_by(g.k, |a, b| a.0.total_cmp(&b.0));
        let truth: Vec<u32> = d[..g.k].iter().map(|x| x.1 as u32).collect();
        hit += g.neighbors(i).iter().filter(|j| truth.contains(j)).count();
    }
    hit as f64 / (samples * g.k) as f64
}

fn f1(flags: &[usize], truth: &[bool]) -> (f64, f64) {
    let tp = flags.iter().filter(|&&i| truth[i]).count() as f64;
    let pos = truth.iter().filter(|&&t| t).count() as f64;
    let fp = flags.len() as f64 - tp;
    let f1 = if tp == 0.0 {
        0.0
    } else {
        2.0 * tp / (flags.len() as f64 + pos)
    };
    let negatives = truth.len() as f64 - pos;
    (f1, fp / negatives.max(1.0))
}

/// Quality sweep: clean, scattered and clustered injections on Gaussian
/// blobs and on digit-like sparse 64-column data.
fn quality() {
    use mlsecops_stats::outlier::{OutlierOptions, detect};
    let opts = OutlierOptions::default();
    for (name, seed) in [("a", 11u64), ("b", 12), ("c", 13)] {
        for kind in ["gauss", "blobs", "digits"] {
            for inj in ["none", "scattered", "clustered", "smallclass"] {
                let mut rng = Rng::new(seed);
                let (n, d): (usize, usize) = if kind == "digits" {
                    (1797, 64)
                } else {
                    (3000, 16)
                };
                let protos: Vec<Vec<f64>> = (0..10)
                    .map(|_| {
                        (0..d)
                            .map(|_| {
                                if kind == "digits" {
                                    if rng.next_f64() < 0.4 {
                                        0.0
                                    } else {
                                        rng.next_f64() * 16.0
                                    }
                                } else if kind == "blobs" {
                                    rng.normal() * 3.0
                                } else {
                                    0.0
                                }
                            })
                            .collect()
                    })
                    .collect();
                let n_inj = if inj == "none" { 0 } else { n * 4 / 100 };
                let mut rows = Vec::new();
                let mut truth = Vec::new();
                for i in 0..n - n_inj {
                    let c = &protos[i % 10];
                    rows.push(
                        c.iter()
                            .map(|&v| {
                                if kind == "digits" {
                                    (v + rng.normal() * 3.0).clamp(0.0, 16.0).round()
                                } else {
                                    v + rng.normal()
                                }
                            })
                            .collect::<Vec<f64>>(),
                    );
                    truth.push(false);
                }
                let center: Vec<f64> = match kind {
                    "digits" => (0..d).map(|_| rng.next_f64() * 16.0).collect(),
                    _ => (0..d).map(|_| rng.normal() * 3.0 + 6.0).collect(),
                };
                for _ in 0..n_inj {
                    let r: Vec<f64> = match inj {
                        "scattered" => (0..d)
                            .map(|_| {
                                if kind == "digits" {
                                    (rng.next_f64() * 16.0).round()
                                } else {
                                    (rng.next_f64() - 0.5) * 24.0
                                }
                            })
                            .collect(),
                        "clustered" => center.iter().map(|&c| c + rng.normal() * 0.1).collect(),
                        _ => protos[0]
                            .iter()
                            .map(|&c| c + 2.5 / (d as f64).sqrt() * 2.0 + rng.normal())
                            .collect(),
                    };
                    rows.push(r);
                    // a legitimate small class is not an outlier
                    truth.push(inj != "smallclass");
                }
                let mut m = Matrix::from_rows(&rows).unwrap_or_else(|_| Matrix::zeros(0, 0));
                m.standardize();
                let res = detect(&m, &opts);
                let flags: Vec<usize> = res.flagged.iter().map(|f| f.row).collect();
                let (f, fpr) = f1(&flags, &truth);
                println!(
                    "{name} {kind:7} {inj:10} flagged {:4} F1 {f:.3} FPR {:.4} clusters {:?}",
                    flags.len(),
                    fpr,
                    res.clusters
                        .iter()
                        .map(|c| (c.rows.len(), (c.gap_ratio * 10.0).round() / 10.0))
                        .collect::<Vec<_>>()
                );
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("quality") {
        quality();
        return;
    }
    let n: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let d: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(16);
    let env = |k: &str, def: usize| {
        std::env::var(k)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(def)
    };
    let t0 = Instant::now();
    let m = data(n, d, 1);
    println!("data {n}x{d}: {:.2}s", t0.elapsed().as_secs_f64());
    let def = KnnOptions::default();
    let opts = KnnOptions {
        method: if env("EXACT", 0) == 1 {
            Method::Exact
        } else {
            Method::Approximate
        },
        trees: env("TREES", def.trees),
        leaf_size: env("LEAF", def.leaf_size),
        refine_rounds: env("ROUNDS", def.refine_rounds),
        ..def
    };
    let t = Instant::now();
    let t_all = t;
    let g = knn_with(&m, 10, &opts);
    println!(
        "knn (approx, {} trees, leaf {}, {} rounds): {:.2}s",
        opts.trees,
        opts.leaf_size,
        opts.refine_rounds,
        t.elapsed().as_secs_f64()
    );
    if env("RECALL", 0) == 1 {
        println!("recall@10 (sampled): {:.4}", recall_sample(&m, &g, 200));
    }
    let t = Instant::now();
    let res = mlsecops_stats::outlier::detect_with_knn(
        &m,
        &g,
        &mlsecops_stats::outlier::OutlierOptions::default(),
    );
    println!(
        "outlier::detect_with_knn: {:.2}s ({} flagged, {} clusters)",
        t.elapsed().as_secs_f64(),
        res.flagged.len(),
        res.clusters.len()
    );
    let t = Instant::now();
    let nd = mlsecops_stats::dup::near_duplicates_from_knn(
        &g,
        &mlsecops_stats::dup::NearDupOptions::default(),
    );
    println!(
        "near duplicates: {:.2}s ({} groups, radius {:.3})",
        t.elapsed().as_secs_f64(),
        nd.groups.len(),
        nd.radius
    );
    println!(
        "total (knn + detect + near-dups): {:.2}s",
        t_all.elapsed().as_secs_f64()
    );
}
