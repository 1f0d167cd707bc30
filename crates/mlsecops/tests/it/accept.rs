//! `mlsecops accept | attack | augment` end to end on the ONNX fixtures of
//! `crates/mlsecops-model/tests/models` (digits in [0, 1]).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{Run, mlsecops, mlsecops_with_home};

fn fixture(name: &str) -> PathBuf {
    crate::support::root()
        .join("crates/mlsecops-model/tests/models")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The test split with a `region` column: rows whose label is 8 or 9 are
/// "south" (the digits the models confuse most), the rest "north".
fn test_with_region(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(fixture("test.csv")).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let region = if i == 0 {
            "region"
        } else if line.ends_with(",8") || line.ends_with(",9") {
            "south"
        } else {
            "north"
        };
        out.push_str(line);
        out.push(',');
        out.push_str(region);
        out.push('\n');
    }
    let p = dir.join("test.csv");
    std::fs::write(&p, out).unwrap();
    p
}

fn policy(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("mlsecops.toml");
    std::fs::write(&p, body).unwrap();
    p
}

fn accept(dir: &Path, model: &str, data: &Path, extra: &[&str]) -> (Run, Value) {
    let m = fixture(model);
    let mut args = vec![
        "accept",
        s(&m),
        "--data",
        s(data),
        "--label",
        "label",
        "--slices",
        "region",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let r = mlsecops(dir, &args);
    let v = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r, v)
}

const ROBUST: &str = "[accept.robustness]\neps = 0.05\nsamples = 60\nmax_queries = 300\nsteps = 20\neps_curve = [0.02, 0.1]\n";

