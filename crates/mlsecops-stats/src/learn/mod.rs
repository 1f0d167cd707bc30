//! Small learners that produce out-of-sample class probabilities, the input
//! every data-quality detector here needs (confident learning, Northcutt et
//! al., "Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR
//! 2021, §2, requires *out-of-sample* predicted probabilities).
//!
//! * [`LogisticRegression`]: multinomial (softmax) logistic regression with an
//!   L2 penalty, fitted full-batch by L-BFGS (Liu & Nocedal 1989) on
//!   internally standardized features. Large training sets are first fitted on
//!   a random subset and then refined on all rows from that warm start, so a
//!   fit costs a handful of passes over the data.
//! * [`BoostedTrees`]: histogram gradient-boosted trees with the softmax
//!   (multinomial deviance) loss, in the style of LightGBM (Ke et al. 2017) and
//!   scikit-learn's `HistGradientBoostingClassifier`: features are binned once
//!   into at most 255 quantile bins, trees grow best-first on gradient/hessian
//!   histograms, and a held-out slice stops boosting early. Boosting optimizes
//!   log-loss directly, so its probabilities are better calibrated than a
//!   random forest's averaged leaf frequencies, which is why it was chosen.
//! * [`RffLogistic`]: an RBF-kernel classifier approximated by logistic
//!   regression on random Fourier features (Rahimi & Recht 2007), with the
//!   kernel width from the median heuristic; nonlinear where the linear model
//!   is not, at a cost of rows × components per fit.
//! * [`cross_val_proba`]: stratified K-fold out-of-sample probabilities, folds
//!   in parallel on all cores (`std::thread::scope`); memory is the output
//!   (`rows × classes`) plus one model and its fold index list per thread — the
//!   input matrix is never copied.
//! * [`select_model`]: runs the learners and the pairwise blends of their
//!   probabilities and keeps the one with the lowest cross-validated
//!   log-loss; the trees are skipped above [`SelectOptions::boost_max_cells`]
//!   (rows × features × classes) and the kernel model above
//!   [`SelectOptions::rff_max_cells`] (rows × components), where their cost
//!   is no longer "small".
//!
//! Everything is deterministic for a given seed: the fold split, the warm-start
//! subset and the boosting validation slice all come from [`crate::Rng`], and
//! parallel work is reduced in a fixed order.

mod boost;
mod logreg;
mod optim;
mod rff;

use serde::Serialize;

use crate::{Matrix, Rng};

pub use boost::{BoostOptions, BoostedTrees};
pub use logreg::{LogisticOptions, LogisticRegression};
pub use rff::{RffLogistic, RffOptions};

/// Errors from fitting or cross-validating a learner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LearnError {
    /// The label slice does not have one entry per matrix row.
    #[error("{labels} labels for a matrix of {rows} rows")]
    LabelCount { rows: usize, labels: usize },
    /// A label is not below the number of classes.
    #[error("label {label} is out of range for {n_classes} classes")]
    LabelRange { label: u32, n_classes: usize },
    /// There must be at least one class.
    #[error("n_classes must be at least 1")]
    NoClasses,
    /// A row index passed to a `*_rows` method is out of range.
    #[error("row index {index} is out of range for {rows} rows")]
    RowIndex { index: usize, rows: usize },
}

/// A probabilistic multi-class classifier.
///
/// Training and prediction take row index lists so cross-validation never
/// copies the matrix; the plain [`Classifier::fit`] / [`Classifier::predict_proba`]
/// use every row.
pub trait Classifier: Send + Sync {
    /// Fits on the listed rows of `x`; `labels` has one entry per row of `x`
    /// (only the listed ones are read).
    fn fit_rows(
        &mut self,
        x: &Matrix,
        rows: &[usize],
        labels: &[u32],
        n_classes: usize,
    ) -> Result<(), LearnError>;

