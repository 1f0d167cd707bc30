//! Attacks by name, and an AutoAttack-style ensemble (Croce & Hein, ICML
//! 2020): the attacks run one after the other, each on the samples every
//! earlier attack failed to flip, and a sample is robust only if it
//! survives all of them. White-box attacks run only when the model has
//! input gradients; black-box ones always run.
//!
//! **Gradient masking.** A model can look robust to gradient attacks only
//! because its gradients are useless (flat, shattered or obfuscated), not
//! because no adversarial example exists. When black-box attacks flip
//! samples that PGD could not, the suite says so: the white-box figure is
//! then not to be trusted on its own.

use std::time::Instant;

use serde::Serialize;

use crate::boundary::{BoundaryOptions, boundary};
use crate::hsj::{HsjOptions, hsj};
use crate::nes::{NesOptions, nes};
use crate::pgd::{PgdOptions, pgd};
use crate::simba::{SimbaOptions, simba};
use crate::square::{SquareOptions, square};
use crate::{AttackError, AttackReport, Gradient, Oracle, ThreatModel};

/// An attack the suite can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttackKind {
    Fgsm,
    Pgd,
    Square,
    Hsj,
    Boundary,
    Simba,
    Nes,
}

impl AttackKind {
    /// Every attack, in the order `auto` runs them: the strongest cheap
    /// one first, decision-based ones last on what is left.
    pub const ALL: [AttackKind; 7] = [
        Self::Pgd,
        Self::Square,
        Self::Hsj,
        Self::Fgsm,
        Self::Boundary,
        Self::Simba,
        Self::Nes,
    ];

    /// Needs input gradients.
    #[must_use]
    pub fn white_box(self) -> bool {
        matches!(self, Self::Fgsm | Self::Pgd)
    }

    /// The norms this attack is implemented for.
    #[must_use]
    pub fn supports(self, norm: crate::Norm) -> bool {
        match self {
            Self::Square => norm == crate::Norm::Linf,
            Self::Boundary => norm == crate::Norm::L2,
            _ => true,
        }
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Fgsm => "fgsm",
            Self::Pgd => "pgd",
            Self::Square => "square",
            Self::Hsj => "hsj",
            Self::Boundary => "boundary",
            Self::Simba => "simba",
            Self::Nes => "nes",
        }
    }
}

impl std::str::FromStr for AttackKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s.to_ascii_lowercase())
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
                format!("unknown attack {s:?} (one of {})", names.join(", "))
            })
    }
}

impl std::fmt::Display for AttackKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Budgets shared by the attacks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Budget {
    /// Model queries per sample for black-box attacks.
    pub max_queries: u64,
    /// Gradient steps (PGD).
    pub steps: u32,
    /// Step size; `None`: ε / 4 for L∞ (ε / 4 for L2 too), so that a few
    /// steps can cross the ball.
    pub step_size: Option<f32>,
    /// PGD random restarts.
    pub restarts: u32,
    /// Iterations of HopSkipJump (default: its own).
    pub iterations: Option<u32>,
    /// Probes per HopSkipJump gradient estimate at most (default: its own).
    pub max_eval: Option<u32>,
    pub seed: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_queries: 1000,
            steps: 40,
            step_size: None,
            restarts: 0,
            iterations: None,
            max_eval: None,
            seed: 0,
        }
    }
}

/// The model as the attacks see it: always queryable, differentiable when
/// `gradient` is set.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub oracle: &'a dyn Oracle,
    pub gradient: Option<&'a dyn Gradient>,
    /// Why there is no gradient (shown when a white-box attack is skipped).
    pub no_gradient: Option<&'a str>,
}

/// A model seen with another sample layout: `shape` (e.g. `[1, 8, 8]`)
/// tells attacks that work on images (Square's windows) how the flat
/// feature vector is laid out. The values and their order are unchanged.
pub struct WithLayout<'a, M: ?Sized> {
    pub model: &'a M,
    pub shape: Vec<usize>,
}

impl<M: Oracle + ?Sized> Oracle for WithLayout<'_, M> {
    fn features(&self) -> usize {
        self.model.features()
    }
    fn classes(&self) -> usize {
        self.model.classes()
    }
    fn sample_shape(&self) -> Vec<usize> {
        self.shape.clone()
    }
    fn proba(&self, x: &[f32]) -> Result<Vec<f32>, AttackError> {
        self.model.proba(x)
    }
}

impl<M: Gradient + ?Sized> Gradient for WithLayout<'_, M> {
    fn loss_gradient(&self, x: &[f32], y: &[usize]) -> Result<(Vec<f32>, Vec<f32>), AttackError> {
        self.model.loss_gradient(x, y)
    }
}