#[test]
fn accept_reports_metrics_and_passes_a_met_policy() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_with_region(dir.path());
    let html = dir.path().join("accept.html");
    policy(
        dir.path(),
        &format!(
            "[accept]\nmin_accuracy = 0.9\nmin_slice_accuracy = 0.8\nmax_ece = 0.2\nmin_robust_accuracy = 0.1\n{ROBUST}"
        ),
    );
    let (r, v) = accept(dir.path(), "mlp.onnx", &data, &["--html", s(&html)]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(v["verdict"], "pass");
    // The model's accuracy on the split, as onnxruntime measured it.
    assert!(
        (v["accuracy"].as_f64().unwrap() - 0.9697).abs() < 1e-3,
        "{}",
        v["accuracy"]
    );
    let robust = v["robust_accuracy"].as_f64().unwrap();
    assert!(robust > 0.0 && robust < v["accuracy"].as_f64().unwrap());
    assert_eq!(v["metrics"]["confusion"].as_array().unwrap().len(), 10);
    assert_eq!(v["slices"].as_array().unwrap().len(), 2);
    assert_eq!(v["worst_slice"]["value"], "south");
    let attacks: Vec<&str> = v["robustness"]["attacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["attack"].as_str().unwrap())
        .collect();
    assert_eq!(attacks, ["pgd-linf", "square-linf"]);
    // The ε curve is monotone (robust accuracy can only fall as ε grows).
    let curve: Vec<f64> = v["robustness"]["curve"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["robust_accuracy"].as_f64().unwrap())
        .collect();
    assert_eq!(curve.len(), 4, "{curve:?}");
    assert!(curve.windows(2).all(|w| w[1] <= w[0] + 1e-9), "{curve:?}");
    let page = std::fs::read_to_string(&html).unwrap();
    for part in [
        "Confusion matrix",
        "Robust accuracy vs ε",
        "Accuracy per slice",
        "<svg",
    ] {
        assert!(page.contains(part), "{part}");
    }
}

#[test]
fn accept_exits_1_naming_every_failed_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_with_region(dir.path());
    let body = format!(
        "[accept]\nmin_accuracy = 0.99\nmin_slice_accuracy = 0.97\nmin_robust_accuracy = 0.95\nmax_regression = 0.001\n{ROBUST}"
    );
    policy(dir.path(), &body);
    // The logistic regression against the MLP (better by 0.7 points).
    let mlp = fixture("mlp.onnx");
    let (r, v) = accept(dir.path(), "logreg.onnx", &data, &["--baseline", s(&mlp)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(v["verdict"], "fail");
    for (name, words) in [
        ("accuracy", "below the minimum 0.99"),
        ("worst_slice_accuracy", "slice region=south"),
        ("robust_accuracy", "robust accuracy (linf ε = 0.05)"),
        ("regression", "against the approved model"),
    ] {
        assert!(
            r.stderr.contains(&format!("FAIL {name}: ")) && r.stderr.contains(words),
            "{name}: {}",
            r.stderr
        );
    }
    // The tree ensemble: no gradients, PGD skipped with the reason, Square runs.
    policy(
        dir.path(),
        &format!("[accept]\nmin_accuracy = 0.5\n{ROBUST}"),
    );
    let (r, v) = accept(dir.path(), "rf.onnx", &data, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let a = &v["robustness"]["attacks"];
    assert!(
        a[0]["skipped"]
            .as_str()
            .unwrap()
            .contains("TreeEnsembleClassifier"),
        "{a}"
    );
    assert!(a[1]["flipped"].as_u64().unwrap() > 0, "{a}");
    // A typo in the policy is an error, not a silently ignored threshold.
    policy(dir.path(), "[accept]\nmin_acuracy = 0.5\n");
    let (r, _) = accept(dir.path(), "rf.onnx", &data, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("min_acuracy"), "{}", r.stderr);
}

#[test]
fn baseline_approved_comes_from_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    let home = w.join("home");
    let run = |args: &[&str]| mlsecops_with_home(w, args, &home);
    let ok = |args: &[&str]| {
        let r = run(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        r
    };
    ok(&["init"]);
    // v1 = the MLP, approved; v2 = the logistic regression (the candidate).
    std::fs::copy(fixture("mlp.onnx"), w.join("v1.onnx")).unwrap();
    std::fs::copy(fixture("logreg.onnx"), w.join("v2.onnx")).unwrap();
    ok(&["registry", "add", "model", "v1.onnx", "--name", "digits"]);
    ok(&["registry", "approve", "digits@v1", "--stage", "production"]);
    ok(&["registry", "add", "model", "v2.onnx", "--name", "digits"]);
    std::fs::remove_file(w.join("v1.onnx")).unwrap();
    let test = fixture("test.csv");
    let r = run(&[
        "accept",
        "v2.onnx",
        "--data",
        s(&test),
        "--label",
        "label",
        "--no-robustness",
        "--baseline",
        "approved",
        "--stage",
        "production",
        "--format",
        "json",
        "--attach",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["baseline"]["source"], "digits@v1");
    assert!((v["baseline"]["accuracy"].as_f64().unwrap() - 0.9697).abs() < 1e-3);
    assert!(v["baseline"]["accuracy_delta"].as_f64().unwrap() < 0.0);
    // With a regression limit the same comparison fails.
    std::fs::write(
        w.join("mlsecops.toml"),
        "[accept]\nmax_regression = 0.001\n",
    )
    .unwrap();
    let r = run(&[
        "accept",
        "v2.onnx",
        "--data",
        s(&test),
        "--label",
        "label",
        "--no-robustness",
        "--baseline",
        "approved",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("digits@v1"), "{}", r.stderr);
    // The report was attached to v2's registry entry.
    let show = ok(&["registry", "show", "digits@v2", "--format", "json"]);
    assert!(show.stdout.contains("acceptance"), "{}", show.stdout);
}

#[test]
fn attack_writes_adversarial_examples_that_fool_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("adv.csv");
    let m = fixture("cnn.onnx");
    let test = fixture("test.csv");
    let r = mlsecops(
        dir.path(),
        &[
            "attack",
            s(&m),
            "--data",
            s(&test),
            "--label",
            "label",
            "--attack",
            "pgd",
            "--eps",
            "0.1",
            "--limit",
            "50",
            "--format",
            "json",
            "--out",
            s(&out),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["attack"], "pgd-linf");
    for k in [
        "clean_accuracy",
        "robust_accuracy",
        "success_rate",
        "mean_queries",
        "seconds",
    ] {
        assert!(v[k].is_number(), "{k}: {v}");
    }
    let flipped = (v["success_rate"].as_f64().unwrap()
        * v["clean_accuracy"].as_f64().unwrap()
        * 50.0)
        .round() as usize;
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count() - 1, flipped, "{v}");
    assert!(text.starts_with("p0,p1,"));
    // --bounds takes LO,HI as documented; one value is an error.
    let r = mlsecops(
        dir.path(),
        &[
            "attack",
            s(&m),
            "--data",
            s(&test),
            "--label",
            "label",
            "--attack",
            "fgsm",
            "--limit",
            "5",
            "--bounds",
            "0,1",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = mlsecops(
        dir.path(),
        &[
            "attack",
            s(&m),
            "--data",
            s(&test),
            "--label",
            "label",
            "--limit",
            "5",
            "--bounds",
            "0",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("two values"), "{}", r.stderr);
    // Unknown attacks and norms are usage errors that name the choices.
    let r = mlsecops(
        dir.path(),
        &[
            "attack",
            s(&m),
            "--data",
            s(&test),
            "--label",
            "label",
            "--attack",
            "deepfool",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unknown attack") && r.stderr.contains("pgd"),
        "{}",
        r.stderr
    );
}

#[test]
fn augment_writes_a_registered_dataset_with_lineage_and_squeeze_calibration() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    let home = w.join("home");
    let run = |args: &[&str]| mlsecops_with_home(w, args, &home);
    let ok = |args: &[&str]| {
        let r = run(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        r
    };
    ok(&["init"]);
    // The first 300 training rows, and the MLP.
    let text = std::fs::read_to_string(fixture("train.csv")).unwrap();
    let head: Vec<&str> = text.lines().take(301).collect();
    std::fs::write(w.join("train.csv"), head.join("\n") + "\n").unwrap();
    std::fs::copy(fixture("mlp.onnx"), w.join("mlp.onnx")).unwrap();
    ok(&[
        "registry",
        "add",
        "dataset",
        "train.csv",
        "--name",
        "digits-train",
    ]);
    ok(&["registry", "add", "model", "mlp.onnx", "--name", "digits"]);
    let r = ok(&[
        "augment",
        "mlp.onnx",
        "--data",
        "train.csv",
        "--label",
        "label",
        "--eps",
        "0.1",
        "--attacks",
        "pgd,square",
        "--max-queries",
        "200",
        "--output",
        "adv.csv",
        "--register",
        "digits-adv",
        "--squeeze-calibration",
        "squeeze.json",
    ]);
    assert!(
        r.stderr.contains("registered dataset digits-adv@v1"),
        "{}",
        r.stderr
    );
    // Every example keeps its row's true label and stays in the ε-ball.
    let adv = std::fs::read_to_string(w.join("adv.csv")).unwrap();
    let clean: Vec<Vec<f32>> = head[1..]
        .iter()
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    let mut lines = adv.lines();
    assert_eq!(lines.next().unwrap(), head[0]);
    let mut n = 0;
    for line in lines {
        let v: Vec<f32> = line.split(',').map(|c| c.parse().unwrap()).collect();
        // Its source row: same label, within 0.1 everywhere.
        assert!(
            clean.iter().any(|c| c[64].to_bits() == v[64].to_bits()
                && c[..64]
                    .iter()
                    .zip(&v[..64])
                    .all(|(a, b)| (a - b).abs() <= 0.1 + 1e-5)),
            "{line}"
        );
        n += 1;
    }
    assert!(n > 250, "{n} examples");
    // Lineage: the new dataset came from the data, against the model.
    let up = ok(&["lineage", "digits-adv", "--up", "--format", "json"]);
    assert!(
        up.stdout.contains("digits-train") && up.stdout.contains("\"digits\""),
        "{}",
        up.stdout
    );
    let cal: Value =
        serde_json::from_str(&std::fs::read_to_string(w.join("squeeze.json")).unwrap()).unwrap();
    assert!(cal["threshold"].as_f64().unwrap() > 0.0);
    assert!(cal["clean_fpr"].as_f64().unwrap() <= 0.05 + 1e-9);
    assert!(cal["detection_rate"].as_f64().unwrap() > 0.0, "{cal}");
}

#[test]
fn the_acceptance_report_is_attestable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(fixture("logreg.onnx"), d.join("model.onnx")).unwrap();
    let test = fixture("test.csv");
    let r = mlsecops(
        d,
        &[
            "accept",
            "model.onnx",
            "--data",
            s(&test),
            "--label",
            "label",
            "--no-robustness",
            "--format",
            "json",
            "-o",
            "accept.json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = mlsecops(
        d,
        &["keys", "generate", "--name", "ci", "--kind", "ecdsa-p256"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = mlsecops(
        d,
        &[
            "attest",
            "model.onnx",
            "--type",
            "acceptance",
            "--report",
            "accept.json",
            "--key",
            ".mlsecops/keys/ci.pem",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = std::fs::read_to_string(d.join("model.onnx.intoto.jsonl")).unwrap();
    let env: Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
    assert!(r.stdout.contains("acceptance"), "{}", r.stdout);
}

#[test]
fn attacks_respect_the_data_contract_and_immutable_columns() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let test = fixture("test.csv");
    let r = mlsecops(
        d,
        &[
            "data",
            "profile",
            s(&test),
            "--label",
            "label",
            "-o",
            "contract.toml",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = fixture("mlp.onnx");
    let r = mlsecops(
        d,
        &[
            "attack",
            s(&m),
            "--data",
            s(&test),
            "--label",
            "label",
            "--attack",
            "auto",
            "--eps",
            "0.3",
            "--limit",
            "60",
            "--contract",
            "contract.toml",
            "--immutable",
            "p20,p21,p28,p29",
            "--max-queries",
            "300",
            "--out",
            "adv.csv",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The contract's per-column ranges, as profiled.
    let contract: toml::Table =
        toml::from_str(&std::fs::read_to_string(d.join("contract.toml")).unwrap()).unwrap();
    let mut range = std::collections::HashMap::new();
    for c in contract["column"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap().to_owned();
        let f = |k: &str| c.get(k).and_then(toml::Value::as_float);
        range.insert(name, (f("min"), f("max")));
    }
    let clean: Vec<Vec<f32>> = std::fs::read_to_string(&test)
        .unwrap()
        .lines()
        .skip(1)
        .take(60)
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    let adv = std::fs::read_to_string(d.join("adv.csv")).unwrap();
    let mut n = 0;
    for line in adv.lines().skip(1) {
        let v: Vec<f32> = line.split(',').map(|c| c.parse().unwrap()).collect();
        for (j, &x) in v[..64].iter().enumerate() {
            if let Some((lo, hi)) = range.get(&format!("p{j}")) {
                assert!(
                    lo.is_none_or(|lo| f64::from(x) >= lo - 1e-6),
                    "p{j} = {x} < {lo:?}"
                );
                assert!(
                    hi.is_none_or(|hi| f64::from(x) <= hi + 1e-6),
                    "p{j} = {x} > {hi:?}"
                );
            }
        }
        // Its source row (same label, within ε) has the same immutable pixels.
        let src = clean
            .iter()
            .find(|c| {
                c[64].to_bits() == v[64].to_bits()
                    && c[..64]
                        .iter()
                        .zip(&v[..64])
                        .all(|(a, b)| (a - b).abs() <= 0.3 + 1e-5)
            })
            .unwrap();
        for j in [20, 21, 28, 29] {
            assert_eq!(src[j].to_bits(), v[j].to_bits(), "p{j}");
        }
        n += 1;
    }
    assert!(n > 10, "{n} adversarial examples");
}
