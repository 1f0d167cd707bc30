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
//! * [`pgd`]: FGSM and PGD (L∞ / L2, random restarts), white-box, for
//!   models with input gradients ([`Gradient`]).
//! * [`simba`]: SimBA (Guo et al., ICML 2019), score-based, L2 / L∞:
//!   ±ε steps along random pixel or low-frequency DCT directions, kept
//!   when they lower the true class's probability.
//! * [`nes`]: NES gradient estimation (Ilyas et al., ICML 2018; the ZOO
//!   family), score-based, L2 / L∞: antithetic Gaussian probes estimate
//!   the loss gradient, which drives projected sign / normalised steps.
//! * [`text`]: character and word edits (homoglyphs, invisible
//!   characters, typos, synonyms) against text classifiers, score-based.
//! * [`square`]: the Square Attack (Andriushchenko et al., ECCV 2020),
//!   score-based, L∞: random ±ε updates on square windows (images) or
//!   feature subsets (tabular), kept when they lower the margin loss.
//! * [`hsj`]: HopSkipJump (Chen, Jordan & Wainwright, IEEE S&P 2020),
//!   decision-based, L2 / L∞: binary searches to the decision boundary,
//!   Monte-Carlo estimates of its normal and geometric jumps along them.
//! * [`boundary`]: the Boundary Attack (Brendel, Rauber & Bethge, ICLR
//!   2018), decision-based, L2: a random walk along the decision boundary
//!   towards the clean input, step sizes adapted to the success rate.

use serde::Serialize;

pub mod accept;
pub mod augment;
pub mod boundary;
pub mod eval;
pub mod hsj;
pub mod nes;
pub mod pgd;
pub mod simba;
pub mod square;
pub mod squeeze;
pub mod suite;
pub mod text;

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

/// A model whose loss can be differentiated with respect to its input
/// (white-box attacks).
pub trait Gradient: Oracle {
    /// For `x` (`rows × features()`) and true labels `y`: the probabilities
    /// and the gradient of the cross-entropy loss `−log p[y]` with respect
    /// to each input value (`rows × features()`).
    fn loss_gradient(&self, x: &[f32], y: &[usize]) -> Result<(Vec<f32>, Vec<f32>), AttackError>;
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

/// The norm that measures a perturbation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    /// Largest change to any one value.
    #[default]
    Linf,
    /// Euclidean length of the change.
    L2,
}

impl Norm {
    /// Distance between `a` and `b` under this norm.
    #[must_use]
    pub fn dist(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Self::Linf => linf(a, b),
            Self::L2 => l2(a, b),
        }
    }
}

impl std::fmt::Display for Norm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Linf => "linf",
            Self::L2 => "l2",
        })
    }
}

impl std::str::FromStr for Norm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "linf" | "inf" | "l-inf" => Ok(Self::Linf),
            "l2" | "2" => Ok(Self::L2),
            _ => Err(format!("unknown norm {s:?} (linf or l2)")),
        }
    }
}

/// Per-feature rules for tabular inputs (from a data contract and the
/// command line): each feature's valid range, features the attacker may
/// not change (an applicant's age, a categorical code) and features that
/// only take integer values. Vectors are empty or one entry per feature.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Domain {
    pub lo: Vec<f32>,
    pub hi: Vec<f32>,
    pub immutable: Vec<bool>,
    pub integer: Vec<bool>,
}

impl Domain {
    fn get<T: Copy>(v: &[T], j: usize, default: T) -> T {
        v.get(j).copied().unwrap_or(default)
    }

    /// Features that may change.
    #[must_use]
    pub fn mutable(&self, j: usize) -> bool {
        !Self::get(&self.immutable, j, false)
    }
}

/// What the attacker may change: a ball of radius `eps` under `norm`
/// around each input, intersected with the valid box `[lo, hi]` and, for
/// tabular data, the per-feature [`Domain`]. An attack succeeds only if
/// the model's decision changes *inside* this set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThreatModel {
    pub norm: Norm,
    pub eps: f32,
    pub lo: f32,
    pub hi: f32,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_domain"
    )]
    pub domain: Option<std::sync::Arc<Domain>>,
}

impl ThreatModel {
    /// An L∞ ball of radius `eps` inside `[lo, hi]`.
    #[must_use]
    pub fn linf(eps: f32, lo: f32, hi: f32) -> Self {
        Self {
            norm: Norm::Linf,
            eps,
            lo,
            hi,
            domain: None,
        }
    }

    /// An L2 ball of radius `eps` inside `[lo, hi]`.
    #[must_use]
    pub fn l2(eps: f32, lo: f32, hi: f32) -> Self {
        Self {
            norm: Norm::L2,
            eps,
            lo,
            hi,
            domain: None,
        }
    }

    /// `adv` is within the ball around `x0` (with float slack) and the box.
    #[must_use]
    pub fn contains(&self, x0: &[f32], adv: &[f32]) -> bool {
        self.norm.dist(x0, adv) <= self.eps * (1.0 + 1e-5) + 1e-6
            && adv.iter().all(|v| (self.lo..=self.hi).contains(v))
            && self.domain.as_deref().is_none_or(|dom| {
                adv.iter().zip(x0).enumerate().all(|(j, (&a, &o))| {
                    let fixed = !dom.mutable(j) && a.to_bits() != o.to_bits();
                    let range = a >= Domain::get(&dom.lo, j, f32::NEG_INFINITY)
                        && a <= Domain::get(&dom.hi, j, f32::INFINITY);
                    let int = !Domain::get(&dom.integer, j, false) || a.fract() == 0.0;
                    !fixed && range && int
                })
            })
    }

