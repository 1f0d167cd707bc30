//! Backdoor / data-poisoning detectors for labelled tabular data: rows that
//! carry a trigger (a few features set to a fixed pattern) and were relabelled
//! to a target class.
//!
//! * **Spectral signatures** (Tran, Li & Madry, "Spectral Signatures in
//!   Backdoor Attacks", NeurIPS 2018): per class, centre the (standardized)
//!   rows, find the top right-singular vector by power iteration and score
//!   each row by its squared projection. Unlike the paper (and ART), which
//!   removes a fixed `1.5·ε` fraction from *every* class, a class is only
//!   suspicious when its 1-D projections split into two well-separated groups
//!   (best 2-means split; separation `d′` = gap between group means over the
//!   pooled within-group sd, ≈ 2.7 for one Gaussian) and that separation stands
//!   out from the other classes; the flagged rows are the small side of that
//!   data-driven split.
//! * **Activation clustering** (Chen et al., "Detecting Backdoor Attacks on
//!   Deep Neural Networks by Activation Clustering", SafeAI@AAAI 2019): per
//!   class, 2-means on the top principal components; the small cluster is
//!   suspicious when it holds < 35 % of the class and the silhouette is high.
//!   Used as a second opinion for the spectral split.
//! * **Trigger-pattern mining**: items are exact `(feature, value)` pairs (a
//!   trigger writes a fixed value, so it appears as a spike); items and
//!   conjunctions of up to three items that are rare overall, have enough
//!   support and whose rows are almost all one label are candidate triggers.
//!   A natural class-specific feature also looks like that, so a candidate
//!   must also cover only a minority of its class and its rows must *look
//!   like other classes* on the remaining features (nearest class centroid
//!   excluding the pattern's features disagrees with the label for most of
//!   them) — the signature of dirty-label poisoning.
//! * [`detect`] combines them: pattern rows are flagged on their own; spectral
//!   rows only when activation clustering (or a pattern) agrees, so clean
//!   classes are not flagged wholesale.
//!
//! Deterministic for a given seed; non-finite values count as the column mean.

use std::collections::HashMap;

use serde::Serialize;

use crate::{Matrix, Rng};

/// Settings for [`detect`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackdoorOptions {
    /// Seed for k-means initialisation and subsampling.
    pub seed: u64,
    /// Run spectral signatures.
    pub spectral: bool,
    /// Run activation clustering.
    pub clustering: bool,
    /// Run the trigger-pattern miner.
    pub patterns: bool,
    /// Classes with fewer rows are not analysed by the spectral and
    /// clustering detectors.
    pub min_class_rows: usize,
    /// Minimum spectral separation `d′` of a suspicious class.
    pub spectral_min_separation: f64,
    /// Largest fraction of a class a poisoned group may occupy.
    pub max_poison_fraction: f64,
    /// Principal components used by activation clustering.
    pub cluster_components: usize,
    /// Minimum silhouette of the 2-means split for activation clustering.
    pub cluster_min_silhouette: f64,
    /// Minimum rows matching a trigger pattern.
    pub pattern_min_support: usize,
    /// Minimum fraction of a pattern's rows with its majority label.
    pub pattern_min_purity: f64,
    /// Minimum fraction of a pattern's rows whose other features point to a
    /// different class (nearest centroid).
    pub pattern_min_mismatch: f64,
    /// Largest pattern (number of items, 1..=3).
    pub pattern_max_len: usize,
    /// Items covering more than this fraction of all rows are not rare.
    pub pattern_max_item_fraction: f64,
}

impl Default for BackdoorOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            spectral: true,
            clustering: true,
            patterns: true,
            min_class_rows: 20,
            spectral_min_separation: 5.0,
            max_poison_fraction: 0.35,
            cluster_components: 10,
            cluster_min_silhouette: 0.45,
            pattern_min_support: 10,
            pattern_min_purity: 0.9,
            pattern_min_mismatch: 0.5,
            pattern_max_len: 3,
            pattern_max_item_fraction: 0.2,
        }
    }
}

/// Spectral-signature statistics of one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpectralClass {
    /// The class.
    pub class: u32,
    /// Rows in the class.
    pub rows: usize,
    /// Ratio of the top two singular values of the centred class.
    pub spectral_gap: f64,
    /// Separation `d′` of the best 2-group split of the projections.
    pub separation: f64,
    /// Fraction of the class on the small side of the split.
    pub small_fraction: f64,
    /// The class passes the spectral test.
    pub suspicious: bool,
    /// Rows on the small side of the split (global indices).
    #[serde(skip)]
    pub small_rows: Vec<usize>,
}

/// Activation-clustering statistics of one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterClass {
    /// The class.
    pub class: u32,
    /// Fraction of the class in the smaller cluster.
    pub small_fraction: f64,
    /// Mean silhouette of the 2-means split.
    pub silhouette: f64,
    /// The class passes the clustering test.
    pub suspicious: bool,
    /// Rows of the smaller cluster (global indices).
    #[serde(skip)]
    pub small_rows: Vec<usize>,
}

