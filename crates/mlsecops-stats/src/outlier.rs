//! Outlier detectors for standardized tabular rows, and the combiner the
//! data guard reports from.
//!
//! - **Robust z-score** per column: `|x − median| / (1.4826 · MAD)`, the
//!   modified z-score of Iglewicz & Hoaglin (1993, "How to detect and handle
//!   outliers"); a row's largest `|z|` and its top columns *explain* a flag
//!   (which features drive it). It does not flag on its own: sparse columns
//!   (mostly zero, like image borders) have MAD 0 and give huge z to rows
//!   that are perfectly normal. Where MAD is 0 the mean absolute deviation
//!   (× 1.2533) and then the standard deviation stand in.
//! - **Isolation forest** (Liu, Ting & Zhou 2008, "Isolation Forest"): 100
//!   trees on subsamples of 256 rows, height limit `⌈log₂ 256⌉`, score
//!   `2^(−E[h(x)] / c(ψ))` with the unsuccessful-search correction `c(n)`.
//! - **kNN distance** (Ramaswamy, Rastogi & Shim 2000, "Efficient algorithms
//!   for mining outliers from large data sets"; mean over k as in Angiulli &
//!   Pizzuti 2002): the mean distance to the k nearest rows.
//! - **Small detached clusters**: a tight group of injected rows are each
//!   other's neighbours, so their kNN distances look normal. We join the kNN
//!   graph's edges that are not unusually long (single linkage cut at a
//!   robust high threshold, the DBSCAN idea of Ester et al. 1996 on the kNN
//!   graph), and take the connected components that are tiny both relative
//!   to `n` and to the component a typical row lives in. Such a component is
//!   suspicious only if it is also *far*: the distance from its members to
//!   the nearest non-member of a reference sample must exceed
//!   `cluster_gap` × the sample's typical k-th neighbour distance (the usual
//!   within-cluster spacing). A small legitimate class that borders others
//!   has a gap of about one spacing and is left alone; a far planted blob
//!   has a gap of many.
//!
//! **Decision rule (no contamination parameter).** Each flagging score `s`
//! (log kNN distance, isolation-forest score) is turned into an exceedance
//! `e = (s − median) / (cut · 1.4826 · MAD)`: `e ≥ 1` means the row is more
//! than `cut` robust standard deviations above the typical row. A row is
//! flagged when its kNN exceedance reaches 1 and the isolation forest agrees
//! at least halfway (`e ≥ 0.5`), or either exceedance alone reaches the
//! stricter `2`, or it belongs to a suspicious cluster. Medians and MADs
//! break down only beyond 50 % contamination, so the thresholds hold up with
//! the few percent of poison they are meant to find. The combined score is
//! `e / (1 + e)` of the deciding evidence, so `score ≥ 0.5` ⇔ flagged.

use serde::Serialize;

use crate::neighbors::{self, Knn, KnnOptions, Points};
use crate::{Matrix, Rng};

/// Parameters of [`detect`].
#[derive(Clone, Debug, Serialize)]
pub struct OutlierOptions {
    /// Neighbours for the kNN score and the cluster graph.
    pub k: usize,
    /// Isolation-forest trees.
    pub trees: usize,
    /// Isolation-forest subsample size ψ.
    pub subsample: usize,
    /// Robust standard deviations above the median a score must reach.
    pub cut: f64,
    /// Largest suspicious cluster, as a fraction of the rows.
    pub max_cluster_frac: f64,
    /// Smallest suspicious cluster (smaller groups are point outliers).
    pub min_cluster: usize,
    /// Gap a suspicious cluster must keep from the rest, in typical k-th
    /// neighbour distances.
    pub cluster_gap: f64,
    /// Robust |z| from which a column is named as driving a flag.
    pub z_report: f64,
    /// Driving columns reported per flagged row.
    pub top_columns: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Worker threads (0 = all cores).
    pub threads: usize,
}

