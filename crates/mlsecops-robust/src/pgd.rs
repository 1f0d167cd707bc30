//! White-box gradient attacks: FGSM (Goodfellow, Shlens & Szegedy, ICLR
//! 2015) and PGD (Madry et al., ICLR 2018), L∞ or L2.
//!
//! Each step moves every input along the gradient of the cross-entropy
//! loss `−log p[y]` (its sign for L∞, its direction for L2) by the step
//! size and projects back onto the threat model's ball and box. FGSM is one
//! step of size ε from the clean input. Random restarts start from a
//! uniform point of the ball (L∞) or a random direction inside it (L2), as
//! in Madry et al.; restart 0 starts at the clean input, so with no
//! restarts the attack is deterministic.
//!
//! A sample counts as flipped as soon as one iterate inside the ball is
//! misclassified; that iterate is kept. Rows run as batches (one gradient
//! call per step for up to [`PgdOptions::batch`] rows), batches in
//! parallel. One "query" is one gradient (or probability) evaluation of
//! one row.

use mlsecops_stats::Rng;
use serde::Serialize;

use crate::{AttackError, AttackReport, Gradient, Norm, SampleResult, ThreatModel, check_inputs};

/// Settings of [`pgd`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PgdOptions {
    /// Gradient steps per start.
    pub steps: u32,
    /// Size of each step (same unit as ε).
    pub step_size: f32,
    /// Extra starts from random points of the ball (0: clean start only).
    pub restarts: u32,
    /// Rows per gradient call.
    pub batch: usize,
    pub seed: u64,
}

impl Default for PgdOptions {
    fn default() -> Self {
        Self {
            steps: 40,
            step_size: 0.01,
            restarts: 0,
            batch: 64,
            seed: 0,
        }
    }
}

impl PgdOptions {
    /// FGSM: one step of size ε from the clean input.
    #[must_use]
    pub fn fgsm(eps: f32) -> Self {
        Self {
            steps: 1,
            step_size: eps,
            restarts: 0,
            ..Self::default()
        }
    }
}

/// Attacks every row of `x` (`labels.len() × features` values).
pub fn pgd(
    model: &dyn Gradient,
    x: &[f32],
    labels: &[usize],
    threat: &ThreatModel,
    opts: &PgdOptions,
) -> Result<AttackReport, AttackError> {
    let d = check_inputs(model, x, labels, threat)?;
    if !(opts.step_size.is_finite() && opts.step_size >= 0.0) {
        return Err(AttackError::Input(format!(
            "invalid step size {}",
            opts.step_size
        )));
    }
    let batch = opts.batch.max(1);
    let chunks = labels.len().div_ceil(batch);
    let results = crate::par_map(chunks, |c| {
        let lo = c * batch;
        let hi = (lo + batch).min(labels.len());
        attack_batch(
            model,
            &x[lo * d..hi * d],
            &labels[lo..hi],
            d,
            threat,
            opts,
            lo,
        )
    });
    let mut samples = Vec::with_capacity(labels.len());
    for r in results {
        samples.extend(r?);
    }
    let attack = match (opts.steps, threat.norm) {
        (1, Norm::Linf) if opts.restarts == 0 => "fgsm-linf",
        (1, Norm::L2) if opts.restarts == 0 => "fgm-l2",
        (_, Norm::Linf) => "pgd-linf",
        (_, Norm::L2) => "pgd-l2",
    };
    Ok(AttackReport {
        attack,
        threat: threat.clone(),
        samples,
    })
}

fn predicted(p: &[f32], classes: usize, r: usize) -> usize {
    mlsecops_model::argmax(&p[r * classes..(r + 1) * classes])
}

/// A random point of the ball around `x0` (inside the box).
fn random_start(x0: &[f32], threat: &ThreatModel, rng: &mut Rng, out: &mut [f32]) {
    match threat.norm {
        Norm::Linf => {
            for (o, &v) in out.iter_mut().zip(x0) {
                *o = v + threat.eps * (2.0 * rng.next_f64() as f32 - 1.0);
            }
        }
        Norm::L2 => {
            let dir: Vec<f32> = x0.iter().map(|_| rng.normal() as f32).collect();
            let n = dir.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            // Uniform in the ball: radius ∝ u^(1/d).
            let r = threat.eps * (rng.next_f64() as f32).powf(1.0 / x0.len().max(1) as f32);
            for ((o, &v), dv) in out.iter_mut().zip(x0).zip(&dir) {
                *o = v + r * dv / n;
            }
        }
    }
    threat.project(x0, out);
}

