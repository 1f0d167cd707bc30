//! Adversarial robustness: attacks under a stated threat model, run against
//! any model that returns class probabilities.
//!
//! Every attack here is untargeted and reports, per sample, whether it
//! changed the model's decision within the budget, the adversarial input,
//! its distance from the original and the queries it spent. Samples the
//! model already gets wrong are counted as such and not attacked (robust
//! accuracy = correct *and* not flipped). Samples run in parallel on all
//! cores; each sample's randomness comes from its own seed, so results do
//! not depend on the thread count.
//!
//! Attacks so far:
//! * [`square`]: the Square Attack (Andriushchenko et al., ECCV 2020),
//!   score-based, L∞: random ±ε updates on square windows (images) or
//!   feature subsets (tabular), kept when they lower the margin loss.

use serde::Serialize;

pub mod square;

/// A model the attacks can query: rows of `features()` values in, rows of
/// `classes()` probabilities out.
pub trait Oracle: Sync {
    /// Values per sample.
    fn features(&self) -> usize;
    /// Classes per output row.
    fn classes(&self) -> usize;
    /// Input dimensions after the batch (`[C, H, W]` for images).
    fn sample_shape(&self) -> Vec<usize> {
        vec![self.features()]
    }
    /// Probabilities for `x` (`rows × features()`).
    fn proba(&self, x: &[f32]) -> Result<Vec<f32>, AttackError>;
}

impl Oracle for mlsecops_model::Model {
    fn features(&self) -> usize {
        mlsecops_model::Model::features(self)
    }
    fn classes(&self) -> usize {
        mlsecops_model::Model::classes(self)
    }
    fn sample_shape(&self) -> Vec<usize> {
        mlsecops_model::Model::sample_shape(self).to_vec()
    }
    fn proba(&self, x: &[f32]) -> Result<Vec<f32>, AttackError> {
        Ok(self.predict_proba(x)?)
    }
}

/// Why an attack could not run.
#[derive(Debug, thiserror::Error)]
pub enum AttackError {
    #[error(transparent)]
    Model(#[from] mlsecops_model::ModelError),
    #[error("{0}")]
    Input(String),
}

/// What the attacker may change: an L∞ ball of radius `eps` around each
/// input, intersected with the valid box `[lo, hi]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ThreatModel {
    pub eps: f32,
    pub lo: f32,
    pub hi: f32,
}

/// Outcome for one sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleResult {
    /// The model's decision on the clean input was right.
    pub clean_correct: bool,
    /// The attack changed a right decision into a wrong one.
    pub success: bool,
    /// The final (best) input found, `features()` values.
    pub adversarial: Vec<f32>,
    /// L∞ distance from the clean input.
    pub linf: f32,
    /// Model queries spent on this sample.
    pub queries: u64,
}

/// Outcome for a set of samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackReport {
    pub attack: &'static str,
    pub threat: ThreatModel,
    pub samples: Vec<SampleResult>,
}

impl AttackReport {
    /// Fraction of samples the model gets right without attack.
    #[must_use]
    pub fn clean_accuracy(&self) -> f64 {
        ratio(
            self.samples.iter().filter(|s| s.clean_correct).count(),
            self.samples.len(),
        )
    }

    /// Fraction of samples still right after the attack.
    #[must_use]
    pub fn robust_accuracy(&self) -> f64 {
        ratio(
            self.samples
                .iter()
                .filter(|s| s.clean_correct && !s.success)
                .count(),
            self.samples.len(),
        )
    }

    /// Fraction of the initially right samples the attack flipped.
    #[must_use]
    pub fn success_rate(&self) -> f64 {
        let attacked = self.samples.iter().filter(|s| s.clean_correct).count();
        ratio(self.samples.iter().filter(|s| s.success).count(), attacked)
    }

    /// Mean queries over the attacked samples.
    #[must_use]
    pub fn mean_queries(&self) -> f64 {
        let attacked: Vec<&SampleResult> =
            self.samples.iter().filter(|s| s.clean_correct).collect();
        if attacked.is_empty() {
            return 0.0;
        }
        attacked.iter().map(|s| s.queries as f64).sum::<f64>() / attacked.len() as f64
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Margin loss of one probability row: `p[y] − max_{j≠y} p[j]`; negative
/// means the decision is no longer `y`.
#[must_use]
pub fn margin(p: &[f32], y: usize) -> f32 {
    let other = p
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != y)
        .map(|(_, &v)| v)
        .fold(f32::NEG_INFINITY, f32::max);
    p.get(y).copied().unwrap_or(f32::NEG_INFINITY) - other
}

/// Runs `f(i)` for `0..n` on all cores, results in order.
pub(crate) fn par_map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(n.max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<(usize, T)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        mine.push((i, f(i)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            // A worker's panic is re-raised here, never turned into
            // missing samples.
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, t)| t).collect()
}

/// Checks the inputs every attack takes.
pub(crate) fn check_inputs(
    oracle: &dyn Oracle,
    x: &[f32],
    y: &[usize],
    threat: &ThreatModel,
) -> Result<usize, AttackError> {
    let d = oracle.features();
    if d == 0 || x.len() != y.len() * d {
        return Err(AttackError::Input(format!(
            "{} values for {} labels of {d} features",
            x.len(),
            y.len()
        )));
    }
    if let Some(&bad) = y.iter().find(|&&c| c >= oracle.classes()) {
        return Err(AttackError::Input(format!(
            "label {bad} is out of range for {} classes",
            oracle.classes()
        )));
    }
    if !(threat.eps.is_finite() && threat.eps >= 0.0 && threat.lo <= threat.hi) {
        return Err(AttackError::Input(format!(
            "invalid threat model: eps {}, bounds [{}, {}]",
            threat.eps, threat.lo, threat.hi
        )));
    }
    Ok(d)
}
