//! Neighbour search: the k-nearest-neighbour graph of every row (exact or
//! approximate) and radius queries, in squared-Euclidean arithmetic on
//! `f32` copies of the (already standardized) rows.
//!
//! **Exact** search is blocked brute force: query rows are split across
//! threads, reference rows are scanned in cache-sized blocks and each query
//! keeps a sorted top-k. It costs `n² · d` and is used while that stays
//! small ([`EXACT_MAX_WORK`], about 22 000 rows at 16 columns).
//!
//! **Approximate** search builds the all-points kNN graph the way
//! PyNNDescent does: a forest of random-projection trees (Dasgupta &
//! Freund 2008, "Random projection trees and low dimensional manifolds";
//! the hyperplane is the perpendicular bisector of two random rows, as in
//! Annoy) seeds each row's candidate list with the rows sharing its leaf in
//! each tree, and rounds of NN-descent (Dong, Moses & Li 2011, "Efficient
//! k-nearest neighbor graph construction for generic similarity measures":
//! a neighbour of a neighbour is likely a neighbour) refine it. We chose
//! this over HNSW (Malkov & Yashunin 2018) because the data guard needs the
//! kNN of *every* row, not an index for future queries: the forest + descent
//! builds that graph directly, with no incremental graph insertion, no
//! locks, and a result that does not depend on thread scheduling. Every
//! random choice comes from [`crate::Rng`] seeded per tree, and every row's
//! list is computed from a fixed candidate order, so the graph is identical
//! for a given seed whatever the thread count.
//!
//! Non-finite values are read as 0 (the caller standardizes, so 0 is the
//! column mean) and magnitudes are clamped to 1e15 so that squares never
//! overflow into `inf − inf`.

use std::num::NonZeroUsize;
use std::thread;

use serde::Serialize;

use crate::{Matrix, Rng};

/// Largest `rows² · cols` for which [`knn`] stays exact (about 22 000 rows
/// at 16 columns, 11 000 at 64 columns: a second or two on two cores).
pub const EXACT_MAX_WORK: u64 = 8_000_000_000;

/// The k-nearest-neighbour graph of a matrix's rows (self excluded).
#[derive(Clone, Debug, Serialize)]
pub struct Knn {
    /// Number of rows.
    pub n: usize,
    /// Neighbours per row: the requested k, or `n − 1` when fewer rows exist.
    pub k: usize,
    /// Neighbour row indices, row-major `n × k`, nearest first.
    pub idx: Vec<u32>,
    /// Euclidean distances matching `idx`.
    pub dist: Vec<f32>,
    /// Whether the graph is exact (brute force) or approximate.
    pub exact: bool,
}

impl Knn {
    /// Neighbours of row `i`, nearest first.
    #[must_use]
    pub fn neighbors(&self, i: usize) -> &[u32] {
        &self.idx[i * self.k..(i + 1) * self.k]
    }

    /// Distances from row `i` to its neighbours, ascending.
    #[must_use]
    pub fn distances(&self, i: usize) -> &[f32] {
        &self.dist[i * self.k..(i + 1) * self.k]
    }

    /// Distance to the k-th neighbour of row `i` (0 when `k == 0`).
    #[must_use]
    pub fn kth_distance(&self, i: usize) -> f32 {
        self.distances(i).last().copied().unwrap_or(0.0)
    }

    /// Mean distance to the k neighbours of row `i` (0 when `k == 0`).
    #[must_use]
    pub fn mean_distance(&self, i: usize) -> f32 {
        let d = self.distances(i);
        if d.is_empty() {
            0.0
        } else {
            d.iter().sum::<f32>() / d.len() as f32
        }
    }
}

/// Which search [`knn_with`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Exact while `rows² · cols ≤ EXACT_MAX_WORK`, approximate beyond.
    Auto,
    /// Always brute force.
    Exact,
    /// Always the random-projection forest + NN-descent.
    Approximate,
}