/// One `(feature, value)` item of a trigger pattern.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatternItem {
    /// Feature (column) index.
    pub feature: usize,
    /// The fixed value.
    pub value: f64,
}

/// A mined trigger pattern.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriggerPattern {
    /// Items that all hold on the pattern's rows (equivalent items merged).
    pub items: Vec<PatternItem>,
    /// The label the pattern's rows carry.
    pub label: u32,
    /// Rows matching the pattern.
    pub support: usize,
    /// Fraction of those rows labelled `label`.
    pub purity: f64,
    /// `P(label | pattern) / P(label)`.
    pub lift: f64,
    /// Fraction of the rows whose other features are nearest another class.
    pub mismatch: f64,
    /// Matching rows labelled `label` (global indices).
    pub rows: Vec<usize>,
}

/// Why a row was flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Reason {
    /// It matches a mined trigger pattern.
    Pattern,
    /// It is on the small side of a suspicious spectral split.
    Spectral,
    /// It is in the small cluster of a suspicious class.
    Cluster,
}

/// A flagged row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlaggedRow {
    /// Row index.
    pub row: usize,
    /// Its label.
    pub label: u32,
    /// Evidence, strongest first.
    pub reasons: Vec<Reason>,
    /// Suspicion score in `[0, 1]`.
    pub score: f64,
}

/// A class judged to be a backdoor target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuspiciousClass {
    /// The class.
    pub class: u32,
    /// Spectral statistics, when analysed.
    pub spectral: Option<SpectralClass>,
    /// Clustering statistics, when analysed.
    pub cluster: Option<ClusterClass>,
    /// Indices into [`BackdoorResult::patterns`] of patterns with this label.
    pub patterns: Vec<usize>,
    /// Rows flagged in this class.
    pub flagged: usize,
}

/// Result of [`detect`].
#[derive(Debug, Clone, Serialize)]
pub struct BackdoorResult {
    /// Classes with evidence of poisoning.
    pub suspicious: Vec<SuspiciousClass>,
    /// Mined trigger patterns.
    pub patterns: Vec<TriggerPattern>,
    /// Flagged rows, highest score first.
    pub flagged: Vec<FlaggedRow>,
    /// Per-class spectral statistics (every analysed class).
    pub spectral: Vec<SpectralClass>,
    /// Per-class clustering statistics (every analysed class).
    pub clusters: Vec<ClusterClass>,
    /// Per-row spectral score (squared projection on the class's top
    /// singular vector, divided by the class's largest), 0 when not analysed.
    pub spectral_scores: Vec<f64>,
}

/// Errors from [`detect`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackdoorError {
    /// The label slice does not have one entry per matrix row.
    #[error("{labels} labels for a matrix of {rows} rows")]
    LabelCount { rows: usize, labels: usize },
}

use crate::learn::{dot, sqdist};

fn normalize(v: &mut [f64]) -> f64 {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        for x in v.iter_mut() {
            *x /= n;
        }
    }
    n
}

/// Rows used to fit directions and clusters: all of a class up to
/// [`MAX_FIT_ROWS`], else an evenly spread seeded sample; every row of the
/// class is still scored.
fn fit_sample(rows: &[usize], rng: &mut Rng) -> Vec<usize> {
    if rows.len() <= MAX_FIT_ROWS {
        return rows.to_vec();
    }
    let mut s = rows.to_vec();
    rng.shuffle(&mut s);
    s.truncate(MAX_FIT_ROWS);
    s.sort_unstable();
    s
}

/// Cap on the rows per class used to fit singular vectors and 2-means.
const MAX_FIT_ROWS: usize = 20_000;

/// Centred rows of one class (a dense `m × d` copy) and the mean.
fn centred(z: &Matrix, rows: &[usize]) -> (Matrix, Vec<f64>) {
    let d = z.cols();
    let mut mean = vec![0.0; d];
    for &i in rows {
        for (m, v) in mean.iter_mut().zip(z.row(i)) {
            *m += v;
        }
    }
    let m = rows.len().max(1) as f64;
    for v in &mut mean {
        *v /= m;
    }
    let mut c = z.select_rows(rows);
    for t in 0..c.rows() {
        for (v, mu) in c.row_mut(t).iter_mut().zip(&mean) {
            *v -= mu;
        }
    }
    (c, mean)
}

fn centred_dot(row: &[f64], mean: &[f64], v: &[f64]) -> f64 {
    dot(row, v) - dot(mean, v)
}

