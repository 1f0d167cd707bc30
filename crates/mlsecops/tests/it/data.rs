//! `mlsecops data check | profile | diff` end to end on the ground-truth
//! cases of `crates/mlsecops-data/tests/cases`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{mlsecops, root};

fn case(name: &str) -> PathBuf {
    root().join("crates/mlsecops-data/tests/cases").join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn check_reports_rows_ids_and_splits_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = case("duplicates").join("data.csv");
    let clean = dir.path().join("clean.csv");
    let rejected = dir.path().join("rejected.csv");
    let html = dir.path().join("report.html");
    let r = mlsecops(
        dir.path(),
        &[
            "data",
            "check",
            s(&data),
            "--label",
            "class",
            "--id",
            "id",
            "--format",
            "json",
            "--quarantine-out",
            s(&clean),
            "--rejected-out",
            s(&rejected),
            "--html",
            s(&html),
        ],
    );
    // Duplicates are low/medium: the default gate (high) passes.
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["kind"], "data-check");
    let findings = report["findings"].as_array().unwrap();
    let dups: Vec<&Value> = findings
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().starts_with("DATA-DUPLICATE-"))
        .collect();
    assert_eq!(dups.len(), 36, "{}", r.stdout);
    for f in &dups {
        assert!(f["location"]["row"].is_u64(), "{f}");
        assert!(f["location"]["row_id"].is_string(), "{f}");
    }
    // Every input row is in exactly one output; rejected rows say why.
    let lines = |p: &Path| std::fs::read_to_string(p).unwrap().lines().count() - 1;
    let input = lines(&data);
    assert_eq!(lines(&clean) + lines(&rejected), input);
    let rejected_text = std::fs::read_to_string(&rejected).unwrap();
    assert!(
        rejected_text
            .lines()
            .next()
            .unwrap()
            .ends_with("_mlsecops_reasons")
    );
    assert!(rejected_text.contains("DATA-DUPLICATE-CONFLICT"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("Class balance"));
    assert!(!page.contains("<script"));
}

#[test]
fn backdoor_and_trigger_fail_the_gate() {
    let data = case("backdoor-digits").join("data.csv");
    let r = mlsecops(
        &root(),
        &[
            "data",
            "check",
            s(&data),
            "--label",
            "label",
            "--id",
            "id",
            "--skip",
            "labels",
            "outliers",
            "duplicates",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"DATA-BACKDOOR-CLASS"), "{rules:?}");
    assert!(rules.contains(&"DATA-BACKDOOR-TRIGGER"), "{rules:?}");
    assert_eq!(
        rules.iter().filter(|r| **r == "DATA-BACKDOOR-ROW").count(),
        60
    );
}

#[test]
fn profile_then_check_against_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let contract = dir.path().join("contract.toml");
    let r = mlsecops(
        dir.path(),
        &[
            "data",
            "profile",
            s(&case("schema").join("trusted.csv")),
            "--id",
            "id",
            "-o",
            s(&contract),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&contract).unwrap();
    assert!(
        text.contains("[[column]]") && text.contains("format = \"uuid\""),
        "{text}"
    );
    let r = mlsecops(
        dir.path(),
        &[
            "data",
            "check",
            s(&case("schema").join("broken.csv")),
            "--contract",
            s(&contract),
            "--id",
            "id",
            "--format",
            "sarif",
        ],
    );
    // Duplicate keys are high: the gate fails.
    assert_eq!(r.code, 1, "{}", r.stderr);
    let sarif: Value = serde_json::from_str(&r.stdout).unwrap();
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for want in [
        "DATA-SCHEMA-FORMAT",
        "DATA-SCHEMA-DUPLICATE-KEY",
        "DATA-SCHEMA-NULL",
    ] {
        assert!(ids.contains(&want), "{ids:?}");
    }
    // Rule metadata comes from the data guard's table.
    assert!(
        rules
            .iter()
            .all(|r| r["name"].as_str().is_some_and(|n| !n.is_empty()))
    );
}

#[test]
fn diff_reports_relabels_and_shift_once_per_column() {
    let r = mlsecops(
        &root(),
        &[
            "data",
            "diff",
            s(&case("diff").join("old.csv")),
            s(&case("diff").join("new.csv")),
            "--key",
            "id",
            "--label",
            "class",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let count = |rule: &str| findings.iter().filter(|f| f["rule"] == rule).count();
    assert!(count("DATA-DRIFT-RELABEL") >= 1);
    assert!(count("DATA-DRIFT-SCHEMA") >= 1);
    let shifts: Vec<&str> = findings
        .iter()
        .filter(|f| f["rule"] == "DATA-DRIFT-SHIFT")
        .filter_map(|f| f["location"]["column"].as_str())
        .collect();
    let mut unique = shifts.clone();
    unique.dedup();
    assert_eq!(shifts, unique, "one shift finding per column");
    assert!(shifts.contains(&"magnesium"), "{shifts:?}");
}

#[test]
fn hostile_csv_is_a_clear_error_naming_file_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let ragged = dir.path().join("ragged.csv");
    std::fs::write(&ragged, "a,b,c\n1,2,3\n4,5\n6,7,8\n").unwrap();
    let r = mlsecops(dir.path(), &["data", "check", s(&ragged)]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("ragged.csv") && r.stderr.contains("row 1"),
        "{}",
        r.stderr
    );
    let bomb = dir.path().join("bomb.csv");
    let mut text = String::from("a,b\n1,\"");
    text.push_str(&"x".repeat(200_000));
    std::fs::write(&bomb, text).unwrap();
    let r = mlsecops(
        dir.path(),
        &["data", "check", s(&bomb), "--max-record-bytes", "65536"],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("bomb.csv") && r.stderr.contains("quote"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn data_rules_are_documented() {
    let r = mlsecops(&root(), &["rule", "DATA-BACKDOOR-TRIGGER"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Trigger-like"));
    let r = mlsecops(&root(), &["rule", "data-pii-iban"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}