    /// Writes `rows.len() × n_classes` probabilities (row-major) into `out`.
    /// An unfitted model predicts the uniform distribution.
    fn predict_proba_rows(&self, x: &Matrix, rows: &[usize], out: &mut [f64]);

    /// Number of classes the model predicts (0 before fitting).
    fn n_classes(&self) -> usize;

    /// Fits on every row.
    fn fit(&mut self, x: &Matrix, labels: &[u32], n_classes: usize) -> Result<(), LearnError> {
        let rows: Vec<usize> = (0..x.rows()).collect();
        self.fit_rows(x, &rows, labels, n_classes)
    }

    /// Class probabilities for every row: a `rows × n_classes` matrix whose
    /// rows sum to 1.
    fn predict_proba(&self, x: &Matrix) -> Matrix {
        let rows: Vec<usize> = (0..x.rows()).collect();
        let k = self.n_classes().max(1);
        let mut out = vec![0.0; rows.len() * k];
        self.predict_proba_rows(x, &rows, &mut out);
        Matrix::from_vec(rows.len(), k, out).unwrap_or_else(|_| Matrix::zeros(0, k))
    }
}

/// Which learner to cross-validate, with its settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ModelKind {
    /// Multinomial logistic regression.
    Logistic(LogisticOptions),
    /// Histogram gradient-boosted trees.
    Boosted(BoostOptions),
    /// Logistic regression on random Fourier features of an RBF kernel.
    Rff(RffOptions),
    /// The mean of two learners' probabilities.
    Blend(Box<(ModelKind, ModelKind)>),
}

impl Default for ModelKind {
    fn default() -> Self {
        Self::Logistic(LogisticOptions::default())
    }
}

impl ModelKind {
    /// A fresh, unfitted model; `seed` drives its internal randomness and
    /// `threads` bounds the threads one fit may use.
    #[must_use]
    pub fn build(&self, seed: u64, threads: usize) -> Box<dyn Classifier> {
        match self {
            Self::Logistic(o) => Box::new(LogisticRegression::new(LogisticOptions {
                seed,
                threads,
                ..o.clone()
            })),
            Self::Boosted(o) => Box::new(BoostedTrees::new(BoostOptions { seed, ..o.clone() })),
            Self::Rff(o) => Box::new(RffLogistic::new(RffOptions {
                seed,
                threads,
                ..o.clone()
            })),
            Self::Blend(pair) => Box::new(Blend {
                models: [pair.0.build(seed, threads), pair.1.build(seed ^ 1, threads)],
            }),
        }
    }

    /// Short name for reports.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Logistic(_) => "logistic",
            Self::Boosted(_) => "boosted_trees",
            Self::Rff(_) => "rff_logistic",
            Self::Blend(pair) => match (&pair.0, &pair.1) {
                (Self::Logistic(_), Self::Boosted(_)) => "blend",
                (Self::Rff(_), Self::Boosted(_)) | (Self::Boosted(_), Self::Rff(_)) => {
                    "blend_rff_boosted"
                }
                (Self::Logistic(_), Self::Rff(_)) | (Self::Rff(_), Self::Logistic(_)) => {
                    "blend_logistic_rff"
                }
                _ => "blend_other",
            },
        }
    }
}

/// Two fitted models whose probabilities are averaged.
struct Blend {
    models: [Box<dyn Classifier>; 2],
}

impl Classifier for Blend {
    fn fit_rows(
        &mut self,
        x: &Matrix,
        rows: &[usize],
        labels: &[u32],
        n_classes: usize,
    ) -> Result<(), LearnError> {
        for m in &mut self.models {
            m.fit_rows(x, rows, labels, n_classes)?;
        }
        Ok(())
    }

    fn predict_proba_rows(&self, x: &Matrix, rows: &[usize], out: &mut [f64]) {
        let mut other = vec![0.0; out.len()];
        self.models[0].predict_proba_rows(x, rows, out);
        self.models[1].predict_proba_rows(x, rows, &mut other);
        for (o, v) in out.iter_mut().zip(&other) {
            *o = 0.5 * (*o + v);
        }
    }

