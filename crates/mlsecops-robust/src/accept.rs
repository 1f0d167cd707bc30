//! Model acceptance: held-out metrics, slices, calibration, comparison with
//! the approved model, robust accuracy under the policy's threat model, and
//! a verdict that names every failed threshold.
//!
//! The policy is the `[accept]` table of `mlsecops.toml`:
//!
//! ```toml
//! [accept]
//! min_accuracy = 0.95           # on the whole held-out set
//! min_f1_macro = 0.9
//! max_ece = 0.1                 # expected calibration error
//! min_slice_accuracy = 0.85     # worst slice with at least min_slice_rows rows
//! min_slice_rows = 30
//! max_regression = 0.01         # accuracy drop allowed vs the approved model
//! min_robust_accuracy = 0.5     # under the threat model below
//!
//! [accept.robustness]
//! norm = "linf"                 # or "l2"
//! eps = 0.1
//! bounds = [0.0, 1.0]           # valid input range
//! attacks = ["pgd", "square"]   # run in order; white-box ones need gradients
//! samples = 200                 # first N rows attacked
//! max_queries = 1000
//! steps = 40
//! eps_curve = [0.02, 0.05, 0.1, 0.2]
//! ```

use serde::{Deserialize, Serialize};

use crate::eval::{Metrics, SliceMetrics};
use crate::suite::{AttackKind, Budget, SuiteReport};
use crate::{Norm, ThreatModel};

/// Thresholds; a missing one is not checked.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptPolicy {
    pub min_accuracy: Option<f64>,
    pub min_f1_macro: Option<f64>,
    pub max_ece: Option<f64>,
    pub min_slice_accuracy: Option<f64>,
    /// Slices smaller than this are reported but not gated.
    #[serde(default = "default_slice_rows")]
    pub min_slice_rows: u64,
    /// Largest accuracy drop (absolute) against the baseline.
    pub max_regression: Option<f64>,
    pub min_robust_accuracy: Option<f64>,
    #[serde(default)]
    pub robustness: RobustnessPolicy,
}

fn default_slice_rows() -> u64 {
    30
}

impl Default for AcceptPolicy {
    fn default() -> Self {
        Self {
            min_accuracy: None,
            min_f1_macro: None,
            max_ece: None,
            min_slice_accuracy: None,
            min_slice_rows: default_slice_rows(),
            max_regression: None,
            min_robust_accuracy: None,
            robustness: RobustnessPolicy::default(),
        }
    }
}

/// The threat model and budgets of the robustness check.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RobustnessPolicy {
    /// `linf` or `l2`.
    pub norm: String,
    pub eps: f32,
    /// Valid input range `[lo, hi]`.
    pub bounds: [f32; 2],
    /// Attack names, run in order (`pgd`, `fgsm`, `square`, …).
    pub attacks: Vec<String>,
    /// Rows attacked (the first ones); 0 = every row.
    pub samples: usize,
    pub max_queries: u64,
    pub steps: u32,
    pub step_size: Option<f32>,
    pub restarts: u32,
    /// Extra ε values for the robust-accuracy curve.
    pub eps_curve: Vec<f32>,
    pub seed: u64,
    /// Skip the robustness check entirely.
    pub skip: bool,
}

impl Default for RobustnessPolicy {
    fn default() -> Self {
        Self {
            norm: "linf".into(),
            eps: 0.1,
            bounds: [0.0, 1.0],
            attacks: vec!["pgd".into(), "square".into()],
            samples: 200,
            max_queries: 1000,
            steps: 40,
            step_size: None,
            restarts: 0,
            eps_curve: Vec::new(),
            seed: 0,
            skip: false,
        }
    }
}

impl RobustnessPolicy {
    /// The threat model at radius `eps`.
    pub fn threat(&self, eps: f32) -> Result<ThreatModel, String> {
        let norm: Norm = self.norm.parse()?;
        Ok(ThreatModel {
            norm,
            eps,
            lo: self.bounds[0],
            hi: self.bounds[1],
            domain: None,
        })
    }

