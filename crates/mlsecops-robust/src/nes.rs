//! NES gradient estimation driving projected gradient steps, untargeted,
//! L2 or L∞ (Ilyas, Engstrom, Athalye & Lin, "Black-box Adversarial
//! Attacks with Limited Queries and Information", ICML 2018).
//!
//! Score-based: the model's probabilities are all it reads. Where PGD
//! follows the true input gradient of a loss, NES *estimates* it from
//! queries and then takes the same projected steps. It also stands for the
//! ZOO family of zeroth-order attacks (Chen et al., AISec 2017), which
//! estimate the gradient by finite differences along coordinates instead
//! of random directions; the estimate here spends the same queries on all
//! coordinates at once. Per sample:
//!
//! 1. **Estimate.** Draw `n` Gaussian directions `u₁…uₙ` and query the
//!    antithetic pairs `x ± σ·uᵢ` (clipped to the box; immutable features
//!    of a tabular domain are not probed). The gradient of the loss `L` is
//!    estimated by `Σᵢ (L(x + σuᵢ) − L(x − σuᵢ)) · uᵢ / (2σn)`: a
//!    Gaussian-smoothed derivative whose pairs cancel the even part of the
//!    noise (search-distribution gradients, "natural evolution
//!    strategies"). The `2n` probes — and the current point `x`, when the
//!    last step moved it — go to the model in **one** call.
//! 2. **Step.** Average the estimate, scaled to unit length, into a
//!    running direction (momentum `β`: `m ← β·m + (1 − β)·ĝ/‖ĝ‖`), and move
//!    against that direction by `lr·ε`: its sign for L∞ (every value by the
//!    same amount), the direction scaled to unit length for L2; then
//!    project onto the ball and the box. Momentum smooths the noise of
//!    single estimates, which matters most for L∞, whose sign step turns
//!    every noisy coordinate into a full step: on the digit fixtures (L∞
//!    0.2, 1000 queries, β = 0.9 against none) it raised the flips of the
//!    logistic regression from 0.79 to 0.95 and of the CNN from 0.74 to
//!    0.95.
//! 3. **Stop** as soon as the current point is misclassified, or a probe
//!    that lies inside the threat model is (the attacker has seen it
//!    flip, so it counts), or when the budget is spent. The last estimate
//!    shrinks to the pairs the budget still allows, and one query is kept
//!    for the final point.
//!
//! The loss ([`NesLoss`]) is by default the margin in log-probabilities,
//! `log p[y] − max_{j≠y} log p[j]`: the logit margin of a softmax model
//! (Carlini & Wagner's loss) and negative exactly when the decision has
//! flipped. Unlike the margin of the probabilities themselves it does not
//! flatten out when the model is very confident. Tree ensembles, whose
//! scores are piecewise constant, give estimates of zero wherever no probe
//! crosses a split. The default `σ` (5 % of the box width, larger than the
//! paper's 0.001 for ImageNet) is chosen for that: on the digit fixtures
//! the random forest had 0.94 (L∞) and 0.88 (L2) of its samples flipped at
//! σ = 1 %, with twice the queries, and all of them at 5 %, while the
//! smooth models flipped as often at either.
//!
//! When the attack ends without a flip, the reported input is the
//! evaluated point with the lowest loss. One query = one row sent to the
//! model, the clean input included; the budget is never exceeded.

use mlsecops_stats::Rng;
use serde::Serialize;

use crate::{AttackError, AttackReport, Norm, Oracle, SampleResult, ThreatModel, check_inputs};

/// The loss NES descends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum NesLoss {
    /// `log p[y] − max_{j≠y} log p[j]`.
    #[default]
    Margin,
    /// `log p[y]` (the negated cross-entropy).
    CrossEntropy,
}

/// Settings of [`nes`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NesOptions {
    /// Queries per sample, the clean one included (a hard budget).
    pub max_queries: u64,
    /// Antithetic pairs per gradient estimate (two queries each).
    pub samples: usize,
    /// Probe radius, as a fraction of the box width `hi − lo`.
    pub sigma: f32,
    /// Step length, as a fraction of the radius ε of the ball.
    pub lr: f32,
    pub loss: NesLoss,
    /// Weight `β` of the running direction against the new estimate
    /// (0: every step follows its own estimate).
    pub momentum: f32,
    pub seed: u64,
}