    fn n_classes(&self) -> usize {
        self.models[0].n_classes()
    }
}

/// Checks labels against the matrix and class count.
pub(crate) fn check_labels(x: &Matrix, labels: &[u32], n_classes: usize) -> Result<(), LearnError> {
    if n_classes == 0 {
        return Err(LearnError::NoClasses);
    }
    if labels.len() != x.rows() {
        return Err(LearnError::LabelCount {
            rows: x.rows(),
            labels: labels.len(),
        });
    }
    if let Some(&label) = labels.iter().find(|&&l| l as usize >= n_classes) {
        return Err(LearnError::LabelRange { label, n_classes });
    }
    Ok(())
}

pub(crate) fn check_rows(x: &Matrix, rows: &[usize]) -> Result<(), LearnError> {
    match rows.iter().find(|&&r| r >= x.rows()) {
        Some(&index) => Err(LearnError::RowIndex {
            index,
            rows: x.rows(),
        }),
        None => Ok(()),
    }
}

/// Number of worker threads to use (at least 1).
pub(crate) fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Runs `f` over `0..n` split into at most `threads` contiguous chunks and
/// returns the per-chunk results in chunk order (so reductions are
/// deterministic whatever the scheduling).
pub(crate) fn par_chunks<T: Send>(
    n: usize,
    threads: usize,
    f: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    let threads = threads.clamp(1, n.max(1));
    if threads == 1 {
        return vec![f(0..n)];
    }
    let chunk = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                let lo = (t * chunk).min(n);
                let hi = ((t + 1) * chunk).min(n);
                s.spawn(move || f(lo..hi))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

/// Dot product with four independent accumulators (the compiler may not
/// reorder float additions, so a plain `zip().sum()` is latency-bound).
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        acc[0] += x[0] * y[0];
        acc[1] += x[1] * y[1];
        acc[2] += x[2] * y[2];
        acc[3] += x[3] * y[3];
    }
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Squared Euclidean distance, four accumulators.
#[inline]
pub(crate) fn sqdist(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..4 {
            let d = x[l] - y[l];
            acc[l] += d * d;
        }
    }
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// In-place softmax of one row of logits; non-finite logits count as -inf.
pub(crate) fn softmax_in_place(z: &mut [f64]) {
    let max = z
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        let u = 1.0 / z.len().max(1) as f64;
        for v in z.iter_mut() {
            *v = u;
        }
        return;
    }
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = if v.is_finite() { (*v - max).exp() } else { 0.0 };
        sum += *v;
    }
    for v in z.iter_mut() {
        *v /= sum;
    }
}

/// Stratified K-fold assignment: for each class the rows are shuffled and
/// dealt round-robin, continuing where the previous class stopped so fold
/// sizes differ by at most one. Returns the fold of every row.
#[must_use]
pub fn stratified_folds(labels: &[u32], n_classes: usize, folds: usize, seed: u64) -> Vec<usize> {
    let folds = folds.max(1);
    let mut rng = Rng::new(seed);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes.max(1)];
    for (i, &l) in labels.iter().enumerate() {
        let c = (l as usize).min(by_class.len() - 1);
        by_class[c].push(i);
    }
    let mut fold_of = vec![0; labels.len()];
    let mut next = 0;
    for rows in &mut by_class {
        rng.shuffle(rows);
        for &r in rows.iter() {
            fold_of[r] = next;
            next = (next + 1) % folds;
        }
    }
    fold_of
}