/// Top `k` right-singular vectors of `a` by power iteration with deflation;
/// returns `(vectors, singular values)`. Up to 512 columns the Gram matrix
/// `AᵀA` is formed once and iterated on (`O(m·d²)` then `O(d²)` per step);
/// wider inputs iterate on `A` directly.
fn top_singular(a: &Matrix, k: usize, rng: &mut Rng) -> (Vec<Vec<f64>>, Vec<f64>) {
    let d = a.cols();
    let gram = (d <= 512).then(|| {
        let mut g = vec![0.0; d * d];
        for t in 0..a.rows() {
            let r = a.row(t);
            for (i, &ri) in r.iter().enumerate() {
                if ri != 0.0 {
                    let gi = &mut g[i * d..(i + 1) * d];
                    gi.iter_mut().zip(r).for_each(|(x, y)| *x += ri * y);
                }
            }
        }
        g
    });
    // w = AᵀA v
    let apply = |v: &[f64], w: &mut [f64]| {
        if let Some(g) = &gram {
            for (i, wi) in w.iter_mut().enumerate() {
                *wi = dot(&g[i * d..(i + 1) * d], v);
            }
        } else {
            for x in w.iter_mut() {
                *x = 0.0;
            }
            for t in 0..a.rows() {
                let s = dot(a.row(t), v);
                w.iter_mut().zip(a.row(t)).for_each(|(x, y)| *x += s * y);
            }
        }
    };
    let mut vecs: Vec<Vec<f64>> = Vec::new();
    let mut vals = Vec::new();
    let mut w = vec![0.0; d];
    let iters = if gram.is_some() { 500 } else { 100 };
    for _ in 0..k.min(d) {
        let mut v: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
        let mut sigma2 = 0.0;
        for _ in 0..iters {
            for p in &vecs {
                let c = dot(&v, p);
                v.iter_mut().zip(p).for_each(|(x, y)| *x -= c * y);
            }
            normalize(&mut v);
            apply(&v, &mut w);
            for p in &vecs {
                let c = dot(&w, p);
                w.iter_mut().zip(p).for_each(|(x, y)| *x -= c * y);
            }
            let new = normalize(&mut w);
            let diff: f64 = w.iter().zip(&v).map(|(x, y)| (x - y).abs()).sum();
            std::mem::swap(&mut v, &mut w);
            let done = (new - sigma2).abs() <= 1e-10 * new.max(1e-300) && diff < 1e-8;
            sigma2 = new;
            if done {
                break;
            }
        }
        vals.push(sigma2.max(0.0).sqrt());
        vecs.push(v);
    }
    (vecs, vals)
}

/// Best split of 1-D values into a low and a high group (minimum within
/// sum of squares). Returns `(threshold index in sorted order, d′)`: the low
/// group is `sorted[..idx]`.
fn best_split_1d(sorted: &[f64], min_side: usize) -> Option<(usize, f64)> {
    let n = sorted.len();
    if n < 2 * min_side.max(1) {
        return None;
    }
    let mut pre = vec![0.0; n + 1];
    let mut pre2 = vec![0.0; n + 1];
    for (i, &v) in sorted.iter().enumerate() {
        pre[i + 1] = pre[i] + v;
        pre2[i + 1] = pre2[i] + v * v;
    }
    let mut best: Option<(usize, f64)> = None;
    for idx in min_side.max(1)..=n - min_side.max(1) {
        let (n1, n2) = (idx as f64, (n - idx) as f64);
        let (s1, s2) = (pre[idx], pre[n] - pre[idx]);
        let w = (pre2[idx] - s1 * s1 / n1) + (pre2[n] - pre2[idx] - s2 * s2 / n2);
        if best.is_none_or(|(_, bw)| w < bw) {
            best = Some((idx, w));
        }
    }
    let (idx, w) = best?;
    let (n1, n2) = (idx as f64, (n - idx) as f64);
    let gap = (pre[n] - pre[idx]) / n2 - pre[idx] / n1;
    let sd = (w / (n as f64 - 2.0).max(1.0)).sqrt();
    Some((idx, if sd > 0.0 { gap / sd } else { f64::INFINITY }))
}

fn class_rows(labels: &[u32]) -> Vec<Vec<usize>> {
    let k = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let mut by = vec![Vec::new(); k];
    for (i, &l) in labels.iter().enumerate() {
        by[l as usize].push(i);
    }
    by
}

