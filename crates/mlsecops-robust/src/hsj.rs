//! HopSkipJump, untargeted, L2 or L∞ (Chen, Jordan & Wainwright,
//! "HopSkipJumpAttack: a query-efficient decision-based attack", IEEE S&P
//! 2020).
//!
//! Decision-based: the attack sees only the model's decision (the argmax of
//! its probabilities), never the scores, so a model that hides or rounds
//! its confidences is no defence against it. It looks for the *smallest*
//! change that flips the decision, walking along the decision boundary
//! towards the clean input. Per sample:
//!
//! 1. **Start.** Draw uniform noise in the box until a draw is
//!    misclassified (at most [`HsjOptions::init_size`] draws) and take it
//!    to the boundary (step 2). The paper uses the first such draw; here
//!    [`STARTS`] of them are taken to the boundary and the closest kept.
//!    HSJ is a local search and its start decides which part of the
//!    boundary it descends: on the digit fixtures three starts flip
//!    5–15 % more samples at the same budget, for about 20 queries.
//! 2. **Back to the boundary.** Binary search between the clean input and
//!    the current adversarial point for the closest point still
//!    misclassified: along the straight line for L2, over the radius of a
//!    clipping box around the clean input for L∞. The search stops at a
//!    relative precision `θ = γ / d^{3/2}` (L2) or `γ / d²` (L∞), `d` the
//!    number of input values, as in the paper, or [`SEARCH_PRECISION`]
//!    when that is finer: for the few features of tabular data the
//!    paper's θ is coarse (1/8 of the distance at `d = 4`) and caps how
//!    close the attack can get.
//! 3. **Gradient direction.** At the boundary point, probe `n` random unit
//!    directions (Gaussian for L2, uniform in the cube for L∞) at radius
//!    `δ` and ask for each probe whether it is misclassified; the mean of
//!    the directions weighted by ±1 (minus its average, a baseline that
//!    lowers the variance) estimates the direction in which the decision
//!    flips. `n` grows as `init_eval·√t` at iteration `t`, at most
//!    `max_eval` and what the budget leaves; `δ` is `0.1·(hi − lo)` at the
//!    first iteration and then `√d·θ·dist` (L2) or `d·θ·dist` (L∞). All
//!    probes of one estimate go to the model in one call.
//! 4. **Jump.** Step from the boundary point along that direction (its
//!    sign for L∞) by `dist/√t`, halving the step until the point is
//!    misclassified (geometric step search), then go back to step 2.
//!
//! Each binary search lands on the adversarial side of the boundary, so
//! every iterate is misclassified by a query; the closest one (under the
//! threat's norm) is kept. A sample counts as flipped when that point is
//! inside the threat model. The attack stops when the budget or
//! [`HsjOptions::max_iter`] is spent and, to save queries, as soon as the
//! kept point is inside the ball: success is then decided, and further
//! distance reduction would not change the report. When the attack ends
//! outside the ball, the reported input is the kept point projected onto
//! the ball and box (so every attack's output stays within the threat
//! model), and `success` is false.
//!
//! One query = one row sent to the model, the clean input included; the
//! budget is never exceeded (a step that would need more rows than are left
//! is not taken).

use mlsecops_stats::Rng;
use serde::Serialize;

use crate::{AttackError, AttackReport, Norm, Oracle, SampleResult, ThreatModel, check_inputs};

/// Settings of [`hsj`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HsjOptions {
    /// Queries per sample, the clean one included (a hard budget).
    pub max_queries: u64,
    /// Gradient-estimate / jump / binary-search rounds at most.
    pub max_iter: u32,
    /// Probes of the first gradient estimate (then `init_eval·√t`).
    pub init_eval: u32,
    /// Probes of one gradient estimate at most (also capped by the budget).
    pub max_eval: u32,
    /// Random draws at most to find a misclassified starting point.
    pub init_size: u32,
    /// Scales the binary-search precision θ (and with it the probe radius).
    pub gamma: f32,
    pub seed: u64,
}

impl Default for HsjOptions {
    fn default() -> Self {
        Self {
            max_queries: 5000,
            max_iter: 64,
            init_eval: 100,
            max_eval: 10_000,
            init_size: 100,
            gamma: 1.0,
            seed: 0,
        }
    }
}

/// Misclassified noise draws brought to the boundary at the start; the
/// closest is kept.
pub const STARTS: u32 = 3;

/// Coarsest relative precision of the binary searches.
pub const SEARCH_PRECISION: f32 = 1e-3;

