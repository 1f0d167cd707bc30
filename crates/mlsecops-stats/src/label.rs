//! Confident learning: finds rows whose given label is probably wrong from
//! out-of-sample predicted probabilities (Northcutt, Jiang & Chuang,
//! "Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 70,
//! 2021), following cleanlab 2.x's `find_label_issues` step by step:
//!
//! 1. per-class thresholds `t_j` = mean `p_j` over rows labelled `j`;
//! 2. the confident joint `C[i][j]`: rows with given label `i` whose `p_j ≥ t_j`
//!    (the arg-max class when several pass, rows with none are not counted),
//!    with the diagonal floored at 1;
//! 3. calibration: each row of `C` rescaled to the class count `n_i`, the whole
//!    to `n`, and rounded preserving row totals;
//! 4. noise rates from the normalized joint (`P(given i | true j)`);
//! 5. pruning, `filter_by`: `PruneByNoiseRate` (default) flags, within given
//!    class `k`, the `C[k][j]` rows with the largest margin `p_j − p_k` for each
//!    `j ≠ k`; `PruneByClass` flags the `n_k − C[k][k]` rows with the lowest
//!    `p_k`; `Both` intersects them and `Either` (ours) unites them. At least
//!    `min_examples_per_class` rows
//!    are kept per class, and a row whose arg-max is its given label is never
//!    flagged.
//!
//! Issues are ranked by a label-quality score: self-confidence `p_label` or
//! the normalized margin `(p_label − max_{j≠label} p_j + 1)/2`.
//! Probabilities can be supplied by the caller ([`find_label_issues`]) or
//! computed here by cross-validation ([`find_label_issues_cv`], which uses
//! [`crate::learn::select_model`]).

use serde::Serialize;

use crate::Matrix;
use crate::learn::{self, LearnError, ModelScore, SelectOptions};

/// Errors from label-issue detection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// The label slice does not have one entry per probability row.
    #[error("{labels} labels for {rows} probability rows")]
    LabelCount { rows: usize, labels: usize },
    /// A label has no probability column.
    #[error("label {label} is out of range for {n_classes} classes")]
    LabelRange { label: u32, n_classes: usize },
    /// Computing the out-of-sample probabilities failed.
    #[error(transparent)]
    Learn(#[from] LearnError),
}

/// Which rows the pruning step flags (cleanlab's `filter_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum FilterBy {
    /// Per off-diagonal joint cell, the rows with the largest margin.
    #[default]
    PruneByNoiseRate,
    /// Per class, the rows with the lowest self-confidence.
    PruneByClass,
    /// Rows flagged by both rules.
    Both,
    /// Rows flagged by either rule. Not a cleanlab option: the two rules
    /// estimate the same number of issues per class but pick different
    /// rows at the margin, and on the committed label-flip cases their
    /// union has the best F1 for both random and targeted flips.
    Either,
}

/// Label-quality score used for ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum RankBy {
    /// `p[label]`.
    #[default]
    SelfConfidence,
    /// `(p[label] − max_{j≠label} p[j] + 1) / 2`.
    NormalizedMargin,
}

/// Settings for [`find_label_issues`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelOptions {
    /// Pruning rule.
    pub filter_by: FilterBy,
    /// Ranking score.
    pub rank_by: RankBy,
    /// Never prune a class below this many rows (cleanlab's default 1).
    pub min_examples_per_class: usize,
}

impl Default for LabelOptions {
    fn default() -> Self {
        Self {
            filter_by: FilterBy::PruneByNoiseRate,
            rank_by: RankBy::SelfConfidence,
            min_examples_per_class: 1,
        }
    }
}

/// The confident joint and what it is built from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfidentJoint {
    /// Per-class thresholds `t_j` (mean self-confidence of rows labelled `j`).
    pub thresholds: Vec<f64>,
    /// Raw counts, `[given][true guess]`, diagonal floored at 1.
    pub counts: Vec<Vec<u64>>,
    /// Calibrated counts: row `i` sums to the number of rows labelled `i`.
    pub calibrated: Vec<Vec<u64>>,
}

