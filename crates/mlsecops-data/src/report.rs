//! What a data check shows besides its findings: the numbers behind the
//! HTML report's plots (class balance, suspicion scores, spectral scores
//! per class, the rows most worth a look) and where the time went. Plain
//! data, serializable into the JSON report's `insights`.

use serde::Serialize;

/// One class of the label column.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ClassStat {
    /// The label value.
    pub label: String,
    /// Rows with that label.
    pub rows: u64,
    /// Rows of the class flagged by any global check.
    pub flagged: u64,
    /// Spectral-signature scores of the class's rows (a bounded sample,
    /// sorted), when the backdoor check ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spectral_scores: Vec<f32>,
    /// The class's spectral gap (ratio of its top two singular values).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spectral_gap: Option<f64>,
    /// The backdoor check judged the class suspicious.
    pub suspicious: bool,
}

/// A row worth looking at first.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct TopRow {
    /// 0-based row.
    pub row: u64,
    /// Value of the id column, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row_id: Option<String>,
    /// Suspicion score in [0, 1].
    pub score: f64,
    /// Rule ids that flagged it.
    pub rules: Vec<String>,
}

/// How long one stage took.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Timing {
    /// Stage name.
    pub stage: String,
    /// Wall seconds.
    pub seconds: f64,
}

/// Everything the report shows besides findings.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Insights {
    /// Rows read.
    pub rows: u64,
    /// Columns in the data.
    pub columns: u64,
    /// Rows examined by the global checks (all rows unless capped).
    pub analysed_rows: u64,
    /// Feature columns used by the global checks.
    pub features: Vec<String>,
    /// Per class, in label order.
    pub classes: Vec<ClassStat>,
    /// Histogram of per-row suspicion scores: 20 bins over [0, 1].
    pub score_histogram: Vec<u64>,
    /// Rows flagged by at least one check.
    pub flagged_rows: u64,
    /// The most suspicious rows, highest first.
    pub top_rows: Vec<TopRow>,
    /// Which label model the label-noise check used and its CV log-loss.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_model: Option<String>,
    /// Where the time went.
    pub timings: Vec<Timing>,
    /// Checks that did not run, and why (e.g. no label column).
    pub skipped: Vec<String>,
}

/// A 20-bin histogram of scores in [0, 1].
#[must_use]
pub fn histogram(scores: &[f64]) -> Vec<u64> {
    let mut bins = vec![0u64; 20];
    for &s in scores {
        let s = if s.is_finite() {
            s.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let i = ((s * 20.0) as usize).min(19);
        bins[i] += 1;
    }
    bins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_clamps_and_counts_everything() {
        let h = histogram(&[0.0, 0.04, 0.05, 1.0, 2.0, -1.0, f64::NAN]);
        assert_eq!(h.iter().sum::<u64>(), 7);
        assert_eq!(h[0], 4);
        assert_eq!(h[1], 1);
        assert_eq!(h[19], 2);
    }
}
