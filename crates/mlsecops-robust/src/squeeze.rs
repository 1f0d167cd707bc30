//! Feature squeezing (Xu, Evans & Qi, "Feature Squeezing: Detecting
//! Adversarial Examples in Deep Neural Networks", NDSS 2018), calibrated
//! for the gateway's adversarial-input detector.
//!
//! An input is "squeezed" by coarsening it (fewer bits per value; for
//! images also a 2×2 median filter). Legitimate inputs keep their
//! prediction under squeezing; adversarial perturbations, tuned to the
//! exact values, often do not. The score of an input is the largest L1
//! distance between the model's probabilities on the input and on each
//! squeezed version. The threshold is set so that a chosen share of clean
//! inputs (5 %) score above it; the calibration reports how many of the
//! adversarial examples do.

use serde::Serialize;

use crate::{AttackError, Oracle};

/// Clean inputs allowed above the threshold.
pub const TARGET_FPR: f64 = 0.05;

/// One squeezer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Squeezer {
    /// Values rounded to `bits` bits over `[lo, hi]`.
    BitDepth { bits: u32 },
    /// Median over each 2×2 window (images only), per channel.
    Median2x2,
}

/// Quantiles of a score distribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantiles {
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// What the gateway needs to run the detector, and how well it works.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    pub squeezers: Vec<Squeezer>,
    pub bounds: [f32; 2],
    /// Flag inputs whose score exceeds this.
    pub threshold: f64,
    pub clean_rows: u64,
    pub adversarial_rows: u64,
    pub clean_fpr: f64,
    pub detection_rate: f64,
    pub clean_scores: Quantiles,
    pub adversarial_scores: Option<Quantiles>,
}

/// Squeezes `x` (rows of `shape`) in place.
pub fn squeeze(s: Squeezer, x: &mut [f32], shape: &[usize], lo: f32, hi: f32) {
    match s {
        Squeezer::BitDepth { bits } => {
            let levels = ((1u64 << bits.min(24)) - 1) as f32;
            let span = (hi - lo).max(f32::MIN_POSITIVE);
            for v in x.iter_mut() {
                let t = ((*v - lo) / span).clamp(0.0, 1.0);
                *v = lo + (t * levels).round() / levels * span;
            }
        }
        Squeezer::Median2x2 => {
            let [c, h, w] = match shape {
                [c, h, w] => [*c, *h, *w],
                _ => return,
            };
            let d = c * h * w;
            for row in x.chunks_mut(d.max(1)) {
                let src = row.to_vec();
                for ch in 0..c {
                    for i in 0..h {
                        for j in 0..w {
                            // The window at (i, j) and its right/lower
                            // neighbours, clamped at the edges.
                            let at = |a: usize, b: usize| {
                                src[ch * h * w + a.min(h - 1) * w + b.min(w - 1)]
                            };
                            let mut win = [at(i, j), at(i, j + 1), at(i + 1, j), at(i + 1, j + 1)];
                            win.sort_by(f32::total_cmp);
                            row[ch * h * w + i * w + j] = f32::midpoint(win[1], win[2]);
                        }
                    }
                }
            }
        }
    }
}

/// The squeezers for a model's input shape.
#[must_use]
pub fn squeezers_for(shape: &[usize]) -> Vec<Squeezer> {
    let mut s = vec![Squeezer::BitDepth { bits: 4 }];
    if matches!(shape, [_, h, w] if *h > 1 && *w > 1) {
        s.push(Squeezer::Median2x2);
    }
    s
}

/// Detector scores of the rows of `x`.
pub fn scores(
    oracle: &dyn Oracle,
    squeezers: &[Squeezer],
    x: &[f32],
    lo: f32,
    hi: f32,
) -> Result<Vec<f64>, AttackError> {
    let k = oracle.classes().max(1);
    let shape = oracle.sample_shape();
    let base = oracle.proba(x)?;
    let mut best = vec![0.0f64; base.len() / k];
    for &s in squeezers {
        let mut sq = x.to_vec();
        squeeze(s, &mut sq, &shape, lo, hi);
        let p = oracle.proba(&sq)?;
        for (r, b) in best.iter_mut().enumerate() {
            let l1: f64 = (0..k)
                .map(|j| f64::from((base[r * k + j] - p[r * k + j]).abs()))
                .sum();
            *b = b.max(l1);
        }
    }
    Ok(best)
}

fn quantiles(v: &[f64]) -> Quantiles {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let q = |f: f64| {
        if s.is_empty() {
            0.0
        } else {
            s[(((s.len() - 1) as f64) * f).round() as usize]
        }
    };
    Quantiles {
        p50: q(0.5),
        p90: q(0.9),
        p95: q(0.95),
        p99: q(0.99),
        max: q(1.0),
    }
}

/// Calibrates the detector on clean rows and adversarial rows.
pub fn calibrate(
    oracle: &dyn Oracle,
    clean: &[f32],
    adversarial: &[f32],
    lo: f32,
    hi: f32,
) -> Result<Calibration, AttackError> {
    let squeezers = squeezers_for(&oracle.sample_shape());
    let c = scores(oracle, &squeezers, clean, lo, hi)?;
    if c.is_empty() {
        return Err(AttackError::Input("no clean rows to calibrate on".into()));
    }
    let a = if adversarial.is_empty() {
        Vec::new()
    } else {
        scores(oracle, &squeezers, adversarial, lo, hi)?
    };
    let mut sorted = c.clone();
    sorted.sort_by(f64::total_cmp);
    // The smallest threshold with at most TARGET_FPR of clean rows above.
    let idx = (((1.0 - TARGET_FPR) * c.len() as f64).ceil() as usize).clamp(1, c.len()) - 1;
    let threshold = sorted[idx];
    let above = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().filter(|&&s| s > threshold).count() as f64 / v.len() as f64
        }
    };
    Ok(Calibration {
        squeezers,
        bounds: [lo, hi],
        threshold,
        clean_rows: c.len() as u64,
        adversarial_rows: a.len() as u64,
        clean_fpr: above(&c),
        detection_rate: above(&a),
        clean_scores: quantiles(&c),
        adversarial_scores: (!a.is_empty()).then(|| quantiles(&a)),
    })
}

#[cfg(test)]
// Exact values are the point of these tests.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn bit_depth_and_median_squeeze() {
        let mut x = [0.0f32, 0.51, 0.97, 1.0];
        squeeze(Squeezer::BitDepth { bits: 1 }, &mut x, &[4], 0.0, 1.0);
        assert_eq!(x, [0.0, 1.0, 1.0, 1.0]);
        // A 2×2 image; windows clamp at the right and lower edges.
        let mut img = [0.0f32, 0.0, 0.0, 1.0];
        squeeze(Squeezer::Median2x2, &mut img, &[1, 2, 2], 0.0, 1.0);
        assert_eq!(img, [0.0, 0.5, 0.5, 1.0]);
    }
}
