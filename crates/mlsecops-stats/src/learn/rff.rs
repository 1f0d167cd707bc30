//! Kernel logistic regression approximated by random Fourier features
//! (Rahimi & Recht, "Random Features for Large-Scale Kernel Machines", NIPS
//! 2007): the Gaussian (RBF) kernel `exp(−γ‖x − y‖²)` equals
//! `E[2 cos(ωᵀx + b) cos(ωᵀy + b)]` for `ω ~ N(0, 2γ I)` and
//! `b ~ U[0, 2π)`, so a multinomial logistic regression on `D` such cosine
//! features is a cheap, explicit approximation of an RBF-kernel classifier.
//!
//! * Inputs are centred per column and divided by one *global* scale (the
//!   root-mean-square of the centred values), not standardized per column:
//!   per-column scaling inflates near-constant columns (edge pixels of an
//!   image, rare indicator columns) and distorts the kernel's geometry.
//!   Non-finite values count as the column mean.
//! * `γ = gamma_scale / median ‖xᵢ − xⱼ‖²` over random pairs of training rows
//!   (the median heuristic; Gretton et al. 2012 for kernel tests, and the
//!   usual default for RBF kernels on scaled data).
//! * The feature matrix of the training rows is materialized
//!   (`rows × components` values), so callers bound its size; see
//!   [`super::SelectOptions::rff_max_cells`].
//!
//! Everything random (ω, b, the pairs for the median) comes from
//! [`crate::Rng`] seeded by [`RffOptions::seed`], so fits are deterministic.

use serde::Serialize;

use super::{
    Classifier, LearnError, LogisticOptions, LogisticRegression, check_labels, check_rows,
};
use crate::{Matrix, Rng};

/// Settings for [`RffLogistic`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RffOptions {
    /// Number of random Fourier features `D`.
    pub components: usize,
    /// `γ` is this divided by the median squared distance between training
    /// rows (after centring and global scaling).
    pub gamma_scale: f64,
    /// Inverse regularization strength in kernel units, as scikit-learn's
    /// `C` for a logistic regression on `RBFSampler` features (which are
    /// scaled by `√(2/D)`): the inner logistic regression, which works on
    /// standardized features, gets `c / components`, so the penalty on the
    /// function does not change with `D`.
    pub c: f64,
    /// Maximum L-BFGS iterations of the logistic regression.
    pub max_iter: usize,
    /// Seed for the frequencies, phases and median pairs.
    pub seed: u64,
    /// Threads one fit may use (0 = all cores).
    pub threads: usize,
}

impl Default for RffOptions {
    fn default() -> Self {
        Self {
            components: 1000,
            gamma_scale: 1.0,
            c: 3.0,
            max_iter: 100,
            seed: 0,
            threads: 0,
        }
    }
}

/// Multinomial logistic regression on random Fourier features of an RBF
/// kernel.
#[derive(Debug, Clone)]
pub struct RffLogistic {
    opts: RffOptions,
    d: usize,
    mu: Vec<f64>,
    /// Reciprocal of the global input scale.
    inv_scale: f64,
    /// The kernel width actually used (0 before fitting).
    gamma: f64,
    /// `components × d` frequencies (already multiplied by `inv_scale`).
    omega: Vec<f64>,
    /// One phase per component (already shifted by `−ωᵀμ`).
    phase: Vec<f64>,
    lr: LogisticRegression,
}

/// Rows transformed per block at prediction time (bounds the scratch memory).
const PREDICT_BLOCK: usize = 4096;

/// Random pairs used for the median heuristic.
const MEDIAN_PAIRS: usize = 2000;

impl RffLogistic {
    /// An unfitted model.
    #[must_use]
    pub fn new(opts: RffOptions) -> Self {
        let lr = LogisticRegression::new(Self::lr_options(&opts));
        Self {
            opts,
            d: 0,
            mu: Vec::new(),
            inv_scale: 1.0,
            gamma: 0.0,
            omega: Vec::new(),
            phase: Vec::new(),
            lr,
        }
    }

    /// The RBF width `γ` on the centred, globally scaled inputs (0 before
    /// fitting).
    #[must_use]
    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    fn lr_options(opts: &RffOptions) -> LogisticOptions {
        LogisticOptions {
            c: opts.c / opts.components.max(1) as f64,
            max_iter: opts.max_iter,
            seed: opts.seed,
            threads: opts.threads,
            ..LogisticOptions::default()
        }
    }