/// Attacks every row of `x` (`labels.len() × features` values).
pub fn hsj(
    oracle: &dyn Oracle,
    x: &[f32],
    labels: &[usize],
    threat: &ThreatModel,
    opts: &HsjOptions,
) -> Result<AttackReport, AttackError> {
    let d = check_inputs(oracle, x, labels, threat)?;
    if opts.max_queries == 0 {
        return Err(AttackError::Input(
            "HopSkipJump needs a budget of at least one query (the clean input)".to_owned(),
        ));
    }
    if !(opts.gamma.is_finite() && opts.gamma > 0.0) {
        return Err(AttackError::Input(format!(
            "HopSkipJump gamma must be positive, not {}",
            opts.gamma
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
            Norm::L2 => "hsj-l2",
            Norm::Linf => "hsj-linf",
        },
        threat: threat.clone(),
        samples,
    })
}

/// Decisions of the model on one sample's candidates, within a hard query
/// budget.
pub(crate) struct Decider<'a> {
    oracle: &'a dyn Oracle,
    label: usize,
    d: usize,
    k: usize,
    used: u64,
    max: u64,
}

impl<'a> Decider<'a> {
    pub(crate) fn new(oracle: &'a dyn Oracle, label: usize, max: u64) -> Self {
        Self {
            oracle,
            label,
            d: oracle.features(),
            k: oracle.classes(),
            used: 0,
            max,
        }
    }

    /// Queries spent so far.
    pub(crate) fn used(&self) -> u64 {
        self.used
    }

    /// Queries left.
    pub(crate) fn remaining(&self) -> u64 {
        self.max.saturating_sub(self.used)
    }

    /// For each row of `rows`: is it misclassified (decision ≠ label)?
    /// `None`, and nothing spent, when the rows do not fit in the budget.
    pub(crate) fn adversarial(&mut self, rows: &[f32]) -> Result<Option<Vec<bool>>, AttackError> {
        let n = rows.len() / self.d.max(1);
        if n as u64 > self.remaining() {
            return Ok(None);
        }
        if n == 0 {
            return Ok(Some(Vec::new()));
        }
        let p = self.oracle.proba(rows)?;
        self.used += n as u64;
        if p.len() != n * self.k {
            return Err(AttackError::Input(format!(
                "the model returned {} values for {n} rows × {} classes",
                p.len(),
                self.k
            )));
        }
        Ok(Some(
            p.chunks(self.k)
                .map(|r| mlsecops_model::argmax(r) != self.label)
                .collect(),
        ))
    }

    /// [`Decider::adversarial`] for one row.
    pub(crate) fn is_adversarial(&mut self, row: &[f32]) -> Result<Option<bool>, AttackError> {
        Ok(self.adversarial(row)?.and_then(|v| v.first().copied()))
    }
}

/// The starting point: uniform noise in the box, drawn until a draw is
/// misclassified (`tries` draws at most over all starts, one query each),
/// then brought back to the boundary by [`boundary_search`]. With
/// `starts > 1`, that many misclassified draws are searched and the
/// closest boundary point is kept. `None` when no draw was misclassified.
#[allow(clippy::too_many_arguments)]
pub(crate) fn start_point(
    q: &mut Decider<'_>,
    rng: &mut Rng,
    x0: &[f32],
    threat: &ThreatModel,
    norm: Norm,
    theta: f32,
    tries: u32,
    starts: u32,
) -> Result<Option<Vec<f32>>, AttackError> {
    let (lo, hi) = (threat.lo, threat.hi);
    let mut cand = vec![0.0f32; x0.len()];
    let mut best: Option<(Vec<f32>, f32)> = None;
    let mut found = 0;
    for _ in 0..tries {
        if found >= starts {
            break;
        }
        for v in &mut cand {
            *v = (f64::from(lo) + rng.next_f64() * f64::from(hi - lo)) as f32;
            *v = v.clamp(lo, hi);
        }
        match q.is_adversarial(&cand)? {
            None => break,
            Some(true) => {
                found += 1;
                let b = boundary_search(q, x0, &cand, norm, theta)?;
                let dist = norm.dist(x0, &b);
                if best.as_ref().is_none_or(|(_, bd)| dist < *bd) {
                    best = Some((b, dist));
                }
            }
            Some(false) => {}
        }
    }
    Ok(best.map(|(b, _)| b))
}

/// The point `x0 + a·(p − x0)` (L2) or `p` clipped to `[x0 − a, x0 + a]`
/// (L∞), into `out`.
fn toward(norm: Norm, x0: &[f32], p: &[f32], a: f32, out: &mut [f32]) {
    for ((o, &s), &t) in out.iter_mut().zip(x0).zip(p) {
        *o = match norm {
            Norm::L2 => s + a * (t - s),
            Norm::Linf => t.clamp(s - a, s + a),
        };
    }
}

