//! The ground-truth cases of `tests/cases` (written by `generate.py` from
//! data sets bundled with scikit-learn): each check must meet the case's
//! precision and recall floors, per case and per rule where the truth says
//! which rule each row deserves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use mlsecops_core::ToolInfo;
use mlsecops_data::analyze::{AnalyzeOptions, Checks, analyze};
use mlsecops_data::diff::{DiffOptions, diff};
use mlsecops_data::{IngestOptions, ProfileOptions, Source, profile};
use serde_json::Value;

fn cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

fn truth(case: &str) -> Value {
    serde_json::from_slice(&std::fs::read(cases().join(case).join("truth.json")).unwrap()).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn rows(v: &Value) -> BTreeSet<u64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

fn tool() -> ToolInfo {
    ToolInfo {
        name: "mlsecops".into(),
        version: "test".into(),
    }
}

/// Runs the checks of `family` on the case; returns rule → flagged rows.
fn run(case: &str, t: &Value) -> BTreeMap<String, BTreeSet<u64>> {
    let dir = cases().join(case);
    let source = Source::open(
        dir.join(t["file"].as_str().unwrap()),
        &IngestOptions::default(),
    )
    .unwrap();
    let family = t["family"].as_str().unwrap();
    let only = |f: &str| family == f;
    let mut opts = AnalyzeOptions {
        label: t["label"].as_str().map(str::to_owned),
        id: t["id"].as_str().map(str::to_owned),
        text: strings(&t["text"]),
        checks: Checks {
            sensitive: only("pii"),
            duplicates: only("duplicate"),
            outliers: only("outlier"),
            label: only("label"),
            backdoor: only("backdoor"),
        },
        ..AnalyzeOptions::default()
    };
    if family == "schema" {
        let trusted = Source::open(
            dir.join(t["trusted"].as_str().unwrap_or("trusted.csv")),
            &IngestOptions::default(),
        )
        .unwrap();
        opts.contract = Some(
            profile(
                &trusted,
                &ProfileOptions {
                    id_column: opts.id.clone(),
                    label_column: opts.label.clone(),
                    ..ProfileOptions::default()
                },
            )
            .unwrap(),
        );
    }
    let analysis = analyze(&source, &opts, tool()).unwrap();
    let mut by_rule: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for f in &analysis.report.findings {
        if let Some(row) = f.location.row {
            by_rule.entry(f.rule.clone()).or_default().insert(row);
            // Every row-level finding names its row's id when one is given.
            if opts.id.is_some() {
                assert!(f.location.row_id.is_some(), "{f:?}");
            }
        }
    }
    by_rule
}

fn prefixes(family: &str) -> &'static [&'static str] {
    match family {
        "label" => &["DATA-LABEL-"],
        "backdoor" => &["DATA-BACKDOOR-"],
        "outlier" => &["DATA-OUTLIER-"],
        "duplicate" => &["DATA-DUPLICATE-"],
        "schema" => &["DATA-SCHEMA-"],
        "pii" => &["DATA-PII-", "DATA-SECRET-"],
        _ => &[],
    }
}

fn precision_recall(flagged: &BTreeSet<u64>, truth: &BTreeSet<u64>) -> (f64, f64) {
    let tp = flagged.intersection(truth).count() as f64;
    let p = if flagged.is_empty() {
        1.0
    } else {
        tp / flagged.len() as f64
    };
    let r = if truth.is_empty() {
        1.0
    } else {
        tp / truth.len() as f64
    };
    (p, r)
}