/// Result of label-issue detection.
#[derive(Debug, Clone, Serialize)]
pub struct LabelReport {
    /// Per row: the label is probably wrong.
    pub is_issue: Vec<bool>,
    /// Per row: label-quality score in `[0, 1]` (low = suspicious).
    pub quality: Vec<f64>,
    /// Per row: the most likely label (arg-max probability).
    pub suggested: Vec<u32>,
    /// Flagged rows, worst quality first.
    pub ranked: Vec<usize>,
    /// The confident joint.
    pub joint: ConfidentJoint,
    /// `P(given = i | true = j)`, estimated from the calibrated joint.
    pub noise_matrix: Vec<Vec<f64>>,
    /// Per given class `i`: estimated fraction of its rows that are mislabelled.
    pub noise_rate: Vec<f64>,
    /// The learners that produced the probabilities (cross-validated entry
    /// point only) and their scores.
    pub models: Vec<ModelScore>,
    /// The learner whose probabilities were used (cross-validated only).
    pub model: Option<&'static str>,
}

/// Probabilities with non-finite or negative entries set to 0 and rows
/// renormalized (uniform when a row has no mass).
fn sanitize(proba: &Matrix) -> Matrix {
    let k = proba.cols();
    let mut p = proba.clone();
    for i in 0..p.rows() {
        let row = p.row_mut(i);
        let mut s = 0.0;
        for v in row.iter_mut() {
            if !v.is_finite() || *v < 0.0 {
                *v = 0.0;
            }
            s += *v;
        }
        for v in row.iter_mut() {
            *v = if s > 0.0 { *v / s } else { 1.0 / k as f64 };
        }
    }
    p
}

fn check(proba: &Matrix, labels: &[u32]) -> Result<(), LabelError> {
    if labels.len() != proba.rows() {
        return Err(LabelError::LabelCount {
            rows: proba.rows(),
            labels: labels.len(),
        });
    }
    if let Some(&label) = labels.iter().find(|&&l| l as usize >= proba.cols()) {
        return Err(LabelError::LabelRange {
            label,
            n_classes: proba.cols(),
        });
    }
    Ok(())
}

/// Rounds to integers keeping the (rounded) sum, as cleanlab's
/// `round_preserving_sum`: the entries with the largest rounding loss get
/// the extra units.
fn round_preserving_sum(v: &[f64]) -> Vec<u64> {
    let target = v.iter().sum::<f64>().round().max(0.0) as i64;
    let mut ints: Vec<i64> = v.iter().map(|x| x.round() as i64).collect();
    let mut diff = target - ints.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..v.len()).collect();
    let step = diff.signum();
    if step != 0 {
        // Largest (v − round(v)) first when adding, smallest when removing.
        order.sort_by(|&a, &b| {
            let (ra, rb) = (v[a] - ints[a] as f64, v[b] - ints[b] as f64);
            if step > 0 {
                rb.total_cmp(&ra)
            } else {
                ra.total_cmp(&rb)
            }
        });
        let mut idx = order.iter().cycle();
        while diff != 0 {
            let Some(&i) = idx.next() else { break };
            if step < 0 && ints[i] <= 0 {
                if ints.iter().all(|&x| x <= 0) {
                    break;
                }
                continue;
            }
            ints[i] += step;
            diff -= step;
        }
    }
    ints.into_iter().map(|x| x.max(0) as u64).collect()
}

fn class_counts(labels: &[u32], k: usize) -> Vec<u64> {
    let mut counts = vec![0u64; k];
    for &l in labels {
        counts[l as usize] += 1;
    }
    counts
}

/// Per-class thresholds: mean `p_j` over rows labelled `j` (0 for an empty
/// class, so an empty class is confident for every row, as in cleanlab it
/// would be undefined).
#[must_use]
pub fn confident_thresholds(proba: &Matrix, labels: &[u32]) -> Vec<f64> {
    let k = proba.cols();
    let mut sum = vec![0.0; k];
    let mut cnt = vec![0usize; k];
    for (i, &l) in labels.iter().enumerate().take(proba.rows()) {
        let l = l as usize;
        if l < k {
            sum[l] += proba.get(i, l);
            cnt[l] += 1;
        }
    }
    sum.iter()
        .zip(&cnt)
        .map(|(&s, &c)| if c > 0 { s / c as f64 } else { 1.0 })
        .collect()
}

