//! Two score-based attacks that need nothing but probabilities:
//!
//! * **SimBA** (Guo et al., "Simple Black-box Adversarial Attacks", ICML
//!   2019), pixel basis: visit the coordinates in a random order; for each,
//!   try a step of +ε then −ε along it (L∞: the coordinate moved to the
//!   edge of the ball; L2: a step of `simba_step` projected onto the ball)
//!   and keep the first that lowers the true class's probability. Both
//!   probes of a coordinate go to the model in one call.
//! * **NES** (Ilyas et al., "Black-box Adversarial Attacks with Limited
//!   Queries and Information", ICML 2018), which also stands for the ZOO
//!   family of zeroth-order attacks: estimate the gradient of the margin
//!   loss from `samples` antithetic Gaussian probes (one batched call with
//!   the current point), then take a projected sign (L∞) or normalized (L2)
//!   step, until the decision flips or the budget is spent.

use mlsecops_stats::Rng;
use serde::Serialize;

use crate::{
    AttackError, AttackReport, Norm, Oracle, SampleResult, ThreatModel, check_inputs, margin,
};

/// Settings shared by [`simba`] and [`nes`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ZerothOptions {
    /// Queries per sample, the clean one included (a hard budget).
    pub max_queries: u64,
    /// SimBA's L2 step (L∞ uses ε itself).
    pub simba_step: f32,
    /// NES probes per gradient estimate (each costs two queries).
    pub samples: usize,
    /// NES probe radius, relative to the box width.
    pub sigma: f32,
    /// NES step, as a fraction of ε.
    pub step: f32,
    pub seed: u64,
}

impl Default for ZerothOptions {
    fn default() -> Self {
        Self {
            max_queries: 1000,
            simba_step: 0.2,
            samples: 25,
            sigma: 0.01,
            step: 0.1,
            seed: 0,
        }
    }
}

fn seed_of(opts: &ZerothOptions, i: usize) -> u64 {
    opts.seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// SimBA over every row of `x`.
pub fn simba(
    oracle: &dyn Oracle,
    x: &[f32],
    labels: &[usize],
    threat: &ThreatModel,
    opts: &ZerothOptions,
) -> Result<AttackReport, AttackError> {
    let d = check_inputs(oracle, x, labels, threat)?;
    let results = crate::par_map(labels.len(), |i| {
        simba_one(
            oracle,
            &x[i * d..(i + 1) * d],
            labels[i],
            threat,
            opts,
            seed_of(opts, i),
        )
    });
    Ok(AttackReport {
        attack: match threat.norm {
            Norm::Linf => "simba-linf",
            Norm::L2 => "simba-l2",
        },
        threat: threat.clone(),
        samples: results.into_iter().collect::<Result<_, _>>()?,
    })
}

fn simba_one(
    oracle: &dyn Oracle,
    x0: &[f32],
    y: usize,
    threat: &ThreatModel,
    opts: &ZerothOptions,
    seed: u64,
) -> Result<SampleResult, AttackError> {
    let d = x0.len();
    let k = oracle.classes();
    let p0 = oracle.proba(x0)?;
    let mut queries = 1u64;
    let clean_correct = mlsecops_model::argmax(&p0) == y;
    if !clean_correct || threat.eps == 0.0 {
        return Ok(SampleResult::new(
            x0,
            x0.to_vec(),
            clean_correct,
            false,
            queries,
        ));
    }
    let mut rng = Rng::new(seed);
    let mut order: Vec<usize> = (0..d).collect();
    rng.shuffle(&mut order);
    let mut adv = x0.to_vec();
    let mut p_y = p0[y];
    let mut loss = margin(&p0, y);
    let step = match threat.norm {
        Norm::Linf => threat.eps,
        Norm::L2 => opts.simba_step,
    };
    let mut pair = vec![0.0f32; 2 * d];
    'outer: while queries + 2 <= opts.max_queries {
        let mut moved = false;
        for &j in &order {
            if queries + 2 > opts.max_queries || loss < 0.0 {
                break 'outer;
            }
            let (plus, minus) = pair.split_at_mut(d);
            plus.copy_from_slice(&adv);
            minus.copy_from_slice(&adv);
            plus[j] += step;
            minus[j] -= step;
            threat.project(x0, plus);
            threat.project(x0, minus);
            if plus[j].to_bits() == adv[j].to_bits() && minus[j].to_bits() == adv[j].to_bits() {
                continue;
            }
            let p = oracle.proba(&pair)?;
            queries += 2;
            // The first probe that lowers p[y] wins (SimBA's rule).
            for (r, cand) in [(0, &pair[..d]), (1, &pair[d..])] {
                let pr = &p[r * k..(r + 1) * k];
                if pr[y] < p_y {
                    p_y = pr[y];
                    loss = margin(pr, y);
                    adv.copy_from_slice(cand);
                    moved = true;
                    break;
                }
            }
        }
        if !moved {
            break;
        }
    }
    let success = loss < 0.0;
    Ok(SampleResult::new(x0, adv, clean_correct, success, queries))
}

