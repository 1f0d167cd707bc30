//! `data check` end to end: the contract (streamed), secrets and PII in
//! text columns (streamed), then the global analyses on the extracted
//! feature matrix — exact, near and conflicting duplicates, outliers,
//! label noise by confident learning on out-of-sample probabilities, and
//! backdoor poisoning — sharing one standardized matrix and one kNN graph.
//! Every row-level finding carries `location.row` (0-based) and, given an
//! id column, `location.row_id`; every flagged row gets its reasons, which
//! is what the quarantine split writes.

use std::path::PathBuf;
use std::time::Instant;

use arrow_array::{Array, StringArray};
use mlsecops_core::{Finding, Location, Report, Severity, Target, ToolInfo};
use mlsecops_sensitive::{Category, Config, Detector, Style};
use mlsecops_stats::Matrix;
use mlsecops_stats::backdoor::{self, BackdoorOptions};
use mlsecops_stats::dup::{self, NearDupOptions};
pub use mlsecops_stats::label::FilterBy;
use mlsecops_stats::label::{self, LabelOptions};
use mlsecops_stats::learn::SelectOptions;
use mlsecops_stats::neighbors::{self, KnnOptions};
use mlsecops_stats::outlier::{self, OutlierOptions};

use crate::columns::{ExtractOptions, Extracted, extract, load_embeddings};
use crate::contract::{CheckOptions, Contract, check_contract};
use crate::error::DataError;
use crate::ingest::Source;
use crate::quarantine::RowReasons;
use crate::report::{ClassStat, Insights, Timing, TopRow, histogram};

/// Most numbers read from a side file (embeddings, probabilities): 2^31.
const MAX_SIDE_VALUES: usize = 1 << 31;

/// Which checks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct Checks {
    pub sensitive: bool,
    pub duplicates: bool,
    pub outliers: bool,
    pub label: bool,
    pub backdoor: bool,
}

impl Default for Checks {
    fn default() -> Self {
        Self {
            sensitive: true,
            duplicates: true,
            outliers: true,
            label: true,
            backdoor: true,
        }
    }
}

/// How to check.
#[derive(Clone, Debug)]
pub struct AnalyzeOptions {
    /// Label column (label noise and backdoor checks need it).
    pub label: Option<String>,
    /// Column naming rows in findings (never a feature).
    pub id: Option<String>,
    /// Text columns scanned for secrets and PII (empty: every string column
    /// that is not the label or the id).
    pub text: Vec<String>,
    /// Feature columns (empty: every other column; see [`extract`]).
    pub features: Vec<String>,
    /// Contract to enforce per row.
    pub contract: Option<Contract>,
    /// Out-of-sample class probabilities from the user's own model
    /// (Parquet or `.npy`, rows × classes in sorted label order).
    pub probabilities: Option<PathBuf>,
    /// Embeddings to use instead of the standardized features for the
    /// backdoor, outlier and near-duplicate checks (Parquet or `.npy`).
    pub embeddings: Option<PathBuf>,
    pub checks: Checks,
    /// Rows the global analyses read at most (the streamed checks read all).
    pub max_rows: u64,
    /// Folds of the built-in trainer.
    pub folds: usize,
    /// Seed of every randomized step.
    pub seed: u64,
    /// Contract findings per rule and column before a summary finding.
    pub max_findings_per_rule: usize,
    /// Worker threads (0: all cores).
    pub threads: usize,
    /// Smallest combined outlier score (0.5 = at the detectors' robust cut)
    /// a scattered row needs to be reported. Members of an isolated small
    /// cluster are always reported.
    pub outlier_min_score: f64,
    /// Which rows confident learning flags. The default is
    /// [`FilterBy::Either`] (the union of cleanlab's `prune_by_noise_rate`
    /// and `prune_by_class`): on the committed random and targeted
    /// label-flip cases it has the best F1 of the filters (see
    /// `BENCHMARKS.md`).
    pub label_filter: FilterBy,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        Self {
            label: None,
            id: None,
            text: Vec::new(),
            features: Vec::new(),
            contract: None,
            probabilities: None,
            embeddings: None,
            checks: Checks::default(),
            max_rows: 5_000_000,
            folds: 5,
            seed: 0x6d6c_7365_636f_7073,
            max_findings_per_rule: 1000,
            threads: 0,
            outlier_min_score: 0.6,
            label_filter: FilterBy::Either,
        }
    }
}

