//! Adversarial examples for training (adversarial training, Madry et al.
//! 2018; Goodfellow et al. 2015): attack the training rows, keep each
//! row's adversarial input with its *true* label, and add them to the
//! training set so the next model learns to resist them.
//!
//! [`generate`] runs attacks in order: a row keeps the first example that
//! flips the model; otherwise (unless only flips are wanted) the last
//! attack's hardest point, which is still a useful training example. Rows
//! the model already gets wrong are left out (their clean version already
//! carries the signal).
//!
//! [`SoftmaxLinear`] is a built-in multinomial logistic regression (trained
//! with `mlsecops-stats`' L-BFGS trainer) with exact input gradients, so
//! the whole loop — train, attack, augment, retrain, attack again — runs
//! in process.

use mlsecops_stats::Matrix;
use mlsecops_stats::learn::{Classifier, LogisticOptions, LogisticRegression};

use crate::suite::{AttackKind, Budget, Target, run};
use crate::{AttackError, Gradient, Oracle, ThreatModel};

/// One adversarial training example.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// Index of the source row.
    pub row: usize,
    pub x: Vec<f32>,
    /// The row's true label.
    pub label: usize,
    /// The example changes the model's decision.
    pub flips: bool,
}

/// Adversarial examples for the rows of `x` (see the module doc).
pub fn generate(
    attacks: &[AttackKind],
    target: Target<'_>,
    x: &[f32],
    labels: &[usize],
    threat: &ThreatModel,
    budget: &Budget,
    only_flips: bool,
) -> Result<Vec<Example>, AttackError> {
    let d = crate::check_inputs(target.oracle, x, labels, threat)?;
    let n = labels.len();
    let mut kept: Vec<Option<(Vec<f32>, bool)>> = vec![None; n];
    for &kind in attacks {
        if kind.white_box() && target.gradient.is_none() {
            continue;
        }
        let live: Vec<usize> = (0..n)
            .filter(|&i| !kept[i].as_ref().is_some_and(|k| k.1))
            .collect();
        if live.is_empty() {
            break;
        }
        let xs: Vec<f32> = live
            .iter()
            .flat_map(|&i| x[i * d..(i + 1) * d].iter().copied())
            .collect();
        let ys: Vec<usize> = live.iter().map(|&i| labels[i]).collect();
        let r = run(kind, target, &xs, &ys, threat, budget)?;
        for (s, &i) in r.samples.iter().zip(&live) {
            let moved = s.linf > 0.0;
            if s.clean_correct && (s.success || (!only_flips && moved)) {
                kept[i] = Some((s.adversarial.clone(), s.success));
            }
        }
    }
    Ok(kept
        .into_iter()
        .enumerate()
        .filter_map(|(row, k)| {
            k.map(|(x, flips)| Example {
                row,
                x,
                label: labels[row],
                flips,
            })
        })
        .collect())
}

/// `softmax(W·x + b)` over `f32` inputs, with exact input gradients.
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxLinear {
    /// `classes × features`, row-major.
    pub w: Vec<f32>,
    pub b: Vec<f32>,
    pub classes: usize,
    pub features: usize,
}

impl SoftmaxLinear {
    /// Trains a multinomial logistic regression (`c` as scikit-learn's `C`).
    pub fn train(
        x: &[f32],
        labels: &[usize],
        features: usize,
        classes: usize,
        c: f64,
        seed: u64,
    ) -> Result<Self, AttackError> {
        let m = Matrix::from_vec(
            labels.len(),
            features,
            x.iter().map(|&v| f64::from(v)).collect(),
        )
        .map_err(|e| AttackError::Input(e.to_string()))?;
        let y: Vec<u32> = labels
            .iter()
            .map(|&l| u32::try_from(l).unwrap_or(u32::MAX))
            .collect();
        let mut lr = LogisticRegression::new(LogisticOptions {
            c,
            max_iter: 500,
            seed,
            ..LogisticOptions::default()
        });
        lr.fit(&m, &y, classes)
            .map_err(|e| AttackError::Input(e.to_string()))?;
        let (w, b) = lr.raw_coefficients();
        Ok(Self {
            w: w.iter().map(|&v| v as f32).collect(),
            b: b.iter().map(|&v| v as f32).collect(),
            classes,
            features,
        })
    }

    fn logits(&self, row: &[f32], out: &mut [f32]) {
        for (c, o) in out.iter_mut().enumerate() {
            let wc = &self.w[c * self.features..(c + 1) * self.features];
            *o = self.b[c] + wc.iter().zip(row).map(|(a, b)| a * b).sum::<f32>();
        }
    }
}

fn softmax(z: &mut [f32]) {
    let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut s = 0.0;
    for v in z.iter_mut() {
        *v = (*v - m).exp();
        s += *v;
    }
    for v in z.iter_mut() {
        *v /= s;
    }
}

impl Oracle for SoftmaxLinear {
    fn features(&self) -> usize {
        self.features
    }
    fn classes(&self) -> usize {
        self.classes
    }
    fn proba(&self, x: &[f32]) -> Result<Vec<f32>, AttackError> {
        let d = self.features.max(1);
        let mut out = vec![0.0; x.len() / d * self.classes];
        for (row, o) in x.chunks_exact(d).zip(out.chunks_exact_mut(self.classes)) {
            self.logits(row, o);
            softmax(o);
        }
        Ok(out)
    }
}

impl Gradient for SoftmaxLinear {
    fn loss_gradient(&self, x: &[f32], y: &[usize]) -> Result<(Vec<f32>, Vec<f32>), AttackError> {
        let d = self.features;
        let p = self.proba(x)?;
        let mut g = vec![0.0f32; x.len()];
        for (r, &label) in y.iter().enumerate() {
            let gr = &mut g[r * d..(r + 1) * d];
            for c in 0..self.classes {
                // ∂(−log p_y)/∂z_c = p_c − [c = y]; ∂z_c/∂x = W_c.
                let coef = p[r * self.classes + c] - if c == label { 1.0 } else { 0.0 };
                for (gv, wv) in gr.iter_mut().zip(&self.w[c * d..(c + 1) * d]) {
                    *gv += coef * wv;
                }
            }
        }
        Ok((p, g))
    }
}