    fn threads(&self) -> usize {
        if self.opts.threads == 0 {
            super::available_threads()
        } else {
            self.opts.threads
        }
    }

    /// Writes the features of the listed rows into `out` (`rows × D`).
    fn transform_into(&self, x: &Matrix, rows: &[usize], out: &mut [f64]) {
        let dd = self.phase.len();
        let d = self.d;
        if dd == 0 {
            return;
        }
        if d == 0 {
            // No inputs: every feature is the constant cos(b).
            for o in out.chunks_mut(dd) {
                for (f, &b) in o.iter_mut().zip(&self.phase) {
                    *f = b.cos();
                }
            }
            return;
        }
        let threads = self.threads();
        let chunk = rows
            .len()
            .div_ceil(threads.clamp(1, rows.len().max(1)))
            .max(1);
        std::thread::scope(|s| {
            for (rs, os) in rows.chunks(chunk).zip(out.chunks_mut(chunk * dd)) {
                s.spawn(move || {
                    let mut z = vec![0.0; d];
                    for (&i, o) in rs.iter().zip(os.chunks_mut(dd)) {
                        for ((zj, &v), &m) in z.iter_mut().zip(x.row(i)).zip(&self.mu) {
                            *zj = if v.is_finite() { v } else { m };
                        }
                        for ((f, w), &b) in o
                            .iter_mut()
                            .zip(self.omega.chunks_exact(d))
                            .zip(&self.phase)
                        {
                            *f = (super::dot(w, &z) + b).cos();
                        }
                    }
                });
            }
        });
    }
}

/// Root-mean-square of the centred finite values of the listed rows.
fn global_scale(x: &Matrix, rows: &[usize], mu: &[f64]) -> f64 {
    let mut ss = 0.0;
    let mut n = 0usize;
    for &i in rows {
        for (&v, &m) in x.row(i).iter().zip(mu) {
            if v.is_finite() {
                ss += (v - m) * (v - m);
                n += 1;
            }
        }
    }
    if n == 0 { 0.0 } else { (ss / n as f64).sqrt() }
}

/// Median squared distance between `pairs` random pairs of the listed rows
/// (centred by `mu`, scaled by `inv_scale`, non-finite values as the mean).
fn median_sq_distance(
    x: &Matrix,
    rows: &[usize],
    mu: &[f64],
    inv_scale: f64,
    rng: &mut Rng,
) -> f64 {
    if rows.len() < 2 {
        return 0.0;
    }
    let clean = |v: f64, m: f64| if v.is_finite() { v } else { m };
    let mut d2: Vec<f64> = (0..MEDIAN_PAIRS)
        .map(|_| {
            let a = x.row(rows[rng.below(rows.len())]);
            let b = x.row(rows[rng.below(rows.len())]);
            a.iter()
                .zip(b)
                .zip(mu)
                .map(|((&u, &v), &m)| {
                    let t = (clean(u, m) - clean(v, m)) * inv_scale;
                    t * t
                })
                .sum::<f64>()
        })
        .filter(|v| *v > 0.0 && v.is_finite())
        .collect();
    if d2.is_empty() {
        return 0.0;
    }
    d2.sort_unstable_by(f64::total_cmp);
    d2[d2.len() / 2]
}

