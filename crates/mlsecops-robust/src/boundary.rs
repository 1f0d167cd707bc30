//! The Boundary Attack, untargeted, L2 (Brendel, Rauber & Bethge,
//! "Decision-based adversarial attacks: reliable attacks against black-box
//! machine learning models", ICLR 2018).
//!
//! Decision-based: only the model's decision (the argmax of its
//! probabilities) is used. The attack starts far away, from an input the
//! model already gets wrong, and walks along the decision boundary towards
//! the clean input while staying misclassified. Per sample:
//!
//! 1. **Start.** Draw uniform noise in the box until a draw is
//!    misclassified (at most [`BoundaryOptions::init_size`] draws), then
//!    binary-search the straight line from the clean input to it for the
//!    closest misclassified point. As in [`crate::hsj`],
//!    [`crate::hsj::STARTS`] such draws are searched and the closest kept
//!    (the paper uses one).
//! 2. **Proposals.** From the current point, at distance `r` from the clean
//!    input, draw a Gaussian direction, remove its component towards the
//!    clean input and scale it to length `δ·r` (the *orthogonal step*);
//!    put the result back on the sphere of radius `r` around the clean
//!    input and clip it to the box. Then move it straight towards the
//!    clean input to radius `(1 − ε)·r` (the *source step*).
//! 3. **Selection.** The closest proposal that is still misclassified
//!    becomes the current point.
//! 4. **Adaptation.** Both the sphere points and the final proposals are
//!    queried, and their success rates set the step sizes, as in the paper:
//!    when more than half of the orthogonal steps stay misclassified the
//!    boundary is locally flat enough for bolder steps (δ and ε grow by
//!    [`BoundaryOptions::step_adapt`]), under a fifth they shrink; when
//!    over a quarter of the full proposals succeed ε grows, under a tenth
//!    it shrinks. Rates are taken over windows of at least 20 tries.
//!
//! Several proposals go to the model in one call (both the sphere points
//! and the final proposals: two queries each). The initial ε is the
//! initial δ. A sample counts as flipped when the closest misclassified
//! point found is inside the threat model's ball; the attack stops as soon
//! as it is (success is then decided), when the budget is spent, or when
//! the source step has shrunk to nothing. When the attack ends outside the
//! ball, the reported input is that point projected onto the ball and box,
//! unflipped.
//!
//! One query = one row sent to the model, the clean input included; the
//! budget is never exceeded.

use mlsecops_stats::Rng;
use serde::Serialize;

use crate::hsj::{Decider, STARTS, finish, start_point};
use crate::{AttackError, AttackReport, Norm, Oracle, SampleResult, ThreatModel, check_inputs};

/// Settings of [`boundary`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoundaryOptions {
    /// Queries per sample, the clean one included (a hard budget).
    pub max_queries: u64,
    /// Initial orthogonal step, relative to the current distance (also the
    /// initial source step ε).
    pub delta: f32,
    /// Factor by which the step sizes grow or shrink (> 1).
    pub step_adapt: f32,
    /// Random draws at most to find a misclassified starting point.
    pub init_size: u32,
    pub seed: u64,
}

impl Default for BoundaryOptions {
    fn default() -> Self {
        Self {
            max_queries: 5000,
            delta: 0.3,
            step_adapt: 1.5,
            init_size: 100,
            seed: 0,
        }
    }
}

/// Proposals per model call (each costs two queries: its sphere point and
/// itself).
const PROPOSALS: usize = 5;
/// Tries per success-rate window.
const WINDOW: u32 = 20;
/// Binary-search precision (blend factor) of the start.
const START_PRECISION: f32 = 1e-3;