impl Default for OutlierOptions {
    fn default() -> Self {
        Self {
            k: 10,
            trees: 100,
            subsample: 256,
            cut: 3.5,
            max_cluster_frac: 0.1,
            min_cluster: 3,
            cluster_gap: 1.75,
            z_report: 3.5,
            top_columns: 3,
            seed: 0x6f75_746c_6965_7273,
            threads: 0,
        }
    }
}

/// Which detector supports a flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Far from its k nearest rows.
    KnnDistance,
    /// Isolated in few random splits.
    IsolationForest,
    /// Member of a small cluster far from the rest of the data.
    SmallCluster,
    /// At least one column beyond the robust z threshold.
    RobustZ,
}

/// One column's robust z-score for a row.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ColumnZ {
    /// Column index.
    pub column: usize,
    /// Robust z (signed).
    pub z: f64,
}

/// A flagged row and why.
#[derive(Clone, Debug, Serialize)]
pub struct FlaggedRow {
    /// Row index.
    pub row: usize,
    /// Combined score in [0, 1] (≥ 0.5).
    pub score: f64,
    /// Detectors that support the flag.
    pub reasons: Vec<Reason>,
    /// Columns with the largest robust |z|, largest first.
    pub columns: Vec<ColumnZ>,
}

/// A small group of rows far from the rest of the data.
#[derive(Clone, Debug, Serialize)]
pub struct SuspiciousCluster {
    /// Member rows, ascending.
    pub rows: Vec<usize>,
    /// Median distance from members to the nearest non-member (reference
    /// sample), in typical k-th neighbour distances.
    pub gap_ratio: f64,
}

/// Result of [`detect`].
#[derive(Clone, Debug, Serialize)]
pub struct OutlierResult {
    /// Combined score per row in [0, 1]; flagged ⇔ `score ≥ 0.5`.
    pub scores: Vec<f64>,
    /// Flagged rows, ascending.
    pub flagged: Vec<FlaggedRow>,
    /// Suspicious clusters found.
    pub clusters: Vec<SuspiciousCluster>,
    /// Mean distance to the k nearest rows, per row.
    pub knn_score: Vec<f64>,
    /// Isolation-forest score per row.
    pub iforest_score: Vec<f64>,
    /// Largest robust |z| per row.
    pub max_abs_z: Vec<f64>,
}

/// Runs every detector and combines them (see the module doc).
#[must_use]
pub fn detect(m: &Matrix, opts: &OutlierOptions) -> OutlierResult {
    let g = neighbors::knn_with(
        m,
        opts.k,
        &KnnOptions {
            threads: opts.threads,
            ..KnnOptions::default()
        },
    );
    detect_with_knn(m, &g, opts)
}

