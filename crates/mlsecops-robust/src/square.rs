//! The Square Attack, L∞ (Andriushchenko, Croce, Flammarion & Hein,
//! "Square Attack: a query-efficient black-box adversarial attack via
//! random search", ECCV 2020).
//!
//! Score-based and gradient-free, so it works on any model that returns
//! probabilities, tree ensembles included. Per sample:
//!
//! 1. Start at a vertex of the ε-ball: every image column (or, for tabular
//!    inputs, every feature) moved by ±ε, per channel, clipped to the box.
//! 2. Repeat until the decision flips or the query budget is spent: pick a
//!    random square window of side `s` (tabular: `s` random features), give
//!    it fresh random ±ε per channel, and keep the change if it lowers the
//!    margin loss `p[y] − max_{j≠y} p[j]`. The window covers a fraction
//!    `p` of the input, halved on the paper's schedule as queries are spent.
//!
//! One query = one sample's probabilities (the clean input counts).

use mlsecops_stats::Rng;
use serde::Serialize;

use crate::{AttackError, AttackReport, Oracle, SampleResult, ThreatModel, check_inputs, margin};

/// Settings of [`square`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SquareOptions {
    /// Queries per sample, the clean one included.
    pub max_queries: u64,
    /// Initial fraction of the input a window covers.
    pub p_init: f32,
    pub seed: u64,
}

impl Default for SquareOptions {
    fn default() -> Self {
        Self {
            max_queries: 1000,
            p_init: 0.8,
            seed: 0,
        }
    }
}

/// The paper's schedule: `p_init` halved at fixed fractions of the budget
/// (expressed per 10 000 iterations).
#[must_use]
pub fn p_selection(p_init: f32, it: u64, n_iters: u64) -> f32 {
    let it = (it * 10_000).checked_div(n_iters).unwrap_or(0);
    let div = match it {
        0..=10 => 1.0,
        11..=50 => 2.0,
        51..=200 => 4.0,
        201..=500 => 8.0,
        501..=1000 => 16.0,
        1001..=2000 => 32.0,
        2001..=4000 => 64.0,
        4001..=6000 => 128.0,
        6001..=8000 => 256.0,
        _ => 512.0,
    };
    p_init / div
}

fn sign(rng: &mut Rng) -> f32 {
    if rng.next_u64() & 1 == 0 { -1.0 } else { 1.0 }
}

/// Samples attacked in lockstep: one model call per iteration carries a
/// candidate for each of them, so the per-call cost of the runtime is
/// shared (a batch of 1 would pay it on every query).
const CHUNK: usize = 32;

/// Attacks every row of `x` (`labels.len() × features` values).
pub fn square(
    oracle: &dyn Oracle,
    x: &[f32],
    labels: &[usize],
    threat: &ThreatModel,
    opts: &SquareOptions,
) -> Result<AttackReport, AttackError> {
    let d = check_inputs(oracle, x, labels, threat)?;
    if threat.norm != crate::Norm::Linf {
        return Err(AttackError::Input(
            "the Square Attack here is L-inf only".to_owned(),
        ));
    }
    let shape = oracle.sample_shape();
    let chunks = labels.len().div_ceil(CHUNK);
    let results = crate::par_map(chunks, |c| {
        let rows: Vec<usize> = (c * CHUNK..((c + 1) * CHUNK).min(labels.len())).collect();
        attack_chunk(oracle, x, labels, d, &rows, &shape, threat, opts)
    });
    let mut samples = Vec::with_capacity(labels.len());
    for r in results {
        samples.extend(r?);
    }
    Ok(AttackReport {
        attack: "square-linf",
        threat: threat.clone(),
        samples,
    })
}

/// `[C, H, W]` when the input is an image (3-D sample shape), else `None`.
fn image_dims(shape: &[usize]) -> Option<(usize, usize, usize)> {
    match shape {
        [c, h, w] if *h > 1 && *w > 1 => Some((*c, *h, *w)),
        _ => None,
    }
}