    /// Projects `adv` onto the ball around `x0` and then the box.
    pub fn project(&self, x0: &[f32], adv: &mut [f32]) {
        match self.norm {
            Norm::Linf => {
                for (a, &o) in adv.iter_mut().zip(x0) {
                    *a = a.clamp(o - self.eps, o + self.eps);
                }
            }
            Norm::L2 => {
                let n = l2(x0, adv);
                if n > self.eps && n > 0.0 {
                    let f = self.eps / n;
                    for (a, &o) in adv.iter_mut().zip(x0) {
                        *a = o + (*a - o) * f;
                    }
                }
            }
        }
        for a in adv.iter_mut() {
            *a = a.clamp(self.lo, self.hi);
        }
        if let Some(dom) = self.domain.as_deref() {
            for (j, (a, &o)) in adv.iter_mut().zip(x0).enumerate() {
                if !dom.mutable(j) {
                    *a = o;
                    continue;
                }
                let lo = Domain::get(&dom.lo, j, f32::NEG_INFINITY).max(self.lo);
                let hi = Domain::get(&dom.hi, j, f32::INFINITY).min(self.hi);
                *a = a.clamp(lo.min(hi), hi);
                if Domain::get(&dom.integer, j, false) {
                    // The nearest integer still in range and, for L∞, in
                    // the ball; else the original value.
                    let r = a.round();
                    let ok = |v: f32| {
                        v >= lo && v <= hi && (self.norm != Norm::Linf || (v - o).abs() <= self.eps)
                    };
                    *a = if ok(r) {
                        r
                    } else if ok(a.trunc()) {
                        a.trunc()
                    } else {
                        o
                    };
                }
            }
        }
    }
}

// `serde`'s `rc` feature is not enabled workspace-wide for one field.
#[allow(clippy::ref_option)]
fn serialize_domain<S: serde::Serializer>(
    d: &Option<std::sync::Arc<Domain>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    d.as_deref().serialize(s)
}

/// L∞ distance.
#[must_use]
pub fn linf(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}

/// L2 distance.
#[must_use]
pub fn l2(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
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
    /// L2 distance from the clean input.
    pub l2: f32,
    /// Model queries (or gradient evaluations) spent on this sample.
    pub queries: u64,
}

impl SampleResult {
    /// The result for clean input `x0` and final input `adv`.
    #[must_use]
    pub fn new(
        x0: &[f32],
        adv: Vec<f32>,
        clean_correct: bool,
        success: bool,
        queries: u64,
    ) -> Self {
        Self {
            clean_correct,
            success,
            linf: linf(x0, &adv),
            l2: l2(x0, &adv),
            adversarial: adv,
            queries,
        }
    }
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

/// Work done by the attack running now, for progress displays: units are
/// samples (or batches of samples for the batched white-box attacks).
#[derive(Debug, Default)]
pub struct Progress {
    done: std::sync::atomic::AtomicUsize,
    total: std::sync::atomic::AtomicUsize,
}

impl Progress {
    /// `(done, total)` of the running attack.
    pub fn get(&self) -> (usize, usize) {
        (
            self.done.load(std::sync::atomic::Ordering::Relaxed),
            self.total.load(std::sync::atomic::Ordering::Relaxed),
        )
    }
    fn start(&self, total: usize) {
        self.done.store(0, std::sync::atomic::Ordering::Relaxed);
        self.total
            .store(total, std::sync::atomic::Ordering::Relaxed);
    }
    fn step(&self) {
        self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Progress of the attack running in this process.
pub static PROGRESS: Progress = Progress {
    done: std::sync::atomic::AtomicUsize::new(0),
    total: std::sync::atomic::AtomicUsize::new(0),
};

/// Runs `f(i)` for `0..n` on all cores, results in order.
pub(crate) fn par_map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(n.max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    PROGRESS.start(n);
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
                        PROGRESS.step();
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
    if !(threat.eps.is_finite()
        && threat.eps >= 0.0
        && threat.lo.is_finite()
        && threat.hi.is_finite()
        && threat.lo <= threat.hi)
    {
        return Err(AttackError::Input(format!(
            "invalid threat model: eps {}, bounds [{}, {}]",
            threat.eps, threat.lo, threat.hi
        )));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_honours_the_tabular_domain() {
        let dom = Domain {
            lo: vec![0.0, 18.0, f32::NEG_INFINITY],
            hi: vec![1.0, 99.0, f32::INFINITY],
            immutable: vec![false, false, true],
            integer: vec![false, true, false],
        };
        let mut t = ThreatModel::linf(2.5, -1e9, 1e9);
        t.domain = Some(std::sync::Arc::new(dom));
        let x0 = [0.5f32, 30.0, 7.0];
        let mut adv = [1.7f32, 32.4, 9.0];
        t.project(&x0, &mut adv);
        // Range, integer (nearest in the ball), immutable.
        assert_eq!(adv.map(f32::to_bits), [1.0f32, 32.0, 7.0].map(f32::to_bits));
        assert!(t.contains(&x0, &adv));
        assert!(!t.contains(&x0, &[1.0, 32.5, 7.0]));
        assert!(!t.contains(&x0, &[1.0, 32.0, 7.5]));
        assert!(!t.contains(&x0, &[1.2, 32.0, 7.0]));
        // An integer feature whose ball holds no other integer keeps its value.
        let mut t2 = t.clone();
        t2.eps = 0.4;
        let mut adv = [0.6f32, 30.4, 7.0];
        t2.project(&x0, &mut adv);
        assert_eq!(adv[1].to_bits(), 30.0f32.to_bits());
        assert!(t2.contains(&x0, &adv));
    }
}