    /// The attacks by kind.
    pub fn attack_kinds(&self) -> Result<Vec<AttackKind>, String> {
        self.attacks.iter().map(|a| a.parse()).collect()
    }

    #[must_use]
    pub fn budget(&self) -> Budget {
        Budget {
            max_queries: self.max_queries,
            steps: self.steps,
            step_size: self.step_size,
            restarts: self.restarts,
            iterations: None,
            max_eval: None,
            seed: self.seed,
        }
    }
}

/// One point of the robust accuracy vs ε curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvePoint {
    pub eps: f32,
    pub robust_accuracy: f64,
}

/// The robustness part of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Robustness {
    #[serde(flatten)]
    pub suite: SuiteReport,
    pub curve: Vec<CurvePoint>,
}

/// The approved model's figures on the same data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    /// Where the figures come from (a model file or a registry entry).
    pub source: String,
    pub accuracy: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub robust_accuracy: Option<f64>,
    /// Candidate minus baseline.
    pub accuracy_delta: f64,
}

/// One gated threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    pub value: f64,
    pub threshold: f64,
    pub passed: bool,
    /// Why it failed, in words (empty when it passed).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// Everything `mlsecops accept` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcceptReport {
    pub kind: &'static str,
    pub model: serde_json::Value,
    pub data: serde_json::Value,
    pub classes: Vec<String>,
    pub accuracy: f64,
    pub precision_macro: f64,
    pub recall_macro: f64,
    pub f1_macro: f64,
    pub ece: f64,
    /// `null` when robustness was not measured.
    pub robust_accuracy: Option<f64>,
    pub metrics: Metrics,
    pub slices: Vec<SliceMetrics>,
    /// The lowest-accuracy slice with at least `min_slice_rows` rows.
    pub worst_slice: Option<SliceMetrics>,
    pub robustness: Option<Robustness>,
    pub baseline: Option<Baseline>,
    pub policy: AcceptPolicy,
    pub checks: Vec<Check>,
    /// `pass` or `fail`.
    pub verdict: &'static str,
}

/// Applies the policy's thresholds; returns the checks in a fixed order.
#[must_use]
pub fn gate(
    policy: &AcceptPolicy,
    metrics: &Metrics,
    worst_slice: Option<&SliceMetrics>,
    robust_accuracy: Option<f64>,
    baseline: Option<&Baseline>,
) -> Vec<Check> {
    fn at_least(checks: &mut Vec<Check>, name: &str, value: f64, min: Option<f64>, what: &str) {
        if let Some(t) = min {
            let passed = value >= t;
            checks.push(Check {
                name: name.into(),
                value,
                threshold: t,
                passed,
                reason: if passed {
                    String::new()
                } else {
                    format!("{what} {value:.4} is below the minimum {t}")
                },
            });
        }
    }
    let mut checks = Vec::new();
    at_least(
        &mut checks,
        "accuracy",
        metrics.accuracy,
        policy.min_accuracy,
        "accuracy",
    );
    at_least(
        &mut checks,
        "f1_macro",
        metrics.f1_macro,
        policy.min_f1_macro,
        "macro F1",
    );
    if let Some(t) = policy.min_slice_accuracy {
        match worst_slice {
            Some(s) => at_least(
                &mut checks,
                "worst_slice_accuracy",
                s.accuracy,
                Some(t),
                &format!(
                    "accuracy on slice {}={} ({} rows)",
                    s.column, s.value, s.rows
                ),
            ),
            None => checks.push(Check {
                name: "worst_slice_accuracy".into(),
                value: f64::NAN,
                threshold: t,
                passed: false,
                reason: format!(
                    "no slice has {} rows or more (give --slices, or lower min_slice_rows)",
                    policy.min_slice_rows
                ),
            }),
        }
    }
    if let Some(t) = policy.min_robust_accuracy {
        match robust_accuracy {
            Some(r) => at_least(
                &mut checks,
                "robust_accuracy",
                r,
                Some(t),
                &format!(
                    "robust accuracy ({} ε = {})",
                    policy.robustness.norm, policy.robustness.eps
                ),
            ),
            None => checks.push(Check {
                name: "robust_accuracy".into(),
                value: f64::NAN,
                threshold: t,
                passed: false,
                reason: "robust accuracy was not measured".into(),
            }),
        }
    }
    if let Some(t) = policy.max_ece {
        let passed = metrics.ece <= t;
        checks.push(Check {
            name: "ece".into(),
            value: metrics.ece,
            threshold: t,
            passed,
            reason: if passed {
                String::new()
            } else {
                format!(
                    "calibration error {:.4} is above the maximum {t}",
                    metrics.ece
                )
            },
        });
    }
    if let (Some(t), Some(b)) = (policy.max_regression, baseline) {
        let drop = -b.accuracy_delta;
        let passed = drop <= t + 1e-12;
        checks.push(Check {
            name: "regression".into(),
            value: drop,
            threshold: t,
            passed,
            reason: if passed {
                String::new()
            } else {
                format!(
                    "accuracy fell by {drop:.4} against the approved model ({}: {:.4} → {:.4}); at most {t} is allowed",
                    b.source,
                    b.accuracy,
                    b.accuracy + b.accuracy_delta
                )
            },
        });
    }
    checks
}