/// [`detect`] with a kNN graph the caller already has (shared with the
/// near-duplicate search).
#[must_use]
pub fn detect_with_knn(m: &Matrix, g: &Knn, opts: &OutlierOptions) -> OutlierResult {
    let n = m.rows();
    let p = Points::from_matrix(m);
    let knn_score = knn_scores(g);
    let forest = IsolationForest::fit_points(&p, opts.trees, opts.subsample, opts.seed);
    let iforest_score = forest.score_points(&p, opts.threads);
    let rz = RobustZ::fit(m);
    let max_abs_z = rz.max_abs(m);
    let clusters = small_clusters_points(&p, g, opts);

    let logk: Vec<f64> = knn_score.iter().map(|&s| (s + 1e-9).ln()).collect();
    let e_knn = exceedance(&logk, opts.cut);
    let e_if = exceedance(&iforest_score, opts.cut);
    let mut cluster_e = vec![0.0f64; n];
    for c in &clusters {
        let e = (c.gap_ratio / opts.cluster_gap.max(1e-9)).max(1.0);
        for &r in &c.rows {
            cluster_e[r] = cluster_e[r].max(e);
        }
    }
    let mut scores = vec![0.0; n];
    let mut flagged = Vec::new();
    for i in 0..n {
        let (ek, ei, ec) = (e_knn[i], e_if[i], cluster_e[i]);
        // Agreement of both point detectors, or one of them alone far out.
        let point = ek.min(2.0 * ei).max(ek / 2.0).max(ei / 2.0);
        let e = point.max(ec);
        let score = if e > 0.0 { e / (1.0 + e) } else { 0.0 };
        scores[i] = score;
        if e >= 1.0 {
            let mut reasons = Vec::new();
            if ek >= 1.0 || (point >= 1.0 && ek >= 0.5) {
                reasons.push(Reason::KnnDistance);
            }
            if ei >= 1.0 || (point >= 1.0 && ei >= 0.5) {
                reasons.push(Reason::IsolationForest);
            }
            if ec >= 1.0 {
                reasons.push(Reason::SmallCluster);
            }
            let columns = rz.driving_columns(m.row(i), opts.top_columns);
            if columns.first().is_some_and(|c| c.z.abs() >= opts.z_report) {
                reasons.push(Reason::RobustZ);
            }
            flagged.push(FlaggedRow {
                row: i,
                score,
                reasons,
                columns,
            });
        }
    }
    OutlierResult {
        scores,
        flagged,
        clusters,
        knn_score,
        iforest_score,
        max_abs_z,
    }
}

/// `(s − median) / (cut · 1.4826 · MAD)` per value, clamped at 0 below the
/// median; a floor on the MAD keeps constant scores from flagging.
fn exceedance(s: &[f64], cut: f64) -> Vec<f64> {
    let (med, mad) = median_mad(s);
    let spread = (cut * 1.4826 * mad).max(1e-9 * (1.0 + med.abs()));
    s.iter().map(|&x| ((x - med) / spread).max(0.0)).collect()
}

/// Median and median absolute deviation of the finite values.
fn median_mad(s: &[f64]) -> (f64, f64) {
    let mut v: Vec<f64> = s.iter().copied().filter(|x| x.is_finite()).collect();
    let med = median_in_place(&mut v);
    for x in &mut v {
        *x = (*x - med).abs();
    }
    (med, median_in_place(&mut v))
}