/// Binary search between `x0` (classified right) and the misclassified `p`
/// for the misclassified point closest to `x0`: over the blend factor for
/// L2, over the clipping radius for L∞, to relative precision `theta`.
/// Returns the last misclassified point queried (`p` itself if none
/// closer was); stops early, keeping what it has, when the budget is out.
pub(crate) fn boundary_search(
    q: &mut Decider<'_>,
    x0: &[f32],
    p: &[f32],
    norm: Norm,
    theta: f32,
) -> Result<Vec<f32>, AttackError> {
    let (mut low, mut high, tol) = match norm {
        Norm::L2 => (0.0f32, 1.0f32, theta),
        Norm::Linf => {
            let r = crate::linf(x0, p);
            (0.0, r, r * theta)
        }
    };
    let mut best = p.to_vec();
    let mut mid_pt = vec![0.0f32; p.len()];
    // The precision bounds the steps; the cap guards against a θ so small
    // that halving no longer shrinks the interval in f32.
    for _ in 0..64 {
        if high - low <= tol {
            break;
        }
        let mid = 0.5 * (low + high);
        if mid <= low || mid >= high {
            break;
        }
        toward(norm, x0, p, mid, &mut mid_pt);
        match q.is_adversarial(&mid_pt)? {
            None => break,
            Some(true) => {
                high = mid;
                best.copy_from_slice(&mid_pt);
            }
            Some(false) => low = mid,
        }
    }
    Ok(best)
}

/// Binary-search steps [`boundary_search`] takes at precision `theta`.
pub(crate) fn search_steps(theta: f32) -> u64 {
    (1.0 / f64::from(theta)).log2().ceil().max(1.0) as u64
}

/// Unit vector along `v` (zero stays zero).
fn normalise(v: &mut [f64]) -> bool {
    let n = v.iter().map(|a| a * a).sum::<f64>().sqrt();
    if n > 0.0 && n.is_finite() {
        for a in v {
            *a /= n;
        }
        true
    } else {
        false
    }
}

/// Monte-Carlo estimate, at the boundary point `xb`, of the unit direction
/// in which the decision flips: `evals` probes at radius `delta`, all in
/// one model call. `None` when the budget cannot pay for them or the
/// estimate vanishes.
#[allow(clippy::too_many_arguments)]
fn estimate_direction(
    q: &mut Decider<'_>,
    rng: &mut Rng,
    xb: &[f32],
    norm: Norm,
    delta: f32,
    evals: usize,
    threat: &ThreatModel,
) -> Result<Option<Vec<f64>>, AttackError> {
    let d = xb.len();
    let mut dirs = vec![0.0f64; evals * d];
    let mut batch = vec![0.0f32; evals * d];
    for (u, row) in dirs.chunks_mut(d).zip(batch.chunks_mut(d)) {
        match norm {
            Norm::L2 => rng.fill_normal(u),
            Norm::Linf => {
                for a in u.iter_mut() {
                    *a = 2.0 * rng.next_f64() - 1.0;
                }
            }
        }
        normalise(u);
        for ((r, a), &b) in row.iter_mut().zip(u.iter_mut()).zip(xb) {
            *r = (b + delta * (*a as f32)).clamp(threat.lo, threat.hi);
            // The direction actually probed, after clipping.
            *a = f64::from(*r - b) / f64::from(delta);
        }
    }
    let Some(adv) = q.adversarial(&batch)? else {
        return Ok(None);
    };
    let signs: Vec<f64> = adv.iter().map(|&a| if a { 1.0 } else { -1.0 }).collect();
    let mean = signs.iter().sum::<f64>() / evals as f64;
    // All probes on one side: the mean direction (towards or away from the
    // adversarial side); else subtract the mean sign as a baseline.
    let weights: Vec<f64> = if mean >= 1.0 || mean <= -1.0 {
        signs
    } else {
        signs.iter().map(|s| s - mean).collect()
    };
    let mut g = vec![0.0f64; d];
    for (u, w) in dirs.chunks(d).zip(&weights) {
        for (gi, &ui) in g.iter_mut().zip(u) {
            *gi += w * ui;
        }
    }
    Ok(normalise(&mut g).then_some(g))
}