/// Stratified K-fold out-of-sample probabilities with a learner from
/// `model`: each row's probabilities come from a model that never saw it.
///
/// `folds` is clamped to `2..=rows` (with one row, the model is fitted on no
/// data and predicts the uniform distribution). Folds run in parallel on all
/// cores; on large inputs (≥ 200 000 rows) folds run one after another and
/// each fit uses all cores instead, which balances better than 5 folds on 2
/// cores.
pub fn cross_val_proba(
    x: &Matrix,
    labels: &[u32],
    n_classes: usize,
    folds: usize,
    model: &ModelKind,
    seed: u64,
) -> Result<Matrix, LearnError> {
    cross_val_proba_with(x, labels, n_classes, folds, seed, &|fold_seed, threads| {
        model.build(fold_seed, threads)
    })
}

/// [`cross_val_proba`] with any learner: `make(seed, threads)` builds a
/// fresh model per fold.
pub fn cross_val_proba_with(
    x: &Matrix,
    labels: &[u32],
    n_classes: usize,
    folds: usize,
    seed: u64,
    make: &(dyn Fn(u64, usize) -> Box<dyn Classifier> + Sync),
) -> Result<Matrix, LearnError> {
    check_labels(x, labels, n_classes)?;
    let n = x.rows();
    let k = n_classes;
    if n == 0 {
        return Ok(Matrix::zeros(0, k));
    }
    let folds = folds.clamp(2, n.max(2));
    let fold_of = stratified_folds(labels, n_classes, folds, seed);
    let cores = available_threads();
    let (outer, inner) = if n >= 200_000 {
        (1, cores)
    } else {
        (cores.min(folds), 1)
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let run_fold = |f: usize| -> Result<(Vec<usize>, Vec<f64>), LearnError> {
        let (test, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| fold_of[i] == f);
        let mut m = make(
            seed ^ (f as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            inner,
        );
        m.fit_rows(x, &train, labels, n_classes)?;
        drop(train);
        let mut out = vec![0.0; test.len() * k];
        m.predict_proba_rows(x, &test, &mut out);
        Ok((test, out))
    };
    let worker = || {
        let mut done = Vec::new();
        loop {
            let f = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if f >= folds {
                break;
            }
            done.push(run_fold(f));
        }
        done
    };
    let results: Vec<_> = if outer == 1 {
        worker()
    } else {
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..outer).map(|_| s.spawn(worker)).collect();
            hs.into_iter()
                .flat_map(|h| match h.join() {
                    Ok(v) => v,
                    Err(p) => std::panic::resume_unwind(p),
                })
                .collect()
        })
    };
    let mut proba = Matrix::zeros(n, k);
    for r in results {
        let (test, out) = r?;
        for (t, &i) in test.iter().enumerate() {
            proba.row_mut(i).copy_from_slice(&out[t * k..(t + 1) * k]);
        }
    }
    Ok(proba)
}

/// Mean negative log-likelihood of the labels under `proba` (probabilities
/// clipped to `[1e-15, 1]`).
#[must_use]
pub fn log_loss(proba: &Matrix, labels: &[u32]) -> f64 {
    let n = proba.rows().min(labels.len());
    if n == 0 {
        return 0.0;
    }
    let s: f64 = (0..n)
        .map(|i| {
            let p = proba.row(i).get(labels[i] as usize).copied().unwrap_or(0.0);
            -(if p.is_finite() { p } else { 0.0 }).clamp(1e-15, 1.0).ln()
        })
        .sum();
    s / n as f64
}

/// Fraction of rows whose arg-max class equals the label.
#[must_use]
pub fn accuracy(proba: &Matrix, labels: &[u32]) -> f64 {
    let n = proba.rows().min(labels.len());
    if n == 0 {
        return 0.0;
    }
    let hits = (0..n)
        .filter(|&i| argmax(proba.row(i)) == labels[i] as usize)
        .count();
    hits as f64 / n as f64
}

/// Index of the largest value (first on ties; 0 for an empty slice).
pub(crate) fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (j, &p) in v.iter().enumerate() {
        if p > v[best] {
            best = j;
        }
    }
    best
}

