//! SimBA, untargeted, L2 or L∞ (Guo, Gardner, You, Wilson & Weinberger,
//! "Simple Black-box Adversarial Attacks", ICML 2019).
//!
//! Score-based: the attack reads the model's probabilities and nothing
//! else. Its idea is that, for almost any orthonormal set of directions, a
//! small step along a random one of them changes the true class's
//! probability to first order, up or down, so trying both signs finds a
//! useful step about as often as not. Per sample:
//!
//! 1. **Directions.** Either the *pixel* basis (one input value at a
//!    time, [`Basis::Pixel`]; for tabular data one feature at a time) or,
//!    for images (`[C, H, W]` sample shapes), the *low-frequency DCT*
//!    basis ([`Basis::Dct`]): the orthonormal 2-D cosine patterns of
//!    frequencies `(u, v)` with `u, v < freq_dims`, one channel at a time.
//!    Natural images and the models trained on them respond more to
//!    smooth changes than to single-pixel noise, which is why the paper
//!    finds the DCT basis cheaper in queries. The directions are visited
//!    in a random order without repetition (the DCT frequencies outside the
//!    low block come after it, also shuffled).
//! 2. **Probe.** For the next direction `q`, try `x + ε·q`; if that does
//!    not lower the probability of the true class, try `x − ε·q`. The
//!    first probe that lowers it becomes the new `x`; if neither does, `x`
//!    stays. `ε` is [`SimbaOptions::step`].
//! 3. **Threat model.** Every probe is projected onto the ball and the box
//!    before it is sent. For L2 — the paper's setting — each accepted step
//!    adds `ε²` to the squared distance, so about `(radius / ε)²` steps fit
//!    before the projection starts to rescale the perturbation back onto
//!    the sphere. For L∞ a step larger than the radius goes straight to
//!    the edge of the ball. A probe that the projection maps back onto the
//!    current point (a pixel already at the box edge, an immutable
//!    feature) is skipped without a query.
//! 4. **Stop** as soon as the decision flips or the budget is spent. When
//!    a whole pass over the directions accepts no step the search is over;
//!    otherwise another pass starts with a fresh order (the paper makes one
//!    pass; more let a small step keep working after the projection).
//!
//! "Lowers the true class's probability" is tested as "raises the summed
//! probability of the other classes": the same condition in exact
//! arithmetic, but it still tells steps apart when a confident model's
//! `p[y]` is rounded to 1 in `f32`.
//!
//! One query = one row sent to the model, the clean input included; the
//! budget is never exceeded.

use mlsecops_stats::Rng;
use serde::Serialize;

use crate::{AttackError, AttackReport, Norm, Oracle, SampleResult, ThreatModel, check_inputs};

/// The directions SimBA steps along.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// One input value at a time.
    #[default]
    Pixel,
    /// Low-frequency 2-D DCT patterns, per channel (images only).
    Dct,
}

/// Settings of [`simba`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SimbaOptions {
    /// Queries per sample, the clean one included (a hard budget).
    pub max_queries: u64,
    /// Length of one step along a (unit) basis direction.
    pub step: f32,
    pub basis: Basis,
    /// Side of the low-frequency block of the DCT basis (cut to the image's
    /// height and width).
    pub freq_dims: usize,
    pub seed: u64,
}

impl Default for SimbaOptions {
    fn default() -> Self {
        Self {
            max_queries: 1000,
            step: 0.2,
            basis: Basis::Pixel,
            freq_dims: 8,
            seed: 0,
        }
    }
}

/// Attacks every row of `x` (`labels.len() × features` values).
pub fn simba(
    oracle: &dyn Oracle,
    x: &[f32],
    labels: &[usize],
    threat: &ThreatModel,
    opts: &SimbaOptions,
) -> Result<AttackReport, AttackError> {
    let d = check_inputs(oracle, x, labels, threat)?;
    if opts.max_queries == 0 {
        return Err(AttackError::Input(
            "SimBA needs a budget of at least one query (the clean input)".to_owned(),
        ));
    }
    if !(opts.step.is_finite() && opts.step > 0.0) {
        return Err(AttackError::Input(format!(
            "SimBA step must be positive, not {}",
            opts.step
        )));
    }
    let dirs = Directions::new(opts, &oracle.sample_shape(), d)?;
    let results = crate::par_map(labels.len(), |i| {
        let seed = opts.seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        attack_one(
            oracle,
            &x[i * d..(i + 1) * d],
            labels[i],
            threat,
            opts,
            &dirs,
            seed,
        )
    });
    let samples = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(AttackReport {
        attack: match (opts.basis, threat.norm) {
            (Basis::Pixel, Norm::Linf) => "simba-linf",
            (Basis::Pixel, Norm::L2) => "simba-l2",
            (Basis::Dct, Norm::Linf) => "simba-dct-linf",
            (Basis::Dct, Norm::L2) => "simba-dct-l2",
        },
        threat: threat.clone(),
        samples,
    })
}

