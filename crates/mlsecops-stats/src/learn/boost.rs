//! Histogram gradient-boosted trees with the softmax loss (Friedman, "Greedy
//! function approximation: a gradient boosting machine", 2001; histogram
//! splits and best-first growth as LightGBM, Ke et al., NeurIPS 2017).
//!
//! Each feature is cut once into at most `max_bins` (≤ 255) quantile bins
//! from the training rows; every boosting round fits one regression tree per
//! class to the Newton step of the multinomial deviance (gradient `p − y`,
//! hessian `K/(K−1)·p(1−p)`), growing the leaf with the largest gain first
//! and building each smaller child's histogram while the larger one comes
//! from subtraction. A seeded validation slice (10 % of the training rows)
//! stops boosting when its log-loss stops improving and the model keeps the
//! best round. Non-finite feature values count as 0.

use serde::Serialize;

use super::{Classifier, LearnError, check_labels, check_rows, par_chunks, softmax_in_place};
use crate::{Matrix, Rng};

/// Settings for [`BoostedTrees`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoostOptions {
    /// Maximum boosting rounds (each adds one tree per class).
    pub max_rounds: usize,
    /// Shrinkage applied to every leaf value.
    pub learning_rate: f64,
    /// Maximum leaves per tree.
    pub max_leaves: usize,
    /// Maximum tree depth.
    pub max_depth: usize,
    /// Minimum training rows in a leaf.
    pub min_samples_leaf: usize,
    /// L2 penalty on leaf values.
    pub l2: f64,
    /// Quantile bins per feature (2..=255).
    pub max_bins: usize,
    /// Fraction of training rows held out for early stopping (0 disables;
    /// also disabled below 100 training rows).
    pub validation_fraction: f64,
    /// Stop after this many rounds without validation improvement.
    pub patience: usize,
    /// Seed for the validation slice.
    pub seed: u64,
    /// Threads one fit may use (0 = 1; trees of one round run in parallel).
    pub threads: usize,
}