impl Classifier for RffLogistic {
    fn fit_rows(
        &mut self,
        x: &Matrix,
        rows: &[usize],
        labels: &[u32],
        n_classes: usize,
    ) -> Result<(), LearnError> {
        check_labels(x, labels, n_classes)?;
        check_rows(x, rows)?;
        let d = x.cols();
        let dd = self.opts.components.max(1);
        self.d = d;
        let (mu, _) = super::logreg::row_stats(x, rows);
        let scale = global_scale(x, rows, &mu);
        let inv_scale = if scale.is_finite() && scale > 1e-12 {
            1.0 / scale
        } else {
            1.0
        };
        let mut rng = Rng::new(self.opts.seed ^ 0x5EED_F00D_CAFE_D00D);
        let med = median_sq_distance(x, rows, &mu, inv_scale, &mut rng);
        let gs = if self.opts.gamma_scale.is_finite() && self.opts.gamma_scale > 0.0 {
            self.opts.gamma_scale
        } else {
            1.0
        };
        let gamma = if med > 0.0 && med.is_finite() {
            gs / med
        } else {
            gs / d.max(1) as f64
        };
        let sigma = (2.0 * gamma).sqrt();
        let mut omega = Vec::with_capacity(dd * d);
        let mut phase = Vec::with_capacity(dd);
        for _ in 0..dd {
            let start = omega.len();
            omega.extend((0..d).map(|_| rng.normal() * sigma * inv_scale));
            let shift = super::dot(&omega[start..], &mu);
            phase.push(rng.next_f64() * std::f64::consts::TAU - shift);
        }
        self.mu = mu;
        self.inv_scale = inv_scale;
        self.gamma = gamma;
        self.omega = omega;
        self.phase = phase;
        self.lr = LogisticRegression::new(Self::lr_options(&self.opts));
        let mut feats = vec![0.0; rows.len() * dd];
        self.transform_into(x, rows, &mut feats);
        let Ok(fx) = Matrix::from_vec(rows.len(), dd, feats) else {
            return Ok(());
        };
        let sub_labels: Vec<u32> = rows.iter().map(|&i| labels[i]).collect();
        let mut lr = LogisticRegression::new(Self::lr_options(&self.opts));
        lr.fit(&fx, &sub_labels, n_classes)?;
        self.lr = lr;
        Ok(())
    }

    fn predict_proba_rows(&self, x: &Matrix, rows: &[usize], out: &mut [f64]) {
        let k = self.lr.n_classes().max(1);
        let dd = self.phase.len();
        if self.lr.n_classes() == 0 || x.cols() != self.d || dd == 0 {
            for v in out.iter_mut() {
                *v = 1.0 / k as f64;
            }
            return;
        }
        for (rs, os) in rows
            .chunks(PREDICT_BLOCK)
            .zip(out.chunks_mut(PREDICT_BLOCK * k))
        {
            // Out-of-range rows are transformed as row 0 and then predict the
            // uniform distribution.
            let valid: Vec<usize> = rs
                .iter()
                .map(|&i| if i < x.rows() { i } else { 0 })
                .collect();
            let mut feats = vec![0.0; rs.len() * dd];
            if x.rows() > 0 {
                self.transform_into(x, &valid, &mut feats);
            }
            let Ok(fx) = Matrix::from_vec(rs.len(), dd, feats) else {
                break;
            };
            let idx: Vec<usize> = (0..rs.len()).collect();
            self.lr.predict_proba_rows(&fx, &idx, os);
            for (t, &i) in rs.iter().enumerate() {
                if i >= x.rows()
                    && let Some(z) = os.get_mut(t * k..(t + 1) * k)
                {
                    z.fill(1.0 / k as f64);
                }
            }
        }
    }

    fn n_classes(&self) -> usize {
        self.lr.n_classes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::{ModelKind, accuracy, cross_val_proba};

    /// Two concentric rings (radius 1 and 3, noise 0.25): not linearly
    /// separable.
    fn rings(n: usize, seed: u64) -> (Matrix, Vec<u32>) {
        let mut rng = Rng::new(seed);
        let mut data = Vec::with_capacity(2 * n);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let c = u32::try_from(i % 2).unwrap();
            let r = if c == 0 { 1.0 } else { 3.0 };
            let t = rng.next_f64() * std::f64::consts::TAU;
            data.push(r * t.cos() + 0.25 * rng.normal());
            data.push(r * t.sin() + 0.25 * rng.normal());
            y.push(c);
        }
        (Matrix::from_vec(n, 2, data).unwrap(), y)
    }

    fn small() -> RffOptions {
        RffOptions {
            components: 300,
            ..RffOptions::default()
        }
    }

    #[test]
    fn separates_rings_where_logistic_regression_cannot() {
        let (x, y) = rings(600, 1);
        let rff = cross_val_proba(&x, &y, 2, 5, &ModelKind::Rff(small()), 3).unwrap();
        let lin = cross_val_proba(&x, &y, 2, 5, &ModelKind::default(), 3).unwrap();
        let (a_rff, a_lin) = (accuracy(&rff, &y), accuracy(&lin, &y));
        assert!(a_rff >= 0.97, "rff accuracy {a_rff}");
        assert!(a_lin <= 0.7, "logistic accuracy {a_lin}");
    }