/// Spectral signatures for every class with at least `min_class_rows` rows.
/// Returns per-class statistics (without the cross-class test) and per-row
/// scores.
fn spectral(z: &Matrix, labels: &[u32], opts: &BackdoorOptions) -> (Vec<SpectralClass>, Vec<f64>) {
    let mut scores = vec![0.0; z.rows()];
    let mut out = Vec::new();
    let mut rng = Rng::new(opts.seed ^ 0x5EC7);
    for (c, rows) in class_rows(labels).iter().enumerate() {
        if rows.len() < opts.min_class_rows.max(4) {
            continue;
        }
        let (a, mean) = centred(z, &fit_sample(rows, &mut rng));
        let (vecs, vals) = top_singular(&a, 2, &mut rng);
        let Some(v) = vecs.first() else { continue };
        let proj: Vec<f64> = rows
            .iter()
            .map(|&i| centred_dot(z.row(i), &mean, v))
            .collect();
        let max2 = proj.iter().map(|p| p * p).fold(0.0, f64::max);
        for (&i, p) in rows.iter().zip(&proj) {
            scores[i] = if max2 > 0.0 { p * p / max2 } else { 0.0 };
        }
        let gap = match (vals.first(), vals.get(1)) {
            (Some(&s1), Some(&s2)) if s2 > 0.0 => s1 / s2,
            _ => 1.0,
        };
        let mut order: Vec<usize> = (0..proj.len()).collect();
        order.sort_by(|&x, &y| proj[x].total_cmp(&proj[y]));
        let sorted: Vec<f64> = order.iter().map(|&t| proj[t]).collect();
        let min_side = 3.max(rows.len() / 100);
        let (small_rows, separation, small_fraction) = match best_split_1d(&sorted, min_side) {
            Some((idx, sep)) => {
                let small: Vec<usize> = if idx <= rows.len() - idx {
                    order[..idx].iter().map(|&t| rows[t]).collect()
                } else {
                    order[idx..].iter().map(|&t| rows[t]).collect()
                };
                let f = small.len() as f64 / rows.len() as f64;
                (small, sep, f)
            }
            None => (Vec::new(), 0.0, 0.0),
        };
        out.push(SpectralClass {
            class: c as u32,
            rows: rows.len(),
            spectral_gap: gap,
            separation,
            small_fraction,
            suspicious: false,
            small_rows,
        });
    }
    // A class is suspicious when its split is well separated in absolute
    // terms and stands out from the other classes (robust z > 3).
    let mut seps: Vec<f64> = out
        .iter()
        .map(|s| s.separation)
        .filter(|v| v.is_finite())
        .collect();
    seps.sort_by(f64::total_cmp);
    let med = median(&seps);
    let mut dev: Vec<f64> = seps.iter().map(|v| (v - med).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = 1.4826 * median(&dev);
    let bar = if seps.len() >= 5 {
        opts.spectral_min_separation.max(med + 3.0 * mad)
    } else {
        opts.spectral_min_separation
    };
    for s in &mut out {
        s.suspicious = s.separation >= bar
            && s.small_fraction <= opts.max_poison_fraction
            && !s.small_rows.is_empty();
    }
    (out, scores)
}

fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]),
    }
}

/// 2-means (k-means++ seeding, best of 4 restarts); returns assignments.
fn two_means(p: &Matrix, rng: &mut Rng) -> Vec<usize> {
    let n = p.rows();
    let mut best: Option<(f64, Vec<usize>)> = None;
    for _ in 0..4 {
        let first = rng.below(n);
        let d2: Vec<f64> = (0..n).map(|i| sqdist(p.row(i), p.row(first))).collect();
        let total: f64 = d2.iter().sum();
        let mut second = 0;
        if total > 0.0 {
            let mut u = rng.next_f64() * total;
            for (i, &w) in d2.iter().enumerate() {
                second = i;
                if u < w {
                    break;
                }
                u -= w;
            }
        }
        let mut cent = [p.row(first).to_vec(), p.row(second).to_vec()];
        let mut assign = vec![0usize; n];
        for _ in 0..100 {
            let mut changed = false;
            for (i, a) in assign.iter_mut().enumerate() {
                let c = usize::from(sqdist(p.row(i), &cent[1]) < sqdist(p.row(i), &cent[0]));
                if c != *a {
                    *a = c;
                    changed = true;
                }
            }
            let mut sums = [vec![0.0; p.cols()], vec![0.0; p.cols()]];
            let mut cnt = [0usize; 2];
            for (i, &a) in assign.iter().enumerate() {
                cnt[a] += 1;
                sums[a].iter_mut().zip(p.row(i)).for_each(|(s, v)| *s += v);
            }
            for c in 0..2 {
                if cnt[c] > 0 {
                    cent[c] = sums[c].iter().map(|s| s / cnt[c] as f64).collect();
                }
            }
            if !changed {
                break;
            }
        }
        let inertia: f64 = (0..n).map(|i| sqdist(p.row(i), &cent[assign[i]])).sum();
        if best.as_ref().is_none_or(|(b, _)| inertia < *b) {
            best = Some((inertia, assign));
        }
    }
    best.map(|(_, a)| a).unwrap_or_default()
}