/// Computes the confident joint (raw and calibrated) from probabilities.
pub fn confident_joint(proba: &Matrix, labels: &[u32]) -> Result<ConfidentJoint, LabelError> {
    check(proba, labels)?;
    let p = sanitize(proba);
    Ok(joint_of(&p, labels))
}

fn joint_of(p: &Matrix, labels: &[u32]) -> ConfidentJoint {
    let k = p.cols();
    let thresholds = confident_thresholds(p, labels);
    let mut counts = vec![vec![0u64; k]; k];
    for (i, &l) in labels.iter().enumerate() {
        let row = p.row(i);
        let above: Vec<usize> = (0..k).filter(|&j| row[j] >= thresholds[j] - 1e-6).collect();
        let guess = match above.len() {
            0 => continue,
            1 => above[0],
            _ => learn::argmax(row),
        };
        counts[l as usize][guess] += 1;
    }
    for (c, row) in counts.iter_mut().enumerate() {
        row[c] = row[c].max(1);
    }
    // Calibrate rows to the class counts, then the total to n.
    let n_per = class_counts(labels, k);
    let mut cal: Vec<Vec<f64>> = counts
        .iter()
        .zip(&n_per)
        .map(|(row, &nk)| {
            let s = row.iter().sum::<u64>().max(1) as f64;
            row.iter().map(|&c| c as f64 / s * nk as f64).collect()
        })
        .collect();
    let total: f64 = cal.iter().flatten().sum();
    let n = labels.len() as f64;
    if total > 0.0 {
        cal.iter_mut().flatten().for_each(|v| *v *= n / total);
    }
    let calibrated = cal.iter().map(|r| round_preserving_sum(r)).collect();
    ConfidentJoint {
        thresholds,
        counts,
        calibrated,
    }
}

/// cleanlab's `_keep_at_least_n_per_class` on the transposed joint
/// (`pcm[true][given]`), with `frac_noise = 1`.
fn keep_at_least_n(pcm: &[Vec<u64>], n: u64) -> Vec<Vec<u64>> {
    let k = pcm.len();
    let mut m: Vec<Vec<f64>> = pcm
        .iter()
        .map(|r| r.iter().map(|&v| v as f64).collect())
        .collect();
    for col in 0..k {
        let diag = pcm[col][col];
        let new_diag = diag.max(n);
        let diff = (new_diag - diag) as f64;
        let nonzero = (0..k).filter(|&r| pcm[r][col] != 0).count() as f64;
        let per = diff / (nonzero - 1.0).max(1.0);
        for (r, row) in m.iter_mut().enumerate() {
            if r != col {
                row[col] = (row[col] - per).max(0.0);
            }
        }
        m[col][col] = new_diag as f64;
    }
    m.iter().map(|r| round_preserving_sum(r)).collect()
}

/// Label-quality scores for every row (`[0, 1]`, low = suspicious).
pub fn label_quality_scores(
    proba: &Matrix,
    labels: &[u32],
    rank_by: RankBy,
) -> Result<Vec<f64>, LabelError> {
    check(proba, labels)?;
    let p = sanitize(proba);
    Ok(quality_of(&p, labels, rank_by))
}

fn quality_of(p: &Matrix, labels: &[u32], rank_by: RankBy) -> Vec<f64> {
    labels
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            let row = p.row(i);
            let own = row[l as usize];
            match rank_by {
                RankBy::SelfConfidence => own,
                RankBy::NormalizedMargin => {
                    let other = row
                        .iter()
                        .enumerate()
                        .filter(|&(j, _)| j != l as usize)
                        .map(|(_, &v)| v)
                        .fold(0.0, f64::max);
                    f64::midpoint(own - other, 1.0)
                }
            }
        })
        .collect()
}