impl Default for BoostOptions {
    fn default() -> Self {
        Self {
            max_rounds: 200,
            learning_rate: 0.1,
            max_leaves: 15,
            max_depth: 8,
            min_samples_leaf: 10,
            l2: 1.0,
            max_bins: 64,
            validation_fraction: 0.1,
            patience: 10,
            seed: 0,
            threads: 1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Node {
    /// Split feature, or `u32::MAX` for a leaf.
    feature: u32,
    /// Rows with bin ≤ this go left.
    bin: u8,
    left: u32,
    right: u32,
    value: f64,
}

const LEAF: u32 = u32::MAX;

/// Per-feature quantile cut points.
#[derive(Debug, Clone, Default)]
struct Binner {
    edges: Vec<Vec<f64>>,
}

fn finite_or_zero(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

impl Binner {
    fn fit(x: &Matrix, rows: &[usize], max_bins: usize) -> Self {
        let max_bins = max_bins.clamp(2, 255);
        // A strided sample keeps binning O(sample · log sample).
        let stride = (rows.len() / 200_000).max(1);
        let edges = (0..x.cols())
            .map(|j| {
                let mut v: Vec<f64> = rows
                    .iter()
                    .step_by(stride)
                    .map(|&i| finite_or_zero(x.get(i, j)))
                    .collect();
                v.sort_unstable_by(f64::total_cmp);
                let mut distinct = v.clone();
                distinct.dedup();
                if distinct.len() <= max_bins {
                    distinct.pop();
                    distinct
                } else {
                    let mut e: Vec<f64> = (1..max_bins)
                        .map(|b| v[(b * v.len() / max_bins).min(v.len() - 1)])
                        .collect();
                    e.dedup();
                    if e.last() == v.last() {
                        e.pop();
                    }
                    e
                }
            })
            .collect();
        Self { edges }
    }

    fn bin(&self, j: usize, v: f64) -> u8 {
        let v = finite_or_zero(v);
        self.edges[j].partition_point(|&e| e < v) as u8
    }

    fn n_bins(&self, j: usize) -> usize {
        self.edges[j].len() + 1
    }
}

/// Histogram-based gradient-boosted trees for multi-class probabilities.
#[derive(Debug, Clone)]
pub struct BoostedTrees {
    opts: BoostOptions,
    k: usize,
    d: usize,
    binner: Binner,
    init: Vec<f64>,
    /// `rounds × k` trees, round-major.
    trees: Vec<Vec<Node>>,
}

#[derive(Clone, Copy, Default)]
struct Bin {
    g: f64,
    h: f64,
    n: u32,
}

struct Grow<'a> {
    /// Column-major binned training data, `d × n`.
    binned: &'a [u8],
    n: usize,
    offsets: &'a [usize],
    n_bins: &'a [usize],
    opts: &'a BoostOptions,
}

struct Leaf {
    node: usize,
    rows: Vec<u32>,
    hist: Vec<Bin>,
    depth: usize,
    split: Option<(f64, usize, u8)>,
}

impl Grow<'_> {
    fn hist(&self, rows: &[u32], g: &[f64], h: &[f64]) -> Vec<Bin> {
        let total = self.offsets.last().copied().unwrap_or(0);
        let mut hist = vec![Bin::default(); total];
        for (j, &off) in self.offsets[..self.n_bins.len()].iter().enumerate() {
            let col = &self.binned[j * self.n..(j + 1) * self.n];
            let hj = &mut hist[off..off + self.n_bins[j]];
            for &r in rows {
                let r = r as usize;
                let b = &mut hj[col[r] as usize];
                b.g += g[r];
                b.h += h[r];
                b.n += 1;
            }
        }
        hist
    }

    /// Best (gain, feature, bin) split of a leaf, if any beats zero gain.
    fn best_split(&self, hist: &[Bin], rows: usize) -> Option<(f64, usize, u8)> {
        let lam = self.opts.l2.max(0.0);
        let min_leaf = self.opts.min_samples_leaf.max(1) as u32;
        let mut best: Option<(f64, usize, u8)> = None;
        for (j, &nb) in self.n_bins.iter().enumerate() {
            let hj = &hist[self.offsets[j]..self.offsets[j] + nb];
            let (gt, ht) = hj.iter().fold((0.0, 0.0), |(g, h), b| (g + b.g, h + b.h));
            let parent = gt * gt / (ht + lam);
            let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0u32);
            for (b, bin) in hj.iter().enumerate().take(nb.saturating_sub(1)) {
                gl += bin.g;
                hl += bin.h;
                nl += bin.n;
                let nr = rows as u32 - nl;
                if nl < min_leaf {
                    continue;
                }
                if nr < min_leaf {
                    break;
                }
                let (gr, hr) = (gt - gl, ht - hl);
                if hl < 1e-3 || hr < 1e-3 {
                    continue;
                }
                let gain = gl * gl / (hl + lam) + gr * gr / (hr + lam) - parent;
                if gain > 1e-12 && best.is_none_or(|(bg, _, _)| gain > bg) {
                    best = Some((gain, j, b as u8));
                }
            }
        }
        best
    }

    fn leaf_value(&self, hist: &[Bin]) -> f64 {
        let nb = self.n_bins.first().copied().unwrap_or(0);
        let (g, h) = hist[..nb]
            .iter()
            .fold((0.0, 0.0), |(g, h), b| (g + b.g, h + b.h));
        -g / (h + self.opts.l2.max(0.0)) * self.opts.learning_rate
    }

    /// Grows one tree on `rows`; returns the nodes and, per leaf, its rows
    /// and value (to update the training scores without re-traversal).
    fn tree(&self, rows: Vec<u32>, g: &[f64], h: &[f64]) -> (Vec<Node>, Vec<(Vec<u32>, f64)>) {
        let mut nodes = vec![Node {
            feature: LEAF,
            bin: 0,
            left: 0,
            right: 0,
            value: 0.0,
        }];
        let hist = self.hist(&rows, g, h);
        let split = self.best_split(&hist, rows.len());
        let mut open = vec![Leaf {
            node: 0,
            rows,
            hist,
            depth: 0,
            split,
        }];
        let mut closed: Vec<Leaf> = Vec::new();
        while open.len() + closed.len() < self.opts.max_leaves.max(1) {
            // Best-first: the open leaf with the largest gain.
            let Some(pos) = open
                .iter()
                .enumerate()
                .filter_map(|(p, l)| l.split.map(|(gain, _, _)| (p, gain)))
                .fold(None, |b: Option<(usize, f64)>, (p, gain)| match b {
                    Some((_, bg)) if bg >= gain => b,
                    _ => Some((p, gain)),
                })
                .map(|(p, _)| p)
            else {
                break;
            };
            let leaf = open.swap_remove(pos);
            let Some((_, j, b)) = leaf.split else {
                closed.push(leaf);
                continue;
            };
            let col = &self.binned[j * self.n..(j + 1) * self.n];
            let (lr, rr): (Vec<u32>, Vec<u32>) =
                leaf.rows.iter().partition(|&&r| col[r as usize] <= b);
            let small_is_left = lr.len() <= rr.len();
            let small = self.hist(if small_is_left { &lr } else { &rr }, g, h);
            let large: Vec<Bin> = leaf
                .hist
                .iter()
                .zip(&small)
                .map(|(p, s)| Bin {
                    g: p.g - s.g,
                    h: p.h - s.h,
                    n: p.n - s.n,
                })
                .collect();
            let (hl, hr) = if small_is_left {
                (small, large)
            } else {
                (large, small)
            };
            let li = nodes.len();
            nodes[leaf.node] = Node {
                feature: j as u32,
                bin: b,
                left: li as u32,
                right: li as u32 + 1,
                value: 0.0,
            };
            for _ in 0..2 {
                nodes.push(Node {
                    feature: LEAF,
                    bin: 0,
                    left: 0,
                    right: 0,
                    value: 0.0,
                });
            }
            let depth = leaf.depth + 1;
            for (node, rows, hist) in [(li, lr, hl), (li + 1, rr, hr)] {
                let split = if depth < self.opts.max_depth {
                    self.best_split(&hist, rows.len())
                } else {
                    None
                };
                open.push(Leaf {
                    node,
                    rows,
                    hist,
                    depth,
                    split,
                });
            }
        }
        let mut leaves = Vec::new();
        for leaf in open.into_iter().chain(closed) {
            let v = self.leaf_value(&leaf.hist);
            nodes[leaf.node].value = v;
            leaves.push((leaf.rows, v));
        }
        (nodes, leaves)
    }
}

fn predict_tree(nodes: &[Node], bins: &[u8]) -> f64 {
    let mut i = 0;
    loop {
        let Some(n) = nodes.get(i) else {
            return 0.0;
        };
        if n.feature == LEAF {
            return n.value;
        }
        i = if bins.get(n.feature as usize).copied().unwrap_or(0) <= n.bin {
            n.left
        } else {
            n.right
        } as usize;
    }
}

fn mean_log_loss(f: &[f64], y: &[u32], k: usize) -> f64 {
    let mut z = vec![0.0; k];
    let mut s = 0.0;
    for (t, &label) in y.iter().enumerate() {
        z.copy_from_slice(&f[t * k..(t + 1) * k]);
        softmax_in_place(&mut z);
        s -= z[label as usize].max(1e-15).ln();
    }
    s / y.len().max(1) as f64
}

impl BoostedTrees {
    /// An unfitted model.
    #[must_use]
    pub fn new(opts: BoostOptions) -> Self {
        Self {
            opts,
            k: 0,
            d: 0,
            binner: Binner::default(),
            init: Vec::new(),
            trees: Vec::new(),
        }
    }

