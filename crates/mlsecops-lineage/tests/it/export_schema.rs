//! Exports of a three-level lineage graph, validated against the official
//! CycloneDX 1.6, SPDX 3.0.1 and OpenLineage 2-0-2 schemas (vendored under
//! `tests/schemas/`, run through Python's `jsonschema` offline) and pinned by
//! snapshots.

use std::path::{Path, PathBuf};
use std::process::Command;

use mlsecops_lineage::export::{self, ExportOptions};
use mlsecops_lineage::model::{
    Artifact, ArtifactKind, Direction, Edge, Graph, Relation, Revocation, Run,
};
use serde_json::{Value, json};

const T0: i64 = 1_714_557_600_000; // 2024-05-01T10:00:00Z

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn artifact(kind: ArtifactKind, name: &str, version: i64, c: char, minutes: i64) -> Artifact {
    Artifact {
        digest: digest(c),
        kind,
        name: name.into(),
        version,
        size: 4096 * (minutes + 1) as u64,
        files: 1,
        media_type: None,
        source: None,
        metadata: json!({}),
        created_at: T0 + minutes * 60_000,
        created_by: "alice@example.com".into(),
        revoked: None,
    }
}

fn run(id: &str, name: &str, minutes: i64) -> Run {
    Run {
        id: id.into(),
        name: Some(name.into()),
        source: "cli".into(),
        external_id: None,
        code_commit: Some("4f2a9c1".into()),
        parameters: json!({"seed": 7}),
        environment: json!({}),
        created_at: T0 + minutes * 60_000,
        created_by: "ci".into(),
    }
}

fn edge(parent: &Artifact, child: &Artifact, relation: Relation, run: Option<&str>) -> Edge {
    Edge {
        parent: parent.digest.clone(),
        child: child.digest.clone(),
        relation,
        run: run.map(Into::into),
    }
}

/// raw → cleaned → {credit-a, credit-b} (trained on cleaned) → credit-a-ft
/// (fine-tuned from credit-a). credit-a is revoked, and so, downstream of
/// it, is credit-a-ft.
fn lineage() -> Graph {
    let mut raw = artifact(ArtifactKind::Dataset, "loans-raw", 1, 'a', 0);
    raw.source = Some("s3://acme-data/loans/2024-05.csv".into());
    raw.media_type = Some("text/csv".into());
    raw.metadata =
        json!({"description": "Loan applications as exported", "dataset_type": "structured"});
    let mut clean = artifact(ArtifactKind::Dataset, "loans-clean", 2, 'b', 10);
    clean.source = Some("/home/alice/data/clean.parquet".into());
    clean.metadata = json!({"license": "CC-BY-4.0", "dataset_type": "not-a-type"});
    let mut code = artifact(ArtifactKind::Code, "train.py", 3, 'c', 15);
    code.source = Some("https://github.com/acme/credit/blob/4f2a9c1/train.py".into());
    let mut a = artifact(ArtifactKind::Model, "credit-a", 1, 'd', 20);
    a.media_type = Some("application/octet-stream".into());
    a.metadata = json!({
        "license": "Apache-2.0",
        "model_card": {
            "description": "Gradient-boosted credit risk model",
            "approach": "supervised",
            "task": "classification",
            "architecture_family": "gradient boosting",
            "model_architecture": "XGBoost",
            "metrics": {"auc": 0.91, "f1": 0.78},
            "hyperparameters": {"max_depth": 6, "eta": 0.3},
            "limitations": ["Not validated for applicants under 21"],
            "use_cases": ["pre-screening of consumer loans"],
            "users": ["credit analysts"],
            "domains": ["finance"]
        }
    });
    let mut b = artifact(ArtifactKind::Model, "credit-b", 1, 'e', 25);
    b.files = 3; // a directory: its digest covers a sha256sum manifest
    b.metadata = json!({"license": "Acme Proprietary License"});
    let mut ft = artifact(ArtifactKind::Model, "credit-a-ft", 1, 'f', 30);
    ft.metadata = json!({"model_card": {"task": "classification"}});
    a.revoked = Some(Revocation {
        digest: a.digest.clone(),
        reason: "trained with a leaked \"holdout\" column".into(),
        cause: a.digest.clone(),
        created_at: T0 + 3_600_000,
        created_by: "bob@example.com".into(),
    });
    ft.revoked = Some(Revocation {
        digest: ft.digest.clone(),
        reason: "upstream credit-a@v1 revoked".into(),
        cause: a.digest.clone(),
        created_at: T0 + 3_600_000,
        created_by: "bob@example.com".into(),
    });
    let edges = vec![
        edge(
            &raw,
            &clean,
            Relation::DerivedFrom,
            Some("sha256:run-clean"),
        ),
        edge(&clean, &a, Relation::TrainedOn, Some("sha256:run-train-a")),
        edge(&raw, &a, Relation::TestedOn, Some("sha256:run-train-a")),
        edge(&code, &a, Relation::Uses, Some("sha256:run-train-a")),
        edge(&clean, &b, Relation::TrainedOn, Some("sha256:run-train-b")),
        edge(&code, &b, Relation::Uses, Some("sha256:run-train-b")),
        edge(&a, &ft, Relation::FineTunedFrom, Some("sha256:run-ft")),
        // Recorded by hand, without a run.
        edge(&clean, &ft, Relation::TrainedOn, None),
    ];
    Graph {
        root: clean.digest.clone(),
        direction: Direction::Both,
        nodes: vec![clean, raw, code, a, b, ft],
        edges,
        runs: vec![
            run("sha256:run-clean", "clean-loans", 5),
            run("sha256:run-train-a", "train-credit-a", 20),
            run("sha256:run-train-b", "train-credit-b", 25),
            run("sha256:run-ft", "finetune-credit-a", 30),
        ],
    }
}