/// Finds label issues from caller-supplied out-of-sample probabilities
/// (`rows × classes`; a label must index a column).
pub fn find_label_issues(
    proba: &Matrix,
    labels: &[u32],
    opts: &LabelOptions,
) -> Result<LabelReport, LabelError> {
    check(proba, labels)?;
    let p = sanitize(proba);
    let k = p.cols();
    let n = labels.len();
    let joint = joint_of(&p, labels);
    let counts = class_counts(labels, k);
    // pcm[true][given] = calibrated[given][true].
    let pcm_t: Vec<Vec<u64>> = (0..k)
        .map(|t| (0..k).map(|g| joint.calibrated[g][t]).collect())
        .collect();
    let pcm = keep_at_least_n(&pcm_t, opts.min_examples_per_class as u64);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l as usize].push(i);
    }
    let min_keep = opts.min_examples_per_class as u64;
    let mut by_noise = vec![false; n];
    let mut by_class_mask = vec![false; n];
    for (c, rows) in by_class.iter().enumerate() {
        if counts[c] <= min_keep {
            continue;
        }
        if matches!(
            opts.filter_by,
            FilterBy::PruneByNoiseRate | FilterBy::Both | FilterBy::Either
        ) {
            for j in (0..k).filter(|&j| j != c) {
                let num = (pcm[j][c] as usize).min(rows.len());
                if num == 0 {
                    continue;
                }
                let mut order = rows.clone();
                order.sort_by(|&a, &b| {
                    let ma = p.get(a, j) - p.get(a, c);
                    let mb = p.get(b, j) - p.get(b, c);
                    mb.total_cmp(&ma)
                });
                for &r in &order[..num] {
                    by_noise[r] = true;
                }
            }
        }
        if matches!(
            opts.filter_by,
            FilterBy::PruneByClass | FilterBy::Both | FilterBy::Either
        ) {
            let num = counts[c].saturating_sub(pcm[c][c]) as usize;
            if num > 0 {
                let mut order = rows.clone();
                order.sort_by(|&a, &b| p.get(a, c).total_cmp(&p.get(b, c)));
                for &r in order.iter().take(num) {
                    by_class_mask[r] = true;
                }
            }
        }
    }
    let mut is_issue: Vec<bool> = match opts.filter_by {
        FilterBy::PruneByNoiseRate => by_noise,
        FilterBy::PruneByClass => by_class_mask,
        FilterBy::Both => by_noise
            .iter()
            .zip(&by_class_mask)
            .map(|(a, b)| *a && *b)
            .collect(),
        FilterBy::Either => by_noise
            .iter()
            .zip(&by_class_mask)
            .map(|(a, b)| *a || *b)
            .collect(),
    };
    let mut suggested = Vec::with_capacity(n);
    for (i, &l) in labels.iter().enumerate() {
        let mut row = p.row(i).to_vec();
        suggested.push(learn::argmax(&row) as u32);
        row[l as usize] += 1e-6;
        if learn::argmax(&row) == l as usize {
            is_issue[i] = false;
        }
    }
    let quality = quality_of(&p, labels, opts.rank_by);
    let mut ranked: Vec<usize> = (0..n).filter(|&i| is_issue[i]).collect();
    ranked.sort_by(|&a, &b| quality[a].total_cmp(&quality[b]).then(a.cmp(&b)));
    // Noise rates from the calibrated joint.
    let total: f64 = joint.calibrated.iter().flatten().sum::<u64>().max(1) as f64;
    let py: Vec<f64> = (0..k)
        .map(|t| (0..k).map(|g| joint.calibrated[g][t] as f64).sum::<f64>() / total)
        .collect();
    let noise_matrix = (0..k)
        .map(|g| {
            (0..k)
                .map(|t| {
                    if py[t] > 0.0 {
                        joint.calibrated[g][t] as f64 / total / py[t]
                    } else {
                        f64::from(u8::from(g == t))
                    }
                })
                .collect()
        })
        .collect();
    let noise_rate = (0..k)
        .map(|g| {
            let row: u64 = joint.calibrated[g].iter().sum();
            if row == 0 {
                0.0
            } else {
                1.0 - joint.calibrated[g][g] as f64 / row as f64
            }
        })
        .collect();
    Ok(LabelReport {
        is_issue,
        quality,
        suggested,
        ranked,
        joint,
        noise_matrix,
        noise_rate,
        models: Vec::new(),
        model: None,
    })
}