/// Runs one attack.
pub fn run(
    kind: AttackKind,
    target: Target<'_>,
    x: &[f32],
    labels: &[usize],
    threat: &ThreatModel,
    budget: &Budget,
) -> Result<AttackReport, AttackError> {
    let step = budget.step_size.unwrap_or(threat.eps / 4.0);
    let need_grad = || {
        target.gradient.ok_or_else(|| {
            AttackError::Input(format!(
                "{kind} needs input gradients, and this model has none: {}",
                target.no_gradient.unwrap_or("no gradient")
            ))
        })
    };
    match kind {
        AttackKind::Fgsm => pgd(
            need_grad()?,
            x,
            labels,
            threat,
            &PgdOptions {
                seed: budget.seed,
                ..PgdOptions::fgsm(threat.eps)
            },
        ),
        AttackKind::Pgd => pgd(
            need_grad()?,
            x,
            labels,
            threat,
            &PgdOptions {
                steps: budget.steps,
                step_size: step,
                restarts: budget.restarts,
                seed: budget.seed,
                ..PgdOptions::default()
            },
        ),
        AttackKind::Hsj => hsj(
            target.oracle,
            x,
            labels,
            threat,
            &HsjOptions {
                max_queries: budget.max_queries,
                max_iter: budget.iterations.unwrap_or(HsjOptions::default().max_iter),
                max_eval: budget.max_eval.unwrap_or(HsjOptions::default().max_eval),
                seed: budget.seed,
                ..HsjOptions::default()
            },
        ),
        AttackKind::Boundary => boundary(
            target.oracle,
            x,
            labels,
            threat,
            &BoundaryOptions {
                max_queries: budget.max_queries,
                seed: budget.seed,
                ..BoundaryOptions::default()
            },
        ),
        AttackKind::Simba => simba(
            target.oracle,
            x,
            labels,
            threat,
            &SimbaOptions {
                max_queries: budget.max_queries,
                seed: budget.seed,
                ..SimbaOptions::default()
            },
        ),
        AttackKind::Nes => nes(
            target.oracle,
            x,
            labels,
            threat,
            &NesOptions {
                max_queries: budget.max_queries,
                seed: budget.seed,
                ..NesOptions::default()
            },
        ),
        AttackKind::Square => square(
            target.oracle,
            x,
            labels,
            threat,
            &SquareOptions {
                max_queries: budget.max_queries,
                seed: budget.seed,
                ..SquareOptions::default()
            },
        ),
    }
}

/// One attack's share of a suite run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackSummary {
    pub attack: String,
    /// Samples this attack was run on (those still robust before it).
    pub attacked: u64,
    /// Of those, how many it flipped.
    pub flipped: u64,
    /// Robust accuracy over all samples after this attack.
    pub robust_accuracy_after: f64,
    pub mean_queries: f64,
    pub seconds: f64,
    /// Why the attack did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// Outcome of a suite run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuiteReport {
    pub threat: ThreatModel,
    pub samples: u64,
    pub clean_accuracy: f64,
    /// Right on the clean input and not flipped by any attack.
    pub robust_accuracy: f64,
    pub attacks: Vec<AttackSummary>,
    /// Set when black-box attacks flipped samples gradient attacks did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gradient_masking: Option<String>,
    /// Per sample: the first adversarial input found (with the attack).
    #[serde(skip)]
    pub adversarial: Vec<Option<(AttackKind, Vec<f32>)>>,
}