fn median_in_place(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let (_, &mut hi, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    if v.len() % 2 == 1 {
        hi
    } else {
        let lo = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        f64::midpoint(lo, hi)
    }
}

/// Mean distance to the k nearest rows, per row (0 when `k == 0`).
#[must_use]
pub fn knn_scores(g: &Knn) -> Vec<f64> {
    (0..g.n).map(|i| f64::from(g.mean_distance(i))).collect()
}

// ---------------------------------------------------------------------------
// Robust z

/// Per-column median and robust scale.
#[derive(Clone, Debug, Serialize)]
pub struct RobustZ {
    /// Column medians.
    pub center: Vec<f64>,
    /// Column scales: `1.4826 · MAD`, else `1.2533 · mean |x − median|`,
    /// else 1.
    pub scale: Vec<f64>,
}

impl RobustZ {
    /// Fits medians and scales; non-finite values read as 0.
    #[must_use]
    pub fn fit(m: &Matrix) -> Self {
        let (n, d) = (m.rows(), m.cols());
        let mut center = Vec::with_capacity(d);
        let mut scale = Vec::with_capacity(d);
        let mut col = vec![0.0; n];
        for j in 0..d {
            for (i, c) in col.iter_mut().enumerate() {
                *c = finite(m.get(i, j));
            }
            let med = median_in_place(&mut col);
            let mut mean_ad = 0.0;
            for c in &mut col {
                *c = (*c - med).abs();
                mean_ad += *c;
            }
            mean_ad /= n.max(1) as f64;
            let mad = median_in_place(&mut col);
            let s = if mad > 1e-12 {
                1.4826 * mad
            } else if mean_ad > 1e-12 {
                1.2533 * mean_ad
            } else {
                1.0
            };
            center.push(med);
            scale.push(s);
        }
        Self { center, scale }
    }

    /// Robust z of one value in column `j`.
    #[must_use]
    pub fn z(&self, j: usize, x: f64) -> f64 {
        (finite(x) - self.center[j]) / self.scale[j]
    }

    /// Largest |z| of every row.
    #[must_use]
    pub fn max_abs(&self, m: &Matrix) -> Vec<f64> {
        (0..m.rows())
            .map(|i| {
                m.row(i)
                    .iter()
                    .enumerate()
                    .map(|(j, &x)| self.z(j, x).abs())
                    .fold(0.0, f64::max)
            })
            .collect()
    }

    /// The `top` columns of a row by |z|, largest first.
    #[must_use]
    pub fn driving_columns(&self, row: &[f64], top: usize) -> Vec<ColumnZ> {
        let mut v: Vec<ColumnZ> = row
            .iter()
            .enumerate()
            .take(self.center.len())
            .map(|(column, &x)| ColumnZ {
                column,
                z: self.z(column, x),
            })
            .collect();
        v.sort_by(|a, b| {
            b.z.abs()
                .total_cmp(&a.z.abs())
                .then(a.column.cmp(&b.column))
        });
        v.truncate(top);
        v
    }
}

fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

// ---------------------------------------------------------------------------
// Isolation forest

/// A node of an isolation tree: an internal split or a leaf.
#[derive(Clone, Copy, Debug)]
struct Node {
    /// Split column, or `u32::MAX` for a leaf.
    feature: u32,
    /// Split value (internal) or path length `depth + c(size)` (leaf).
    value: f32,
    /// Index of the left child; the right child follows it.
    left: u32,
}

/// An isolation forest (Liu, Ting & Zhou 2008).
#[derive(Clone, Debug)]
pub struct IsolationForest {
    trees: Vec<Vec<Node>>,
    c_psi: f64,
}

/// Average path length of an unsuccessful BST search among `n` items.
fn c_factor(n: usize) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    let n = n as f64;
    2.0 * ((n - 1.0).ln() + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n
}

impl IsolationForest {
    /// Fits `trees` trees on subsamples of `subsample` rows.
    #[must_use]
    pub fn fit(m: &Matrix, trees: usize, subsample: usize, seed: u64) -> Self {
        Self::fit_points(&Points::from_matrix(m), trees, subsample, seed)
    }

    fn fit_points(p: &Points, trees: usize, subsample: usize, seed: u64) -> Self {
        let psi = subsample.clamp(2, p.n.max(2)).min(p.n);
        let limit = (psi.max(2) as f64).log2().ceil() as usize;
        let mut rng = Rng::new(seed);
        let mut all = Vec::with_capacity(trees);
        if p.n == 0 || p.d == 0 {
            return Self {
                trees: Vec::new(),
                c_psi: c_factor(psi),
            };
        }
        let mut pool: Vec<u32> = (0..p.n as u32).collect();
        for _ in 0..trees {
            // Partial Fisher–Yates: the first ψ entries are the subsample.
            for s in 0..psi {
                let r = s + rng.below(p.n - s);
                pool.swap(s, r);
            }
            let mut sample = pool[..psi].to_vec();
            let mut nodes = Vec::with_capacity(2 * psi);
            nodes.push(Node {
                feature: u32::MAX,
                value: 0.0,
                left: 0,
            });
            // (node index, range in `sample`, depth)
            let mut stack = vec![(0usize, 0usize, psi, 0usize)];
            while let Some((at, lo, hi, depth)) = stack.pop() {
                let size = hi - lo;
                let split = if depth < limit && size > 1 {
                    choose_split(p, &sample[lo..hi], &mut rng)
                } else {
                    None
                };
                let Some((f, v)) = split else {
                    nodes[at] = Node {
                        feature: u32::MAX,
                        value: (depth as f64 + c_factor(size)) as f32,
                        left: 0,
                    };
                    continue;
                };
                let seg = &mut sample[lo..hi];
                let mut w = 0;
                for r in 0..seg.len() {
                    if p.row(seg[r] as usize)[f] < v {
                        seg.swap(w, r);
                        w += 1;
                    }
                }
                let left = nodes.len();
                nodes.push(Node {
                    feature: u32::MAX,
                    value: 0.0,
                    left: 0,
                });
                nodes.push(Node {
                    feature: u32::MAX,
                    value: 0.0,
                    left: 0,
                });
                nodes[at] = Node {
                    feature: f as u32,
                    value: v,
                    left: left as u32,
                };
                stack.push((left + 1, lo + w, hi, depth + 1));
                stack.push((left, lo, lo + w, depth + 1));
            }
            all.push(nodes);
        }
        Self {
            trees: all,
            c_psi: c_factor(psi),
        }
    }

    /// Anomaly score in [0, 1] of every row (about 0.5 for ordinary rows,
    /// towards 1 for isolated ones).
    #[must_use]
    pub fn score(&self, m: &Matrix, threads: usize) -> Vec<f64> {
        self.score_points(&Points::from_matrix(m), threads)
    }

    fn score_points(&self, p: &Points, threads: usize) -> Vec<f64> {
        let n = p.n;
        let mut out = vec![0.0f64; n];
        if self.trees.is_empty() || self.c_psi <= 0.0 {
            out.fill(0.5);
            return out;
        }
        let mut dummy = vec![0u8; n];
        let norm = self.trees.len() as f64 * self.c_psi;
        let threads = neighbors::thread_count(threads);
        neighbors::par_rows(&mut out, &mut dummy, 1, threads, |first, oc, _| {
            // Blocks of rows against one tree at a time: the tree and the
            // block both stay in cache.
            const BLOCK: usize = 512;
            for bs in (0..oc.len()).step_by(BLOCK) {
                let be = (bs + BLOCK).min(oc.len());
                for t in &self.trees {
                    for (r, o) in oc[bs..be].iter_mut().enumerate() {
                        let x = p.row(first + bs + r);
                        let mut at = 0usize;
                        loop {
                            let nd = t[at];
                            if nd.feature == u32::MAX {
                                *o += f64::from(nd.value);
                                break;
                            }
                            at = nd.left as usize + usize::from(x[nd.feature as usize] >= nd.value);
                        }
                    }
                }
                for o in &mut oc[bs..be] {
                    *o = (-*o / norm).exp2();
                }
            }
        });
        out
    }
}

/// A random column with spread in the sample and a uniform split inside
/// its range; `None` when every column is constant there.
fn choose_split(p: &Points, rows: &[u32], rng: &mut Rng) -> Option<(usize, f32)> {
    let d = p.d;
    let start = rng.below(d);
    for off in 0..d {
        let f = (start + off) % d;
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &i in rows {
            let v = p.row(i as usize)[f];
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if hi > lo {
            let v = lo + (hi - lo) * rng.next_f64() as f32;
            // Keep the split strictly inside so both sides are non-empty.
            let v = if v <= lo { f32::midpoint(lo, hi) } else { v };
            return Some((f, v));
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Small detached clusters

/// Small clusters far from the rest (see the module doc), from a kNN
/// graph of `m`.
#[must_use]
pub fn small_clusters(m: &Matrix, g: &Knn, opts: &OutlierOptions) -> Vec<SuspiciousCluster> {
    small_clusters_points(&Points::from_matrix(m), g, opts)
}

/// Union-find with path halving and union by size.
pub(crate) struct Dsu {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl Dsu {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    pub(crate) fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] as usize != x {
            let gp = self.parent[self.parent[x] as usize];
            self.parent[x] = gp;
            x = gp as usize;
        }
        x
    }

    pub(crate) fn union(&mut self, a: usize, b: usize) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a] < self.size[b] || (self.size[a] == self.size[b] && a > b) {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b] = a as u32;
        self.size[a] += self.size[b];
    }

    /// Groups (ascending members, ordered by first member) of size ≥ `min`.
    pub(crate) fn groups(&mut self, min: usize) -> Vec<Vec<usize>> {
        let n = self.parent.len();
        let mut slot = vec![u32::MAX; n];
        let mut out: Vec<Vec<usize>> = Vec::new();
        for i in 0..n {
            let r = self.find(i);
            if (self.size[r] as usize) < min.max(1) {
                continue;
            }
            if slot[r] == u32::MAX {
                slot[r] = out.len() as u32;
                out.push(Vec::new());
            }
            out[slot[r] as usize].push(i);
        }
        out
    }
}

const REFERENCE: usize = 2048;
const MEMBER_SAMPLE: usize = 32;
const MAX_CANDIDATES: usize = 32;

fn small_clusters_points(p: &Points, g: &Knn, opts: &OutlierOptions) -> Vec<SuspiciousCluster> {
    let n = p.n;
    if n < 4 || g.k == 0 || g.n != n {
        return Vec::new();
    }
    // 1. Single linkage over kNN edges no longer than a robust cut.
    let logd: Vec<f64> = (0..n)
        .map(|i| (f64::from(g.kth_distance(i)) + 1e-9).ln())
        .collect();
    let (med, mad) = median_mad(&logd);
    let tau = (med + 3.0 * 1.4826 * mad).exp() as f32;
    let mut dsu = Dsu::new(n);
    for i in 0..n {
        for (&j, &d) in g.neighbors(i).iter().zip(g.distances(i)) {
            if d <= tau && (j as usize) < n {
                dsu.union(i, j as usize);
            }
        }
    }
    let comps = dsu.groups(1);
    // 2. Tiny relative to n and to the component of a typical row.
    let mut sizes: Vec<usize> = comps.iter().map(Vec::len).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let mut covered = 0;
    let mut typical = n;
    for &s in &sizes {
        covered += s;
        if 2 * covered >= n {
            typical = s;
            break;
        }
    }
    let max_size = ((opts.max_cluster_frac * n as f64) as usize).min(typical / 2);
    let mut cand: Vec<&Vec<usize>> = comps
        .iter()
        .filter(|c| c.len() >= opts.min_cluster.max(2) && c.len() <= max_size)
        .collect();
    cand.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    cand.truncate(MAX_CANDIDATES);
    if cand.is_empty() {
        return Vec::new();
    }
    // 3. Gap to a reference sample, in its typical k-th neighbour distance.
    let mut rng = Rng::new(opts.seed ^ 0x5eed);
    let mut refs: Vec<usize> = (0..n).collect();
    if n > REFERENCE {
        for s in 0..REFERENCE {
            let r = s + rng.below(n - s);
            refs.swap(s, r);
        }
        refs.truncate(REFERENCE);
        refs.sort_unstable();
    }
    let kr = opts.k.clamp(1, refs.len() - 1);
    let mut kth = Vec::with_capacity(refs.len());
    let mut buf = Vec::with_capacity(refs.len());
    for &a in &refs {
        buf.clear();
        buf.extend(
            refs.iter()
                .filter(|&&b| b != a)
                .map(|&b| neighbors::sq_dist(p.row(a), p.row(b))),
        );
        let (_, v, _) = buf.select_nth_unstable_by(kr - 1, f32::total_cmp);
        kth.push(f64::from(v.sqrt()));
    }
    let (scale, _) = median_mad(&kth);
    if scale <= 0.0 {
        return Vec::new();
    }
    let mut comp_of = vec![u32::MAX; n];
    let mut out = Vec::new();
    for (ci, c) in cand.iter().enumerate() {
        for &r in *c {
            comp_of[r] = ci as u32;
        }
        let step = c.len().div_ceil(MEMBER_SAMPLE).max(1);
        let mut gaps: Vec<f64> = c
            .iter()
            .step_by(step)
            .map(|&a| {
                refs.iter()
                    .filter(|&&b| comp_of[b] != ci as u32)
                    .map(|&b| neighbors::sq_dist(p.row(a), p.row(b)))
                    .fold(f32::INFINITY, f32::min)
            })
            .map(|d| f64::from(d.sqrt()))
            .collect();
        let gap = median_in_place(&mut gaps);
        let ratio = gap / scale;
        if ratio.is_finite() && ratio >= opts.cluster_gap {
            out.push(SuspiciousCluster {
                rows: (*c).clone(),
                gap_ratio: ratio,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f1(res: &OutlierResult, truth: &[bool]) -> (f64, f64) {
        let flags: Vec<usize> = res.flagged.iter().map(|f| f.row).collect();
        let tp = flags.iter().filter(|&&i| truth[i]).count() as f64;
        let pos = truth.iter().filter(|&&t| t).count() as f64;
        let fp = flags.len() as f64 - tp;
        let neg = truth.len() as f64 - pos;
        (
            2.0 * tp / (flags.len() as f64 + pos).max(1.0),
            fp / neg.max(1.0),
        )
    }

    /// Gaussian blobs (`centers` at scale 3), then `extra` rows from `inject`.
    fn data(
        n: usize,
        d: usize,
        centers: usize,
        extra: usize,
        seed: u64,
        mut inject: impl FnMut(&mut Rng) -> Vec<f64>,
    ) -> (Matrix, Vec<bool>) {
        let mut rng = Rng::new(seed);
        let cs: Vec<Vec<f64>> = (0..centers)
            .map(|_| {
                (0..d)
                    .map(|_| if centers > 1 { rng.normal() * 3.0 } else { 0.0 })
                    .collect()
            })
            .collect();
        let mut rows = Vec::new();
        for i in 0..n {
            rows.push(cs[i % centers].iter().map(|&c| c + rng.normal()).collect());
        }
        for _ in 0..extra {
            rows.push(inject(&mut rng));
        }
        let mut m = Matrix::from_rows(&rows).unwrap();
        m.standardize();
        let truth = (0..n + extra).map(|i| i >= n).collect();
        (m, truth)
    }

    #[test]
    fn scattered_injections_f1() {
        for (centers, seed) in [(1, 1), (5, 2)] {
            let (m, truth) = data(1440, 8, centers, 60, seed, |r| {
                (0..8).map(|_| (r.next_f64() - 0.5) * 24.0).collect()
            });
            let res = detect(&m, &OutlierOptions::default());
            let (f, fpr) = f1(&res, &truth);
            assert!(
                f >= 0.85 && fpr < 0.01,
                "centers {centers}: F1 {f} FPR {fpr}"
            );
        }
    }

    #[test]
    fn clustered_injection_f1_and_cluster_report() {
        for (centers, seed) in [(1, 3), (5, 4)] {
            let mut center = None;
            let (m, truth) = data(1440, 8, centers, 60, seed, |r| {
                let c = center.get_or_insert_with(|| {
                    (0..8).map(|_| r.normal() * 3.0 + 6.0).collect::<Vec<f64>>()
                });
                c.iter().map(|&x| x + r.normal() * 0.1).collect()
            });
            let res = detect(&m, &OutlierOptions::default());
            let (f, fpr) = f1(&res, &truth);
            assert!(
                f >= 0.85 && fpr < 0.01,
                "centers {centers}: F1 {f} FPR {fpr}"
            );
            assert_eq!(res.clusters.len(), 1);
            assert_eq!(res.clusters[0].rows, (1440..1500).collect::<Vec<_>>());
            let r = res.flagged.iter().find(|f| f.row == 1450).unwrap();
            assert!(r.reasons.contains(&Reason::SmallCluster));
        }
    }

    #[test]
    fn clean_gaussian_has_few_false_positives() {
        let (m, _) = data(2000, 16, 1, 0, 5, |_| Vec::new());
        let res = detect(&m, &OutlierOptions::default());
        assert!(res.flagged.len() < 20, "{} flags", res.flagged.len());
        assert!(res.clusters.is_empty());
        assert!(res.scores.iter().all(|s| (0.0..1.0).contains(s)));
    }

    #[test]
    fn legitimate_small_class_next_to_others_is_not_a_cluster() {
        // 4 % of rows in their own tighter class, about one class-width
        // from the bulk of the data.
        let (m, _) = data(1440, 8, 1, 60, 6, |r| {
            (0..8)
                .map(|j| {
                    if j == 0 {
                        3.0 + r.normal() * 0.5
                    } else {
                        r.normal() * 0.5
                    }
                })
                .collect()
        });
        let res = detect(&m, &OutlierOptions::default());
        assert!(
            res.clusters.is_empty(),
            "{:?}",
            res.clusters.iter().map(|c| c.gap_ratio).collect::<Vec<_>>()
        );
        assert!(res.flagged.iter().filter(|f| f.row >= 1440).count() < 6);
    }

    #[test]
    fn robust_z_names_the_driving_column_and_handles_zero_mad() {
        let mut rows: Vec<Vec<f64>> = (0..100)
            .map(|i| vec![f64::from(i % 10), 0.0, 1.0])
            .collect();
        rows[7] = vec![4.0, 0.0, 50.0];
        rows[8] = vec![4.0, 3.0, 1.0];
        let m = Matrix::from_rows(&rows).unwrap();
        let rz = RobustZ::fit(&m);
        let top = rz.driving_columns(m.row(7), 2);
        assert_eq!(top[0].column, 2);
        assert!(top[0].z > 10.0);
        assert!(rz.max_abs(&m).iter().all(|z| z.is_finite()));
        assert!(rz.z(1, 3.0) > 3.5);
    }

    #[test]
    fn isolation_forest_scores_far_points_high() {
        assert!((c_factor(256) - 10.2448).abs() < 1e-3);
        assert!(c_factor(1).abs() < f64::EPSILON);
        let (m, _) = data(500, 4, 1, 1, 7, |_| vec![30.0; 4]);
        let s = IsolationForest::fit(&m, 100, 256, 1).score(&m, 2);
        assert!(s[500] > 0.7, "{}", s[500]);
        let mut sorted = s.clone();
        sorted.sort_by(f64::total_cmp);
        assert!(sorted[250] < 0.55 && sorted[250] > 0.3);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let opts = OutlierOptions::default();
        for m in [
            Matrix::zeros(0, 0),
            Matrix::zeros(0, 4),
            Matrix::zeros(1, 4),
            Matrix::zeros(5, 0),
            Matrix::zeros(50, 3),
            Matrix::from_rows(&[
                vec![f64::NAN, 1.0],
                vec![f64::INFINITY, 2.0],
                vec![0.0, 3.0],
            ])
            .unwrap(),
        ] {
            let res = detect(&m, &opts);
            assert_eq!(res.scores.len(), m.rows());
            assert!(res.scores.iter().all(|s| s.is_finite()));
        }
        // All-identical rows: nothing stands out.
        assert!(detect(&Matrix::zeros(50, 3), &opts).flagged.is_empty());
    }

    #[test]
    fn deterministic_for_a_seed() {
        let (m, _) = data(300, 4, 2, 10, 8, |r| {
            (0..4).map(|_| r.normal() * 8.0).collect()
        });
        let a = detect(&m, &OutlierOptions::default());
        let b = detect(
            &m,
            &OutlierOptions {
                threads: 1,
                ..OutlierOptions::default()
            },
        );
        assert_eq!(a.scores, b.scores);
    }
}