fn check_case(case: &str) {
    let t = truth(case);
    let family = t["family"].as_str().unwrap();
    let found = run(case, &t);
    let flagged: BTreeSet<u64> = found
        .iter()
        .filter(|(rule, _)| prefixes(family).iter().any(|p| rule.starts_with(p)))
        .flat_map(|(_, rows)| rows.iter().copied())
        .collect();
    let positives = rows(&t["positives"]);
    let floors = &t["floors"];
    if let Some(max_fpr) = floors["max_false_positive_rate"].as_f64() {
        let fpr = flagged.len() as f64 / 1797.0;
        eprintln!(
            "{case}: {} rows flagged, false-positive rate {fpr:.4}",
            flagged.len()
        );
        assert!(
            fpr <= max_fpr,
            "{case}: false-positive rate {fpr:.4} > {max_fpr}"
        );
        return;
    }
    let (p, r) = precision_recall(&flagged, &positives);
    let f1 = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    eprintln!("{case}: precision {p:.3} recall {r:.3} F1 {f1:.3}");
    let (pf, rf) = (
        floors["precision"].as_f64().unwrap(),
        floors["recall"].as_f64().unwrap(),
    );
    assert!(p >= pf, "{case}: precision {p:.3} < {pf}");
    assert!(r >= rf, "{case}: recall {r:.3} < {rf}");
    if let Some(by_rule) = t["positives_by_rule"].as_object() {
        for (rule, want) in by_rule {
            let want = rows(want);
            let got = found.get(rule).cloned().unwrap_or_default();
            let (p, r) = precision_recall(&got, &want);
            eprintln!("  {rule}: precision {p:.3} recall {r:.3}");
            assert!(r >= rf, "{case} {rule}: recall {r:.3} < {rf}");
        }
    }
}

#[test]
fn case_label_random_flips() {
    check_case("label-random-10");
}

#[test]
fn case_label_targeted_flips() {
    check_case("label-targeted");
}

#[test]
fn case_backdoor_trigger() {
    check_case("backdoor-digits");
}

#[test]
fn case_backdoor_clean_data_is_not_flagged() {
    check_case("backdoor-clean");
}

#[test]
fn case_outliers_scattered() {
    check_case("outlier-scattered");
}

#[test]
fn case_outliers_clustered() {
    check_case("outlier-clustered");
}

#[test]
fn case_duplicates() {
    check_case("duplicates");
}

#[test]
fn case_schema_violations() {
    check_case("schema");
}

#[test]
fn case_secrets_and_pii_with_decoys() {
    check_case("pii");
    // Decoy rows carry look-alikes only: none may be flagged.
    let t = truth("pii");
    let found = run("pii", &t);
    let decoys = rows(&t["decoys"]);
    for (rule, got) in &found {
        if rule.starts_with("DATA-PII-") || rule.starts_with("DATA-SECRET-") {
            let hit: Vec<_> = got.intersection(&decoys).collect();
            assert!(hit.is_empty(), "{rule} flagged decoy rows {hit:?}");
        }
    }
}

#[test]
fn case_version_diff() {
    let t = truth("diff");
    let dir = cases().join("diff");
    let open = |f: &str| Source::open(dir.join(f), &IngestOptions::default()).unwrap();
    let d = diff(
        &open(t["base"].as_str().unwrap()),
        &open(t["file"].as_str().unwrap()),
        &DiffOptions {
            key: Some("id".into()),
            label: t["label"].as_str().map(str::to_owned),
            examples: 10_000,
            ..DiffOptions::default()
        },
    )
    .unwrap();
    let ids = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap().to_string())
            .collect()
    };
    let rd = d.rows.as_ref().unwrap();
    let added: BTreeSet<String> = rd.added_examples.iter().cloned().collect();
    let removed: BTreeSet<String> = rd.removed_examples.iter().cloned().collect();
    assert_eq!(added, ids(&t["added_ids"]));
    assert_eq!(removed, ids(&t["removed_ids"]));
    let relabelled: BTreeSet<String> = rd.relabel_examples.iter().map(|r| r.key.clone()).collect();
    assert_eq!(relabelled, ids(&t["relabelled_ids"]));
    let modified: BTreeMap<String, BTreeSet<String>> = rd
        .modified_examples
        .iter()
        .map(|m| (m.key.clone(), m.columns.iter().cloned().collect()))
        .collect();
    for (key, cols) in t["modified_ids"].as_object().unwrap() {
        let want: BTreeSet<String> = strings(cols).into_iter().collect();
        let got = modified.get(key).cloned().unwrap_or_default();
        assert!(want.is_subset(&got), "row {key}: {got:?} lacks {want:?}");
    }
    // The shifted column is reported once, and is the only high shift.
    let shifted: Vec<&str> = d
        .shifts
        .iter()
        .filter(|s| s.severity == Some(mlsecops_core::Severity::High))
        .map(|s| s.column.as_str())
        .collect();
    let want: Vec<&str> = t["shifted_columns"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(shifted, want);
    assert_eq!(d.removed_columns, ["ash"]);
    assert_eq!(d.added_columns, ["vintage"]);
}