/// Attacks one sample (`x0`, true label `label`).
fn attack_one(
    oracle: &dyn Oracle,
    x0: &[f32],
    label: usize,
    threat: &ThreatModel,
    opts: &HsjOptions,
    seed: u64,
) -> Result<SampleResult, AttackError> {
    let d = x0.len();
    let norm = threat.norm;
    let mut q = Decider::new(oracle, label, opts.max_queries);
    if q.is_adversarial(x0)? != Some(false) {
        // Misclassified already (or no budget at all): not attacked.
        return Ok(SampleResult::new(x0, x0.to_vec(), false, false, q.used()));
    }
    let mut rng = Rng::new(seed);
    let df = d as f32;
    let theta = match norm {
        Norm::L2 => opts.gamma / (df * df.sqrt()),
        Norm::Linf => opts.gamma / (df * df),
    };
    // The binary searches' precision: θ, but never coarser than
    // `SEARCH_PRECISION` (θ is 1/8 at d = 4).
    let tol = theta.min(SEARCH_PRECISION);
    // Queries kept back after a gradient estimate for the jump and the
    // binary search that follow it.
    let reserve = search_steps(tol) + 4;
    let Some(mut cur) = start_point(
        &mut q,
        &mut rng,
        x0,
        threat,
        norm,
        tol,
        opts.init_size,
        STARTS,
    )?
    else {
        return Ok(SampleResult::new(x0, x0.to_vec(), true, false, q.used()));
    };
    let mut best = cur.clone();
    let mut best_dist = norm.dist(x0, &best);
    let mut cand = vec![0.0f32; d];
    for t in 1..=opts.max_iter {
        if threat.contains(x0, &best) {
            break;
        }
        let dist = norm.dist(x0, &cur);
        let delta = if t == 1 {
            0.1 * (threat.hi - threat.lo)
        } else {
            match norm {
                Norm::L2 => df.sqrt() * theta * dist,
                Norm::Linf => df * theta * dist,
            }
        };
        let want = (f64::from(opts.init_eval) * f64::from(t).sqrt()) as u64;
        let evals = want
            .min(u64::from(opts.max_eval))
            .min(q.remaining().saturating_sub(reserve));
        if evals < 2 || delta.is_nan() || delta <= 0.0 {
            break;
        }
        let Some(g) =
            estimate_direction(&mut q, &mut rng, &cur, norm, delta, evals as usize, threat)?
        else {
            continue;
        };
        let dir: Vec<f32> = match norm {
            Norm::L2 => g.iter().map(|&v| v as f32).collect(),
            // The sign, 0 for 0 (unlike `signum`).
            Norm::Linf => g
                .iter()
                .map(|&v| f32::from(i8::from(v > 0.0) - i8::from(v < 0.0)))
                .collect(),
        };
        // Geometric step search: the first step length that stays
        // misclassified.
        let mut step = dist / (t as f32).sqrt();
        let mut jumped = false;
        let mut out_of_budget = false;
        for _ in 0..24 {
            for ((c, &b), &v) in cand.iter_mut().zip(&cur).zip(&dir) {
                *c = (b + step * v).clamp(threat.lo, threat.hi);
            }
            match q.is_adversarial(&cand)? {
                None => {
                    out_of_budget = true;
                    break;
                }
                Some(true) => {
                    jumped = true;
                    break;
                }
                Some(false) => step *= 0.5,
            }
        }
        if out_of_budget {
            break;
        }
        if !jumped {
            continue;
        }
        cur = boundary_search(&mut q, x0, &cand, norm, tol)?;
        let dist = norm.dist(x0, &cur);
        if dist < best_dist {
            best_dist = dist;
            best.copy_from_slice(&cur);
        }
    }
    Ok(finish(x0, best, threat, q.used()))
}