/// The worst slice among those with at least `min_rows` rows.
#[must_use]
pub fn worst_slice(slices: &[SliceMetrics], min_rows: u64) -> Option<SliceMetrics> {
    slices
        .iter()
        .filter(|s| s.rows >= min_rows)
        .min_by(|a, b| a.accuracy.total_cmp(&b.accuracy))
        .cloned()
}

#[cfg(test)]
// Exact values are the point of these tests.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    fn metrics(acc: f64) -> Metrics {
        Metrics {
            rows: 100,
            accuracy: acc,
            precision_macro: acc,
            recall_macro: acc,
            f1_macro: acc,
            ece: 0.05,
            per_class: Vec::new(),
            confusion: Vec::new(),
            calibration: Vec::new(),
        }
    }

    #[test]
    fn every_failed_threshold_is_named() {
        let policy = AcceptPolicy {
            min_accuracy: Some(0.9),
            min_slice_accuracy: Some(0.8),
            min_robust_accuracy: Some(0.5),
            max_regression: Some(0.01),
            max_ece: Some(0.1),
            ..AcceptPolicy::default()
        };
        let slice = SliceMetrics {
            column: "region".into(),
            value: "north".into(),
            rows: 40,
            accuracy: 0.7,
            f1_macro: 0.7,
        };
        let base = Baseline {
            source: "old.onnx".into(),
            accuracy: 0.95,
            robust_accuracy: None,
            accuracy_delta: -0.07,
        };
        let checks = gate(
            &policy,
            &metrics(0.88),
            Some(&slice),
            Some(0.3),
            Some(&base),
        );
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            failed,
            [
                "accuracy",
                "worst_slice_accuracy",
                "robust_accuracy",
                "regression"
            ]
        );
        assert!(checks[1].reason.contains("region=north"));
        let ok = gate(&policy, &metrics(0.96), None, None, None);
        // No slice and no robustness measured are failures, not passes.
        assert_eq!(ok.iter().filter(|c| !c.passed).count(), 2);
    }

    #[test]
    fn policy_parses_with_defaults() {
        let p: AcceptPolicy = serde_json::from_str(
            r#"{"min_accuracy": 0.9, "robustness": {"eps": 0.2, "attacks": ["square"]}}"#,
        )
        .unwrap();
        assert_eq!(p.min_slice_rows, 30);
        assert_eq!(p.robustness.eps, 0.2);
        assert_eq!(p.robustness.attack_kinds().unwrap(), [AttackKind::Square]);
        assert!(serde_json::from_str::<AcceptPolicy>(r#"{"min_acuracy": 0.9}"#).is_err());
    }
}