/// Mean silhouette of a 2-cluster assignment on at most 600 sampled rows.
fn silhouette(p: &Matrix, assign: &[usize], rng: &mut Rng) -> f64 {
    let n = p.rows();
    let mut idx: Vec<usize> = (0..n).collect();
    if n > 600 {
        rng.shuffle(&mut idx);
        idx.truncate(600);
    }
    let mut total = 0.0;
    let mut count = 0;
    for &i in &idx {
        let mut sum = [0.0; 2];
        let mut cnt = [0usize; 2];
        for &j in &idx {
            if i != j {
                sum[assign[j]] += sqdist(p.row(i), p.row(j)).sqrt();
                cnt[assign[j]] += 1;
            }
        }
        let own = assign[i];
        if cnt[own] == 0 || cnt[1 - own] == 0 {
            continue;
        }
        let a = sum[own] / cnt[own] as f64;
        let b = sum[1 - own] / cnt[1 - own] as f64;
        let m = a.max(b);
        total += if m > 0.0 { (b - a) / m } else { 0.0 };
        count += 1;
    }
    if count == 0 {
        0.0
    } else {
        total / f64::from(count)
    }
}

/// Activation clustering per class on the top principal components.
fn clustering(z: &Matrix, labels: &[u32], opts: &BackdoorOptions) -> Vec<ClusterClass> {
    let mut rng = Rng::new(opts.seed ^ 0xAC);
    let mut out = Vec::new();
    for (c, rows) in class_rows(labels).iter().enumerate() {
        if rows.len() < opts.min_class_rows.max(4) {
            continue;
        }
        let sample = fit_sample(rows, &mut rng);
        let (a, mean) = centred(z, &sample);
        let k = opts.cluster_components.clamp(1, z.cols().max(1));
        let (vecs, _) = top_singular(&a, k, &mut rng);
        drop(a);
        let mut proj = Matrix::zeros(rows.len(), vecs.len());
        for (t, &i) in rows.iter().enumerate() {
            for (q, v) in vecs.iter().enumerate() {
                proj.set(t, q, centred_dot(z.row(i), &mean, v));
            }
        }
        let assign = if sample.len() == rows.len() {
            two_means(&proj, &mut rng)
        } else {
            // Fit on the sample's projections, assign every row.
            let pos: Vec<usize> = sample
                .iter()
                .filter_map(|r| rows.binary_search(r).ok())
                .collect();
            let sp = proj.select_rows(&pos);
            let sa = two_means(&sp, &mut rng);
            let mut cent = [vec![0.0; proj.cols()], vec![0.0; proj.cols()]];
            let mut cnt = [0usize; 2];
            for (t, &a) in sa.iter().enumerate() {
                cnt[a] += 1;
                cent[a].iter_mut().zip(sp.row(t)).for_each(|(s, v)| *s += v);
            }
            for c in 0..2 {
                let m = cnt[c].max(1) as f64;
                for v in &mut cent[c] {
                    *v /= m;
                }
            }
            (0..proj.rows())
                .map(|t| usize::from(sqdist(proj.row(t), &cent[1]) < sqdist(proj.row(t), &cent[0])))
                .collect()
        };
        let n1 = assign.iter().filter(|&&a| a == 1).count();
        let small = usize::from(n1 <= rows.len() - n1);
        let small_rows: Vec<usize> = rows
            .iter()
            .zip(&assign)
            .filter(|&(_, &a)| a == small)
            .map(|(&i, _)| i)
            .collect();
        let small_fraction = small_rows.len() as f64 / rows.len() as f64;
        let sil = silhouette(&proj, &assign, &mut rng);
        out.push(ClusterClass {
            class: c as u32,
            small_fraction,
            silhouette: sil,
            suspicious: small_fraction < opts.max_poison_fraction
                && sil >= opts.cluster_min_silhouette
                && small_rows.len() >= 3,
            small_rows,
        });
    }
    out
}

fn key(v: f64) -> u64 {
    if v == 0.0 { 0 } else { v.to_bits() }
}

fn intersect(a: &[usize], b: &[usize]) -> Vec<usize> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

struct Item {
    feature: usize,
    value: f64,
    rows: Vec<usize>,
}

struct Candidate {
    items: Vec<usize>,
    rows: Vec<usize>,
    label: u32,
    purity: f64,
}

/// Candidate groups checked for neighbour consistency (largest first).
const MAX_PATTERN_GROUPS: usize = 64;