impl Default for NesOptions {
    fn default() -> Self {
        Self {
            max_queries: 1000,
            samples: 50,
            sigma: 0.05,
            lr: 0.5,
            loss: NesLoss::Margin,
            momentum: 0.9,
            seed: 0,
        }
    }
}

/// Attacks every row of `x` (`labels.len() × features` values).
pub fn nes(
    oracle: &dyn Oracle,
    x: &[f32],
    labels: &[usize],
    threat: &ThreatModel,
    opts: &NesOptions,
) -> Result<AttackReport, AttackError> {
    let d = check_inputs(oracle, x, labels, threat)?;
    if opts.max_queries == 0 {
        return Err(AttackError::Input(
            "NES needs a budget of at least one query (the clean input)".to_owned(),
        ));
    }
    if opts.samples == 0 {
        return Err(AttackError::Input(
            "NES needs at least one probe pair per estimate".to_owned(),
        ));
    }
    for (name, v) in [("sigma", opts.sigma), ("lr", opts.lr)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(AttackError::Input(format!(
                "NES {name} must be positive, not {v}"
            )));
        }
    }
    if !(0.0..1.0).contains(&opts.momentum) {
        return Err(AttackError::Input(format!(
            "NES momentum must be in [0, 1), not {}",
            opts.momentum
        )));
    }
    let results = crate::par_map(labels.len(), |i| {
        let seed = opts.seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        attack_one(
            oracle,
            &x[i * d..(i + 1) * d],
            labels[i],
            threat,
            opts,
            seed,
        )
    });
    let samples = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(AttackReport {
        attack: match threat.norm {
            Norm::Linf => "nes-linf",
            Norm::L2 => "nes-l2",
        },
        threat: threat.clone(),
        samples,
    })
}

/// The loss of one probability row (lower is closer to a flip).
fn loss(p: &[f32], y: usize, kind: NesLoss) -> f64 {
    let log = |v: f32| f64::from(v).max(1e-30).ln();
    let others: f64 = p
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != y)
        .map(|(_, &v)| f64::from(v))
        .sum();
    let py = p.get(y).copied().unwrap_or(0.0);
    // For a confident model p[y] is 1 − (small), rounded to 1 in f32: the
    // other classes keep the digits.
    let log_py = if py > 0.5 {
        (-others.min(1.0 - 1e-12)).ln_1p()
    } else {
        log(py)
    };
    match kind {
        NesLoss::CrossEntropy => log_py,
        NesLoss::Margin => {
            let top = p
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != y)
                .map(|(_, &v)| log(v))
                .fold(f64::NEG_INFINITY, f64::max);
            log_py - top
        }
    }
}