/// Settings for [`select_model`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelectOptions {
    /// Number of cross-validation folds.
    pub folds: usize,
    /// Seed for folds and learners.
    pub seed: u64,
    /// Logistic-regression settings.
    pub logistic: LogisticOptions,
    /// Boosted-tree settings.
    pub boosted: BoostOptions,
    /// Skip the trees when rows × features × classes exceeds this (their
    /// cost grows with all three; logistic regression alone stays fast).
    pub boost_max_cells: usize,
    /// Random-Fourier-feature (RBF-kernel) logistic-regression settings.
    pub rff: RffOptions,
    /// Skip the RBF-kernel model when rows × `rff.components` exceeds this:
    /// its training feature matrix holds that many values per fold (8 bytes
    /// each) and one L-BFGS pass costs about that many × classes
    /// multiply-adds. The default, 2 × 10⁷, admits ~10 000 rows at 2 000
    /// components (160 MB per fold), so large inputs keep the fast models.
    pub rff_max_cells: usize,
}

impl Default for SelectOptions {
    fn default() -> Self {
        Self {
            folds: 5,
            seed: 0,
            logistic: LogisticOptions::default(),
            boosted: BoostOptions::default(),
            boost_max_cells: 20_000_000,
            rff: RffOptions::default(),
            rff_max_cells: 20_000_000,
        }
    }
}

/// Cross-validated score of one learner.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelScore {
    /// Learner name (`logistic`, `boosted_trees`, `rff_logistic`, or a
    /// `blend…` of two).
    pub model: &'static str,
    /// Out-of-sample mean log-loss.
    pub log_loss: f64,
    /// Out-of-sample accuracy.
    pub accuracy: f64,
}

/// Outcome of [`select_model`].
#[derive(Debug, Clone, Serialize)]
pub struct ModelSelection {
    /// The learner with the lowest cross-validated log-loss (possibly the
    /// blend of two).
    pub chosen: ModelKind,
    /// Its out-of-sample probabilities (`rows × classes`).
    pub proba: Matrix,
    /// Every learner that ran, in run order.
    pub scores: Vec<ModelScore>,
    /// Why learners were skipped, if any were.
    pub skipped: Option<String>,
}