/// One sample's search state.
struct State {
    rng: Rng,
    adv: Vec<f32>,
    cand: Vec<f32>,
    loss: f32,
    queries: u64,
    it: u64,
    clean_correct: bool,
}

/// Runs the attack on `rows` together; each sample draws only from its own
/// random stream, so results do not depend on how samples are grouped.
#[allow(clippy::too_many_arguments)]
fn attack_chunk(
    oracle: &dyn Oracle,
    x: &[f32],
    labels: &[usize],
    d: usize,
    rows: &[usize],
    shape: &[usize],
    threat: &ThreatModel,
    opts: &SquareOptions,
) -> Result<Vec<SampleResult>, AttackError> {
    let k = oracle.classes();
    let eps = threat.eps;
    let clip = |v: f32| v.clamp(threat.lo, threat.hi);
    let img = image_dims(shape);
    let x0 = |i: usize| &x[rows[i] * d..(rows[i] + 1) * d];
    let xs: Vec<f32> = rows
        .iter()
        .flat_map(|&r| x[r * d..(r + 1) * d].iter().copied())
        .collect();
    let p0 = oracle.proba(&xs)?;
    let mut st: Vec<State> = rows
        .iter()
        .enumerate()
        .map(|(i, &r)| State {
            rng: Rng::new(opts.seed ^ (r as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            adv: x0(i).to_vec(),
            cand: Vec::new(),
            loss: f32::INFINITY,
            queries: 1,
            it: 0,
            clean_correct: mlsecops_model::argmax(&p0[i * k..(i + 1) * k]) == labels[r],
        })
        .collect();
    let attackable = eps > 0.0 && opts.max_queries >= 2;
    // 1. Vertical stripes (images) or one sign per feature.
    let mut live: Vec<usize> = (0..rows.len())
        .filter(|&i| st[i].clean_correct && attackable)
        .collect();
    for &i in &live {
        let s = &mut st[i];
        let orig = &x[rows[i] * d..(rows[i] + 1) * d];
        match img {
            Some((c, h, w)) => {
                for ch in 0..c {
                    for col in 0..w {
                        let v = sign(&mut s.rng) * eps;
                        for row in 0..h {
                            let at = ch * h * w + row * w + col;
                            s.adv[at] = clip(orig[at] + v);
                        }
                    }
                }
            }
            None => {
                for (a, &o) in s.adv.iter_mut().zip(orig) {
                    *a = clip(o + sign(&mut s.rng) * eps);
                }
            }
        }
        if threat.domain.is_some() {
            threat.project(orig, &mut s.adv);
        }
        s.cand = s.adv.clone();
    }
    if !live.is_empty() {
        let batch: Vec<f32> = live
            .iter()
            .flat_map(|&i| st[i].adv.iter().copied())
            .collect();
        let p = oracle.proba(&batch)?;
        for (j, &i) in live.iter().enumerate() {
            st[i].loss = margin(&p[j * k..(j + 1) * k], labels[rows[i]]);
            st[i].queries += 1;
        }
    }
    let budget = opts.max_queries;
    live.retain(|&i| st[i].loss >= 0.0 && st[i].queries < budget);
    // 2. Random squares, kept when they lower the margin.
    let mut batch = Vec::with_capacity(live.len() * d);
    while !live.is_empty() {
        batch.clear();
        for &i in &live {
            let orig = &x[rows[i] * d..(rows[i] + 1) * d];
            let s = &mut st[i];
            let p = p_selection(opts.p_init, s.it, budget);
            s.cand.copy_from_slice(&s.adv);
            if let Some((c, h, w)) = img {
                let side = ((p * (h * w) as f32).sqrt().round() as usize).clamp(1, h.min(w));
                let r0 = s.rng.below(h - side + 1);
                let c0 = s.rng.below(w - side + 1);
                // Fresh signs per channel; redraw (a few times) when the
                // window would not change.
                for _ in 0..10 {
                    let mut changed = false;
                    for ch in 0..c {
                        let v = sign(&mut s.rng) * eps;
                        for r in r0..r0 + side {
                            for col in c0..c0 + side {
                                let at = ch * h * w + r * w + col;
                                let nv = clip(orig[at] + v);
                                changed |= nv.to_bits() != s.cand[at].to_bits();
                                s.cand[at] = nv;
                            }
                        }
                    }
                    if changed {
                        break;
                    }
                }
            } else {
                let n = ((p * d as f32).round() as usize).clamp(1, d);
                for _ in 0..n {
                    let at = s.rng.below(d);
                    s.cand[at] = clip(orig[at] + sign(&mut s.rng) * eps);
                }
            }
            if threat.domain.is_some() {
                // Tabular rules: fixed features back, ranges, integers.
                threat.project(orig, &mut s.cand);
            }
            batch.extend_from_slice(&s.cand);
        }
        let p = oracle.proba(&batch)?;
        for (j, &i) in live.iter().enumerate() {
            let s = &mut st[i];
            let l = margin(&p[j * k..(j + 1) * k], labels[rows[i]]);
            s.queries += 1;
            if l < s.loss {
                s.loss = l;
                std::mem::swap(&mut s.adv, &mut s.cand);
            }
            s.it += 1;
        }
        live.retain(|&i| st[i].loss >= 0.0 && st[i].queries < budget);
    }
    Ok(st
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let success = s.clean_correct && s.loss < 0.0;
            let adv = if s.clean_correct && attackable {
                s.adv
            } else {
                x0(i).to_vec()
            };
            SampleResult::new(x0(i), adv, s.clean_correct, success, s.queries)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_halves_on_the_papers_marks() {
        assert!((p_selection(0.8, 0, 1000) - 0.8).abs() < 1e-6);
        assert!((p_selection(0.8, 3, 1000) - 0.4).abs() < 1e-6);
        assert!((p_selection(0.8, 10, 1000) - 0.2).abs() < 1e-6);
        assert!((p_selection(0.8, 999, 1000) - 0.8 / 512.0).abs() < 1e-6);
    }

    /// A linear two-class model on 4 features: class 1 when Σx > 2.
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
                    let z = r.iter().sum::<f32>() - 2.0;
                    let p1 = 1.0 / (1.0 + (-4.0 * z).exp());
                    [1.0 - p1, p1]
                })
                .collect())
        }
    }

    #[test]
    fn flips_what_the_budget_allows_and_stays_in_the_ball() {
        let x = [
            0.3f32, 0.3, 0.3, 0.3, 0.9, 0.9, 0.9, 0.9, 0.6, 0.6, 0.6, 0.6,
        ];
        let y = [0usize, 1, 1];
        let threat = ThreatModel::linf(0.2, 0.0, 1.0);
        let r = square(&Linear, &x, &y, &threat, &SquareOptions::default()).unwrap();
        // Row 0: Σ = 1.2, needs +0.8 > 4 × 0.2 — cannot flip.
        // Row 1: Σ = 3.6, needs −1.6 — cannot flip. Row 2: Σ = 2.4 — can.
        assert!(r.samples.iter().all(|s| s.clean_correct));
        assert_eq!(
            r.samples.iter().map(|s| s.success).collect::<Vec<_>>(),
            [false, false, true]
        );
        for s in &r.samples {
            assert!(s.linf <= 0.2 + 1e-6 && s.queries <= 1000);
            assert!(s.adversarial.iter().all(|v| (0.0..=1.0).contains(v)));
        }
        assert!((r.robust_accuracy() - 2.0 / 3.0).abs() < 1e-9);
        // Deterministic for a seed.
        let again = square(&Linear, &x, &y, &threat, &SquareOptions::default()).unwrap();
        assert_eq!(r, again);
    }
}