/// The result for a sample whose closest misclassified point is `best`:
/// a flip when it is inside the threat model, else the point projected
/// onto the ball and box, unflipped.
pub(crate) fn finish(
    x0: &[f32],
    mut best: Vec<f32>,
    threat: &ThreatModel,
    queries: u64,
) -> SampleResult {
    let success = threat.contains(x0, &best);
    if !success {
        threat.project(x0, &mut best);
    }
    SampleResult::new(x0, best, true, success, queries)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A linear two-class model on 4 features: class 1 when Σx > 2.
    pub(crate) struct Linear;
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
        0.3, 0.3, 0.3, 0.3, // Σ 1.2: 0.8 from the boundary
        0.9, 0.9, 0.9, 0.9, // Σ 3.6: 1.6 from it
        0.6, 0.6, 0.6, 0.6, // Σ 2.4: 0.4 from it
        0.45, 0.45, 0.45, 0.45, // Σ 1.8: class 0, labelled 1 below
    ];
    const Y: [usize; 4] = [0, 1, 1, 1];

    fn check(r: &AttackReport, threat: &ThreatModel, budget: u64) {
        for (s, x0) in r.samples.iter().zip(X.chunks(4)) {
            assert!(s.queries <= budget, "{} > {budget}", s.queries);
            assert!(threat.contains(x0, &s.adversarial), "{s:?}");
            if s.success {
                let p = Linear.proba(&s.adversarial).unwrap();
                let y = r.samples.iter().position(|t| std::ptr::eq(t, s)).unwrap();
                assert_ne!(mlsecops_model::argmax(&p), Y[y]);
            }
        }
        assert!(!r.samples[3].clean_correct && !r.samples[3].success);
        assert_eq!(r.samples[3].queries, 1);
    }

    #[test]
    fn l2_flips_what_the_ball_allows() {
        // The L2 distance to Σx = 2 is |Σx − 2| / 2: 0.4, 0.8, 0.2.
        let threat = ThreatModel::l2(0.5, 0.0, 1.0);
        let opts = HsjOptions {
            max_queries: 800,
            ..HsjOptions::default()
        };
        let r = hsj(&Linear, &X, &Y, &threat, &opts).unwrap();
        assert_eq!(r.attack, "hsj-l2");
        assert_eq!(
            r.samples.iter().map(|s| s.success).collect::<Vec<_>>(),
            [true, false, true, false]
        );
        check(&r, &threat, 800);
        // Row 1 cannot flip: the search ran to the budget or the iteration
        // cap, and its projected point sits on the ball.
        assert!((r.samples[1].l2 - 0.5).abs() < 1e-3, "{:?}", r.samples[1]);
        assert_eq!(r, hsj(&Linear, &X, &Y, &threat, &opts).unwrap());
        let other = HsjOptions { seed: 7, ..opts };
        assert_ne!(r, hsj(&Linear, &X, &Y, &threat, &other).unwrap());
    }

    #[test]
    fn linf_flips_what_the_ball_allows() {
        // The L∞ distance to Σx = 2 is |Σx − 2| / 4: 0.2, 0.4, 0.1.
        let threat = ThreatModel::linf(0.25, 0.0, 1.0);
        let opts = HsjOptions {
            max_queries: 800,
            ..HsjOptions::default()
        };
        let r = hsj(&Linear, &X, &Y, &threat, &opts).unwrap();
        assert_eq!(r.attack, "hsj-linf");
        assert_eq!(
            r.samples.iter().map(|s| s.success).collect::<Vec<_>>(),
            [true, false, true, false]
        );
        check(&r, &threat, 800);
        assert_eq!(r, hsj(&Linear, &X, &Y, &threat, &opts).unwrap());
    }

    #[test]
    fn minimises_the_distance() {
        // Row 2 is 0.2 from the boundary (L2): a ball of 0.203 is flipped
        // only if the walk along the boundary gets within 1.5 % of that
        // (it did for each of 200 seeds tried).
        let threat = ThreatModel::l2(0.203, 0.0, 1.0);
        let opts = HsjOptions {
            max_queries: 1000,
            ..HsjOptions::default()
        };
        let r = hsj(&Linear, &X[8..12], &[1], &threat, &opts).unwrap();
        let s = &r.samples[0];
        assert!(s.success && s.queries <= 1000, "{s:?}");
        assert!(s.l2 > 0.2 - 1e-4);
    }

    #[test]
    fn the_budget_is_hard() {
        let threat = ThreatModel::l2(0.05, 0.0, 1.0);
        for budget in [1u64, 2, 5, 17, 120, 333] {
            let opts = HsjOptions {
                max_queries: budget,
                ..HsjOptions::default()
            };
            let r = hsj(&Linear, &X, &Y, &threat, &opts).unwrap();
            for s in &r.samples {
                assert!(s.queries <= budget, "{} > {budget}", s.queries);
            }
        }
        let none = HsjOptions {
            max_queries: 0,
            ..HsjOptions::default()
        };
        assert!(hsj(&Linear, &X, &Y, &threat, &none).is_err());
    }

    #[test]
    fn binary_search_lands_just_past_the_boundary() {
        let mut q = Decider::new(&Linear, 0, 100);
        let x0 = [0.3f32; 4];
        let p = [1.0f32; 4];
        let b = boundary_search(&mut q, &x0, &p, Norm::L2, 1e-3).unwrap();
        let s: f32 = b.iter().sum();
        assert!(s > 2.0 && s < 2.0 + 0.01, "{s}");
        assert_eq!(q.used(), search_steps(1e-3));
        let b = boundary_search(&mut q, &x0, &p, Norm::Linf, 1e-3).unwrap();
        let s: f32 = b.iter().sum();
        assert!(s > 2.0 && s < 2.0 + 0.01, "{s}");
    }
}