    #[test]
    fn fits_xor() {
        let mut rng = Rng::new(5);
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for _ in 0..400 {
            let (a, b) = (rng.next_f64() * 2.0 - 1.0, rng.next_f64() * 2.0 - 1.0);
            rows.push(vec![a, b, 0.1 * rng.normal()]);
            y.push(u32::from((a > 0.0) != (b > 0.0)));
        }
        let x = Matrix::from_rows(&rows).unwrap();
        let p = cross_val_proba(&x, &y, 2, 5, &ModelKind::Rff(small()), 1).unwrap();
        assert!(accuracy(&p, &y) >= 0.9, "accuracy {}", accuracy(&p, &y));
    }

    #[test]
    fn deterministic_for_a_seed() {
        let (x, y) = rings(200, 2);
        let fit = |threads| {
            let mut m = RffLogistic::new(RffOptions {
                threads,
                seed: 9,
                ..small()
            });
            m.fit(&x, &y, 2).unwrap();
            (m.gamma(), m.predict_proba(&x))
        };
        let (g1, a) = fit(1);
        let (g2, b) = fit(2);
        assert!(g1 > 0.0 && (g1 - g2).abs() < 1e-15);
        // The inner L-BFGS sums per-thread partial gradients, so the thread
        // count may move the last bits; a fixed count is bit-reproducible.
        let gap = a
            .as_slice()
            .iter()
            .zip(b.as_slice())
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f64::max);
        assert!(gap < 1e-9, "gap {gap}");
        assert_eq!(a, fit(1).1);
        assert_eq!(b, fit(2).1);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let m = ModelKind::Rff(small());
        // Empty matrix, one row, constant columns, NaN and infinities.
        assert_eq!(
            cross_val_proba(&Matrix::zeros(0, 2), &[], 2, 5, &m, 0)
                .unwrap()
                .rows(),
            0
        );
        let x = Matrix::from_rows(&[vec![f64::NAN, 1.0]]).unwrap();
        let p = cross_val_proba(&x, &[0], 3, 10, &m, 0).unwrap();
        assert!((p.row(0).iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let x = Matrix::from_rows(&[
            vec![f64::INFINITY, 0.0],
            vec![1.0, f64::NAN],
            vec![1.0, 1.0],
            vec![1.0, 1.0],
        ])
        .unwrap();
        for (labels, k) in [(vec![0, 0, 0, 0], 1), (vec![0, 1, 0, 1], 4)] {
            let p = cross_val_proba(&x, &labels, k, 5, &m, 0).unwrap();
            for i in 0..4 {
                assert!(p.row(i).iter().all(|v| v.is_finite() && *v >= 0.0));
                assert!((p.row(i).iter().sum::<f64>() - 1.0).abs() < 1e-9);
            }
        }
        // Zero columns, zero components, unfitted, wrong width, bad rows.
        let z = Matrix::zeros(4, 0);
        let p = cross_val_proba(&z, &[0, 1, 0, 1], 2, 2, &m, 0).unwrap();
        assert!(p.as_slice().iter().all(|v| (*v - 0.5).abs() < 1e-9));
        let mut zero = RffLogistic::new(RffOptions {
            components: 0,
            gamma_scale: f64::NAN,
            c: -1.0,
            ..small()
        });
        zero.fit(&x, &[0, 1, 0, 1], 2).unwrap();
        let p = zero.predict_proba(&x);
        assert!(p.as_slice().iter().all(|v| v.is_finite()));
        let unfitted = RffLogistic::new(small());
        assert!(
            unfitted
                .predict_proba(&x)
                .as_slice()
                .iter()
                .all(|v| v.is_finite())
        );
        let mut out = vec![0.0; 4];
        zero.predict_proba_rows(&Matrix::zeros(2, 3), &[0, 1], &mut out);
        assert!(out.iter().all(|v| (*v - 0.5).abs() < 1e-12));
        zero.predict_proba_rows(&x, &[0, 99], &mut out);
        assert!((out[2] - 0.5).abs() < 1e-12 && (out[3] - 0.5).abs() < 1e-12);
        assert!(zero.fit_rows(&x, &[7], &[0, 1, 0, 1], 2).is_err());
        assert!(zero.fit(&x, &[0, 5, 0, 1], 2).is_err());
    }
}