fn attack_one(
    oracle: &dyn Oracle,
    x0: &[f32],
    y: usize,
    threat: &ThreatModel,
    opts: &NesOptions,
    seed: u64,
) -> Result<SampleResult, AttackError> {
    let d = x0.len();
    let k = oracle.classes();
    let p0 = oracle.proba(x0)?;
    let mut queries = 1u64;
    let clean_correct = mlsecops_model::argmax(&p0) == y;
    let sigma = opts.sigma * (threat.hi - threat.lo);
    if !clean_correct || threat.eps <= 0.0 || sigma <= 0.0 {
        return Ok(SampleResult::new(
            x0,
            x0.to_vec(),
            clean_correct,
            false,
            queries,
        ));
    }
    let step = opts.lr * threat.eps;
    let probed: Vec<bool> = (0..d)
        .map(|j| threat.domain.as_deref().is_none_or(|dom| dom.mutable(j)))
        .collect();
    let mut rng = Rng::new(seed);
    let mut adv = x0.to_vec();
    let mut best = adv.clone();
    let mut best_loss = loss(&p0, y, opts.loss);
    // The model's answer at `adv` is known (the clean query, or a step the
    // projection undid).
    let mut known = true;
    let mut found: Option<Vec<f32>> = None;
    let mut normals = vec![0.0f64; opts.samples * d];
    let mut dirs = vec![0.0f32; opts.samples * d];
    let mut batch: Vec<f32> = Vec::with_capacity((2 * opts.samples + 1) * d);
    let mut g = vec![0.0f64; d];
    let mut mom = vec![0.0f64; d];
    loop {
        let left = opts.max_queries - queries;
        let center = u64::from(!known);
        if left < center {
            break;
        }
        // One query stays for the point the step after this estimate
        // reaches.
        let n = opts
            .samples
            .min(((left - center).saturating_sub(1) / 2) as usize);
        if n == 0 && known {
            break;
        }
        // Probes.
        rng.fill_normal(&mut normals[..n * d]);
        for ((u, &z), &on) in dirs[..n * d]
            .iter_mut()
            .zip(&normals[..n * d])
            .zip(probed.iter().cycle())
        {
            *u = if on { z as f32 } else { 0.0 };
        }
        batch.clear();
        if !known {
            batch.extend_from_slice(&adv);
        }
        for u in dirs[..n * d].chunks(d) {
            for s in [sigma, -sigma] {
                batch.extend(
                    adv.iter()
                        .zip(u)
                        .map(|(&a, &uj)| (a + s * uj).clamp(threat.lo, threat.hi)),
                );
            }
        }
        let p = oracle.proba(&batch)?;
        queries += (batch.len() / d) as u64;
        let (head, pairs) = p.split_at(if known { 0 } else { k });
        if !known {
            if mlsecops_model::argmax(head) != y {
                found = Some(adv.clone());
                break;
            }
            let l = loss(head, y, opts.loss);
            if l < best_loss {
                best_loss = l;
                best.copy_from_slice(&adv);
            }
        }
        let rows = &batch[center as usize * d..];
        if let Some(r) = (0..2 * n).find(|&r| {
            mlsecops_model::argmax(&pairs[r * k..(r + 1) * k]) != y
                && threat.contains(x0, &rows[r * d..(r + 1) * d])
        }) {
            found = Some(rows[r * d..(r + 1) * d].to_vec());
            break;
        }
        if n == 0 {
            break;
        }
        // Estimate (up to a positive factor, which neither step uses).
        g.fill(0.0);
        for (i, u) in dirs[..n * d].chunks(d).enumerate() {
            let plus = loss(&pairs[2 * i * k..(2 * i + 1) * k], y, opts.loss);
            let minus = loss(&pairs[(2 * i + 1) * k..(2 * i + 2) * k], y, opts.loss);
            let w = plus - minus;
            if w.is_finite() && w != 0.0 {
                for (gj, &uj) in g.iter_mut().zip(u) {
                    *gj += w * f64::from(uj);
                }
            }
        }
        // A flat estimate (no probe saw a change) leaves the running
        // direction as it is.
        let gn = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        if gn > 0.0 {
            let beta = f64::from(opts.momentum);
            for (m, &gj) in mom.iter_mut().zip(&g) {
                *m = beta * *m + (1.0 - beta) * gj / gn;
            }
        }
        let before = adv.clone();
        match threat.norm {
            Norm::Linf => {
                for (a, &m) in adv.iter_mut().zip(&mom) {
                    if m > 0.0 {
                        *a -= step;
                    } else if m < 0.0 {
                        *a += step;
                    }
                }
            }
            Norm::L2 => {
                let norm = mom.iter().map(|v| v * v).sum::<f64>().sqrt();
                if norm > 0.0 {
                    for (a, &m) in adv.iter_mut().zip(&mom) {
                        *a -= (f64::from(step) * m / norm) as f32;
                    }
                }
            }
        }
        threat.project(x0, &mut adv);
        known = adv
            .iter()
            .zip(&before)
            .all(|(a, b)| a.to_bits() == b.to_bits());
    }
    Ok(match found {
        Some(adv) => {
            let success = threat.contains(x0, &adv);
            SampleResult::new(x0, adv, clean_correct, success, queries)
        }
        None => SampleResult::new(x0, best, clean_correct, false, queries),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes on 4 features: class 1 when Σx > 2.05 (no ties at Σ = 2).
    struct Linear;
    impl Oracle for Linear {
        fn features(&self) -> usize {
            4
        }
        fn classes(&self) -> usize {
            2
        }
        fn proba(&self, x: &[f32]) -> Result<Vec<f32>, AttackError> {
            Ok(x.chunks(4)
                .flat_map(|r| {
                    let p1 = 1.0 / (1.0 + (-4.0 * (r.iter().sum::<f32>() - 2.05)).exp());
                    [1.0 - p1, p1]
                })
                .collect())
        }
    }

    const X: [f32; 12] = [0.3, 0.3, 0.3, 0.3, 0.9, 0.9, 0.9, 0.9, 0.6, 0.6, 0.6, 0.6];
    const Y: [usize; 3] = [0, 1, 1];

    #[test]
    fn flips_only_what_the_ball_allows_under_both_norms() {
        // Row 0 needs Σ +0.85 and row 1 Σ −1.55: out of reach of an L∞
        // ball of 0.2 (at most ±0.8) and an L2 ball of 0.3 (at most ±0.6).
        // Row 2 needs −0.35.
        for loss_kind in [NesLoss::Margin, NesLoss::CrossEntropy] {
            let opts = NesOptions {
                max_queries: 300,
                samples: 10,
                loss: loss_kind,
                ..NesOptions::default()
            };
            for threat in [
                ThreatModel::linf(0.2, 0.0, 1.0),
                ThreatModel::l2(0.3, 0.0, 1.0),
            ] {
                let r = nes(&Linear, &X, &Y, &threat, &opts).unwrap();
                assert_eq!(
                    r.samples.iter().map(|s| s.success).collect::<Vec<_>>(),
                    [false, false, true],
                    "{} {loss_kind:?}",
                    r.attack
                );
                for (s, x0) in r.samples.iter().zip(X.chunks(4)) {
                    assert!(s.clean_correct);
                    assert!(threat.contains(x0, &s.adversarial), "{s:?}");
                    assert!(s.queries <= 300);
                }
                assert!(Linear.proba(&r.samples[2].adversarial).unwrap()[1] < 0.5);
                // The unflippable rows spend the budget (bar a pair).
                assert!(r.samples[0].queries >= 298, "{:?}", r.samples[0]);
                // Deterministic for a seed.
                assert_eq!(r, nes(&Linear, &X, &Y, &threat, &opts).unwrap());
            }
        }
    }

    #[test]
    fn never_exceeds_the_budget() {
        let threat = ThreatModel::linf(0.2, 0.0, 1.0);
        for max_queries in 1..30 {
            let opts = NesOptions {
                max_queries,
                samples: 4,
                ..NesOptions::default()
            };
            let r = nes(&Linear, &X, &Y, &threat, &opts).unwrap();
            for (s, x0) in r.samples.iter().zip(X.chunks(4)) {
                assert!(s.queries <= max_queries, "{max_queries}: {s:?}");
                assert!(threat.contains(x0, &s.adversarial));
            }
        }
        for bad in [
            NesOptions {
                max_queries: 0,
                ..NesOptions::default()
            },
            NesOptions {
                samples: 0,
                ..NesOptions::default()
            },
            NesOptions {
                sigma: 0.0,
                ..NesOptions::default()
            },
        ] {
            assert!(nes(&Linear, &X, &Y, &threat, &bad).is_err());
        }
    }

    #[test]
    fn margin_loss_keeps_its_digits_when_the_model_is_sure() {
        // p[y] rounds to 1 in f32; the loss still orders the rows.
        let sure = loss(&[1.0, 1e-12, 1e-20], 0, NesLoss::Margin);
        let surer = loss(&[1.0, 1e-14, 1e-20], 0, NesLoss::Margin);
        assert!(surer > sure && sure > 0.0);
        let ce = loss(&[1.0, 1e-9, 1e-9], 0, NesLoss::CrossEntropy);
        assert!(ce < 0.0 && ce > -1e-8);
        assert!(loss(&[0.4, 0.6], 0, NesLoss::Margin) < 0.0);
    }
}