/// The basis, shared by all samples; a direction is an index into it.
enum Directions {
    /// Direction `j` is the unit vector of input value `j`.
    Pixel { d: usize },
    /// Direction `ch·H·W + u·W + v` is the DCT pattern of frequency
    /// `(u, v)` on channel `ch`.
    Dct {
        c: usize,
        h: usize,
        w: usize,
        /// Frequencies `u < fu` and `v < fv` form the low block.
        fu: usize,
        fv: usize,
        /// `cos_h[u·H + r]`: the orthonormal 1-D DCT-II vector `u` at `r`.
        cos_h: Vec<f32>,
        cos_w: Vec<f32>,
    },
}

/// The orthonormal DCT-II basis of length `n`, vector `k` at `k·n..`.
fn dct_table(n: usize) -> Vec<f32> {
    let mut t = Vec::with_capacity(n * n);
    for k in 0..n {
        let scale = if k == 0 {
            (1.0 / n as f64).sqrt()
        } else {
            (2.0 / n as f64).sqrt()
        };
        for r in 0..n {
            let angle = std::f64::consts::PI * (2 * r + 1) as f64 * k as f64 / (2 * n) as f64;
            t.push((scale * angle.cos()) as f32);
        }
    }
    t
}

impl Directions {
    fn new(opts: &SimbaOptions, shape: &[usize], d: usize) -> Result<Self, AttackError> {
        match opts.basis {
            Basis::Pixel => Ok(Self::Pixel { d }),
            Basis::Dct => {
                let &[c, h, w] = shape else {
                    return Err(AttackError::Input(format!(
                        "the DCT basis needs image inputs [C, H, W], not {shape:?}"
                    )));
                };
                if c * h * w != d || d == 0 {
                    return Err(AttackError::Input(format!(
                        "sample shape {shape:?} does not hold {d} values"
                    )));
                }
                if opts.freq_dims == 0 {
                    return Err(AttackError::Input(
                        "SimBA freq_dims must be at least 1".to_owned(),
                    ));
                }
                Ok(Self::Dct {
                    c,
                    h,
                    w,
                    fu: opts.freq_dims.min(h),
                    fv: opts.freq_dims.min(w),
                    cos_h: dct_table(h),
                    cos_w: dct_table(w),
                })
            }
        }
    }

    /// One pass: every direction once, low frequencies first, each group
    /// in random order.
    fn order(&self, rng: &mut Rng) -> Vec<usize> {
        match self {
            Self::Pixel { d } => {
                let mut o: Vec<usize> = (0..*d).collect();
                rng.shuffle(&mut o);
                o
            }
            Self::Dct {
                c, h, w, fu, fv, ..
            } => {
                let (mut low, mut rest) = (Vec::new(), Vec::new());
                for ch in 0..*c {
                    for u in 0..*h {
                        for v in 0..*w {
                            let at = ch * h * w + u * w + v;
                            if u < *fu && v < *fv {
                                low.push(at);
                            } else {
                                rest.push(at);
                            }
                        }
                    }
                }
                rng.shuffle(&mut low);
                rng.shuffle(&mut rest);
                low.extend(rest);
                low
            }
        }
    }

    /// `out += scale · q_dir`.
    fn add(&self, dir: usize, scale: f32, out: &mut [f32]) {
        match self {
            Self::Pixel { .. } => out[dir] += scale,
            Self::Dct {
                h, w, cos_h, cos_w, ..
            } => {
                let (h, w) = (*h, *w);
                let ch = dir / (h * w);
                let (u, v) = ((dir % (h * w)) / w, dir % w);
                let plane = &mut out[ch * h * w..(ch + 1) * h * w];
                for (r, row) in plane.chunks_mut(w).enumerate() {
                    let a = scale * cos_h[u * h + r];
                    for (o, &b) in row.iter_mut().zip(&cos_w[v * w..(v + 1) * w]) {
                        *o += a * b;
                    }
                }
            }
        }
    }
}