/// Cross-validates logistic regression and, below their size thresholds,
/// the boosted trees and the RBF-kernel (random Fourier feature) logistic
/// regression, plus the equal-weight blend of every pair that ran, and
/// keeps the candidate with the lowest out-of-sample log-loss (the first on
/// ties, in run order).
pub fn select_model(
    x: &Matrix,
    labels: &[u32],
    n_classes: usize,
    opts: &SelectOptions,
) -> Result<ModelSelection, LearnError> {
    let mut skipped = Vec::new();
    let mut kinds = vec![ModelKind::Logistic(opts.logistic.clone())];
    let cells = x.rows().saturating_mul(x.cols()).saturating_mul(n_classes);
    if cells > opts.boost_max_cells {
        skipped.push(format!(
            "boosted_trees skipped: {cells} cells exceed boost_max_cells {}",
            opts.boost_max_cells
        ));
    } else {
        kinds.push(ModelKind::Boosted(opts.boosted.clone()));
    }
    let rff_cells = x.rows().saturating_mul(opts.rff.components.max(1));
    if rff_cells > opts.rff_max_cells {
        skipped.push(format!(
            "rff_logistic skipped: {rff_cells} feature cells exceed rff_max_cells {}",
            opts.rff_max_cells
        ));
    } else {
        kinds.push(ModelKind::Rff(opts.rff.clone()));
    }
    let mut probas = Vec::with_capacity(kinds.len());
    for kind in &kinds {
        probas.push(cross_val_proba(
            x, labels, n_classes, opts.folds, kind, opts.seed,
        )?);
    }
    // The average of two is a further candidate: the errors of a linear, a
    // kernel and a tree model are weakly correlated, so a blend is often
    // better than either (and costs nothing more).
    let singles = kinds.len();
    for a in 0..singles {
        for b in a + 1..singles {
            let blend: Vec<f64> = probas[a]
                .as_slice()
                .iter()
                .zip(probas[b].as_slice())
                .map(|(p, q)| 0.5 * (p + q))
                .collect();
            let Ok(p) = Matrix::from_vec(x.rows(), n_classes, blend) else {
                continue;
            };
            kinds.push(ModelKind::Blend(Box::new((
                kinds[a].clone(),
                kinds[b].clone(),
            ))));
            probas.push(p);
        }
    }
    let scores: Vec<ModelScore> = kinds
        .iter()
        .zip(&probas)
        .map(|(kind, p)| ModelScore {
            model: kind.name(),
            log_loss: log_loss(p, labels),
            accuracy: accuracy(p, labels),
        })
        .collect();
    let best = (0..scores.len()).fold(0, |b, i| {
        if scores[i].log_loss < scores[b].log_loss {
            i
        } else {
            b
        }
    });
    let chosen = kinds.swap_remove(best);
    let proba = probas.swap_remove(best);
    Ok(ModelSelection {
        chosen,
        proba,
        scores,
        skipped: if skipped.is_empty() {
            None
        } else {
            Some(skipped.join("; "))
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{ProptestConfig, any, prop_assert, prop_assert_eq, proptest};

    /// `k` Gaussian blobs in `d` dimensions, centres `sep` apart on average.
    pub(crate) fn blobs(n: usize, d: usize, k: usize, sep: f64, seed: u64) -> (Matrix, Vec<u32>) {
        let mut rng = Rng::new(seed);
        let centres: Vec<Vec<f64>> = (0..k)
            .map(|_| (0..d).map(|_| rng.normal() * sep).collect())
            .collect();
        let mut data = Vec::with_capacity(n * d);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let c = i % k;
            data.extend(centres[c].iter().map(|m| m + rng.normal()));
            labels.push(c as u32);
        }
        (Matrix::from_vec(n, d, data).unwrap(), labels)
    }

    #[test]
    fn both_learners_separate_gaussian_blobs_out_of_sample() {
        let (x, y) = blobs(600, 5, 3, 3.0, 1);
        for model in [
            ModelKind::Logistic(LogisticOptions::default()),
            ModelKind::Boosted(BoostOptions::default()),
        ] {
            let p = cross_val_proba(&x, &y, 3, 5, &model, 7).unwrap();
            let acc = accuracy(&p, &y);
            assert!(acc >= 0.95, "{} accuracy {acc}", model.name());
            assert!(log_loss(&p, &y) < 0.3, "{}", model.name());
        }
    }

    #[test]
    fn warm_start_path_matches_a_full_fit() {
        let (x, y) = blobs(3000, 4, 3, 1.0, 2);
        let mut full = LogisticRegression::new(LogisticOptions::default());
        full.fit(&x, &y, 3).unwrap();
        let mut warm = LogisticRegression::new(LogisticOptions {
            warm_rows: 500,
            ..LogisticOptions::default()
        });
        warm.fit(&x, &y, 3).unwrap();
        let (a, b) = (full.predict_proba(&x), warm.predict_proba(&x));
        let gap = log_loss(&a, &y) - log_loss(&b, &y);
        assert!(gap.abs() < 2e-3, "log-loss gap {gap}");
    }

    #[test]
    fn select_model_reports_every_candidate_and_skips_trees_when_large() {
        let (x, y) = blobs(300, 4, 3, 2.0, 3);
        let sel = select_model(&x, &y, 3, &SelectOptions::default()).unwrap();
        // logistic, boosted, rff and the three pairwise blends.
        assert_eq!(sel.scores.len(), 6);
        let best = sel
            .scores
            .iter()
            .map(|s| s.log_loss)
            .fold(f64::INFINITY, f64::min);
        assert!((log_loss(&sel.proba, &y) - best).abs() < 1e-12);
        let small = SelectOptions {
            boost_max_cells: 10,
            rff_max_cells: 10,
            ..SelectOptions::default()
        };
        let sel = select_model(&x, &y, 3, &small).unwrap();
        assert_eq!(sel.scores.len(), 1);
        let why = sel.skipped.unwrap();
        assert!(why.contains("boosted_trees") && why.contains("rff_logistic"));
        let no_trees = SelectOptions {
            boost_max_cells: 10,
            ..SelectOptions::default()
        };
        let sel = select_model(&x, &y, 3, &no_trees).unwrap();
        let names: Vec<_> = sel.scores.iter().map(|s| s.model).collect();
        assert_eq!(names, ["logistic", "rff_logistic", "blend_logistic_rff"]);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let model = ModelKind::Boosted(BoostOptions::default());
        let lr = ModelKind::default();
        // Empty.
        let x = Matrix::zeros(0, 3);
        assert_eq!(cross_val_proba(&x, &[], 2, 5, &lr, 0).unwrap().rows(), 0);
        // One row, more folds than rows, an empty class, NaN and infinities.
        let x = Matrix::from_rows(&[vec![f64::NAN, 1.0]]).unwrap();
        for m in [&lr, &model] {
            let p = cross_val_proba(&x, &[0], 3, 10, m, 0).unwrap();
            assert!((p.row(0).iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
        let x = Matrix::from_rows(&[
            vec![f64::INFINITY, 0.0],
            vec![1.0, f64::NAN],
            vec![2.0, 1.0],
            vec![3.0, 1.0],
        ])
        .unwrap();
        for m in [&lr, &model] {
            let p = cross_val_proba(&x, &[0, 0, 0, 0], 1, 5, m, 0).unwrap();
            assert!(p.as_slice().iter().all(|v| (*v - 1.0).abs() < 1e-9));
            let p = cross_val_proba(&x, &[0, 1, 0, 1], 4, 5, m, 0).unwrap();
            assert!(p.as_slice().iter().all(|v| v.is_finite()));
        }
        // Bad labels are errors, not panics.
        assert!(cross_val_proba(&x, &[0, 9, 0, 1], 2, 5, &lr, 0).is_err());
        assert!(cross_val_proba(&x, &[0, 1], 2, 5, &lr, 0).is_err());
        assert!(cross_val_proba(&x, &[0, 0, 0, 0], 0, 5, &lr, 0).is_err());
    }

    #[test]
    fn cross_val_is_deterministic() {
        let (x, y) = blobs(200, 3, 2, 1.0, 4);
        let m = ModelKind::Boosted(BoostOptions::default());
        let a = cross_val_proba(&x, &y, 2, 5, &m, 9).unwrap();
        let b = cross_val_proba(&x, &y, 2, 5, &m, 9).unwrap();
        assert_eq!(a, b);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn probabilities_are_finite_and_sum_to_one(
            n in 1usize..40,
            k in 1usize..4,
            folds in 1usize..8,
            seed in 0u64..1000,
            boosted in any::<bool>(),
        ) {
            let mut rng = Rng::new(seed);
            let data: Vec<f64> = (0..n * 2).map(|_| rng.normal()).collect();
            let x = Matrix::from_vec(n, 2, data).unwrap();
            let y: Vec<u32> = (0..n).map(|_| rng.below(k) as u32).collect();
            let m = if boosted { ModelKind::Boosted(BoostOptions::default()) } else { ModelKind::default() };
            let p = cross_val_proba(&x, &y, k, folds, &m, seed).unwrap();
            prop_assert_eq!(p.rows(), n);
            for i in 0..n {
                let s: f64 = p.row(i).iter().sum();
                prop_assert!(p.row(i).iter().all(|v| v.is_finite() && *v >= 0.0));
                prop_assert!((s - 1.0).abs() < 1e-9);
            }
        }
    }
}