    /// Number of boosting rounds kept after early stopping.
    #[must_use]
    pub fn rounds(&self) -> usize {
        self.trees.len() / self.k.max(1)
    }
}

impl Classifier for BoostedTrees {
    fn fit_rows(
        &mut self,
        x: &Matrix,
        rows: &[usize],
        labels: &[u32],
        n_classes: usize,
    ) -> Result<(), LearnError> {
        check_labels(x, labels, n_classes)?;
        check_rows(x, rows)?;
        let (k, d) = (n_classes, x.cols());
        self.k = k;
        self.d = d;
        self.trees.clear();
        let mut counts = vec![1.0; k];
        for &i in rows {
            counts[labels[i] as usize] += 1.0;
        }
        let total: f64 = counts.iter().sum();
        self.init = counts.iter().map(|c| (c / total).ln()).collect();
        self.binner = Binner::fit(x, rows, self.opts.max_bins);
        if k < 2 || rows.is_empty() {
            return Ok(());
        }
        // Split off the validation slice.
        let mut order: Vec<usize> = rows.to_vec();
        let vf = self.opts.validation_fraction;
        let n_val = if rows.len() >= 100 && vf > 0.0 && vf < 0.5 {
            Rng::new(self.opts.seed).shuffle(&mut order);
            ((rows.len() as f64 * vf) as usize).max(1)
        } else {
            0
        };
        let (val_rows, fit_rows) = order.split_at(n_val);
        let mut fit_rows = fit_rows.to_vec();
        fit_rows.sort_unstable();
        let n = fit_rows.len();
        let n_bins: Vec<usize> = (0..d).map(|j| self.binner.n_bins(j)).collect();
        let mut offsets = vec![0; d + 1];
        for j in 0..d {
            offsets[j + 1] = offsets[j] + n_bins[j];
        }
        let mut binned = vec![0u8; d * n];
        for (t, &i) in fit_rows.iter().enumerate() {
            for j in 0..d {
                binned[j * n + t] = self.binner.bin(j, x.get(i, j));
            }
        }
        let val_bins: Vec<Vec<u8>> = val_rows
            .iter()
            .map(|&i| (0..d).map(|j| self.binner.bin(j, x.get(i, j))).collect())
            .collect();
        let y: Vec<u32> = fit_rows.iter().map(|&i| labels[i]).collect();
        let y_val: Vec<u32> = val_rows.iter().map(|&i| labels[i]).collect();
        let mut f: Vec<f64> = (0..n).flat_map(|_| self.init.iter().copied()).collect();
        let mut f_val: Vec<f64> = (0..n_val).flat_map(|_| self.init.iter().copied()).collect();
        let grow = Grow {
            binned: &binned,
            n,
            offsets: &offsets,
            n_bins: &n_bins,
            opts: &self.opts,
        };
        let factor = k as f64 / (k as f64 - 1.0);
        let mut best = (f64::INFINITY, 0usize);
        let mut p = vec![0.0; n * k];
        for round in 0..self.opts.max_rounds {
            for t in 0..n {
                let z = &mut p[t * k..(t + 1) * k];
                z.copy_from_slice(&f[t * k..(t + 1) * k]);
                softmax_in_place(z);
            }
            let threads = self.opts.threads.clamp(1, k);
            let per_class = par_chunks(k, threads, |classes| {
                classes
                    .map(|c| {
                        let mut g = vec![0.0; n];
                        let mut h = vec![0.0; n];
                        for t in 0..n {
                            let pc = p[t * k + c];
                            g[t] = pc - if y[t] as usize == c { 1.0 } else { 0.0 };
                            h[t] = (factor * pc * (1.0 - pc)).max(1e-16);
                        }
                        grow.tree((0..n as u32).collect(), &g, &h)
                    })
                    .collect::<Vec<_>>()
            });
            for (c, (nodes, leaves)) in per_class.into_iter().flatten().enumerate() {
                for (rows, v) in leaves {
                    for r in rows {
                        f[r as usize * k + c] += v;
                    }
                }
                for (t, b) in val_bins.iter().enumerate() {
                    f_val[t * k + c] += predict_tree(&nodes, b);
                }
                self.trees.push(nodes);
            }
            if n_val > 0 {
                let loss = mean_log_loss(&f_val, &y_val, k);
                if loss < best.0 - 1e-7 {
                    best = (loss, round + 1);
                } else if round + 1 >= best.1 + self.opts.patience.max(1) {
                    break;
                }
            } else {
                best.1 = round + 1;
            }
        }
        self.trees.truncate(best.1 * k);
        Ok(())
    }

    fn predict_proba_rows(&self, x: &Matrix, rows: &[usize], out: &mut [f64]) {
        let k = self.k.max(1);
        let mut bins = vec![0u8; self.d];
        for (t, &i) in rows.iter().enumerate() {
            let Some(z) = out.get_mut(t * k..(t + 1) * k) else {
                break;
            };
            if self.k == 0 || i >= x.rows() || x.cols() != self.d {
                for v in z.iter_mut() {
                    *v = 1.0 / k as f64;
                }
                continue;
            }
            for (j, b) in bins.iter_mut().enumerate() {
                *b = self.binner.bin(j, x.get(i, j));
            }
            z.copy_from_slice(&self.init);
            for (r, tree) in self.trees.iter().enumerate() {
                z[r % k] += predict_tree(tree, &bins);
            }
            softmax_in_place(z);
        }
    }

    fn n_classes(&self) -> usize {
        self.k
    }
}
