//! Held-out evaluation of a classifier: accuracy, per-class and macro
//! precision / recall / F1, the confusion matrix, calibration (expected
//! calibration error over equal-width confidence bins, as in Guo et al.,
//! "On Calibration of Modern Neural Networks", ICML 2017) and the same
//! metrics per slice of the data.

use std::collections::BTreeMap;

use serde::Serialize;

/// Confidence bins of the expected calibration error.
pub const ECE_BINS: usize = 15;

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    pub class: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Rows whose true label is this class.
    pub support: u64,
}

/// One confidence bin: rows whose top probability fell in `[lo, hi)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationBin {
    pub lo: f64,
    pub hi: f64,
    pub rows: u64,
    /// Mean top probability.
    pub confidence: f64,
    pub accuracy: f64,
}

/// Metrics over a set of rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub rows: u64,
    pub accuracy: f64,
    pub precision_macro: f64,
    pub recall_macro: f64,
    pub f1_macro: f64,
    /// Expected calibration error (`Σ |B|/n · |accuracy(B) − confidence(B)|`).
    pub ece: f64,
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[true][predicted]` row counts.
    pub confusion: Vec<Vec<u64>>,
    pub calibration: Vec<CalibrationBin>,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// Metrics of probabilities `proba` (`labels.len() × classes`) against
/// `labels`. Precision of a class nothing was predicted as is 0, as in
/// scikit-learn's `zero_division=0`.
#[must_use]
pub fn metrics(proba: &[f32], labels: &[usize], class_names: &[String]) -> Metrics {
    let k = class_names.len().max(1);
    let mut confusion = vec![vec![0u64; k]; k];
    let mut bins = vec![(0u64, 0.0f64, 0u64); ECE_BINS];
    for (row, &y) in proba.chunks(k).zip(labels) {
        let p = mlsecops_model::argmax(row);
        if y < k {
            confusion[y][p] += 1;
        }
        let conf = f64::from(row.get(p).copied().unwrap_or(0.0)).clamp(0.0, 1.0);
        let b = ((conf * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
        bins[b].0 += 1;
        bins[b].1 += conf;
        bins[b].2 += u64::from(p == y);
    }
    let n = labels.len() as f64;
    let correct: u64 = (0..k).map(|i| confusion[i][i]).sum();
    let mut per_class = Vec::with_capacity(k);
    for (c, name) in class_names.iter().enumerate() {
        let tp = confusion[c][c] as f64;
        let predicted: u64 = (0..k).map(|t| confusion[t][c]).sum();
        let support: u64 = confusion[c].iter().sum();
        let precision = ratio(tp, predicted as f64);
        let recall = ratio(tp, support as f64);
        per_class.push(ClassMetrics {
            class: name.clone(),
            precision,
            recall,
            f1: ratio(2.0 * precision * recall, precision + recall),
            support,
        });
    }
    // Macro averages over the classes present in the labels.
    let present: Vec<&ClassMetrics> = per_class.iter().filter(|c| c.support > 0).collect();
    let mean = |f: fn(&ClassMetrics) -> f64| {
        ratio(present.iter().map(|c| f(c)).sum(), present.len() as f64)
    };
    let calibration: Vec<CalibrationBin> = bins
        .iter()
        .enumerate()
        .map(|(i, &(rows, conf, ok))| CalibrationBin {
            lo: i as f64 / ECE_BINS as f64,
            hi: (i + 1) as f64 / ECE_BINS as f64,
            rows,
            confidence: ratio(conf, rows as f64),
            accuracy: ratio(ok as f64, rows as f64),
        })
        .collect();
    let ece = calibration
        .iter()
        .map(|b| b.rows as f64 / n.max(1.0) * (b.accuracy - b.confidence).abs())
        .sum();
    Metrics {
        rows: labels.len() as u64,
        accuracy: ratio(correct as f64, n),
        precision_macro: mean(|c| c.precision),
        recall_macro: mean(|c| c.recall),
        f1_macro: mean(|c| c.f1),
        ece,
        per_class,
        confusion,
        calibration,
    }
}

/// Metrics of one slice (`column = value`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SliceMetrics {
    pub column: String,
    pub value: String,
    pub rows: u64,
    pub accuracy: f64,
    pub f1_macro: f64,
}

/// Distinct values up to which a column is sliced value by value; above
/// it, numeric columns are cut into quartiles and other columns keep their
/// most frequent values (the rest grouped as `(other)`).
pub const MAX_SLICE_VALUES: usize = 20;

/// The slice each row of a column falls in.
#[must_use]
pub fn slice_keys(values: &[Option<String>]) -> Vec<String> {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for v in values {
        *counts.entry(v.as_deref().unwrap_or("(null)")).or_default() += 1;
    }
    if counts.len() <= MAX_SLICE_VALUES {
        return values
            .iter()
            .map(|v| v.as_deref().unwrap_or("(null)").to_owned())
            .collect();
    }
    let nums: Vec<Option<f64>> = values
        .iter()
        .map(|v| {
            v.as_deref()
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|x| x.is_finite())
        })
        .collect();
    let present = values.iter().filter(|v| v.is_some()).count();
    if nums.iter().filter(|v| v.is_some()).count() == present && present > 0 {
        let mut sorted: Vec<f64> = nums.iter().flatten().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let q = |f: f64| sorted[((sorted.len() - 1) as f64 * f).round() as usize];
        let cuts = [q(0.0), q(0.25), q(0.5), q(0.75), q(1.0)];
        return nums
            .iter()
            .map(|v| match v {
                None => "(null)".to_owned(),
                Some(x) => {
                    let i = (1..4).filter(|&i| *x > cuts[i]).count();
                    format!("q{} [{}, {}]", i + 1, cuts[i], cuts[i + 1])
                }
            })
            .collect();
    }
    let mut by_count: Vec<(&str, u64)> = counts.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let keep: std::collections::HashSet<&str> = by_count
        .iter()
        .take(MAX_SLICE_VALUES - 1)
        .map(|(v, _)| *v)
        .collect();
    values
        .iter()
        .map(|v| {
            let s = v.as_deref().unwrap_or("(null)");
            if keep.contains(s) {
                s.to_owned()
            } else {
                "(other)".to_owned()
            }
        })
        .collect()
}

/// Metrics per value of each slice column, sorted by column then value.
#[must_use]
pub fn slices(
    proba: &[f32],
    labels: &[usize],
    class_names: &[String],
    columns: &[(String, Vec<Option<String>>)],
) -> Vec<SliceMetrics> {
    let k = class_names.len().max(1);
    let mut out = Vec::new();
    for (column, values) in columns {
        let keys = slice_keys(values);
        let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, key) in keys.iter().enumerate().take(labels.len()) {
            groups.entry(key.as_str()).or_default().push(i);
        }
        for (value, rows) in groups {
            let p: Vec<f32> = rows
                .iter()
                .flat_map(|&i| proba[i * k..(i + 1) * k].iter().copied())
                .collect();
            let y: Vec<usize> = rows.iter().map(|&i| labels[i]).collect();
            let m = metrics(&p, &y, class_names);
            out.push(SliceMetrics {
                column: column.clone(),
                value: value.to_owned(),
                rows: m.rows,
                accuracy: m.accuracy,
                f1_macro: m.f1_macro,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|i| i.to_string()).collect()
    }

    #[test]
    fn matches_hand_computed_metrics() {
        // 3 classes; predictions (argmax): 0, 0, 1, 2, 2, 1.
        let proba = [
            0.9f32, 0.05, 0.05, //
            0.6, 0.3, 0.1, //
            0.2, 0.7, 0.1, //
            0.1, 0.1, 0.8, //
            0.3, 0.3, 0.4, //
            0.1, 0.5, 0.4,
        ];
        let labels = [0usize, 1, 1, 2, 2, 2];
        let m = metrics(&proba, &labels, &names(3));
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(
            m.confusion,
            vec![vec![1, 0, 0], vec![1, 1, 0], vec![0, 1, 2]]
        );
        // Class 0: P 1/2 R 1; class 1: P 1/2 R 1/2; class 2: P 1 R 2/3.
        let f1 = [2.0 / 3.0, 0.5, 0.8];
        for (c, f) in m.per_class.iter().zip(f1) {
            assert!((c.f1 - f).abs() < 1e-12, "{c:?}");
        }
        assert!((m.f1_macro - f1.iter().sum::<f64>() / 3.0).abs() < 1e-12);
        // ECE by hand over 15 bins.
        let mut ece = 0.0;
        for (conf, ok) in [
            (0.9f64, 1.0f64),
            (0.6, 0.0),
            (0.7, 1.0),
            (0.8, 1.0),
            (0.4, 1.0),
            (0.5, 0.0),
        ] {
            ece += (ok - conf).abs() / 6.0;
        }
        assert!((m.ece - ece).abs() < 1e-6, "{} vs {ece}", m.ece);
    }

    #[test]
    fn a_perfectly_calibrated_coin_has_no_calibration_error() {
        // Confidence 0.5 and half of the rows right.
        let proba = [0.5f32, 0.5, 0.5, 0.5];
        let m = metrics(&proba, &[0, 1], &names(2));
        assert!(m.ece.abs() < 1e-12);
    }

    #[test]
    fn slices_split_by_value_and_quartile() {
        let proba = [0.9f32, 0.1, 0.2, 0.8, 0.9, 0.1, 0.9, 0.1];
        let labels = [0usize, 0, 0, 1];
        let col = vec![Some("a".into()), Some("a".into()), Some("b".into()), None];
        let s = slices(&proba, &labels, &names(2), &[("g".into(), col)]);
        let by: Vec<(&str, u64, f64)> = s
            .iter()
            .map(|m| (m.value.as_str(), m.rows, m.accuracy))
            .collect();
        assert_eq!(by, [("(null)", 1, 0.0), ("a", 2, 0.5), ("b", 1, 1.0)]);
        let many: Vec<Option<String>> = (0..100).map(|i| Some(i.to_string())).collect();
        let keys = slice_keys(&many);
        assert_eq!(keys[0], "q1 [0, 25]");
        assert_eq!(keys[99], "q4 [74, 99]");
    }
}