/// Probability of every class but `y`: rises exactly when `p[y]` falls.
fn others(p: &[f32], y: usize) -> f64 {
    p.iter()
        .enumerate()
        .filter(|&(j, _)| j != y)
        .map(|(_, &v)| f64::from(v))
        .sum()
}

fn same(a: &[f32], b: &[f32]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn attack_one(
    oracle: &dyn Oracle,
    x0: &[f32],
    y: usize,
    threat: &ThreatModel,
    opts: &SimbaOptions,
    dirs: &Directions,
    seed: u64,
) -> Result<SampleResult, AttackError> {
    let mut p = oracle.proba(x0)?;
    let mut queries = 1u64;
    let clean_correct = mlsecops_model::argmax(&p) == y;
    if !clean_correct || threat.eps <= 0.0 {
        return Ok(SampleResult::new(
            x0,
            x0.to_vec(),
            clean_correct,
            false,
            queries,
        ));
    }
    let mut rng = Rng::new(seed);
    let mut adv = x0.to_vec();
    let mut cand = adv.clone();
    let mut best = others(&p, y);
    let mut flipped = false;
    'passes: loop {
        let mut moved = false;
        for dir in dirs.order(&mut rng) {
            for sign in [1.0f32, -1.0] {
                if queries >= opts.max_queries {
                    break 'passes;
                }
                cand.copy_from_slice(&adv);
                dirs.add(dir, sign * opts.step, &mut cand);
                threat.project(x0, &mut cand);
                if same(&cand, &adv) {
                    continue;
                }
                let pc = oracle.proba(&cand)?;
                queries += 1;
                let o = others(&pc, y);
                if o > best {
                    best = o;
                    p = pc;
                    std::mem::swap(&mut adv, &mut cand);
                    moved = true;
                    if mlsecops_model::argmax(&p) != y {
                        flipped = true;
                        break 'passes;
                    }
                    break;
                }
            }
        }
        if !moved {
            break;
        }
    }
    let success = flipped && threat.contains(x0, &adv);
    Ok(SampleResult::new(x0, adv, clean_correct, success, queries))
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

    /// Two classes on 1×4×4 images: class 1 when the mean is above 0.51.
    struct Bright;
    impl Oracle for Bright {
        fn features(&self) -> usize {
            16
        }
        fn classes(&self) -> usize {
            2
        }
        fn sample_shape(&self) -> Vec<usize> {
            vec![1, 4, 4]
        }
        fn proba(&self, x: &[f32]) -> Result<Vec<f32>, AttackError> {
            Ok(x.chunks(16)
                .flat_map(|r| {
                    let z = r.iter().sum::<f32>() / 16.0 - 0.51;
                    let p1 = 1.0 / (1.0 + (-20.0 * z).exp());
                    [1.0 - p1, p1]
                })
                .collect())
        }
    }

    const X: [f32; 12] = [0.3, 0.3, 0.3, 0.3, 0.9, 0.9, 0.9, 0.9, 0.6, 0.6, 0.6, 0.6];
    const Y: [usize; 3] = [0, 1, 1];

    #[test]
    fn flips_only_what_the_ball_allows_under_both_norms() {
        let opts = SimbaOptions {
            max_queries: 200,
            ..SimbaOptions::default()
        };
        // Row 0 needs Σ +0.85 and row 1 Σ −1.55: out of reach of an L∞
        // ball of 0.2 (at most ±0.8) and an L2 ball of 0.3 (at most ±0.6).
        // Row 2 needs −0.35.
        for threat in [
            ThreatModel::linf(0.2, 0.0, 1.0),
            ThreatModel::l2(0.3, 0.0, 1.0),
        ] {
            let r = simba(&Linear, &X, &Y, &threat, &opts).unwrap();
            assert_eq!(
                r.samples.iter().map(|s| s.success).collect::<Vec<_>>(),
                [false, false, true],
                "{}",
                r.attack
            );
            for (s, x0) in r.samples.iter().zip(X.chunks(4)) {
                assert!(s.clean_correct);
                assert!(threat.contains(x0, &s.adversarial), "{s:?}");
                assert!(s.queries <= 200);
            }
            let flipped = &r.samples[2];
            assert!(Linear.proba(&flipped.adversarial).unwrap()[1] < 0.5);
            // Deterministic for a seed.
            assert_eq!(r, simba(&Linear, &X, &Y, &threat, &opts).unwrap());
        }
    }

    #[test]
    fn never_exceeds_the_budget() {
        let threat = ThreatModel::l2(0.3, 0.0, 1.0);
        for max_queries in 1..6 {
            let opts = SimbaOptions {
                max_queries,
                step: 0.01,
                ..SimbaOptions::default()
            };
            let r = simba(&Linear, &X, &Y, &threat, &opts).unwrap();
            assert!(r.samples.iter().all(|s| s.queries <= max_queries));
            assert!(r.samples.iter().all(|s| !s.success));
        }
        let zero = SimbaOptions {
            max_queries: 0,
            ..SimbaOptions::default()
        };
        assert!(simba(&Linear, &X, &Y, &threat, &zero).is_err());
    }

    #[test]
    fn dct_basis_is_orthonormal() {
        let opts = SimbaOptions {
            basis: Basis::Dct,
            ..SimbaOptions::default()
        };
        let dirs = Directions::new(&opts, &[2, 4, 3], 24).unwrap();
        let vecs: Vec<Vec<f32>> = (0..24)
            .map(|k| {
                let mut v = vec![0.0; 24];
                dirs.add(k, 1.0, &mut v);
                v
            })
            .collect();
        for (a, va) in vecs.iter().enumerate() {
            for (b, vb) in vecs.iter().enumerate() {
                let dot: f32 = va.iter().zip(vb).map(|(x, y)| x * y).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-5, "{a}·{b} = {dot}");
            }
        }
        // Frequency (0, 0) of a channel is the flat pattern.
        assert!(
            vecs[0][..12]
                .iter()
                .all(|&v| (v - 12f32.sqrt().recip()).abs() < 1e-6)
        );
        assert!(vecs[0][12..].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn dct_low_block_comes_first() {
        let opts = SimbaOptions {
            basis: Basis::Dct,
            freq_dims: 2,
            ..SimbaOptions::default()
        };
        let dirs = Directions::new(&opts, &[1, 4, 4], 16).unwrap();
        let order = dirs.order(&mut Rng::new(3));
        let mut head = order[..4].to_vec();
        head.sort_unstable();
        assert_eq!(head, [0, 1, 4, 5]);
        let mut all = order.clone();
        all.sort_unstable();
        assert_eq!(all, (0..16).collect::<Vec<_>>());
    }

    #[test]
    fn dct_basis_flips_images_and_needs_them() {
        // Mean 0.55, class 1; the flat DCT pattern lowers the mean fastest.
        let x = [0.55f32; 16];
        let opts = SimbaOptions {
            basis: Basis::Dct,
            freq_dims: 1,
            ..SimbaOptions::default()
        };
        for threat in [
            ThreatModel::l2(0.5, 0.0, 1.0),
            ThreatModel::linf(0.1, 0.0, 1.0),
        ] {
            let r = simba(&Bright, &x, &[1], &threat, &opts).unwrap();
            let s = &r.samples[0];
            assert!(s.success, "{} {s:?}", r.attack);
            assert!(threat.contains(&x, &s.adversarial));
            assert!(Bright.proba(&s.adversarial).unwrap()[1] < 0.5);
            // The low block is one direction: found within a few queries.
            assert!(s.queries <= 10, "{}", s.queries);
        }
        // A ball too small to move the mean by 0.04 (L2 0.16 = mean 0.04).
        let tight = ThreatModel::l2(0.15, 0.0, 1.0);
        let r = simba(&Bright, &x, &[1], &tight, &opts).unwrap();
        assert!(!r.samples[0].success);
        assert!(tight.contains(&x, &r.samples[0].adversarial));
        // Tabular inputs have no DCT basis.
        let err = simba(&Linear, &X, &Y, &tight, &opts).unwrap_err();
        assert!(err.to_string().contains("image"), "{err}");
    }
}