/// NES over every row of `x`.
pub fn nes(
    oracle: &dyn Oracle,
    x: &[f32],
    labels: &[usize],
    threat: &ThreatModel,
    opts: &ZerothOptions,
) -> Result<AttackReport, AttackError> {
    let d = check_inputs(oracle, x, labels, threat)?;
    if opts.samples == 0 {
        return Err(AttackError::Input(
            "NES needs at least one probe per estimate".into(),
        ));
    }
    let results = crate::par_map(labels.len(), |i| {
        nes_one(
            oracle,
            &x[i * d..(i + 1) * d],
            labels[i],
            threat,
            opts,
            seed_of(opts, i),
        )
    });
    Ok(AttackReport {
        attack: match threat.norm {
            Norm::Linf => "nes-linf",
            Norm::L2 => "nes-l2",
        },
        threat: threat.clone(),
        samples: results.into_iter().collect::<Result<_, _>>()?,
    })
}

fn nes_one(
    oracle: &dyn Oracle,
    x0: &[f32],
    y: usize,
    threat: &ThreatModel,
    opts: &ZerothOptions,
    seed: u64,
) -> Result<SampleResult, AttackError> {
    let d = x0.len();
    let k = oracle.classes();
    let p0 = oracle.proba(x0)?;
    let mut queries = 1u64;
    let clean_correct = mlsecops_model::argmax(&p0) == y;
    if !clean_correct || threat.eps == 0.0 {
        return Ok(SampleResult::new(
            x0,
            x0.to_vec(),
            clean_correct,
            false,
            queries,
        ));
    }
    let mut rng = Rng::new(seed);
    let sigma = opts.sigma * (threat.hi - threat.lo).max(f32::MIN_POSITIVE);
    let lr = opts.step * threat.eps;
    let mut adv = x0.to_vec();
    let mut best = adv.clone();
    let mut best_loss = margin(&p0, y);
    let n = opts.samples;
    let mut dirs = vec![0.0f64; n * d];
    let mut batch = vec![0.0f32; (2 * n + 1) * d];
    while queries + (2 * n + 1) as u64 <= opts.max_queries && best_loss >= 0.0 {
        rng.fill_normal(&mut dirs);
        batch[..d].copy_from_slice(&adv);
        for (s, u) in dirs.chunks(d).enumerate() {
            for j in 0..d {
                let v = sigma * u[j] as f32;
                batch[(1 + 2 * s) * d + j] = adv[j] + v;
                batch[(2 + 2 * s) * d + j] = adv[j] - v;
            }
        }
        let p = oracle.proba(&batch)?;
        queries += (2 * n + 1) as u64;
        let here = margin(&p[..k], y);
        if here < best_loss {
            best_loss = here;
            best.copy_from_slice(&adv);
        }
        if here < 0.0 {
            break;
        }
        // ∇ margin ≈ Σ (m(x+σu) − m(x−σu)) u / (2σn)
        let mut g = vec![0.0f32; d];
        for (s, u) in dirs.chunks(d).enumerate() {
            let a = margin(&p[(1 + 2 * s) * k..(2 + 2 * s) * k], y);
            let b = margin(&p[(2 + 2 * s) * k..(3 + 2 * s) * k], y);
            let w = (a - b) / (2.0 * sigma * n as f32);
            for (gj, &uj) in g.iter_mut().zip(u) {
                *gj += w * uj as f32;
            }
        }
        // Descend the margin.
        match threat.norm {
            Norm::Linf => {
                for (a, &gj) in adv.iter_mut().zip(&g) {
                    if gj > 0.0 {
                        *a -= lr;
                    } else if gj < 0.0 {
                        *a += lr;
                    }
                }
            }
            Norm::L2 => {
                let norm = g.iter().map(|v| v * v).sum::<f32>().sqrt();
                if norm > 0.0 {
                    for (a, gj) in adv.iter_mut().zip(&g) {
                        *a -= lr * gj / norm;
                    }
                }
            }
        }
        threat.project(x0, &mut adv);
    }
    // The last step's point has not been evaluated yet: one more query
    // when the budget allows.
    if best_loss >= 0.0 && queries < opts.max_queries {
        let p = oracle.proba(&adv)?;
        queries += 1;
        let l = margin(&p, y);
        if l < best_loss {
            best_loss = l;
            best.copy_from_slice(&adv);
        }
    }
    Ok(SampleResult::new(
        x0,
        best,
        clean_correct,
        best_loss < 0.0,
        queries,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes on 4 features: class 1 when Σx > 2.
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

    const X: [f32; 12] = [0.3, 0.3, 0.3, 0.3, 0.9, 0.9, 0.9, 0.9, 0.6, 0.6, 0.6, 0.6];
    const Y: [usize; 3] = [0, 1, 1];

    #[test]
    fn both_flip_exactly_what_the_ball_allows_within_budget() {
        let opts = ZerothOptions {
            max_queries: 400,
            ..ZerothOptions::default()
        };
        for threat in [
            ThreatModel::linf(0.2, 0.0, 1.0),
            ThreatModel::l2(0.4, 0.0, 1.0),
        ] {
            for attack in [simba, nes] {
                let r = attack(&Linear, &X, &Y, &threat, &opts).unwrap();
                assert_eq!(
                    r.samples.iter().map(|s| s.success).collect::<Vec<_>>(),
                    [false, false, true],
                    "{} {threat:?}",
                    r.attack
                );
                for (i, s) in r.samples.iter().enumerate() {
                    assert!(
                        threat.contains(&X[i * 4..(i + 1) * 4], &s.adversarial),
                        "{s:?}"
                    );
                    assert!(s.queries <= 400);
                }
                assert_eq!(r, attack(&Linear, &X, &Y, &threat, &opts).unwrap());
            }
        }
    }
}