/// Mines trigger patterns; `x` holds the raw values, `z` the standardized.
fn mine_patterns(
    x: &Matrix,
    z: &Matrix,
    labels: &[u32],
    opts: &BackdoorOptions,
) -> Vec<TriggerPattern> {
    let n = x.rows();
    let d = x.cols();
    let by_class = class_rows(labels);
    let k = by_class.len();
    if n == 0 || k == 0 {
        return Vec::new();
    }
    let min_support = opts.pattern_min_support.max(2);
    let max_support = ((opts.pattern_max_item_fraction * n as f64) as usize).max(min_support);
    // Items: exact values with support in [min_support, max_support].
    let mut items: Vec<Item> = Vec::new();
    for j in 0..d {
        // Sort the column's value keys to count runs without hashing.
        let mut keys: Vec<(u64, u32)> = (0..n)
            .filter_map(|i| {
                let v = x.get(i, j);
                v.is_finite().then(|| (key(v), i as u32))
            })
            .collect();
        keys.sort_unstable();
        let mut col: Vec<Item> = Vec::new();
        for run in keys.chunk_by(|a, b| a.0 == b.0) {
            if run.len() >= min_support && run.len() <= max_support {
                col.push(Item {
                    feature: j,
                    value: f64::from_bits(run[0].0),
                    rows: run.iter().map(|r| r.1 as usize).collect(),
                });
            }
        }
        col.sort_by(|a, b| a.value.total_cmp(&b.value));
        items.extend(col);
    }
    let label_hist = |rows: &[usize]| -> (u32, f64) {
        let mut h = vec![0usize; k];
        for &r in rows {
            h[labels[r] as usize] += 1;
        }
        let (c, &m) = h
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
            .unwrap_or((0, &0));
        (c as u32, m as f64 / rows.len().max(1) as f64)
    };
    let mut cands: Vec<Candidate> = Vec::new();
    let mut enriched: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (t, it) in items.iter().enumerate() {
        let (c, purity) = label_hist(&it.rows);
        if purity >= opts.pattern_min_purity {
            cands.push(Candidate {
                items: vec![t],
                rows: it.rows.clone(),
                label: c,
                purity,
            });
        } else if opts.pattern_max_len >= 2 {
            // Enriched for its majority label: a conjunction may purify it.
            let base = by_class[c as usize].len() as f64 / n as f64;
            if purity >= 2.0 * base && purity * it.rows.len() as f64 >= min_support as f64 {
                enriched[c as usize].push(t);
            }
        }
    }
    // Conjunctions of enriched items, per label (bounded work).
    for (c, list) in enriched.iter_mut().enumerate() {
        list.sort_by_key(|&t| items[t].rows.len());
        list.truncate(150);
        let mut pairs: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
        for (a_pos, &a) in list.iter().enumerate() {
            for &b in &list[a_pos + 1..] {
                if items[a].feature == items[b].feature {
                    continue;
                }
                let rows = intersect(&items[a].rows, &items[b].rows);
                if rows.len() < min_support {
                    continue;
                }
                let (lc, purity) = label_hist(&rows);
                if purity >= opts.pattern_min_purity && lc as usize == c {
                    cands.push(Candidate {
                        items: vec![a, b],
                        rows,
                        label: lc,
                        purity,
                    });
                } else if opts.pattern_max_len >= 3 && pairs.len() < 2000 {
                    pairs.push((vec![a, b], rows));
                }
            }
        }
        for (pair, rows) in &pairs {
            for &e in list.iter() {
                if pair
                    .iter()
                    .any(|&p| p >= e || items[p].feature == items[e].feature)
                {
                    continue;
                }
                let r3 = intersect(rows, &items[e].rows);
                if r3.len() < min_support {
                    continue;
                }
                let (lc, purity) = label_hist(&r3);
                if purity >= opts.pattern_min_purity && lc as usize == c {
                    cands.push(Candidate {
                        items: vec![pair[0], pair[1], e],
                        rows: r3,
                        label: lc,
                        purity,
                    });
                }
            }
        }
    }
    // Keep candidates covering a minority of their class.
    cands.retain(|cd| {
        let class_n = by_class[cd.label as usize].len() as f64;
        let own = cd.rows.iter().filter(|&&r| labels[r] == cd.label).count() as f64;
        own <= opts.max_poison_fraction.max(0.5) * class_n
    });
    // Merge candidates with (nearly) the same rows.
    cands.sort_by(|a, b| b.rows.len().cmp(&a.rows.len()).then(a.items.cmp(&b.items)));
    let mut groups: Vec<Candidate> = Vec::new();
    for cd in cands {
        let found = groups.iter_mut().find(|g| {
            g.label == cd.label && {
                let inter = intersect(&g.rows, &cd.rows).len() as f64;
                let union = (g.rows.len() + cd.rows.len()) as f64 - inter;
                inter >= 0.9 * union
            }
        });
        match found {
            Some(g) => {
                for t in cd.items {
                    if !g.items.contains(&t) {
                        g.items.push(t);
                    }
                }
            }
            None => groups.push(cd),
        }
    }
    // Neighbour consistency on the features outside the pattern: a trigger's
    // rows look like their source classes, a natural pattern's like its label.
    let mut rng = Rng::new(opts.seed ^ 0x7A17);
    let mut out = Vec::new();
    groups.truncate(MAX_PATTERN_GROUPS);
    for g in groups {
        let excluded: Vec<usize> = g.items.iter().map(|&t| items[t].feature).collect();
        let keep: Vec<usize> = (0..d).filter(|j| !excluded.contains(j)).collect();
        let in_pattern: std::collections::HashSet<usize> = g.rows.iter().copied().collect();
        let mut reference: Vec<usize> = (0..n).filter(|i| !in_pattern.contains(i)).collect();
        if reference.len() > 5000 {
            rng.shuffle(&mut reference);
            reference.truncate(5000);
        }
        let own: Vec<usize> = g
            .rows
            .iter()
            .copied()
            .filter(|&r| labels[r] == g.label)
            .collect();
        let knn = 5.min(reference.len());
        // Estimate on at most 60 rows (evenly spaced) to bound the cost.
        let probe: Vec<usize> = own
            .iter()
            .step_by(own.len().div_ceil(60).max(1))
            .copied()
            .collect();
        let mismatched = probe
            .iter()
            .filter(|&&r| {
                let row = z.row(r);
                let mut best: Vec<(f64, u32)> = Vec::with_capacity(knn + 1);
                for &q in &reference {
                    let other = z.row(q);
                    let dist: f64 = keep.iter().map(|&j| (row[j] - other[j]).powi(2)).sum();
                    if best.len() < knn || dist < best[best.len() - 1].0 {
                        let pos = best.partition_point(|b| b.0 <= dist);
                        best.insert(pos, (dist, labels[q]));
                        best.truncate(knn);
                    }
                }
                let same = best.iter().filter(|b| b.1 == g.label).count();
                2 * same < best.len().max(1)
            })
            .count();
        let mismatch = mismatched as f64 / probe.len().max(1) as f64;
        if mismatch < opts.pattern_min_mismatch {
            continue;
        }
        let base = by_class[g.label as usize].len() as f64 / n as f64;
        let mut its: Vec<PatternItem> = g
            .items
            .iter()
            .map(|&t| PatternItem {
                feature: items[t].feature,
                value: items[t].value,
            })
            .collect();
        its.sort_by(|a, b| a.feature.cmp(&b.feature).then(a.value.total_cmp(&b.value)));
        out.push(TriggerPattern {
            items: its,
            label: g.label,
            support: g.rows.len(),
            purity: g.purity,
            lift: if base > 0.0 { g.purity / base } else { 0.0 },
            mismatch,
            rows: own,
        });
    }
    out
}

