//! Report formats: JSON against the committed schema, SARIF against the
//! SARIF 2.1.0 schema and Microsoft's validator, JSONL, self-contained HTML.

use std::process::Command;

use crate::support::{mlsecops, root, service};

fn corpus_report(format: &str) -> String {
    let r = mlsecops(&root(), &["scan", "tests/corpus", "--format", format]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.stdout
}

/// Validates `doc` against `schema` with Python's `jsonschema`.
fn validate_with_python(python: &str, schema: &std::path::Path, doc: &str) {
    let dir = tempfile::tempdir().unwrap();
    let doc_path = dir.path().join("doc.json");
    std::fs::write(&doc_path, doc).unwrap();
    let code = "import json,sys,jsonschema\n\
                s=json.load(open(sys.argv[1]))\n\
                d=json.load(open(sys.argv[2]))\n\
                jsonschema.validators.validator_for(s).check_schema(s)\n\
                errs=list(jsonschema.validators.validator_for(s)(s, format_checker=jsonschema.FormatChecker()).iter_errors(d))\n\
                [print(e.json_path, e.message[:300]) for e in errs[:20]]\n\
                sys.exit(1 if errs else 0)\n";
    let out = Command::new(python)
        .arg("-c")
        .arg(code)
        .arg(schema)
        .arg(&doc_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "schema validation failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn json_report_matches_committed_schema() {
    let json = corpus_report("json");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert!(v["summary"]["findings"].as_u64().unwrap() > 100);
    // Structural check that needs no Python: every key the report uses is
    // declared in the schema.
    let schema_text = std::fs::read_to_string(root().join("schemas/report.schema.json")).unwrap();
    for key in [
        "schema_version",
        "targets",
        "findings",
        "evidence",
        "members",
        "offset",
        "by_severity",
        "scanned",
    ] {
        assert!(
            schema_text.contains(&format!("\"{key}\"")),
            "schema lacks {key}"
        );
    }
    if let Some(py) = service("MLSECOPS_TEST_PYTHON", "JSON report schema validation") {
        validate_with_python(&py, &root().join("schemas/report.schema.json"), &json);
    }
}

#[test]
fn sarif_is_valid_sarif_2_1_0() {
    let sarif = corpus_report("sarif");
    let v: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert!(results.len() > 100);
    for r in results {
        let ix = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            v["runs"][0]["tool"]["driver"]["rules"][ix]["id"],
            r["ruleId"]
        );
    }
    if let (Some(py), Some(schema)) = (
        service("MLSECOPS_TEST_PYTHON", "SARIF schema validation"),
        service("MLSECOPS_TEST_SARIF_SCHEMA", "SARIF 2.1.0 schema file"),
    ) {
        validate_with_python(&py, std::path::Path::new(&schema), &sarif);
    }
    if let Some(tool) = service("MLSECOPS_TEST_SARIF_MULTITOOL", "Microsoft SARIF multitool") {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("scan.sarif");
        let output = dir.path().join("validation.sarif");
        std::fs::write(&input, &sarif).unwrap();
        let out = Command::new(&tool)
            .arg("validate")
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let val: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
        let problems: Vec<String> = val["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            // Errors and warnings fail, except SARIF2017 ("provide a
            // region"): a finding inside an archive member has no region in
            // the outer file, so it carries a logical location instead.
            .filter(|r| r["level"] != "note" && r["ruleId"] != "SARIF2017")
            .map(|r| format!("{} {}", r["ruleId"], r["message"]))
            .collect();
        assert!(
            problems.is_empty(),
            "SARIF validator errors:\n{}",
            problems.join("\n")
        );
    }
}

#[test]
fn jsonl_is_one_finding_per_line() {
    let out = corpus_report("jsonl");
    let n = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .inspect(|v| assert!(v["rule"].is_string() && v["severity"].is_string()))
        .count();
    assert!(n > 100);
}

#[test]
fn html_is_self_contained() {
    let html = corpus_report("html");
    assert!(html.starts_with("<!doctype html>"));
    for banned in ["<script", "src=", "<link", "http://", "@import", "url("] {
        assert!(
            !html.contains(banned),
            "html references external content: {banned}"
        );
    }
    assert!(html.contains("PICKLE-CODE-EXEC"));
    // hostile member names are escaped
    assert!(!html.contains("<img"));
}

#[test]
fn output_file_gets_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.sarif");
    let r = mlsecops(
        &root(),
        &[
            "scan",
            "examples/scan",
            "--format",
            "sarif",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty());
    assert!(std::fs::read_to_string(out).unwrap().contains("\"2.1.0\""));
}