/// Attacks every row of `x` (`labels.len() × features` values).
pub fn boundary(
    oracle: &dyn Oracle,
    x: &[f32],
    labels: &[usize],
    threat: &ThreatModel,
    opts: &BoundaryOptions,
) -> Result<AttackReport, AttackError> {
    let d = check_inputs(oracle, x, labels, threat)?;
    if threat.norm != Norm::L2 {
        return Err(AttackError::Input(
            "the Boundary Attack here is L2 only".to_owned(),
        ));
    }
    if opts.max_queries == 0 {
        return Err(AttackError::Input(
            "the Boundary Attack needs a budget of at least one query (the clean input)".to_owned(),
        ));
    }
    if !(opts.delta.is_finite() && opts.delta > 0.0 && opts.delta < 1.0) {
        return Err(AttackError::Input(format!(
            "Boundary Attack delta must be in (0, 1), not {}",
            opts.delta
        )));
    }
    if !(opts.step_adapt.is_finite() && opts.step_adapt > 1.0) {
        return Err(AttackError::Input(format!(
            "Boundary Attack step_adapt must be above 1, not {}",
            opts.step_adapt
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
        attack: "boundary-l2",
        threat: threat.clone(),
        samples,
    })
}

/// Successes over tries since the last adaptation.
#[derive(Default)]
struct Rate {
    hits: u32,
    tries: u32,
}

impl Rate {
    fn add(&mut self, hit: bool) {
        self.tries += 1;
        self.hits += u32::from(hit);
    }
    /// The rate once the window is full (and a fresh window), else `None`.
    fn take(&mut self) -> Option<f32> {
        (self.tries >= WINDOW).then(|| {
            let r = self.hits as f32 / self.tries as f32;
            *self = Self::default();
            r
        })
    }
}

/// Writes into `sphere` and `prop` one proposal from `cur` (at distance
/// `r > 0` from `x0`): the orthogonal step of relative size `delta` put
/// back on the sphere, and that point moved to radius `(1 − eps)·r`.
#[allow(clippy::too_many_arguments)]
fn propose(
    rng: &mut Rng,
    x0: &[f32],
    cur: &[f32],
    r: f32,
    delta: f32,
    eps: f32,
    threat: &ThreatModel,
    eta: &mut [f64],
    sphere: &mut [f32],
    prop: &mut [f32],
) {
    let r64 = f64::from(r);
    // Unit direction from the clean input to the current point.
    let dir = |i: usize| f64::from(cur[i] - x0[i]) / r64;
    for v in eta.iter_mut() {
        *v = rng.normal();
    }
    let along: f64 = eta.iter().enumerate().map(|(i, v)| v * dir(i)).sum();
    for (i, v) in eta.iter_mut().enumerate() {
        *v -= along * dir(i);
    }
    let n = eta.iter().map(|v| v * v).sum::<f64>().sqrt();
    let scale = if n > 0.0 {
        f64::from(delta) * r64 / n
    } else {
        0.0
    };
    // The orthogonal step lengthens the radius to r·√(1 + δ²); scale back.
    let back = 1.0 / (1.0 + f64::from(delta) * f64::from(delta)).sqrt();
    for (i, s) in sphere.iter_mut().enumerate() {
        let off = (f64::from(cur[i] - x0[i]) + eta[i] * scale) * back;
        *s = (f64::from(x0[i]) + off) as f32;
        *s = s.clamp(threat.lo, threat.hi);
    }
    // Source step: straight towards the clean input, never past the box
    // (the segment between two points of the box stays inside it).
    let rs = crate::l2(x0, sphere);
    let f = if rs > 0.0 {
        ((1.0 - eps) * r / rs).min(1.0)
    } else {
        0.0
    };
    for ((p, &s), &o) in prop.iter_mut().zip(sphere.iter()).zip(x0) {
        *p = (o + f * (s - o)).clamp(threat.lo, threat.hi);
    }
}

/// Attacks one sample (`x0`, true label `label`).
fn attack_one(
    oracle: &dyn Oracle,
    x0: &[f32],
    label: usize,
    threat: &ThreatModel,
    opts: &BoundaryOptions,
    seed: u64,
) -> Result<SampleResult, AttackError> {
    let d = x0.len();
    let mut q = Decider::new(oracle, label, opts.max_queries);
    if q.is_adversarial(x0)? != Some(false) {
        // Misclassified already (or no budget at all): not attacked.
        return Ok(SampleResult::new(x0, x0.to_vec(), false, false, q.used()));
    }
    let mut rng = Rng::new(seed);
    let Some(mut cur) = start_point(
        &mut q,
        &mut rng,
        x0,
        threat,
        Norm::L2,
        START_PRECISION,
        opts.init_size,
        STARTS,
    )?
    else {
        return Ok(SampleResult::new(x0, x0.to_vec(), true, false, q.used()));
    };
    let mut r = crate::l2(x0, &cur);
    let (mut delta, mut eps) = (opts.delta, opts.delta);
    let a = opts.step_adapt;
    let (mut sph_rate, mut step_rate) = (Rate::default(), Rate::default());
    let mut eta = vec![0.0f64; d];
    let mut batch = vec![0.0f32; 2 * PROPOSALS * d];
    while !threat.contains(x0, &cur) && r > 0.0 && eps > 1e-7 {
        let n = PROPOSALS.min((q.remaining() / 2) as usize);
        if n == 0 {
            break;
        }
        let rows = &mut batch[..2 * n * d];
        let (spheres, props) = rows.split_at_mut(n * d);
        for (s, p) in spheres.chunks_mut(d).zip(props.chunks_mut(d)) {
            propose(&mut rng, x0, &cur, r, delta, eps, threat, &mut eta, s, p);
        }
        let Some(adv) = q.adversarial(rows)? else {
            break;
        };
        let (sph_adv, prop_adv) = adv.split_at(n);
        for &h in sph_adv {
            sph_rate.add(h);
        }
        let mut pick: Option<(usize, f32)> = None;
        for (j, &h) in prop_adv.iter().enumerate() {
            step_rate.add(h);
            if h {
                let dj = crate::l2(x0, &rows[(n + j) * d..(n + j + 1) * d]);
                if dj < r && pick.is_none_or(|(_, b)| dj < b) {
                    pick = Some((j, dj));
                }
            }
        }
        if let Some((j, dj)) = pick {
            cur.copy_from_slice(&rows[(n + j) * d..(n + j + 1) * d]);
            r = dj;
        }
        if let Some(p) = sph_rate.take() {
            if p > 0.5 {
                delta *= a;
                eps *= a;
            } else if p < 0.2 {
                delta /= a;
                eps /= a;
            }
        }
        if let Some(p) = step_rate.take() {
            if p > 0.25 {
                eps *= a;
            } else if p < 0.1 {
                eps /= a;
            }
        }
        delta = delta.min(1.0);
        eps = eps.min(0.5);
    }
    Ok(finish(x0, cur, threat, q.used()))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    const X: [f32; 16] = [
        0.3, 0.3, 0.3, 0.3, // Σ 1.2: L2 distance 0.4 to the boundary
        0.9, 0.9, 0.9, 0.9, // Σ 3.6: 0.8
        0.6, 0.6, 0.6, 0.6, // Σ 2.4: 0.2
        0.45, 0.45, 0.45, 0.45, // Σ 1.8: class 0, labelled 1 below
    ];
    const Y: [usize; 4] = [0, 1, 1, 1];

    #[test]
    fn flips_what_the_ball_allows_and_stays_in_it() {
        let threat = ThreatModel::l2(0.5, 0.0, 1.0);
        let opts = BoundaryOptions {
            max_queries: 1000,
            ..BoundaryOptions::default()
        };
        let r = boundary(&Linear, &X, &Y, &threat, &opts).unwrap();
        assert_eq!(r.attack, "boundary-l2");
        assert_eq!(
            r.samples.iter().map(|s| s.success).collect::<Vec<_>>(),
            [true, false, true, false]
        );
        for (i, (s, x0)) in r.samples.iter().zip(X.chunks(4)).enumerate() {
            assert!(s.queries <= 1000);
            assert!(threat.contains(x0, &s.adversarial), "{s:?}");
            if s.success {
                let p = Linear.proba(&s.adversarial).unwrap();
                assert_ne!(mlsecops_model::argmax(&p), Y[i]);
            }
        }
        assert!(!r.samples[3].clean_correct && r.samples[3].queries == 1);
        // Row 1 ended outside the ball: projected onto it.
        assert!((r.samples[1].l2 - 0.5).abs() < 1e-3);
        assert_eq!(r, boundary(&Linear, &X, &Y, &threat, &opts).unwrap());
        let other = BoundaryOptions { seed: 3, ..opts };
        assert_ne!(r, boundary(&Linear, &X, &Y, &threat, &other).unwrap());
    }

    #[test]
    fn walks_close_to_the_boundary() {
        // Row 2 is 0.2 from the boundary: a ball of 0.22 needs the walk to
        // get within 10 % of it (it did for each of 200 seeds tried).
        let threat = ThreatModel::l2(0.22, 0.0, 1.0);
        let opts = BoundaryOptions {
            max_queries: 3000,
            ..BoundaryOptions::default()
        };
        let r = boundary(&Linear, &X[8..12], &[1], &threat, &opts).unwrap();
        let s = &r.samples[0];
        assert!(s.success && s.l2 > 0.2 - 1e-4, "{s:?}");
    }

    #[test]
    fn the_budget_is_hard_and_options_are_checked() {
        let threat = ThreatModel::l2(0.05, 0.0, 1.0);
        for budget in [1u64, 2, 3, 8, 101, 250] {
            let opts = BoundaryOptions {
                max_queries: budget,
                ..BoundaryOptions::default()
            };
            let r = boundary(&Linear, &X, &Y, &threat, &opts).unwrap();
            assert!(r.samples.iter().all(|s| s.queries <= budget));
        }
        let linf = ThreatModel::linf(0.1, 0.0, 1.0);
        assert!(boundary(&Linear, &X, &Y, &linf, &BoundaryOptions::default()).is_err());
        for bad in [
            BoundaryOptions {
                max_queries: 0,
                ..BoundaryOptions::default()
            },
            BoundaryOptions {
                delta: 0.0,
                ..BoundaryOptions::default()
            },
            BoundaryOptions {
                step_adapt: 1.0,
                ..BoundaryOptions::default()
            },
        ] {
            assert!(boundary(&Linear, &X, &Y, &threat, &bad).is_err());
        }
    }
}