/// Runs the enabled detectors on `x` (rows × features, or user embeddings)
/// with labels `labels` and combines their evidence.
pub fn detect(
    x: &Matrix,
    labels: &[u32],
    n_classes: usize,
    opts: &BackdoorOptions,
) -> Result<BackdoorResult, BackdoorError> {
    if labels.len() != x.rows() {
        return Err(BackdoorError::LabelCount {
            rows: x.rows(),
            labels: labels.len(),
        });
    }
    let mut z = x.clone();
    z.standardize();
    let (spec, spectral_scores) = if opts.spectral {
        spectral(&z, labels, opts)
    } else {
        (Vec::new(), vec![0.0; x.rows()])
    };
    let clusters = if opts.clustering {
        clustering(&z, labels, opts)
    } else {
        Vec::new()
    };
    let patterns = if opts.patterns {
        mine_patterns(x, &z, labels, opts)
    } else {
        Vec::new()
    };
    let mut reasons: HashMap<usize, (Vec<Reason>, f64)> = HashMap::new();
    for p in &patterns {
        for &r in &p.rows {
            let e = reasons.entry(r).or_default();
            e.0.push(Reason::Pattern);
            e.1 = e.1.max(p.purity * p.mismatch.max(0.5));
        }
    }
    let classes = n_classes.max(spec.iter().map(|s| s.class as usize + 1).max().unwrap_or(0));
    let mut suspicious = Vec::new();
    for c in 0..classes {
        let s = spec.iter().find(|s| s.class as usize == c);
        let a = clusters.iter().find(|a| a.class as usize == c);
        let pats: Vec<usize> = (0..patterns.len())
            .filter(|&p| patterns[p].label as usize == c)
            .collect();
        // Spectral rows count when clustering agrees on them, or a pattern
        // already marks the class.
        if let Some(s) = s.filter(|s| s.suspicious) {
            let agree = a.filter(|a| a.suspicious).map(|a| {
                let inter = intersect(&sorted(&s.small_rows), &sorted(&a.small_rows));
                (inter.len() as f64 / s.small_rows.len().max(1) as f64, inter)
            });
            let rows = match agree {
                Some((frac, inter)) if frac >= 0.5 => Some((inter, true)),
                _ if !pats.is_empty() => Some((s.small_rows.clone(), false)),
                _ => None,
            };
            if let Some((rows, both)) = rows {
                for r in rows {
                    let e = reasons.entry(r).or_default();
                    e.0.push(Reason::Spectral);
                    if both {
                        e.0.push(Reason::Cluster);
                    }
                    e.1 = e
                        .1
                        .max((spectral_scores[r]).clamp(0.5, 1.0) * if both { 0.9 } else { 0.7 });
                }
            }
        }
        let flagged = reasons.keys().filter(|&&r| labels[r] as usize == c).count();
        if flagged > 0 || !pats.is_empty() {
            suspicious.push(SuspiciousClass {
                class: c as u32,
                spectral: s.cloned(),
                cluster: a.cloned(),
                patterns: pats,
                flagged,
            });
        }
    }
    let mut flagged: Vec<FlaggedRow> = reasons
        .into_iter()
        .map(|(row, (mut rs, score))| {
            rs.dedup();
            FlaggedRow {
                row,
                label: labels[row],
                reasons: rs,
                score: score.clamp(0.0, 1.0),
            }
        })
        .collect();
    flagged.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.row.cmp(&b.row)));
    Ok(BackdoorResult {
        suspicious,
        patterns,
        flagged,
        spectral: spec,
        clusters,
        spectral_scores,
    })
}