/// Runs `attacks` in order on the samples still robust.
pub fn run_suite(
    attacks: &[AttackKind],
    target: Target<'_>,
    x: &[f32],
    labels: &[usize],
    threat: &ThreatModel,
    budget: &Budget,
) -> Result<SuiteReport, AttackError> {
    let d = crate::check_inputs(target.oracle, x, labels, threat)?;
    let n = labels.len();
    let k = target.oracle.classes();
    let p = target.oracle.proba(x)?;
    let clean: Vec<bool> = (0..n)
        .map(|i| mlsecops_model::argmax(&p[i * k..(i + 1) * k]) == labels[i])
        .collect();
    let mut robust = clean.clone();
    let mut adversarial: Vec<Option<(AttackKind, Vec<f32>)>> = vec![None; n];
    let mut summaries = Vec::new();
    let mut white_ran = false;
    let mut black_after_white = 0u64;
    let mut white_attacked = 0u64;
    let ratio = |a: usize| if n == 0 { 0.0 } else { a as f64 / n as f64 };
    for &kind in attacks {
        let live: Vec<usize> = (0..n).filter(|&i| robust[i]).collect();
        let skip = if !kind.supports(threat.norm) {
            Some(format!("not implemented for the {} norm", threat.norm))
        } else if kind.white_box() && target.gradient.is_none() {
            Some(format!(
                "no input gradients: {}",
                target.no_gradient.unwrap_or("not differentiable")
            ))
        } else {
            None
        };
        if skip.is_some() {
            summaries.push(AttackSummary {
                attack: kind.name().into(),
                attacked: 0,
                flipped: 0,
                robust_accuracy_after: ratio(robust.iter().filter(|&&r| r).count()),
                mean_queries: 0.0,
                seconds: 0.0,
                skipped: skip,
            });
            continue;
        }
        let xs: Vec<f32> = live
            .iter()
            .flat_map(|&i| x[i * d..(i + 1) * d].iter().copied())
            .collect();
        let ys: Vec<usize> = live.iter().map(|&i| labels[i]).collect();
        let started = Instant::now();
        let report = if live.is_empty() {
            None
        } else {
            Some(run(kind, target, &xs, &ys, threat, budget)?)
        };
        let seconds = started.elapsed().as_secs_f64();
        let mut flipped = 0u64;
        if let Some(r) = &report {
            let hits: Vec<(usize, &[f32])> = r
                .samples
                .iter()
                .zip(&live)
                .filter(|(s, i)| {
                    s.success && threat.contains(&x[**i * d..(**i + 1) * d], &s.adversarial)
                })
                .map(|(s, &i)| (i, s.adversarial.as_slice()))
                .collect();
            // Every flip is confirmed by asking the model again, so no
            // attack's own bookkeeping is taken on trust.
            let batch: Vec<f32> = hits.iter().flat_map(|(_, a)| a.iter().copied()).collect();
            let p = if batch.is_empty() {
                Vec::new()
            } else {
                target.oracle.proba(&batch)?
            };
            for (j, (i, a)) in hits.iter().enumerate() {
                if mlsecops_model::argmax(&p[j * k..(j + 1) * k]) != labels[*i] {
                    robust[*i] = false;
                    adversarial[*i] = Some((kind, a.to_vec()));
                    flipped += 1;
                }
            }
        }
        if kind.white_box() {
            white_ran = true;
            white_attacked = white_attacked.max(live.len() as u64);
        } else if white_ran {
            black_after_white += flipped;
        }
        summaries.push(AttackSummary {
            attack: report
                .as_ref()
                .map_or_else(|| kind.name().to_owned(), |r| r.attack.to_owned()),
            attacked: live.len() as u64,
            flipped,
            robust_accuracy_after: ratio(robust.iter().filter(|&&r| r).count()),
            mean_queries: report.as_ref().map_or(0.0, AttackReport::mean_queries),
            seconds,
            skipped: None,
        });
    }
    // Black-box attacks finding what gradients missed on more than 5% of
    // the samples the gradient attack tried (at least two samples).
    let gradient_masking = (white_ran
        && black_after_white >= 2
        && black_after_white as f64 > 0.05 * white_attacked as f64)
        .then(|| {
            format!(
                "black-box attacks flipped {black_after_white} of the {white_attacked} samples \
                 gradient attacks could not: the gradients may be masked (flat, shattered or \
                 obfuscated), so white-box robustness overstates the real robustness"
            )
        });
    Ok(SuiteReport {
        threat: threat.clone(),
        samples: n as u64,
        clean_accuracy: ratio(clean.iter().filter(|&&c| c).count()),
        robust_accuracy: ratio(robust.iter().filter(|&&r| r).count()),
        attacks: summaries,
        gradient_masking,
        adversarial,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Class 1 when Σx > 2; its "gradient" is zero everywhere (masked).
    struct Masked;
    impl Oracle for Masked {
        fn features(&self) -> usize {
            4
        }
        fn classes(&self) -> usize {
            2
        }
        fn proba(&self, x: &[f32]) -> Result<Vec<f32>, AttackError> {
            Ok(x.chunks(4)
                .flat_map(|r| {
                    let p1 = 1.0 / (1.0 + (-8.0 * (r.iter().sum::<f32>() - 2.0)).exp());
                    [1.0 - p1, p1]
                })
                .collect())
        }
    }
    impl Gradient for Masked {
        fn loss_gradient(
            &self,
            x: &[f32],
            _y: &[usize],
        ) -> Result<(Vec<f32>, Vec<f32>), AttackError> {
            Ok((self.proba(x)?, vec![0.0; x.len()]))
        }
    }

    #[test]
    fn black_box_success_after_gradient_failure_flags_masking() {
        // Rows with Σ ∈ (1.3, 2.7) can be flipped at ε = 0.2.
        let x: Vec<f32> = (0..10).flat_map(|i| [0.55 + 0.01 * i as f32; 4]).collect();
        let y = vec![1usize; 10];
        let threat = ThreatModel::linf(0.2, 0.0, 1.0);
        let target = Target {
            oracle: &Masked,
            gradient: Some(&Masked),
            no_gradient: None,
        };
        let r = run_suite(
            &[AttackKind::Pgd, AttackKind::Square],
            target,
            &x,
            &y,
            &threat,
            &Budget::default(),
        )
        .unwrap();
        assert_eq!(r.attacks[0].flipped, 0);
        assert_eq!(r.attacks[1].flipped, 10);
        assert!(r.robust_accuracy.abs() < 1e-12);
        assert!(r.gradient_masking.is_some());
        // Without gradients the white-box attack is skipped, not failed.
        let blind = Target {
            oracle: &Masked,
            gradient: None,
            no_gradient: Some("tree ensemble"),
        };
        let r = run_suite(
            &[AttackKind::Pgd, AttackKind::Square],
            blind,
            &x,
            &y,
            &threat,
            &Budget::default(),
        )
        .unwrap();
        assert!(
            r.attacks[0]
                .skipped
                .as_deref()
                .unwrap()
                .contains("tree ensemble")
        );
        assert!(r.gradient_masking.is_none());
        assert_eq!(r.attacks[1].flipped, 10);
    }
}