/// Parameters of the neighbour search.
#[derive(Clone, Debug, Serialize)]
pub struct KnnOptions {
    /// Exact, approximate, or chosen by size.
    pub method: Method,
    /// Random-projection trees in the forest.
    pub trees: usize,
    /// Largest leaf of a tree (rows compared with each other).
    pub leaf_size: usize,
    /// NN-descent refinement rounds after the forest (each stops early when
    /// fewer than 0.5 % of rows change).
    pub refine_rounds: usize,
    /// Above this many rows the refinement is skipped: one round costs
    /// about twice the whole forest at 1M rows, and the kNN-distance score
    /// only needs near (not exact) neighbours.
    pub refine_max_rows: usize,
    /// Seed of the forest.
    pub seed: u64,
    /// Worker threads (0 = all available cores).
    pub threads: usize,
}

impl Default for KnnOptions {
    fn default() -> Self {
        Self {
            method: Method::Auto,
            trees: 6,
            leaf_size: 24,
            refine_rounds: 5,
            refine_max_rows: 200_000,
            seed: 0x6b6e_6e5f_7365_6564,
            threads: 0,
        }
    }
}

/// The kNN graph with default options: exact for small inputs, approximate
/// (recall@10 above 0.9 on hard random data) for large ones.
#[must_use]
pub fn knn(m: &Matrix, k: usize) -> Knn {
    knn_with(m, k, &KnnOptions::default())
}

/// The kNN graph with explicit options.
#[must_use]
pub fn knn_with(m: &Matrix, k: usize, opts: &KnnOptions) -> Knn {
    let p = Points::from_matrix(m);
    knn_points(&p, k, opts)
}

/// All pairs `(i, j)`, `i < j`, whose Euclidean distance is at most
/// `radius`, by exact blocked brute force (`O(n² · d)`); sorted.
#[must_use]
pub fn radius_pairs_exact(m: &Matrix, radius: f64) -> Vec<(u32, u32)> {
    let p = Points::from_matrix(m);
    radius_pairs_points(&p, radius, 0)
}

/// Pairs `(i, j)`, `i < j`, within `radius` that appear in a kNN graph;
/// sorted and deduplicated. Complete for every row that has at most `k`
/// rows within the radius; larger groups stay connected through chains of
/// pairs, which is what grouping by union-find needs.
#[must_use]
pub fn radius_pairs_from_knn(g: &Knn, radius: f64) -> Vec<(u32, u32)> {
    let r = radius as f32;
    let mut out = Vec::new();
    for i in 0..g.n {
        for (&j, &d) in g.neighbors(i).iter().zip(g.distances(i)) {
            if d > r {
                break;
            }
            let (a, b) = if (i as u32) < j {
                (i as u32, j)
            } else {
                (j, i as u32)
            };
            if a != b {
                out.push((a, b));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Pairs within `radius`: exact when brute force is cheap (see
/// [`EXACT_MAX_WORK`]), otherwise from an approximate kNN graph with
/// `k = 10`.
#[must_use]
pub fn radius_pairs(m: &Matrix, radius: f64) -> Vec<(u32, u32)> {
    if exact_is_cheap(m.rows(), m.cols()) {
        radius_pairs_exact(m, radius)
    } else {
        radius_pairs_from_knn(&knn(m, 10), radius)
    }
}

fn exact_is_cheap(n: usize, d: usize) -> bool {
    (n as u64)
        .saturating_mul(n as u64)
        .saturating_mul(d.max(1) as u64)
        <= EXACT_MAX_WORK
}

// ---------------------------------------------------------------------------
// Rows as f32

/// Rows copied to contiguous `f32`, non-finite values read as 0.
#[derive(Clone, Debug)]
pub(crate) struct Points {
    pub(crate) n: usize,
    pub(crate) d: usize,
    pub(crate) data: Vec<f32>,
}

const CLAMP: f64 = 1e15;

impl Points {
    pub(crate) fn from_matrix(m: &Matrix) -> Self {
        let data = m
            .as_slice()
            .iter()
            .map(|&v| {
                if v.is_finite() {
                    v.clamp(-CLAMP, CLAMP) as f32
                } else {
                    0.0
                }
            })
            .collect();
        Self {
            n: m.rows(),
            d: m.cols(),
            data,
        }
    }

    #[inline]
    pub(crate) fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.d..(i + 1) * self.d]
    }
}

/// Squared Euclidean distance, eight lanes so it vectorizes.
#[inline]
pub(crate) fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    let (ca, ra) = a.as_chunks::<8>();
    let (cb, rb) = b.as_chunks::<8>();
    let mut acc = [0.0f32; 8];
    for (x, y) in ca.iter().zip(cb) {
        for l in 0..8 {
            let t = x[l] - y[l];
            acc[l] += t * t;
        }
    }
    let mut s = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        let t = x - y;
        s += t * t;
    }
    s + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ca, ra) = a.as_chunks::<8>();
    let (cb, rb) = b.as_chunks::<8>();
    let mut acc = [0.0f32; 8];
    for (x, y) in ca.iter().zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s + acc.iter().sum::<f32>()
}