#[allow(clippy::too_many_arguments)]
fn attack_batch(
    model: &dyn Gradient,
    x0: &[f32],
    y: &[usize],
    d: usize,
    threat: &ThreatModel,
    opts: &PgdOptions,
    first_row: usize,
) -> Result<Vec<SampleResult>, AttackError> {
    let n = y.len();
    let k = model.classes();
    let p0 = model.proba(x0)?;
    let clean: Vec<bool> = (0..n).map(|r| predicted(&p0, k, r) == y[r]).collect();
    let mut queries = vec![1u64; n];
    let mut best: Vec<Option<Vec<f32>>> = vec![None; n];
    let mut last: Vec<Vec<f32>> = (0..n).map(|r| x0[r * d..(r + 1) * d].to_vec()).collect();
    if threat.eps > 0.0 && opts.steps > 0 {
        for start in 0..=opts.restarts {
            // Rows still to attack in this start.
            let active: Vec<usize> = (0..n).filter(|&r| clean[r] && best[r].is_none()).collect();
            if active.is_empty() {
                break;
            }
            let mut adv = vec![0.0f32; active.len() * d];
            for (a, &r) in active.iter().enumerate() {
                let row = &x0[r * d..(r + 1) * d];
                let out = &mut adv[a * d..(a + 1) * d];
                if start == 0 {
                    out.copy_from_slice(row);
                } else {
                    let seed = opts.seed
                        ^ ((first_row + r) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                        ^ u64::from(start).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    random_start(row, threat, &mut Rng::new(seed), out);
                }
            }
            let mut live: Vec<usize> = (0..active.len()).collect();
            let ya: Vec<usize> = active.iter().map(|&r| y[r]).collect();
            for _ in 0..opts.steps {
                if live.is_empty() {
                    break;
                }
                let xs: Vec<f32> = live
                    .iter()
                    .flat_map(|&a| adv[a * d..(a + 1) * d].iter().copied())
                    .collect();
                let ys: Vec<usize> = live.iter().map(|&a| ya[a]).collect();
                let (p, g) = model.loss_gradient(&xs, &ys)?;
                let mut still = Vec::with_capacity(live.len());
                for (i, &a) in live.iter().enumerate() {
                    let r = active[a];
                    queries[r] += 1;
                    // (A flip at the clean point itself is a disagreement
                    // between the two interpreters, never an attack.)
                    if predicted(&p, k, i) != ya[a] && !adv_is_clean(&adv, a, d, x0, r) {
                        best[r] = Some(adv[a * d..(a + 1) * d].to_vec());
                        continue;
                    }
                    step(
                        &mut adv[a * d..(a + 1) * d],
                        &g[i * d..(i + 1) * d],
                        threat,
                        opts.step_size,
                    );
                    threat.project(&x0[r * d..(r + 1) * d], &mut adv[a * d..(a + 1) * d]);
                    still.push(a);
                }
                live = still;
            }
            // The last iterate of the rows still live.
            if !live.is_empty() {
                let xs: Vec<f32> = live
                    .iter()
                    .flat_map(|&a| adv[a * d..(a + 1) * d].iter().copied())
                    .collect();
                let p = model.proba(&xs)?;
                for (i, &a) in live.iter().enumerate() {
                    let r = active[a];
                    queries[r] += 1;
                    let row = adv[a * d..(a + 1) * d].to_vec();
                    if predicted(&p, k, i) == ya[a] {
                        last[r] = row;
                    } else {
                        best[r] = Some(row);
                    }
                }
            }
        }
    }
    Ok((0..n)
        .map(|r| {
            let row = &x0[r * d..(r + 1) * d];
            if let Some(a) = best[r].take() {
                SampleResult::new(row, a, clean[r], true, queries[r])
            } else {
                let a = std::mem::take(&mut last[r]);
                SampleResult::new(row, a, clean[r], false, queries[r])
            }
        })
        .collect())
}

/// The iterate is still the clean input (a random start never is).
fn adv_is_clean(adv: &[f32], a: usize, d: usize, x0: &[f32], r: usize) -> bool {
    adv[a * d..(a + 1) * d] == x0[r * d..(r + 1) * d]
}

fn step(adv: &mut [f32], g: &[f32], threat: &ThreatModel, size: f32) {
    match threat.norm {
        Norm::Linf => {
            for (a, &gv) in adv.iter_mut().zip(g) {
                if gv > 0.0 {
                    *a += size;
                } else if gv < 0.0 {
                    *a -= size;
                }
            }
        }
        Norm::L2 => {
            let n = g.iter().map(|v| v * v).sum::<f32>().sqrt();
            if n > 0.0 {
                for (a, &gv) in adv.iter_mut().zip(g) {
                    *a += size * gv / n;
                }
            }
        }
    }
}

impl crate::Gradient for mlsecops_model::Model {
    fn loss_gradient(&self, x: &[f32], y: &[usize]) -> Result<(Vec<f32>, Vec<f32>), AttackError> {
        Ok(mlsecops_model::Model::loss_gradient(self, x, y)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Oracle;

    /// Two classes on 4 features: class 1 when Σx > 2 (logistic, slope 4).
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
                    let p1 = 1.0 / (1.0 + (-4.0 * (r.iter().sum::<f32>() - 2.0)).exp());
                    [1.0 - p1, p1]
                })
                .collect())
        }
    }
    impl Gradient for Linear {
        fn loss_gradient(
            &self,
            x: &[f32],
            y: &[usize],
        ) -> Result<(Vec<f32>, Vec<f32>), AttackError> {
            let p = self.proba(x)?;
            let g = x
                .chunks(4)
                .zip(y)
                .enumerate()
                .flat_map(|(i, (_, &yy))| {
                    // d(−log p_y)/dz = p1 − [y = 1]; dz/dx = 4.
                    let v = 4.0 * (p[2 * i + 1] - if yy == 1 { 1.0 } else { 0.0 });
                    [v; 4]
                })
                .collect::<Vec<f32>>();
            Ok((p, g))
        }
    }

    const X: [f32; 12] = [0.3, 0.3, 0.3, 0.3, 0.9, 0.9, 0.9, 0.9, 0.6, 0.6, 0.6, 0.6];
    const Y: [usize; 3] = [0, 1, 1];

    #[test]
    fn pgd_flips_exactly_what_the_ball_allows() {
        for threat in [
            ThreatModel::linf(0.2, 0.0, 1.0),
            ThreatModel::l2(0.4, 0.0, 1.0),
        ] {
            for restarts in [0, 3] {
                let opts = PgdOptions {
                    steps: 20,
                    step_size: 0.05,
                    restarts,
                    ..PgdOptions::default()
                };
                let r = pgd(&Linear, &X, &Y, &threat, &opts).unwrap();
                // Row 2 (Σ = 2.4) needs Σδ < −0.4: L∞ 0.2 → −0.8, L2 0.4 → −0.8.
                assert_eq!(
                    r.samples.iter().map(|s| s.success).collect::<Vec<_>>(),
                    [false, false, true],
                    "{threat:?} restarts {restarts}"
                );
                for (i, s) in r.samples.iter().enumerate() {
                    assert!(
                        threat.contains(&X[i * 4..(i + 1) * 4], &s.adversarial),
                        "{s:?}"
                    );
                }
                assert_eq!(r, pgd(&Linear, &X, &Y, &threat, &opts).unwrap());
            }
        }
    }

    #[test]
    fn fgsm_is_one_step_of_eps() {
        let threat = ThreatModel::linf(0.15, 0.0, 1.0);
        let r = pgd(&Linear, &X, &Y, &threat, &PgdOptions::fgsm(0.15)).unwrap();
        assert_eq!(r.attack, "fgsm-linf");
        // Row 2 moves to 0.45 each: Σ = 1.8 < 2, flipped at the final check.
        assert!(r.samples[2].success);
        assert!((r.samples[2].linf - 0.15).abs() < 1e-6);
        assert!(!r.samples[0].success && !r.samples[1].success);
    }
}