/// What a check found.
#[derive(Debug)]
pub struct Analysis {
    /// Findings, summary and the file examined (kind `data-check`).
    pub report: Report,
    /// Numbers behind the HTML plots.
    pub insights: Insights,
    /// Every flagged row (0-based) and why: what the quarantine split writes.
    pub rejected: RowReasons,
}

/// Collects findings and per-row reasons and scores.
struct Sink {
    path: String,
    findings: Vec<Finding>,
    rejected: RowReasons,
    ids: Option<Vec<String>>,
}

impl Sink {
    fn location(&self, row: u64, column: Option<&str>) -> Location {
        Location {
            path: self.path.clone(),
            row: Some(row),
            column: column.map(str::to_owned),
            row_id: self
                .ids
                .as_ref()
                .and_then(|ids| ids.get(row as usize).cloned()),
            ..Location::default()
        }
    }

    fn flag(&mut self, row: u64, rule: &str, score: f64) {
        self.rejected.insert(row, rule, score);
    }

    #[allow(clippy::too_many_arguments)]
    fn row_finding_with_id(
        &mut self,
        row_id: Option<String>,
        row: u64,
        column: Option<&str>,
        rule: &str,
        severity: Severity,
        message: String,
        evidence: Option<String>,
        score: f64,
    ) {
        self.row_finding(row, column, rule, severity, message, evidence, score);
        if let (Some(id), Some(f)) = (row_id, self.findings.last_mut()) {
            f.location.row_id.get_or_insert(id);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn row_finding(
        &mut self,
        row: u64,
        column: Option<&str>,
        rule: &str,
        severity: Severity,
        message: String,
        evidence: Option<String>,
        score: f64,
    ) {
        let mut f = Finding::new(rule, severity, self.location(row, column), message);
        if let Some(e) = evidence {
            f = f.with_evidence(e);
        }
        self.findings.push(f);
        self.flag(row, rule, score);
    }

    fn dataset_finding(
        &mut self,
        rule: &str,
        severity: Severity,
        message: String,
        evidence: String,
    ) {
        let f = Finding::new(rule, severity, Location::file(self.path.clone()), message)
            .with_evidence(evidence);
        self.findings.push(f);
    }
}

fn timed<T>(timings: &mut Vec<Timing>, stage: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    timings.push(Timing {
        stage: stage.to_owned(),
        seconds: t.elapsed().as_secs_f64(),
    });
    out
}

/// The string columns of the source that are scanned for secrets and PII.
fn text_columns(source: &Source, opts: &AnalyzeOptions) -> Vec<String> {
    if !opts.text.is_empty() {
        return opts.text.clone();
    }
    source
        .typed_schema()
        .fields()
        .iter()
        .filter(|f| {
            matches!(
                f.data_type(),
                arrow_schema::DataType::Utf8
                    | arrow_schema::DataType::LargeUtf8
                    | arrow_schema::DataType::Utf8View
            )
        })
        .map(|f| f.name().clone())
        .filter(|n| Some(n) != opts.label.as_ref() && Some(n) != opts.id.as_ref())
        .collect()
}

/// Streams the text columns through the secret and PII detectors.
fn scan_text(
    source: &Source,
    columns: &[String],
    id: Option<&str>,
    sink: &mut Sink,
) -> Result<u64, DataError> {
    let detector = Detector::with_config(Config::all());
    let strings = source.as_strings();
    let mut cells = 0u64;
    for batch in strings.batches() {
        let batch = batch?;
        // Row ids straight from the batch when the columns were not extracted.
        let batch_ids = if sink.ids.is_none() {
            id.and_then(|name| batch.batch.column_by_name(name))
                .and_then(|c| arrow_cast::cast(c, &arrow_schema::DataType::Utf8).ok())
        } else {
            None
        };
        for name in columns {
            let Some(col) = batch.batch.column_by_name(name) else {
                return Err(DataError::Schema {
                    file: batch.file.to_string(),
                    message: format!("text column {name:?} not found"),
                });
            };
            let cast;
            let col = if let Some(s) = col.as_any().downcast_ref::<StringArray>() {
                s
            } else {
                let bad = |message: String| DataError::Parse {
                    file: batch.file.to_string(),
                    row: None,
                    column: Some(name.clone()),
                    message,
                };
                cast = arrow_cast::cast(col, &arrow_schema::DataType::Utf8)
                    .map_err(|e| bad(format!("cannot read as text: {e}")))?;
                cast.as_any()
                    .downcast_ref::<StringArray>()
                    .ok_or_else(|| bad("cannot read as text".into()))?
            };
            for i in 0..col.len() {
                if col.is_null(i) {
                    continue;
                }
                let text = col.value(i);
                cells += 1;
                for m in detector.find(text.as_bytes()) {
                    let kind = m.kind;
                    let family = match kind.category() {
                        Category::Pii => "PII",
                        Category::Secret => "SECRET",
                    };
                    let rule = format!("DATA-{family}-{}", kind.rule_id());
                    let severity = match kind.category() {
                        Category::Secret => Severity::High,
                        Category::Pii => Severity::Medium,
                    };
                    let value = text.get(m.start..m.end).unwrap_or_default();
                    let evidence = mlsecops_sensitive::replacement(kind, value, Style::Partial);
                    let row = batch.offset + i as u64;
                    let row_id = batch_ids.as_ref().and_then(|c| {
                        c.as_any()
                            .downcast_ref::<StringArray>()
                            .filter(|a| !a.is_null(i))
                            .map(|a| a.value(i).to_owned())
                    });
                    sink.row_finding_with_id(
                        row_id,
                        row,
                        Some(name),
                        &rule,
                        severity,
                        format!("{} in a text column", kind.name()),
                        Some(evidence),
                        1.0,
                    );
                }
            }
        }
    }
    Ok(cells)
}

/// Rows with a label, their class indices, and the number of classes.
fn labelled(ex: &Extracted) -> Option<(Vec<usize>, Vec<u32>, Vec<String>)> {
    let (labels, names) = ex.labels.as_ref()?;
    let mut rows = Vec::new();
    let mut classes = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        if let Some(c) = l {
            rows.push(i);
            classes.push(*c as u32);
        }
    }
    Some((rows, classes, names.clone()))
}

fn label_of(ex: &Extracted, row: usize) -> Option<&str> {
    let (labels, names) = ex.labels.as_ref()?;
    labels
        .get(row)
        .copied()
        .flatten()
        .and_then(|c| names.get(c))
        .map(String::as_str)
}

fn duplicates(ex: &Extracted, x: &Matrix, knn: Option<&neighbors::Knn>, sink: &mut Sink) {
    let label = |r: usize| label_of(ex, r).map(str::to_owned);
    // Exact: identical features and text; the label is not part of the key.
    let keys: Vec<u128> = (0..ex.rows)
        .map(|r| {
            let mut k = dup::row_hash(ex.features.row(r));
            for col in ex.texts.values() {
                let t = col.get(r).and_then(Option::as_deref).unwrap_or("\u{0}");
                k = k.rotate_left(17) ^ dup::bytes_hash(t.as_bytes());
            }
            k
        })
        .collect();
    let mut handled = vec![false; ex.rows];
    for group in dup::exact_groups_from_keys(&keys) {
        let first = group[0];
        for &copy in &group[1..] {
            handled[copy] = true;
            let (rule, severity, message) = if label(copy) == label(first) {
                (
                    "DATA-DUPLICATE-EXACT",
                    Severity::Low,
                    format!("exact duplicate of row {first}"),
                )
            } else {
                (
                    "DATA-DUPLICATE-CONFLICT",
                    Severity::Medium,
                    format!(
                        "same features as row {first} with a different label ({} vs {})",
                        label(copy).unwrap_or_default(),
                        label(first).unwrap_or_default()
                    ),
                )
            };
            sink.row_finding(copy as u64, None, rule, severity, message, None, 1.0);
        }
    }
    // Near: within a small radius on standardized features and, when the
    // table has text, with near-identical text too (MinHash candidates,
    // exact Jaccard ≥ 0.8 on character 5-grams): a templated message with a
    // different name is not a duplicate row.
    let Some(knn) = knn else { return };
    let near = dup::near_duplicates_from_knn(knn, &NearDupOptions::default());
    let groups = if ex.texts.is_empty() {
        near.groups
    } else {
        let mut member = vec![usize::MAX; ex.rows];
        for (g, rows) in near.groups.iter().enumerate() {
            for &r in rows {
                member[r] = g;
            }
        }
        let joined: Vec<String> = (0..ex.rows)
            .map(|r| {
                ex.texts
                    .values()
                    .map(|col| col.get(r).and_then(Option::as_deref).unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join("\u{1f}")
            })
            .collect();
        let pairs: Vec<dup::TextPair> =
            dup::near_duplicate_texts(&joined, &dup::MinHashOptions::default())
                .into_iter()
                .filter(|p| member[p.a] != usize::MAX && member[p.a] == member[p.b])
                .collect();
        dup::text_groups(ex.rows, &pairs)
    };
    for group in groups {
        let first = group[0];
        for &copy in &group[1..] {
            if handled[copy] || keys[copy] == keys[first] {
                continue;
            }
            handled[copy] = true;
            let distance = x
                .row(copy)
                .iter()
                .zip(x.row(first))
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt();
            let (rule, severity, message) = if label(copy) == label(first) {
                (
                    "DATA-DUPLICATE-NEAR",
                    Severity::Low,
                    format!(
                        "near duplicate of row {first} (distance {distance:.3} ≤ {:.3})",
                        near.radius
                    ),
                )
            } else {
                (
                    "DATA-DUPLICATE-CONFLICT",
                    Severity::Medium,
                    format!(
                        "near duplicate of row {first} with a different label ({} vs {})",
                        label(copy).unwrap_or_default(),
                        label(first).unwrap_or_default()
                    ),
                )
            };
            sink.row_finding(copy as u64, None, rule, severity, message, None, 0.9);
        }
    }
}

fn outliers(
    x: &Matrix,
    knn: &neighbors::Knn,
    names: &[String],
    opts: &AnalyzeOptions,
    sink: &mut Sink,
) {
    let result = outlier::detect_with_knn(
        x,
        knn,
        &OutlierOptions {
            seed: opts.seed,
            threads: opts.threads,
            ..OutlierOptions::default()
        },
    );
    let clustered: std::collections::HashSet<usize> = result
        .clusters
        .iter()
        .flat_map(|c| c.rows.iter().copied())
        .collect();
    for (n, c) in result.clusters.iter().enumerate() {
        sink.dataset_finding(
            "DATA-OUTLIER-CLUSTER",
            Severity::High,
            format!(
                "a tight group of {} rows lies far from the rest of the data (possible injection)",
                c.rows.len()
            ),
            format!(
                "cluster {n}: rows {}; separation {:.2}× the typical neighbour distance",
                preview(&c.rows),
                c.gap_ratio
            ),
        );
    }
    for f in &result.flagged {
        if !clustered.contains(&f.row) && f.score < opts.outlier_min_score {
            continue;
        }
        let driving = f
            .columns
            .iter()
            .map(|c| {
                format!(
                    "{} (z {:+.1})",
                    names.get(c.column).map_or("?", String::as_str),
                    c.z
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let reasons = f
            .reasons
            .iter()
            .map(|r| format!("{r:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let (rule, severity, message) = if clustered.contains(&f.row) {
            (
                "DATA-OUTLIER-CLUSTER",
                Severity::High,
                "member of a small, isolated cluster of rows".to_owned(),
            )
        } else {
            (
                "DATA-OUTLIER-ROW",
                Severity::Medium,
                format!("outlier (score {:.2})", f.score),
            )
        };
        let evidence = if driving.is_empty() {
            format!("detectors: {reasons}")
        } else {
            format!("detectors: {reasons}; driving columns: {driving}")
        };
        sink.row_finding(
            f.row as u64,
            None,
            rule,
            severity,
            message,
            Some(evidence),
            f.score,
        );
    }
}

fn preview(rows: &[usize]) -> String {
    let mut s = rows
        .iter()
        .take(12)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if rows.len() > 12 {
        s.push_str(&format!(", … ({} in all)", rows.len()));
    }
    s
}

/// Column means and standard deviations of the standardized features.
type Scale = (Vec<f64>, Vec<f64>);

/// Standardized features, or the user's embeddings (aligned to rows), and
/// the (mean, sd) that map standardized feature values back (`None` for
/// embeddings, whose columns are not the data's).
fn analysis_matrix(
    ex: &Extracted,
    opts: &AnalyzeOptions,
) -> Result<(Matrix, Option<Scale>), DataError> {
    if let Some(path) = &opts.embeddings {
        let mut m = load_embeddings(path, None, MAX_SIDE_VALUES)?;
        if m.rows() < ex.rows {
            return Err(DataError::Format {
                file: path.display().to_string(),
                message: format!("{} embedding rows for {} data rows", m.rows(), ex.rows),
            });
        }
        if m.rows() > ex.rows {
            m = m.select_rows(&(0..ex.rows).collect::<Vec<_>>());
        }
        m.standardize();
        return Ok((m, None));
    }
    let mut x = ex.features.clone();
    let scale = x.standardize();
    Ok((x, Some(scale)))
}

/// A feature value in the data's own units, as a short number.
fn original_value(scale: Option<&Scale>, feature: usize, v: f64) -> String {
    let v = match scale {
        Some((mean, sd)) => {
            v * sd.get(feature).copied().unwrap_or(1.0) + mean.get(feature).copied().unwrap_or(0.0)
        }
        None => v,
    };
    let rounded = (v * 1e6).round() / 1e6;
    format!("{rounded}")
}

#[allow(clippy::too_many_lines)]
fn label_and_backdoor(
    ex: &Extracted,
    x: &Matrix,
    scale: Option<&Scale>,
    opts: &AnalyzeOptions,
    sink: &mut Sink,
    insights: &mut Insights,
) -> Result<(), DataError> {
    let Some((rows, classes, names)) = labelled(ex) else {
        if opts.checks.label || opts.checks.backdoor {
            insights
                .skipped
                .push("label noise and backdoor checks: no --label column".into());
        }
        return Ok(());
    };
    let n_classes = names.len();
    let mut per_class: Vec<ClassStat> = names
        .iter()
        .map(|l| ClassStat {
            label: l.clone(),
            ..ClassStat::default()
        })
        .collect();
    for &c in &classes {
        per_class[c as usize].rows += 1;
    }
    if n_classes < 2 {
        insights
            .skipped
            .push("label noise and backdoor checks: fewer than two classes".into());
        insights.classes = per_class;
        return Ok(());
    }
    let selected;
    let xl: &Matrix = if rows.len() == x.rows() {
        x
    } else {
        selected = x.select_rows(&rows);
        &selected
    };

    if opts.checks.label {
        let t = Instant::now();
        let label_opts = LabelOptions {
            filter_by: opts.label_filter,
            ..LabelOptions::default()
        };
        let report = if let Some(path) = &opts.probabilities {
            let proba = load_embeddings(path, None, MAX_SIDE_VALUES)?;
            if proba.cols() != n_classes || proba.rows() != ex.rows {
                return Err(DataError::Format {
                    file: path.display().to_string(),
                    message: format!(
                        "{} × {} probabilities for {} rows and {n_classes} classes",
                        proba.rows(),
                        proba.cols(),
                        ex.rows
                    ),
                });
            }
            let proba = if rows.len() == proba.rows() {
                proba
            } else {
                proba.select_rows(&rows)
            };
            label::find_label_issues(&proba, &classes, &label_opts)
        } else {
            // The learners get the features in their own units: each scales
            // what it needs (logistic regression standardizes, the RBF model
            // scales globally so near-constant columns stay near-constant,
            // trees are unaffected). Per-column standardization first costs
            // the kernel model ~0.01 F1 on the label-flip cases.
            let raw_selected;
            let learn_x: &Matrix = if opts.embeddings.is_some() {
                xl
            } else if rows.len() == ex.features.rows() {
                &ex.features
            } else {
                raw_selected = ex.features.select_rows(&rows);
                &raw_selected
            };
            label::find_label_issues_cv(
                learn_x,
                &classes,
                n_classes,
                &SelectOptions {
                    folds: opts.folds,
                    seed: opts.seed,
                    ..SelectOptions::default()
                },
                &label_opts,
            )
        };
        match report {
            Ok(report) => {
                insights.label_model = Some(match report.model {
                    Some(m) => {
                        let scores = report
                            .models
                            .iter()
                            .map(|s| {
                                format!(
                                    "{} log-loss {:.3}, accuracy {:.3}",
                                    s.model, s.log_loss, s.accuracy
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("; ");
                        format!("{m} ({scores})")
                    }
                    None => "user-supplied probabilities".into(),
                });
                for (k, &row) in rows.iter().enumerate() {
                    if !report.is_issue[k] {
                        continue;
                    }
                    let given = &names[classes[k] as usize];
                    let suggested = &names[report.suggested[k] as usize];
                    let quality = report.quality[k];
                    sink.row_finding(
                        row as u64,
                        opts.label.as_deref(),
                        "DATA-LABEL-ISSUE",
                        Severity::Medium,
                        format!("label {given:?} is likely wrong; the data suggests {suggested:?}"),
                        Some(format!("label quality {quality:.3}")),
                        (1.0 - quality).max(0.5),
                    );
                }
            }
            Err(e) => insights.skipped.push(format!("label noise check: {e}")),
        }
        insights.timings.push(Timing {
            stage: "label noise (cross-validated)".into(),
            seconds: t.elapsed().as_secs_f64(),
        });
    }

    if opts.checks.backdoor {
        let t = Instant::now();
        match backdoor::detect(
            xl,
            &classes,
            n_classes,
            &BackdoorOptions {
                seed: opts.seed,
                ..BackdoorOptions::default()
            },
        ) {
            Ok(result) => {
                for s in &result.spectral {
                    if let Some(c) = per_class.get_mut(s.class as usize) {
                        c.spectral_gap = Some(s.spectral_gap);
                    }
                }
                // A bounded, sorted sample of spectral scores per class.
                let mut by_class: Vec<Vec<f32>> = vec![Vec::new(); n_classes];
                for (k, &c) in classes.iter().enumerate() {
                    if let Some(&s) = result.spectral_scores.get(k) {
                        by_class[c as usize].push(s as f32);
                    }
                }
                for (c, mut v) in by_class.into_iter().enumerate() {
                    v.sort_by(f32::total_cmp);
                    let step = (v.len() / 300).max(1);
                    per_class[c].spectral_scores = v.into_iter().step_by(step).collect();
                }
                for s in &result.suspicious {
                    per_class[s.class as usize].suspicious = true;
                    let mut evidence = Vec::new();
                    if let Some(sp) = &s.spectral {
                        evidence.push(format!(
                            "spectral gap {:.2}, separation {:.1}",
                            sp.spectral_gap, sp.separation
                        ));
                    }
                    if let Some(cl) = &s.cluster {
                        evidence.push(format!(
                            "2-means: small cluster {:.1}% of the class, silhouette {:.2}",
                            cl.small_fraction * 100.0,
                            cl.silhouette
                        ));
                    }
                    sink.dataset_finding(
                        "DATA-BACKDOOR-CLASS",
                        Severity::High,
                        format!(
                            "class {:?} holds a separable subpopulation ({} rows flagged): possible backdoor target",
                            names[s.class as usize], s.flagged
                        ),
                        evidence.join("; "),
                    );
                }
                for p in &result.patterns {
                    let items = p
                        .items
                        .iter()
                        .map(|it| {
                            if scale.is_some() {
                                format!(
                                    "{} = {}",
                                    ex.feature_names.get(it.feature).map_or("?", String::as_str),
                                    original_value(scale, it.feature, it.value)
                                )
                            } else {
                                format!("embedding[{}] = {:.3}", it.feature, it.value)
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(" ∧ ");
                    sink.dataset_finding(
                        "DATA-BACKDOOR-TRIGGER",
                        Severity::High,
                        format!(
                            "trigger-like pattern: {} rows with {items} are {:.0}% labelled {:?}",
                            p.support,
                            p.purity * 100.0,
                            names[p.label as usize]
                        ),
                        format!(
                            "lift {:.1}, label mismatch with look-alike rows {:.0}%; rows {}",
                            p.lift,
                            p.mismatch * 100.0,
                            preview(&p.rows.iter().map(|&r| rows[r]).collect::<Vec<_>>())
                        ),
                    );
                }
                for f in &result.flagged {
                    let row = rows[f.row];
                    let reasons = f
                        .reasons
                        .iter()
                        .map(|r| format!("{r:?}").to_lowercase())
                        .collect::<Vec<_>>()
                        .join(", ");
                    sink.row_finding(
                        row as u64,
                        opts.label.as_deref(),
                        "DATA-BACKDOOR-ROW",
                        Severity::High,
                        format!(
                            "possible poisoned row labelled {:?}",
                            names[f.label as usize]
                        ),
                        Some(format!("evidence: {reasons}; score {:.2}", f.score)),
                        f.score.max(0.6),
                    );
                }
            }
            Err(e) => insights.skipped.push(format!("backdoor check: {e}")),
        }
        insights.timings.push(Timing {
            stage: "backdoor (spectral, 2-means, trigger patterns)".into(),
            seconds: t.elapsed().as_secs_f64(),
        });
    }
    sink.rejected.finish();
    for (row, _, _) in sink.rejected.iter() {
        if let Some(c) = ex
            .labels
            .as_ref()
            .and_then(|(l, _)| l.get(row as usize).copied().flatten())
        {
            per_class[c].flagged += 1;
        }
    }
    insights.classes = per_class;
    Ok(())
}

/// Runs the enabled checks on `source`.
pub fn analyze(
    source: &Source,
    opts: &AnalyzeOptions,
    tool: ToolInfo,
) -> Result<Analysis, DataError> {
    let path = source.display_name();
    let mut sink = Sink {
        path: path.clone(),
        findings: Vec::new(),
        rejected: RowReasons::new(),
        ids: None,
    };
    let mut insights = Insights {
        columns: source.typed_schema().fields().len() as u64,
        ..Insights::default()
    };
    let mut timings = Vec::new();
    let mut rows_read = 0u64;

    // Ids first, so every finding can name its row.
    let needs_matrix =
        opts.checks.duplicates || opts.checks.outliers || opts.checks.label || opts.checks.backdoor;
    let texts = text_columns(source, opts);
    let extracted = if needs_matrix {
        let ex = timed(&mut timings, "read columns", || {
            extract(
                source,
                &ExtractOptions {
                    features: opts.features.clone(),
                    label: opts.label.clone(),
                    id: opts.id.clone(),
                    text: if opts.checks.duplicates {
                        texts.clone()
                    } else {
                        Vec::new()
                    },
                    max_rows: Some(opts.max_rows),
                    ..ExtractOptions::default()
                },
            )
        })?;
        sink.ids.clone_from(&ex.ids);
        Some(ex)
    } else {
        None
    };

    if let Some(contract) = &opts.contract {
        let outcome = timed(&mut timings, "contract", || {
            check_contract(
                contract,
                source,
                &CheckOptions {
                    max_findings_per_rule: opts.max_findings_per_rule,
                },
            )
        })?;
        rows_read = rows_read.max(outcome.rows);
        for e in &outcome.rejections.entries {
            sink.flag(e.row, e.rule.id(), 1.0);
        }
        for mut f in outcome.findings {
            if f.location.row_id.is_none()
                && let (Some(row), Some(ids)) = (f.location.row, sink.ids.as_ref())
            {
                f.location.row_id = ids.get(row as usize).cloned();
            }
            sink.findings.push(f);
        }
    }

    if opts.checks.sensitive && !texts.is_empty() {
        timed(&mut timings, "secrets and PII", || {
            scan_text(source, &texts, opts.id.as_deref(), &mut sink)
        })?;
    } else if opts.checks.sensitive {
        insights
            .skipped
            .push("secrets and PII: no text columns".into());
    }

    if let Some(ex) = &extracted {
        rows_read = rows_read.max(ex.rows as u64);
        insights.analysed_rows = ex.rows as u64;
        insights.features.clone_from(&ex.feature_names);
        if needs_matrix && ex.features.cols() == 0 {
            insights
                .skipped
                .push("global checks: no numeric feature columns".into());
        } else if needs_matrix {
            let (x, scale) = timed(&mut timings, "standardize", || analysis_matrix(ex, opts))?;
            let knn = if opts.checks.outliers || opts.checks.duplicates {
                Some(timed(&mut timings, "nearest neighbours", || {
                    neighbors::knn_with(
                        &x,
                        10,
                        &KnnOptions {
                            threads: opts.threads,
                            seed: opts.seed,
                            ..KnnOptions::default()
                        },
                    )
                }))
            } else {
                None
            };
            if opts.checks.duplicates {
                timed(&mut timings, "duplicates", || {
                    duplicates(ex, &x, knn.as_ref(), &mut sink);
                });
            }
            if let (true, Some(knn)) = (opts.checks.outliers, knn.as_ref()) {
                timed(&mut timings, "outliers", || {
                    outliers(&x, knn, &ex.feature_names, opts, &mut sink);
                });
            }
            if opts.checks.label || opts.checks.backdoor {
                label_and_backdoor(ex, &x, scale.as_ref(), opts, &mut sink, &mut insights)?;
            }
        }
    }
    timings.append(&mut insights.timings);
    insights.timings = timings;

    // Per-row suspicion and the rows to look at first.
    insights.rows = rows_read;
    sink.rejected.finish();
    let mut ranked: Vec<(u64, f64, usize)> = sink
        .rejected
        .iter()
        .map(|(row, reasons, score)| (row, score, reasons.len()))
        .collect();
    // Rows no check flagged score 0 (they are counted, not stored).
    let flagged_scores: Vec<f64> = ranked.iter().map(|r| r.1).collect();
    insights.score_histogram = histogram(&flagged_scores);
    insights.score_histogram[0] += rows_read.saturating_sub(flagged_scores.len() as u64);
    insights.flagged_rows = ranked.len() as u64;
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
    insights.top_rows = ranked
        .into_iter()
        .take(25)
        .map(|(row, score, _)| TopRow {
            row,
            row_id: sink
                .ids
                .as_ref()
                .and_then(|ids| ids.get(row as usize).cloned()),
            score,
            rules: sink
                .rejected
                .get(row)
                .into_iter()
                .map(str::to_owned)
                .collect(),
        })
        .collect();

    let mut report = Report::new("data-check", tool);
    report.targets.push(Target {
        path: path.clone(),
        format: source_format(source),
        size: source
            .files()
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum(),
        digest: None,
        members: source.files().len() as u64,
        scanned: true,
    });
    report.findings = sink.findings;
    report.finalize();
    Ok(Analysis {
        report,
        insights,
        rejected: sink.rejected,
    })
}

fn source_format(source: &Source) -> String {
    source
        .files()
        .first()
        .and_then(|f| crate::ingest::Format::from_path(std::path::Path::new(f)))
        .map_or_else(|| "data".to_owned(), |f| f.name().to_owned())
}