/// Worker threads to use: `requested`, or all cores when 0 (at most 64).
pub(crate) fn thread_count(requested: usize) -> usize {
    let t = if requested == 0 {
        thread::available_parallelism().map_or(1, NonZeroUsize::get)
    } else {
        requested
    };
    t.clamp(1, 64)
}

/// Runs `f(first_row, a_chunk, b_chunk)` over contiguous row chunks of two
/// row-major outputs of `width` values per row, one chunk per thread.
pub(crate) fn par_rows<A, B, F>(a: &mut [A], b: &mut [B], width: usize, threads: usize, f: F)
where
    A: Send,
    B: Send,
    F: Fn(usize, &mut [A], &mut [B]) + Sync,
{
    if width == 0 || a.is_empty() {
        return;
    }
    let n = a.len() / width;
    let t = threads.clamp(1, n.max(1));
    if t == 1 {
        f(0, a, b);
        return;
    }
    let per = n.div_ceil(t);
    thread::scope(|s| {
        for (ci, (ca, cb)) in a
            .chunks_mut(per * width)
            .zip(b.chunks_mut(per * width))
            .enumerate()
        {
            let f = &f;
            s.spawn(move || f(ci * per, ca, cb));
        }
    });
}

/// Inserts `(d, j)` into a sorted top-k list unless it is already present
/// or not better than the worst entry (ties broken by index).
#[inline]
fn push(dist: &mut [f32], idx: &mut [u32], d: f32, j: u32) -> bool {
    let Some(last) = dist.len().checked_sub(1) else {
        return false;
    };
    let before = |a: f32, b: f32, ia: u32, ib: u32| a.total_cmp(&b).then(ia.cmp(&ib)).is_lt();
    if !before(d, dist[last], j, idx[last]) {
        return false;
    }
    if idx.contains(&j) {
        return false;
    }
    let mut p = last;
    while p > 0 && before(d, dist[p - 1], j, idx[p - 1]) {
        dist[p] = dist[p - 1];
        idx[p] = idx[p - 1];
        p -= 1;
    }
    dist[p] = d;
    idx[p] = j;
    true
}

pub(crate) fn knn_points(p: &Points, k: usize, opts: &KnnOptions) -> Knn {
    let n = p.n;
    let k = k.min(n.saturating_sub(1));
    let threads = thread_count(opts.threads);
    let exact = match opts.method {
        Method::Exact => true,
        Method::Approximate => false,
        Method::Auto => exact_is_cheap(n, p.d),
    } || n <= opts.leaf_size.max(k + 1);
    let (idx, mut dist) = if k == 0 {
        (Vec::new(), Vec::new())
    } else if exact {
        knn_exact_sq(p, k, threads)
    } else {
        knn_approx_sq(p, k, opts, threads)
    };
    for d in &mut dist {
        *d = d.sqrt();
    }
    Knn {
        n,
        k,
        idx,
        dist,
        exact,
    }
}

// ---------------------------------------------------------------------------
// Exact

const QUERY_BLOCK: usize = 32;
const REF_BLOCK: usize = 256;