fn opts() -> ExportOptions {
    ExportOptions {
        tool_version: "0.1.0".into(),
        timestamp: "2024-05-02T08:30:00Z".into(),
        namespace: "https://registry.acme.example".into(),
    }
}

/// The subject of the BOM and SPDX document: the fine-tuned model.
fn subject() -> String {
    digest('f')
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with `jsonschema`, or `None` after printing a SKIP line (a
/// panic when `MLSECOPS_REQUIRE_SERVICES=1`).
fn python(test: &str) -> Option<String> {
    match std::env::var("MLSECOPS_TEST_PYTHON") {
        Ok(p) if !p.trim().is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var("MLSECOPS_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "{test}: MLSECOPS_TEST_PYTHON not set but MLSECOPS_REQUIRE_SERVICES=1"
            );
            println!("SKIP {test}: MLSECOPS_TEST_PYTHON not set (run scripts/services.sh up)");
            None
        }
    }
}

fn validate(python: &str, format: &str, doc: &Value) {
    let (ok, output) = run_validator(python, format, doc);
    assert!(ok, "{format} export is not valid:\n{output}");
    print!("{output}");
}

/// Runs `validate.py`: whether the document passed, and what it printed.
fn run_validator(python: &str, format: &str, doc: &Value) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{format}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let schemas = crate_dir().join("tests/schemas");
    let out = Command::new(python)
        .arg(schemas.join("validate.py"))
        .arg(&schemas)
        .arg(facets_schema_path())
        .arg(format)
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn facets_schema_path() -> PathBuf {
    crate_dir().join("schemas/openlineage/1-0-0/MlsecopsFacets.json")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn cyclonedx_is_valid_cyclonedx_1_6() {
    let bom = export::cyclonedx(&lineage(), &subject(), &opts());
    assert_eq!(bom["metadata"]["component"]["name"], "credit-a-ft");
    if let Some(py) = python("cyclonedx_is_valid_cyclonedx_1_6") {
        validate(&py, "cyclonedx", &bom);
    }
}

#[test]
fn spdx_is_valid_spdx_3_0_1() {
    let doc = export::spdx(&lineage(), &subject(), &opts());
    assert_eq!(doc["@context"], export::spdx::CONTEXT);
    if let Some(py) = python("spdx_is_valid_spdx_3_0_1") {
        validate(&py, "spdx", &doc);
    }
}

#[test]
fn openlineage_events_are_valid_run_events() {
    let events = export::openlineage(&lineage(), &opts());
    // Four runs, plus one synthetic event for the run-less edge.
    assert_eq!(events.len(), 5);
    if let Some(py) = python("openlineage_events_are_valid_run_events") {
        validate(&py, "openlineage", &Value::Array(events));
    }
}

#[test]
fn exports_of_an_empty_or_odd_graph_stay_valid() {
    let mut g = lineage();
    g.nodes[0].digest = "not-a-digest \"quoted\"".into();
    g.nodes[1].media_type = Some("TEXT/CSV".into());
    g.nodes.push(g.nodes[2].clone());
    let odd = ExportOptions {
        tool_version: "1.0 beta".into(),
        timestamp: "yesterday".into(),
        namespace: "team a".into(),
    };
    let empty = Graph {
        root: String::new(),
        direction: Direction::Down,
        nodes: vec![],
        edges: vec![],
        runs: vec![],
    };
    let Some(py) = python("exports_of_an_empty_or_odd_graph_stay_valid") else {
        return;
    };
    for (g, subject) in [(&g, "missing"), (&empty, "")] {
        validate(&py, "cyclonedx", &export::cyclonedx(g, subject, &odd));
        validate(&py, "spdx", &export::spdx(g, subject, &odd));
    }
    validate(
        &py,
        "openlineage",
        &Value::Array(export::openlineage(&g, &odd)),
    );
}

/// The validator is not vacuous: documents broken in ways the schemas (or
/// the checks beside them) forbid are rejected, each for its reason.
#[test]
fn validator_rejects_broken_documents() {
    let Some(py) = python("validator_rejects_broken_documents") else {
        return;
    };
    let g = lineage();
    let reject = |format: &str, doc: &Value, expect: &[&str]| {
        let (ok, output) = run_validator(&py, format, doc);
        assert!(!ok, "{format}: broken document accepted");
        for e in expect {
            assert!(output.contains(e), "{format}: no {e:?} in:\n{output}");
        }
    };

    let mut bom = export::cyclonedx(&g, &subject(), &opts());
    bom["components"][0]["type"] = json!("model");
    bom["metadata"]["timestamp"] = json!("2024-05-02 08:30");
    bom["dependencies"][0]["dependsOn"] = json!(["sha256:nowhere"]);
    reject(
        "cyclonedx",
        &bom,
        &[
            "'model' is not one of",
            "is not a 'date-time'",
            "unknown bom-ref sha256:nowhere",
        ],
    );

    let mut doc = export::spdx(&g, &subject(), &opts());
    let graph = doc["@graph"].as_array_mut().unwrap();
    graph[0]["created"] = json!("2024-05-02T08:30:00.5Z");
    let rel = graph
        .iter_mut()
        .find(|e| e["relationshipType"] == "trainedOn")
        .unwrap();
    rel["relationshipType"] = json!("fineTunedFrom");
    let model = graph
        .iter_mut()
        .find(|e| e["type"] == "ai_AIPackage")
        .unwrap();
    model.as_object_mut().unwrap().remove("releaseTime");
    reject("spdx", &doc, &["schema:", "lacks releaseTime"]);

    let mut events = export::openlineage(&g, &opts());
    events[0]["run"]["runId"] = json!("run-1");
    events[1]["eventTime"] = json!("yesterday");
    events[2]["inputs"][0]["facets"]["mlsecops_artifact"]
        .as_object_mut()
        .unwrap()
        .remove("digest");
    reject(
        "openlineage",
        &Value::Array(events),
        &["event[0]", "event[1]", "'digest' is a required property"],
    );
}

#[test]
fn committed_schema_ids_match_the_exporters() {
    let schemas = crate_dir().join("tests/schemas");
    assert_eq!(
        read_json(&schemas.join("cyclonedx-1.6/bom-1.6.schema.json"))["$id"],
        export::cyclonedx::SCHEMA_URL
    );
    assert_eq!(
        format!(
            "{}#/$defs/RunEvent",
            read_json(&schemas.join("openlineage-2-0-2/OpenLineage.json"))["$id"]
                .as_str()
                .unwrap()
        ),
        export::openlineage::SCHEMA_URL
    );
    let spdx = read_json(&schemas.join("spdx-3.0.1/spdx-json-schema.json"));
    assert_eq!(
        spdx["properties"]["@context"]["const"],
        export::spdx::CONTEXT
    );
    assert_eq!(
        read_json(&facets_schema_path())["$id"],
        export::openlineage::FACETS_SCHEMA
    );
}

#[test]
fn snapshots() {
    let g = lineage();
    insta::with_settings!({ sort_maps => true, snapshot_path => "snapshots" }, {
        insta::assert_json_snapshot!("cyclonedx", export::cyclonedx(&g, &subject(), &opts()));
        insta::assert_json_snapshot!("spdx", export::spdx(&g, &subject(), &opts()));
        insta::assert_json_snapshot!("openlineage", export::openlineage(&g, &opts()));
        insta::assert_snapshot!("dot", export::dot(&g));
    });
}
