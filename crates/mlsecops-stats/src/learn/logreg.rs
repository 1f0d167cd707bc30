//! Multinomial logistic regression: softmax over `classes` linear scores,
//! L2 penalty, fitted by L-BFGS on standardized features.
//!
//! The features are standardized implicitly: the optimizer works on weights
//! `w` for `(x − μ)/σ`, and each pass over the data uses the equivalent raw
//! weights `w/σ` and bias `b − Σ w μ/σ`, so the matrix is never copied.
//! Non-finite feature values count as the column mean (0 after
//! standardization).

use serde::Serialize;

use super::optim::{LbfgsSettings, minimize};
use super::{Classifier, LearnError, check_labels, check_rows, par_chunks, softmax_in_place};
use crate::{Matrix, Rng};

/// Settings for [`LogisticRegression`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogisticOptions {
    /// Inverse regularization strength, as scikit-learn's `C`: the objective
    /// is `Σ cross-entropy + ‖w‖² / (2C)` (bias not penalized).
    pub c: f64,
    /// Maximum L-BFGS iterations.
    pub max_iter: usize,
    /// Stop when every gradient component of the mean objective is below this.
    pub tol: f64,
    /// Above `2 × warm_rows` training rows, first fit a random subset of this
    /// many rows, then refine on all rows for at most `refine_iter` iterations.
    pub warm_rows: usize,
    /// Iterations on the full data after the warm start.
    pub refine_iter: usize,
    /// Seed for the warm-start subset.
    pub seed: u64,
    /// Threads one fit may use (0 = all cores).
    pub threads: usize,
}

impl Default for LogisticOptions {
    fn default() -> Self {
        Self {
            c: 0.1,
            max_iter: 300,
            tol: 1e-6,
            warm_rows: 40_000,
            refine_iter: 4,
            seed: 0,
            threads: 0,
        }
    }
}

/// A multinomial logistic-regression model.
#[derive(Debug, Clone)]
pub struct LogisticRegression {
    opts: LogisticOptions,
    k: usize,
    d: usize,
    mu: Vec<f64>,
    sd: Vec<f64>,
    /// `k × (d + 1)` standardized-space weights, bias last in each block.
    theta: Vec<f64>,
}

impl LogisticRegression {
    /// An unfitted model.
    #[must_use]
    pub fn new(opts: LogisticOptions) -> Self {
        Self {
            opts,
            k: 0,
            d: 0,
            mu: Vec::new(),
            sd: Vec::new(),
            theta: Vec::new(),
        }
    }

    /// Weights on the standardized features, `classes × features`, and the
    /// biases (empty before fitting).
    #[must_use]
    pub fn coefficients(&self) -> (Vec<Vec<f64>>, Vec<f64>) {
        let d = self.d;
        (0..self.k)
            .map(|c| {
                let b = &self.theta[c * (d + 1)..(c + 1) * (d + 1)];
                (b[..d].to_vec(), b[d])
            })
            .unzip()
    }

    /// Weights (`classes × features`, row-major) and biases in the input's
    /// own units: the model is `softmax(W·x + b)` (empty before fitting).
    #[must_use]
    pub fn raw_coefficients(&self) -> (Vec<f64>, Vec<f64>) {
        effective(&self.theta, self.k, self.d, &self.mu, &self.sd)
    }

    fn threads(&self) -> usize {
        if self.opts.threads == 0 {
            super::available_threads()
        } else {
            self.opts.threads
        }
    }
}

/// Raw-space weights `k × d` and biases from standardized-space `theta`.
fn effective(theta: &[f64], k: usize, d: usize, mu: &[f64], sd: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut w = vec![0.0; k * d];
    let mut b = vec![0.0; k];
    for c in 0..k {
        let t = &theta[c * (d + 1)..(c + 1) * (d + 1)];
        let mut bias = t[d];
        for j in 0..d {
            let wj = t[j] / sd[j];
            w[c * d + j] = wj;
            bias -= wj * mu[j];
        }
        b[c] = bias;
    }
    (w, b)
}

/// Copies a row, replacing non-finite values by the column mean.
fn clean_row<'a>(row: &'a [f64], mu: &[f64], buf: &'a mut Vec<f64>) -> &'a [f64] {
    if row.iter().all(|v| v.is_finite()) {
        return row;
    }
    buf.clear();
    buf.extend(
        row.iter()
            .zip(mu)
            .map(|(&v, &m)| if v.is_finite() { v } else { m }),
    );
    buf
}

fn scores(w: &[f64], b: &[f64], d: usize, row: &[f64], z: &mut [f64]) {
    for (c, zc) in z.iter_mut().enumerate() {
        let wc = &w[c * d..(c + 1) * d];
        *zc = b[c] + super::dot(wc, row);
    }
}

struct Problem<'a> {
    x: &'a Matrix,
    rows: &'a [usize],
    labels: &'a [u32],
    k: usize,
    d: usize,
    mu: &'a [f64],
    sd: &'a [f64],
    lambda: f64,
    threads: usize,
}