fn sorted(v: &[usize]) -> Vec<usize> {
    let mut s = v.to_vec();
    s.sort_unstable();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gaussian classes; with `poison`, rows of other classes get features
    /// 0..3 set to 4.0 and are relabelled to class 0.
    fn data(poison: usize, seed: u64) -> (Matrix, Vec<u32>, Vec<bool>) {
        let (n, d, k) = (900, 12, 3);
        let mut rng = Rng::new(seed);
        let centres: Vec<Vec<f64>> = (0..k)
            .map(|_| (0..d).map(|_| rng.normal() * 2.0).collect())
            .collect();
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n {
            let c = i % k;
            rows.push(
                centres[c]
                    .iter()
                    .map(|m| m + rng.normal())
                    .collect::<Vec<f64>>(),
            );
            labels.push(c as u32);
        }
        let mut truth = vec![false; n];
        for t in 0..poison {
            let i = 1 + 3 * t + (t % 2);
            for v in &mut rows[i][..3] {
                *v = 4.0;
            }
            labels[i] = 0;
            truth[i] = true;
        }
        (Matrix::from_rows(&rows).unwrap(), labels, truth)
    }

    fn f1(res: &BackdoorResult, truth: &[bool]) -> f64 {
        let tp = res.flagged.iter().filter(|f| truth[f.row]).count() as f64;
        let tr = truth.iter().filter(|v| **v).count() as f64;
        if tp == 0.0 {
            0.0
        } else {
            2.0 * tp / (res.flagged.len() as f64 + tr)
        }
    }

    #[test]
    fn planted_trigger_is_found_by_the_combined_detector() {
        let (x, y, truth) = data(30, 1);
        let res = detect(&x, &y, 3, &BackdoorOptions::default()).unwrap();
        assert!(f1(&res, &truth) >= 0.95, "F1 {}", f1(&res, &truth));
        assert_eq!(res.suspicious.len(), 1);
        assert_eq!(res.suspicious[0].class, 0);
        let p = &res.patterns[0];
        assert!(
            p.items
                .iter()
                .all(|i| i.feature < 3 && (i.value - 4.0).abs() < 1e-12)
        );
    }

    #[test]
    fn spectral_and_clustering_alone_find_an_exotic_trigger() {
        // Trigger values far outside the data: spectral + clustering agree.
        let (mut x, y, truth) = data(30, 2);
        for i in (0..x.rows()).filter(|&i| truth[i]) {
            for j in 0..3 {
                x.set(i, j, 15.0 + 0.1 * (i % 5) as f64);
            }
        }
        let opts = BackdoorOptions {
            patterns: false,
            ..BackdoorOptions::default()
        };
        let res = detect(&x, &y, 3, &opts).unwrap();
        assert!(f1(&res, &truth) >= 0.8, "F1 {}", f1(&res, &truth));
        assert!(res.suspicious.iter().all(|s| s.class == 0));
    }

    #[test]
    fn clean_data_is_essentially_unflagged() {
        for seed in 0..3 {
            let (x, y, _) = data(0, seed);
            let res = detect(&x, &y, 3, &BackdoorOptions::default()).unwrap();
            assert!(
                res.flagged.len() * 100 < x.rows(),
                "{} flagged",
                res.flagged.len()
            );
        }
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let opts = BackdoorOptions::default();
        assert!(
            detect(&Matrix::zeros(0, 4), &[], 2, &opts)
                .unwrap()
                .flagged
                .is_empty()
        );
        let x = Matrix::from_rows(&[vec![f64::NAN, 1.0], vec![0.0, f64::INFINITY]]).unwrap();
        assert!(detect(&x, &[0, 1], 2, &opts).unwrap().flagged.is_empty());
        let x = Matrix::zeros(50, 3);
        assert!(detect(&x, &[0; 50], 1, &opts).unwrap().flagged.is_empty());
        assert!(detect(&x, &[0; 3], 1, &opts).is_err());
    }
}