fn knn_exact_sq(p: &Points, k: usize, threads: usize) -> (Vec<u32>, Vec<f32>) {
    let n = p.n;
    let mut idx = vec![u32::MAX; n * k];
    let mut dist = vec![f32::INFINITY; n * k];
    par_rows(&mut idx, &mut dist, k, threads, |first, ic, dc| {
        let rows = ic.len() / k;
        for qb in (0..rows).step_by(QUERY_BLOCK) {
            let qe = (qb + QUERY_BLOCK).min(rows);
            for rb in (0..n).step_by(REF_BLOCK) {
                let re = (rb + REF_BLOCK).min(n);
                for q in qb..qe {
                    let i = first + q;
                    let xi = p.row(i);
                    let di = &mut dc[q * k..(q + 1) * k];
                    let ii = &mut ic[q * k..(q + 1) * k];
                    for j in rb..re {
                        if j == i {
                            continue;
                        }
                        let d = sq_dist(xi, p.row(j));
                        if d <= di[k - 1] {
                            push(di, ii, d, j as u32);
                        }
                    }
                }
            }
        }
    });
    (idx, dist)
}

pub(crate) fn radius_pairs_points(p: &Points, radius: f64, threads: usize) -> Vec<(u32, u32)> {
    let n = p.n;
    if n < 2 || radius.is_nan() || radius < 0.0 {
        return Vec::new();
    }
    let r2 = (radius * radius) as f32;
    let t = thread_count(threads).min(n.div_ceil(QUERY_BLOCK));
    let blocks = n.div_ceil(QUERY_BLOCK);
    // Triangular work: thread `w` takes query blocks w, w + t, w + 2t, …
    let per_thread: Vec<Vec<(u32, u32)>> = thread::scope(|s| {
        let hs: Vec<_> = (0..t)
            .map(|w| {
                s.spawn(move || {
                    let mut out = Vec::new();
                    for b in (w..blocks).step_by(t) {
                        let qb = b * QUERY_BLOCK;
                        let qe = (qb + QUERY_BLOCK).min(n);
                        for rb in (qb..n).step_by(REF_BLOCK) {
                            let re = (rb + REF_BLOCK).min(n);
                            for i in qb..qe {
                                let xi = p.row(i);
                                for j in rb.max(i + 1)..re {
                                    if sq_dist(xi, p.row(j)) <= r2 {
                                        out.push((i as u32, j as u32));
                                    }
                                }
                            }
                        }
                    }
                    out
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut out: Vec<(u32, u32)> = per_thread.into_iter().flatten().collect();
    out.sort_unstable();
    out
}

// ---------------------------------------------------------------------------
// Approximate: random-projection forest + NN-descent

/// One random-projection tree: a permutation of the rows cut into leaves,
/// plus the rows themselves copied in that order (so leaves are contiguous).
struct Tree {
    perm: Vec<u32>,
    /// Leaf `l` holds `perm[bounds[l]..bounds[l + 1]]`.
    bounds: Vec<u32>,
    /// `perm`'s rows, in `perm` order.
    rows: Vec<f32>,
}

/// Splits rows by the perpendicular bisector of two random rows until
/// leaves hold at most `leaf_size`. Rows move physically with `perm`, so
/// every level streams through memory instead of gathering at random.
fn build_tree(p: &Points, leaf_size: usize, seed: u64) -> Tree {
    let (n, d) = (p.n, p.d);
    let mut rng = Rng::new(seed);
    let mut perm: Vec<u32> = (0..n as u32).collect();
    let mut rows = p.data.clone();
    let mut normal = vec![0.0f32; d];
    let mut tmp = vec![0.0f32; d];
    let mut side = Vec::new();
    let mut leaves: Vec<u32> = Vec::new();
    let mut stack = vec![(0usize, n)];
    while let Some((lo, hi)) = stack.pop() {
        let len = hi - lo;
        if len <= leaf_size || d == 0 {
            leaves.push(lo as u32);
            continue;
        }
        let a = lo + rng.below(len);
        let mut b = lo + rng.below(len - 1);
        if b >= a {
            b += 1;
        }
        let mut offset = 0.0f32;
        for (c, w) in normal.iter_mut().enumerate() {
            let (u, v) = (rows[a * d + c], rows[b * d + c]);
            *w = u - v;
            offset += *w * (u + v) * 0.5;
        }
        side.clear();
        // Ties (rows equal along the normal, e.g. duplicates) alternate.
        let mut flip = false;
        side.extend(rows[lo * d..hi * d].chunks_exact(d).map(|x| {
            let s = dot(&normal, x) - offset;
            if s == 0.0 {
                flip = !flip;
                flip
            } else {
                s > 0.0
            }
        }));
        let mut w = 0;
        for r in 0..len {
            if !side[r] {
                if w != r {
                    perm.swap(lo + w, lo + r);
                    side.swap(w, r);
                    tmp.copy_from_slice(&rows[(lo + w) * d..(lo + w + 1) * d]);
                    rows.copy_within((lo + r) * d..(lo + r + 1) * d, (lo + w) * d);
                    rows[(lo + r) * d..(lo + r + 1) * d].copy_from_slice(&tmp);
                }
                w += 1;
            }
        }
        let mid = if w == 0 || w == len {
            lo + len / 2
        } else {
            lo + w
        };
        stack.push((mid, hi));
        stack.push((lo, mid));
    }
    leaves.sort_unstable();
    leaves.push(n as u32);
    Tree {
        perm,
        bounds: leaves,
        rows,
    }
}

/// Offers every pair inside each leaf to the top-k lists; `perm` maps a
/// position in `rows` to a row number (identity when `None`).
fn leaf_pairs(
    perm: Option<&[u32]>,
    bounds: &[u32],
    rows: &[f32],
    d: usize,
    k: usize,
    idx: &mut [u32],
    dist: &mut [f32],
) {
    let id = |a: usize| perm.map_or(a as u32, |p| p[a]);
    for l in bounds.windows(2) {
        let (s, e) = (l[0] as usize, l[1] as usize);
        for a in s..e {
            let xa = &rows[a * d..(a + 1) * d];
            let ia = id(a);
            for b in a + 1..e {
                let dd = sq_dist(xa, &rows[b * d..(b + 1) * d]);
                let ib = id(b);
                let (ua, ub) = (ia as usize, ib as usize);
                if dd <= dist[ua * k + k - 1] {
                    push(
                        &mut dist[ua * k..(ua + 1) * k],
                        &mut idx[ua * k..(ua + 1) * k],
                        dd,
                        ib,
                    );
                }
                if dd <= dist[ub * k + k - 1] {
                    push(
                        &mut dist[ub * k..(ub + 1) * k],
                        &mut idx[ub * k..(ub + 1) * k],
                        dd,
                        ia,
                    );
                }
            }
        }
    }
}

fn knn_approx_sq(p: &Points, k: usize, opts: &KnnOptions, threads: usize) -> (Vec<u32>, Vec<f32>) {
    let n = p.n;
    let n_trees = opts.trees.max(1);
    let leaf_size = opts.leaf_size.max(k + 1);
    let mut seeder = Rng::new(opts.seed);
    let seeds: Vec<u64> = (0..n_trees).map(|_| seeder.next_u64()).collect();

    // Renumber rows in the first tree's leaf order: neighbours then mostly
    // sit close in memory, which is what bounds the speed of the descent.
    let first = build_tree(p, leaf_size, seeds[0]);
    let order = first.perm;
    let q = Points {
        n,
        d: p.d,
        data: first.rows,
    };
    let bounds0 = first.bounds;

    // Each worker builds its share of the trees into its own top-k lists;
    // the lists are merged afterwards. The top k under the strict order
    // (distance, index) does not depend on insertion order, so the graph
    // is the same whatever the thread count.
    let tw = threads.min(n_trees).max(1);
    let lists: Vec<(Vec<u32>, Vec<f32>)> = thread::scope(|s| {
        let hs: Vec<_> = (0..tw)
            .map(|w| {
                let (seeds, q, bounds0) = (&seeds, &q, &bounds0);
                s.spawn(move || {
                    let mut idx = vec![u32::MAX; n * k];
                    let mut dist = vec![f32::INFINITY; n * k];
                    for t in (w..n_trees).step_by(tw) {
                        if t == 0 {
                            leaf_pairs(None, bounds0, &q.data, q.d, k, &mut idx, &mut dist);
                        } else {
                            let tr = build_tree(q, leaf_size, seeds[t]);
                            let perm = Some(tr.perm.as_slice());
                            leaf_pairs(perm, &tr.bounds, &tr.rows, q.d, k, &mut idx, &mut dist);
                        }
                    }
                    (idx, dist)
                })
            })
            .collect();
        hs.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut lists = lists.into_iter();
    let (mut idx, mut dist) = lists
        .next()
        .unwrap_or_else(|| (vec![u32::MAX; n * k], vec![f32::INFINITY; n * k]));
    for (oi, od) in lists {
        par_rows(&mut idx, &mut dist, k, threads, |first, ic, dc| {
            for r in 0..ic.len() / k {
                let i = first + r;
                for c in 0..k {
                    let (j, dd) = (oi[i * k + c], od[i * k + c]);
                    if j != u32::MAX {
                        push(
                            &mut dc[r * k..(r + 1) * k],
                            &mut ic[r * k..(r + 1) * k],
                            dd,
                            j,
                        );
                    }
                }
            }
        });
    }
    // A row alone in tiny leaves: fill from the rows next to it in the
    // first tree's order (spatially close; always enough rows).
    par_rows(&mut idx, &mut dist, k, threads, |first, ic, dc| {
        for r in 0..ic.len() / k {
            let i = first + r;
            if ic[r * k + k - 1] == u32::MAX {
                let (lo, hi) = (i.saturating_sub(k + 1), (i + k + 2).min(n));
                for j in lo..hi {
                    if j != i {
                        let dd = sq_dist(q.row(i), q.row(j));
                        push(
                            &mut dc[r * k..(r + 1) * k],
                            &mut ic[r * k..(r + 1) * k],
                            dd,
                            j as u32,
                        );
                    }
                }
            }
        }
    });

    let mut updated = vec![true; n];
    let rounds = if n > opts.refine_max_rows {
        0
    } else {
        opts.refine_rounds
    };
    for _ in 0..rounds {
        let (ni, nd, changed) = nn_descent_round(&q, k, &idx, &dist, &updated, threads);
        let count = changed.iter().filter(|&&c| c).count();
        idx = ni;
        dist = nd;
        updated = changed;
        if count * 200 < n {
            break;
        }
    }

    // Back to the caller's row numbers.
    let mut out_idx = vec![0u32; n * k];
    let mut out_dist = vec![0f32; n * k];
    for (new, &old) in order.iter().enumerate() {
        let old = old as usize;
        for c in 0..k {
            let j = idx[new * k + c];
            out_idx[old * k + c] = order.get(j as usize).copied().unwrap_or(u32::MAX);
            out_dist[old * k + c] = dist[new * k + c];
        }
    }
    (out_idx, out_dist)
}

/// Reverse neighbour lists (CSR), at most `cap` per row, lowest rows first.
fn reverse_lists(n: usize, k: usize, idx: &[u32], cap: usize) -> (Vec<u32>, Vec<u32>) {
    let mut count = vec![0u32; n + 1];
    for &j in idx {
        if (j as usize) < n && (count[j as usize] as usize) < cap {
            count[j as usize] += 1;
        }
    }
    let mut start = vec![0u32; n + 1];
    for i in 0..n {
        start[i + 1] = start[i] + count[i];
    }
    let mut fill = start.clone();
    let mut out = vec![0u32; start[n] as usize];
    for i in 0..n {
        for &j in &idx[i * k..(i + 1) * k] {
            let j = j as usize;
            if j < n && fill[j] < start[j + 1] {
                out[fill[j] as usize] = i as u32;
                fill[j] += 1;
            }
        }
    }
    (start, out)
}

/// One NN-descent round: each row's list is merged with the neighbours and
/// reverse neighbours of its neighbours and reverse neighbours, skipping
/// hops where neither end changed in the previous round (their candidates
/// were already seen). Reads the previous graph only, so the result does
/// not depend on scheduling. Returns the new graph and which rows changed.
fn nn_descent_round(
    p: &Points,
    k: usize,
    idx: &[u32],
    dist: &[f32],
    updated: &[bool],
    threads: usize,
) -> (Vec<u32>, Vec<f32>, Vec<bool>) {
    let n = p.n;
    let (rstart, rev) = reverse_lists(n, k, idx, k);
    let mut ni = idx.to_vec();
    let mut nd = dist.to_vec();
    par_rows(&mut ni, &mut nd, k, threads, |first, ic, dc| {
        let mut hop: Vec<u32> = Vec::with_capacity(2 * k);
        for r in 0..ic.len() / k {
            let i = first + r;
            let xi = p.row(i);
            let di = &mut dc[r * k..(r + 1) * k];
            let ii = &mut ic[r * k..(r + 1) * k];
            hop.clear();
            hop.extend_from_slice(&idx[i * k..(i + 1) * k]);
            hop.extend_from_slice(&rev[rstart[i] as usize..rstart[i + 1] as usize]);
            for &u in &hop {
                let u = u as usize;
                if u >= n || !(updated[i] || updated[u]) {
                    continue;
                }
                let cand = idx[u * k..(u + 1) * k]
                    .iter()
                    .chain(&rev[rstart[u] as usize..rstart[u + 1] as usize]);
                for &j in cand {
                    if j as usize != i && (j as usize) < n {
                        let d = sq_dist(xi, p.row(j as usize));
                        if d < di[k - 1] {
                            push(di, ii, d, j);
                        }
                    }
                }
            }
        }
    });
    let changed = (0..n)
        .map(|i| ni[i * k..(i + 1) * k] != idx[i * k..(i + 1) * k])
        .collect();
    (ni, nd, changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;
    use proptest::prelude::*;

    fn gaussian(n: usize, d: usize, seed: u64) -> Matrix {
        let mut rng = Rng::new(seed);
        Matrix::from_vec(n, d, (0..n * d).map(|_| rng.normal()).collect()).unwrap()
    }

    fn brute(m: &Matrix, i: usize) -> Vec<(f64, usize)> {
        let mut v: Vec<(f64, usize)> = (0..m.rows())
            .filter(|&j| j != i)
            .map(|j| {
                let d: f64 = m
                    .row(i)
                    .iter()
                    .zip(m.row(j))
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                (d.sqrt(), j)
            })
            .collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v
    }

    #[test]
    fn exact_matches_naive_sort() {
        let m = gaussian(300, 5, 1);
        let g = knn_with(
            &m,
            7,
            &KnnOptions {
                method: Method::Exact,
                threads: 2,
                ..KnnOptions::default()
            },
        );
        assert!(g.exact);
        for i in 0..m.rows() {
            let want = brute(&m, i);
            for (r, (&j, &d)) in g.neighbors(i).iter().zip(g.distances(i)).enumerate() {
                assert!((f64::from(d) - want[r].0).abs() < 1e-4, "row {i} rank {r}");
                assert_ne!(j as usize, i);
            }
        }
    }

    fn recall(approx: &Knn, exact: &Knn) -> f64 {
        let mut hit = 0usize;
        for i in 0..exact.n {
            let a = approx.neighbors(i);
            hit += exact.neighbors(i).iter().filter(|j| a.contains(j)).count();
        }
        hit as f64 / (exact.n * exact.k) as f64
    }

    #[test]
    fn approximate_recall_at_10_on_random_data() {
        // 16-dimensional isotropic Gaussian: the hardest case for trees.
        let m = gaussian(3000, 16, 2);
        let exact = knn_with(
            &m,
            10,
            &KnnOptions {
                method: Method::Exact,
                ..KnnOptions::default()
            },
        );
        let approx = knn_with(
            &m,
            10,
            &KnnOptions {
                method: Method::Approximate,
                ..KnnOptions::default()
            },
        );
        assert!(!approx.exact);
        let r = recall(&approx, &exact);
        assert!(r >= 0.9, "recall@10 = {r}");
    }

    #[test]
    fn approximate_is_deterministic_across_thread_counts() {
        let m = gaussian(2000, 8, 3);
        let run = |threads| {
            knn_with(
                &m,
                5,
                &KnnOptions {
                    method: Method::Approximate,
                    threads,
                    ..KnnOptions::default()
                },
            )
        };
        let (a, b) = (run(1), run(3));
        assert_eq!(a.idx, b.idx);
        assert_eq!(a.dist, b.dist);
    }

    #[test]
    fn approximate_survives_many_duplicates() {
        let mut rows = vec![vec![1.0, 2.0, 3.0]; 500];
        rows.extend((0..500).map(|i| vec![f64::from(i), 0.0, -1.0]));
        let m = Matrix::from_rows(&rows).unwrap();
        let g = knn_with(
            &m,
            4,
            &KnnOptions {
                method: Method::Approximate,
                ..KnnOptions::default()
            },
        );
        assert!(g.idx.iter().all(|&j| (j as usize) < 1000));
        assert!(g.dist[0].abs() < f32::EPSILON);
    }

    #[test]
    fn tiny_empty_and_nan_inputs_do_not_panic() {
        let g = knn(&Matrix::zeros(0, 3), 5);
        assert_eq!((g.n, g.k), (0, 0));
        let g = knn(&Matrix::zeros(1, 3), 5);
        assert_eq!((g.n, g.k, g.kth_distance(0)), (1, 0, 0.0));
        let m = Matrix::from_rows(&[
            vec![f64::NAN, 1.0],
            vec![0.0, f64::INFINITY],
            vec![0.0, 1.0],
        ])
        .unwrap();
        let g = knn(&m, 5);
        assert_eq!(g.k, 2);
        assert!(g.dist.iter().all(|d| d.is_finite()));
        assert!(g.distances(0)[0].abs() < f32::EPSILON);
        assert!(radius_pairs(&Matrix::zeros(0, 0), 1.0).is_empty());
        assert!(radius_pairs(&m, f64::NAN).is_empty());
    }

    #[test]
    fn radius_pairs_exact_and_from_knn_agree_on_planted_pairs() {
        let mut m = gaussian(400, 6, 4);
        for i in 0..20 {
            let src = m.row(i).to_vec();
            let dst = m.row_mut(200 + i);
            for (a, b) in dst.iter_mut().zip(&src) {
                *a = b + 1e-3;
            }
        }
        let exact = radius_pairs_exact(&m, 0.01);
        let want: Vec<(u32, u32)> = (0..20).map(|i| (i, 200 + i)).collect();
        assert_eq!(exact, want);
        assert_eq!(radius_pairs_from_knn(&knn(&m, 3), 0.01), want);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn exact_knn_invariants(
            n in 0usize..40,
            d in 1usize..5,
            k in 0usize..8,
            vals in proptest::collection::vec(-5.0f64..5.0, 200),
        ) {
            let data: Vec<f64> = vals.iter().copied().cycle().take(n * d).collect();
            let m = Matrix::from_vec(n, d, data).unwrap();
            let g = knn(&m, k);
            prop_assert_eq!(g.k, k.min(n.saturating_sub(1)));
            prop_assert_eq!(g.idx.len(), n * g.k);
            for i in 0..n {
                let nb = g.neighbors(i);
                let ds = g.distances(i);
                // no self, no repeats, ascending, and nothing closer left out
                prop_assert!(nb.iter().all(|&j| j as usize != i && (j as usize) < n));
                let mut s = nb.to_vec();
                s.sort_unstable();
                s.dedup();
                prop_assert_eq!(s.len(), nb.len());
                prop_assert!(ds.windows(2).all(|w| w[0] <= w[1]));
                if g.k > 0 {
                    let kth = f64::from(g.kth_distance(i));
                    let closer = brute(&m, i).iter().filter(|(dd, _)| *dd < kth - 1e-4).count();
                    prop_assert!(closer < g.k);
                }
            }
        }
    }
}