impl Problem<'_> {
    /// Mean cross-entropy plus penalty; writes the gradient.
    fn eval(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let (k, d) = (self.k, self.d);
        let (w, b) = effective(theta, k, d, self.mu, self.sd);
        let parts = par_chunks(self.rows.len(), self.threads, |range| {
            let mut g = vec![0.0; k * (d + 1)];
            let mut loss = 0.0;
            let mut z = vec![0.0; k];
            let mut buf = Vec::new();
            for &i in &self.rows[range] {
                let row = clean_row(self.x.row(i), self.mu, &mut buf);
                scores(&w, &b, d, row, &mut z);
                let y = self.labels[i] as usize;
                let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let zy = z[y] - max;
                let mut sum = 0.0;
                for v in &mut z {
                    *v = (*v - max).exp();
                    sum += *v;
                }
                loss += sum.ln() - zy;
                let inv = 1.0 / sum;
                for (c, zc) in z.iter().enumerate() {
                    let r = zc * inv - if c == y { 1.0 } else { 0.0 };
                    let gc = &mut g[c * (d + 1)..(c + 1) * (d + 1)];
                    for (gj, xj) in gc[..d].iter_mut().zip(row) {
                        *gj += r * xj;
                    }
                    gc[d] += r;
                }
            }
            (loss, g)
        });
        let n = self.rows.len().max(1) as f64;
        for v in grad.iter_mut() {
            *v = 0.0;
        }
        let mut loss = 0.0;
        for (l, g) in parts {
            loss += l;
            for (a, v) in grad.iter_mut().zip(&g) {
                *a += v;
            }
        }
        // Raw-space sums → standardized-space mean gradient, plus penalty.
        let mut pen = 0.0;
        for c in 0..k {
            let gc = &mut grad[c * (d + 1)..(c + 1) * (d + 1)];
            let tc = &theta[c * (d + 1)..(c + 1) * (d + 1)];
            let gb = gc[d];
            for j in 0..d {
                gc[j] = (gc[j] - self.mu[j] * gb) / self.sd[j] / n + self.lambda * tc[j];
                pen += tc[j] * tc[j];
            }
            gc[d] = gb / n;
        }
        loss / n + 0.5 * self.lambda * pen
    }
}

/// Column means and standard deviations over the listed rows (finite values
/// only; sd 1 for constant columns).
pub(crate) fn row_stats(x: &Matrix, rows: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let d = x.cols();
    let mut sum = vec![0.0; d];
    let mut cnt = vec![0usize; d];
    for &i in rows {
        for (j, &v) in x.row(i).iter().enumerate() {
            if v.is_finite() {
                sum[j] += v;
                cnt[j] += 1;
            }
        }
    }
    let mu: Vec<f64> = sum
        .iter()
        .zip(&cnt)
        .map(|(&s, &c)| if c > 0 { s / c as f64 } else { 0.0 })
        .collect();
    let mut ss = vec![0.0; d];
    for &i in rows {
        for (j, &v) in x.row(i).iter().enumerate() {
            if v.is_finite() {
                ss[j] += (v - mu[j]) * (v - mu[j]);
            }
        }
    }
    let sd = ss
        .iter()
        .zip(&cnt)
        .map(|(&s, &c)| {
            let v = if c > 0 { (s / c as f64).sqrt() } else { 0.0 };
            if v > 1e-12 { v } else { 1.0 }
        })
        .collect();
    (mu, sd)
}

impl Classifier for LogisticRegression {
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
        let (mu, sd) = row_stats(x, rows);
        self.theta = vec![0.0; k * (d + 1)];
        // Start the biases at the smoothed log class priors.
        let mut counts = vec![1.0; k];
        for &i in rows {
            counts[labels[i] as usize] += 1.0;
        }
        let total: f64 = counts.iter().sum();
        for (c, &count) in counts.iter().enumerate() {
            self.theta[c * (d + 1) + d] = (count / total).ln();
        }
        if k > 1 && !rows.is_empty() {
            let c = if self.opts.c.is_finite() && self.opts.c > 0.0 {
                self.opts.c
            } else {
                1.0
            };
            let threads = self.threads();
            let settings = LbfgsSettings {
                max_iter: self.opts.max_iter,
                gtol: self.opts.tol,
                ftol: 1e-12,
                memory: 10,
            };
            let warm = self.opts.warm_rows.max(1);
            let mut full_settings = settings;
            if rows.len() > 2 * warm {
                let mut rng = Rng::new(self.opts.seed);
                let mut sub = rows.to_vec();
                for t in 0..warm {
                    let j = t + rng.below(sub.len() - t);
                    sub.swap(t, j);
                }
                sub.truncate(warm);
                sub.sort_unstable();
                let p = Problem {
                    x,
                    rows: &sub,
                    labels,
                    k,
                    d,
                    mu: &mu,
                    sd: &sd,
                    // The full problem's penalty, so the warm start aims at its optimum.
                    lambda: 1.0 / (c * rows.len() as f64),
                    threads,
                };
                minimize(&mut self.theta, settings, |t, g| p.eval(t, g));
                full_settings.max_iter = self.opts.refine_iter;
            }
            let p = Problem {
                x,
                rows,
                labels,
                k,
                d,
                mu: &mu,
                sd: &sd,
                lambda: 1.0 / (c * rows.len() as f64),
                threads,
            };
            minimize(&mut self.theta, full_settings, |t, g| p.eval(t, g));
        }
        self.mu = mu;
        self.sd = sd;
        Ok(())
    }

    fn predict_proba_rows(&self, x: &Matrix, rows: &[usize], out: &mut [f64]) {
        let k = self.k.max(1);
        if self.k == 0 || x.cols() != self.d {
            for v in out.iter_mut() {
                *v = 1.0 / k as f64;
            }
            return;
        }
        let (w, b) = effective(&self.theta, self.k, self.d, &self.mu, &self.sd);
        let mut buf = Vec::new();
        for (t, &i) in rows.iter().enumerate() {
            let Some(z) = out.get_mut(t * k..(t + 1) * k) else {
                break;
            };
            if i >= x.rows() {
                for v in z.iter_mut() {
                    *v = 1.0 / k as f64;
                }
                continue;
            }
            let row = clean_row(x.row(i), &self.mu, &mut buf);
            scores(&w, &b, self.d, row, z);
            softmax_in_place(z);
        }
    }

    fn n_classes(&self) -> usize {
        self.k
    }
}
