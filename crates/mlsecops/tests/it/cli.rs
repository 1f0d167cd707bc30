//! CLI behaviour: exit codes, stdout/stderr, ignore files, rule docs.

use insta::assert_snapshot;

use crate::support::{mlsecops, root, snapshot};

#[test]
fn scan_examples_table() {
    let r = mlsecops(&root(), &["scan", "examples/scan"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_snapshot!(snapshot(&r));
}

#[test]
fn benign_examples_pass_the_default_gate() {
    let r = mlsecops(&root(), &["scan", "examples/scan/benign"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("no known-unsafe constructs found"));
    assert!(
        !r.stdout.to_lowercase().contains(" safe"),
        "never claim a file is safe"
    );
}

#[test]
fn fail_on_moves_the_gate() {
    let r = mlsecops(
        &root(),
        &[
            "scan",
            "tests/corpus/suspicious/pickle_unknown_global_main_mymodel.pkl",
            "--fail-on",
            "high",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let r = mlsecops(
        &root(),
        &[
            "scan",
            "tests/corpus/suspicious/pickle_unknown_global_main_mymodel.pkl",
            "--fail-on",
            "medium",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
}

#[test]
fn nothing_scannable_is_an_error_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "just text\n").unwrap();
    let r = mlsecops(dir.path(), &["scan", "."]);
    assert_eq!(r.code, 2);
    assert_snapshot!(snapshot(&r));
    let r = mlsecops(
        dir.path(),
        &["scan", ".", "--allow-empty", "--format", "json"],
    );
    assert_eq!(r.code, 0);
}

#[test]
fn missing_input_is_a_usage_error() {
    let r = mlsecops(&root(), &["scan", "does/not/exist.pt"]);
    assert_eq!(r.code, 2);
    assert_snapshot!(snapshot(&r));
}

#[test]
fn bad_severity_is_a_usage_error() {
    let r = mlsecops(&root(), &["scan", "examples/scan", "--fail-on", "urgent"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown severity"), "{}", r.stderr);
}

#[test]
fn ignore_file_suppresses_and_expired_entries_warn() {
    let dir = tempfile::tempdir().unwrap();
    let src = root().join("examples/scan/malicious/pickle_p4_stack_global_builtins_eval.pkl");
    std::fs::copy(&src, dir.path().join("m.pkl")).unwrap();
    std::fs::write(
        dir.path().join(".mlsecopsignore.toml"),
        "[[ignore]]\nid = \"PICKLE-CODE-EXEC\"\npaths = [\"m.pkl\"]\nreason = \"reviewed test fixture\"\n",
    )
    .unwrap();
    let r = mlsecops(dir.path(), &["scan", "m.pkl", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["summary"]["suppressed"], 1);
    assert_eq!(
        v["findings"][0]["suppressed"]["reason"],
        "reviewed test fixture"
    );

    std::fs::write(
        dir.path().join(".mlsecopsignore.toml"),
        "[[ignore]]\nid = \"PICKLE-CODE-EXEC\"\nreason = \"old\"\nexpires = 2020-01-01\n",
    )
    .unwrap();
    let r = mlsecops(dir.path(), &["scan", "m.pkl"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("expired on 2020-01-01"), "{}", r.stderr);

    std::fs::write(
        dir.path().join(".mlsecopsignore.toml"),
        "[[ignore]]\nid = 3\n",
    )
    .unwrap();
    let r = mlsecops(dir.path(), &["scan", "m.pkl"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains(".mlsecopsignore.toml"), "{}", r.stderr);
}

#[test]
fn rule_explains_and_lists() {
    let r = mlsecops(&root(), &["rule", "pickle-code-exec"]);
    assert_eq!(r.code, 0);
    assert_snapshot!(snapshot(&r));
    let r = mlsecops(&root(), &["rule"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.lines().count() >= 30);
    let r = mlsecops(&root(), &["rule", "NOPE-1"]);
    assert_eq!(r.code, 2);
}

#[test]
fn every_reported_rule_is_documented() {
    let r = mlsecops(&root(), &["scan", "tests/corpus", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    for f in v["findings"].as_array().unwrap() {
        let id = f["rule"].as_str().unwrap();
        assert!(
            mlsecops(&root(), &["rule", id]).code == 0,
            "rule {id} has no documentation"
        );
    }
}