/// Cross-validates the learners of [`crate::learn::select_model`] on `x`,
/// keeps the one with the lower out-of-sample log-loss, and finds label
/// issues from its probabilities.
pub fn find_label_issues_cv(
    x: &Matrix,
    labels: &[u32],
    n_classes: usize,
    select: &SelectOptions,
    opts: &LabelOptions,
) -> Result<LabelReport, LabelError> {
    let sel = learn::select_model(x, labels, n_classes, select)?;
    let mut report = find_label_issues(&sel.proba, labels, opts)?;
    report.model = Some(sel.chosen.name());
    report.models = sel.scores;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;
    use proptest::prelude::{ProptestConfig, prop_assert, prop_assert_eq, proptest};

    fn f1(flagged: &[bool], truth: &[bool]) -> f64 {
        let tp = flagged
            .iter()
            .zip(truth)
            .filter(|(a, b)| **a && **b)
            .count() as f64;
        let fl = flagged.iter().filter(|v| **v).count() as f64;
        let tr = truth.iter().filter(|v| **v).count() as f64;
        if tp == 0.0 { 0.0 } else { 2.0 * tp / (fl + tr) }
    }

    /// Gaussian blobs with `rate` of labels flipped uniformly to another class.
    fn noisy_blobs(n: usize, k: usize, rate: f64, seed: u64) -> (Matrix, Vec<u32>, Vec<bool>) {
        let mut rng = Rng::new(seed);
        let d = 6;
        let centres: Vec<Vec<f64>> = (0..k)
            .map(|_| (0..d).map(|_| rng.normal() * 2.5).collect())
            .collect();
        let mut data = Vec::new();
        let mut labels = Vec::new();
        let mut flipped = Vec::new();
        for i in 0..n {
            let c = i % k;
            data.extend(centres[c].iter().map(|m| m + rng.normal()));
            let flip = rng.next_f64() < rate;
            labels.push(if flip {
                ((c + 1 + rng.below(k - 1)) % k) as u32
            } else {
                c as u32
            });
            flipped.push(flip);
        }
        (Matrix::from_vec(n, d, data).unwrap(), labels, flipped)
    }

    #[test]
    fn finds_random_flips_on_gaussian_blobs() {
        let (x, y, truth) = noisy_blobs(1200, 4, 0.1, 11);
        let rep = find_label_issues_cv(
            &x,
            &y,
            4,
            &SelectOptions::default(),
            &LabelOptions::default(),
        )
        .unwrap();
        let score = f1(&rep.is_issue, &truth);
        assert!(score >= 0.85, "F1 {score}");
        // Suggested labels fix most flagged rows; ranking is by quality.
        assert!(
            rep.ranked
                .windows(2)
                .all(|w| rep.quality[w[0]] <= rep.quality[w[1]])
        );
        assert!(rep.noise_rate.iter().all(|r| (0.0..0.3).contains(r)));
    }

    #[test]
    fn finds_targeted_flips() {
        let (x, mut y, _) = noisy_blobs(1200, 4, 0.0, 12);
        let mut truth = vec![false; y.len()];
        let mut seen = 0;
        for i in 0..y.len() {
            if y[i] == 0 {
                seen += 1;
                if seen % 10 < 3 {
                    y[i] = 1;
                    truth[i] = true;
                }
            }
        }
        let rep = find_label_issues_cv(
            &x,
            &y,
            4,
            &SelectOptions::default(),
            &LabelOptions::default(),
        )
        .unwrap();
        let score = f1(&rep.is_issue, &truth);
        assert!(score >= 0.8, "F1 {score}");
    }

    #[test]
    fn all_filters_work_on_supplied_probabilities() {
        // Row 3 is labelled 0 but confidently class 1.
        let p = Matrix::from_rows(&[
            vec![0.9, 0.1],
            vec![0.8, 0.2],
            vec![0.85, 0.15],
            vec![0.05, 0.95],
            vec![0.1, 0.9],
            vec![0.2, 0.8],
        ])
        .unwrap();
        let y = [0, 0, 0, 0, 1, 1];
        for filter_by in [
            FilterBy::PruneByNoiseRate,
            FilterBy::PruneByClass,
            FilterBy::Both,
            FilterBy::Either,
        ] {
            for rank_by in [RankBy::SelfConfidence, RankBy::NormalizedMargin] {
                let opts = LabelOptions {
                    filter_by,
                    rank_by,
                    ..LabelOptions::default()
                };
                let rep = find_label_issues(&p, &y, &opts).unwrap();
                assert_eq!(rep.ranked, vec![3], "{filter_by:?}");
                assert_eq!(rep.suggested[3], 1);
            }
        }
    }

    #[test]
    fn both_and_either_are_intersection_and_union() {
        let mut rng = crate::Rng::new(11);
        let (n, k) = (300, 4);
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let mut row: Vec<f64> = (0..k).map(|_| rng.next_f64() + 0.05).collect();
            row[i % k] += 1.5;
            let s: f64 = row.iter().sum();
            rows.push(row.iter().map(|v| v / s).collect());
            // Every seventh label is moved to the next class.
            y.push(((i + usize::from(i % 7 == 0)) % k) as u32);
        }
        let p = Matrix::from_rows(&rows).unwrap();
        let run = |filter_by| {
            let opts = LabelOptions {
                filter_by,
                ..LabelOptions::default()
            };
            find_label_issues(&p, &y, &opts).unwrap().is_issue
        };
        let noise = run(FilterBy::PruneByNoiseRate);
        let class = run(FilterBy::PruneByClass);
        let both = run(FilterBy::Both);
        let either = run(FilterBy::Either);
        assert!(noise.iter().any(|&f| f));
        for i in 0..n {
            assert_eq!(both[i], noise[i] && class[i], "row {i}");
            assert_eq!(either[i], noise[i] || class[i], "row {i}");
        }
    }

    #[test]
    fn degenerate_inputs() {
        // One class, NaN probabilities, empty input, bad labels.
        let p = Matrix::from_rows(&[vec![f64::NAN], vec![1.0]]).unwrap();
        let rep = find_label_issues(&p, &[0, 0], &LabelOptions::default()).unwrap();
        assert_eq!(rep.is_issue, vec![false, false]);
        let p = Matrix::zeros(0, 3);
        assert!(
            find_label_issues(&p, &[], &LabelOptions::default())
                .unwrap()
                .ranked
                .is_empty()
        );
        let p = Matrix::from_rows(&[vec![0.5, 0.5]]).unwrap();
        assert!(find_label_issues(&p, &[2], &LabelOptions::default()).is_err());
        assert!(find_label_issues(&p, &[0, 1], &LabelOptions::default()).is_err());
    }

    #[test]
    fn rounding_preserves_sums() {
        assert_eq!(round_preserving_sum(&[0.4, 0.4, 0.2]), vec![1, 0, 0]);
        assert_eq!(
            round_preserving_sum(&[1.5, 1.5, 1.0]).iter().sum::<u64>(),
            4
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn calibrated_joint_rows_sum_to_class_counts(
            n in 1usize..60,
            k in 1usize..5,
            seed in 0u64..10_000,
        ) {
            let mut rng = Rng::new(seed);
            let data: Vec<f64> = (0..n * k).map(|_| rng.next_f64()).collect();
            let p = Matrix::from_vec(n, k, data).unwrap();
            let y: Vec<u32> = (0..n).map(|_| rng.below(k) as u32).collect();
            let j = confident_joint(&p, &y).unwrap();
            let total: u64 = j.calibrated.iter().flatten().sum();
            prop_assert_eq!(total, n as u64);
            for c in 0..k {
                let count = y.iter().filter(|&&l| l as usize == c).count() as u64;
                prop_assert_eq!(j.calibrated[c].iter().sum::<u64>(), count);
            }
            let rep = find_label_issues(&p, &y, &LabelOptions::default()).unwrap();
            prop_assert!(rep.quality.iter().all(|q| (0.0..=1.0).contains(q)));
        }
    }
}
