//! The generated corpus (`tests/corpus/`, see its README): every malicious
//! sample flagged at HIGH+ with the right rule, every suspicious one at
//! MEDIUM+, no benign sample at MEDIUM+, every malformed one reported
//! without a panic.

use std::path::PathBuf;

use mlsecops_core::{Report, Severity};
use mlsecops_scan::{ScanOptions, Scanner};
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus")
}

fn scan(path: &str) -> Report {
    let scanner = Scanner::new(ScanOptions::default());
    scanner.scan_paths(&[path.to_owned()])
}

#[test]
fn corpus_verdicts() {
    let dir = corpus_dir();
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let samples = manifest["samples"].as_array().unwrap();
    assert!(samples.len() > 100, "corpus is too small");
    let mut failures = Vec::new();
    let mut counts = std::collections::BTreeMap::new();
    for s in samples {
        let rel = s["path"].as_str().unwrap();
        let kind = s["kind"].as_str().unwrap();
        *counts.entry(kind.to_owned()).or_insert(0) += 1;
        let rules: Vec<&str> = s["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        let path = dir.join(rel);
        let report = scan(path.to_str().unwrap());
        let floor = match kind {
            "malicious" => Some(Severity::High),
            "suspicious" => Some(Severity::Medium),
            "malformed" => Some(Severity::Info),
            _ => None,
        };
        let describe = |r: &Report| {
            r.findings
                .iter()
                .map(|f| format!("{}:{}", f.rule, f.severity))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(floor) = floor {
            for rule in &rules {
                if !report
                    .findings
                    .iter()
                    .any(|f| f.rule == *rule && f.severity >= floor)
                {
                    failures.push(format!(
                        "{kind} {rel}: expected {rule} at {floor}+; got [{}] errors {:?}",
                        describe(&report),
                        report.errors
                    ));
                }
            }
            if rules.is_empty()
                && kind == "malformed"
                && report.findings.is_empty()
                && report.errors.is_empty()
                && report.targets.iter().all(|t| t.size > 0)
            {
                failures.push(format!("malformed {rel}: neither a finding nor an error"));
            }
        } else if let Some(f) = report
            .findings
            .iter()
            .find(|f| f.severity >= Severity::Medium)
        {
            failures.push(format!(
                "benign {rel}: {} {} at {} — {}",
                f.rule,
                f.severity,
                f.location.display(),
                f.message
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus failures (of {counts:?}):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
