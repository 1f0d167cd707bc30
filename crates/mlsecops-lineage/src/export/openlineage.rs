//! OpenLineage 2-0-2 `RunEvent`s: one `COMPLETE` event per run, its inputs
//! the parents and its outputs the children of the run's edges. Edges that
//! no run produced become one synthetic event per child.
//!
//! Datasets live in the `mlsecops` namespace and are named `name@vN` (the
//! digest when the artifact is outside the graph). Each carries the standard
//! `version` facet (the digest: the version that never changes), the
//! standard `datasetType` facet (`MODEL` for models, `FILE` otherwise) and an
//! `mlsecops_artifact` facet (digest, kind, revocation); inputs carry an
//! `mlsecops_input` facet with the relation to each output, and runs an
//! `mlsecops_run` facet. The custom facets' schema is committed at
//! `crates/mlsecops-lineage/schemas/openlineage/1-0-0/MlsecopsFacets.json`.
//! Run ids are UUIDs derived from the registry's run id, so re-exporting the
//! same run gives the same `runId`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::model::{Artifact, ArtifactKind, Edge, Graph, Relation, Run};

use super::common::{self, find, handle, rfc3339_from_millis, sorted_edges, sorted_nodes};
use super::{ExportOptions, uuid_from};

/// The `schemaURL` of every event.
pub const SCHEMA_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
/// The dataset namespace of every artifact.
pub const DATASET_NAMESPACE: &str = "mlsecops";
/// Where the custom facets' JSON Schema is published (`$id` of the
/// committed file).
pub const FACETS_SCHEMA: &str = "https://raw.githubusercontent.com/mlsecops/mlsecops/main/crates/mlsecops-lineage/schemas/openlineage/1-0-0/MlsecopsFacets.json";
const TYPE_FACET_SCHEMA: &str = "https://openlineage.io/spec/facets/1-0-1/DatasetTypeDatasetFacet.json#/$defs/DatasetTypeDatasetFacet";
const VERSION_FACET_SCHEMA: &str = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet";

/// One `RunEvent` per run (ordered by time, then `runId`), then one
/// synthetic event per child of edges without a run.
#[must_use]
pub fn openlineage(graph: &Graph, opts: &ExportOptions) -> Vec<Value> {
    let nodes = sorted_nodes(graph);
    let edges = sorted_edges(graph);
    let producer = common::producer(opts);
    let ctx = Ctx {
        nodes: &nodes,
        producer: &producer,
        namespace: &opts.namespace,
    };

    let mut runs: BTreeMap<&str, &Run> = BTreeMap::new();
    for r in &graph.runs {
        runs.entry(r.id.as_str()).or_insert(r);
    }
    let mut by_run: BTreeMap<&str, Vec<&Edge>> = runs.keys().map(|id| (*id, Vec::new())).collect();
    let mut by_child: BTreeMap<&str, Vec<&Edge>> = BTreeMap::new();
    for e in &edges {
        match &e.run {
            Some(run) => by_run.entry(run.as_str()).or_default().push(e),
            None => by_child.entry(e.child.as_str()).or_default().push(e),
        }
    }

    let mut real: Vec<(i64, String, Value)> = Vec::new();
    for (run_id, run_edges) in &by_run {
        let run = runs.get(run_id).copied();
        let run_uuid = uuid_from(format!("mlsecops:run:{run_id}").as_bytes());
        let time = run.map_or_else(|| ctx.newest_output(run_edges), |r| r.created_at);
        let job = run
            .and_then(|r| r.name.as_deref())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(run_id);
        let facet = ctx.run_facet(run_id, run);
        let event = ctx.event(time, &run_uuid, job, &facet, run_edges);
        real.push((time, run_uuid, event));
    }
    let mut synthetic: Vec<(i64, String, Value)> = Vec::new();
    for (child, child_edges) in &by_child {
        let run_uuid = uuid_from(format!("mlsecops:link:{child}").as_bytes());
        let time = ctx.newest_output(child_edges);
        let job = format!(
            "lineage.{}",
            find(&nodes, child).map_or_else(|| (*child).to_owned(), handle)
        );
        let facet = ctx.base_facet("MlsecopsRunFacet", [("synthetic", json!(true))]);
        let event = ctx.event(time, &run_uuid, &job, &facet, child_edges);
        synthetic.push((time, run_uuid, event));
    }
    // Real runs first, each group by time then runId.
    real.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    synthetic.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    real.into_iter()
        .chain(synthetic)
        .map(|(_, _, v)| v)
        .collect()
}

struct Ctx<'a> {
    nodes: &'a [&'a Artifact],
    producer: &'a str,
    namespace: &'a str,
}

impl Ctx<'_> {
    /// `_producer`, `_schemaURL` (a `$def` of our facets schema) and `fields`.
    fn base_facet<const N: usize>(&self, def: &str, fields: [(&str, Value); N]) -> Value {
        let mut f = Map::new();
        f.insert("_producer".into(), json!(self.producer));
        f.insert(
            "_schemaURL".into(),
            json!(format!("{FACETS_SCHEMA}#/$defs/{def}")),
        );
        for (k, v) in fields {
            f.insert(k.into(), v);
        }
        Value::Object(f)
    }

    fn run_facet(&self, id: &str, run: Option<&Run>) -> Value {
        let mut f = self.base_facet("MlsecopsRunFacet", [("id", json!(id))]);
        if let (Some(r), Some(obj)) = (run, f.as_object_mut()) {
            obj.insert("source".into(), json!(r.source));
            if let Some(n) = &r.name {
                obj.insert("name".into(), json!(n));
            }
            if let Some(x) = &r.external_id {
                obj.insert("externalId".into(), json!(x));
            }
            if let Some(c) = &r.code_commit {
                obj.insert("codeCommit".into(), json!(c));
            }
            if r.parameters.as_object().is_some_and(|p| !p.is_empty()) {
                obj.insert("parameters".into(), r.parameters.clone());
            }
        }
        f
    }

    /// The newest `created_at` among the outputs of `edges` (0 if unknown).
    fn newest_output(&self, edges: &[&Edge]) -> i64 {
        edges
            .iter()
            .filter_map(|e| find(self.nodes, &e.child))
            .map(|n| n.created_at)
            .max()
            .unwrap_or(0)
    }

    fn dataset(&self, digest: &str) -> Map<String, Value> {
        let node = find(self.nodes, digest);
        let mut artifact =
            self.base_facet("MlsecopsArtifactDatasetFacet", [("digest", json!(digest))]);
        if let (Some(n), Some(obj)) = (node, artifact.as_object_mut()) {
            obj.insert("kind".into(), json!(n.kind.as_str()));
            obj.insert("name".into(), json!(n.name));
            obj.insert("version".into(), json!(n.version));
            if let Some(r) = &n.revoked {
                obj.insert(
                    "revoked".into(),
                    json!({
                        "reason": r.reason,
                        "cause": r.cause,
                        "at": rfc3339_from_millis(r.created_at),
                        "by": r.created_by,
                    }),
                );
            }
        }
        let mut facets = Map::new();
        facets.insert("mlsecops_artifact".into(), artifact);
        if let Some(n) = node {
            let ty = if n.kind == ArtifactKind::Model {
                "MODEL"
            } else {
                "FILE"
            };
            facets.insert(
                "datasetType".into(),
                json!({
                    "_producer": self.producer,
                    "_schemaURL": TYPE_FACET_SCHEMA,
                    "datasetType": ty,
                }),
            );
        }
        facets.insert(
            "version".into(),
            json!({
                "_producer": self.producer,
                "_schemaURL": VERSION_FACET_SCHEMA,
                "datasetVersion": digest,
            }),
        );
        let mut d = Map::new();
        d.insert("namespace".into(), json!(DATASET_NAMESPACE));
        d.insert(
            "name".into(),
            json!(node.map_or_else(|| digest.to_owned(), handle)),
        );
        d.insert("facets".into(), Value::Object(facets));
        d
    }

    fn event(
        &self,
        time: i64,
        run_uuid: &str,
        job: &str,
        run_facet: &Value,
        edges: &[&Edge],
    ) -> Value {
        // inputs[parent] = {(child, relation)}
        let mut inputs: BTreeMap<&str, BTreeSet<(&str, Relation)>> = BTreeMap::new();
        let mut outputs: BTreeSet<&str> = BTreeSet::new();
        for e in edges {
            inputs
                .entry(e.parent.as_str())
                .or_default()
                .insert((e.child.as_str(), e.relation));
            outputs.insert(e.child.as_str());
        }
        let inputs: Vec<Value> = inputs
            .into_iter()
            .map(|(parent, rels)| {
                let relations: Vec<Value> = rels
                    .into_iter()
                    .map(|(child, r)| json!({ "output": child, "relation": r.as_str() }))
                    .collect();
                let mut d = self.dataset(parent);
                d.insert(
                    "inputFacets".into(),
                    json!({
                        "mlsecops_input": self.base_facet(
                            "MlsecopsInputDatasetFacet",
                            [("relations", json!(relations))],
                        )
                    }),
                );
                Value::Object(d)
            })
            .collect();
        let outputs: Vec<Value> = outputs
            .into_iter()
            .map(|c| Value::Object(self.dataset(c)))
            .collect();
        json!({
            "eventType": "COMPLETE",
            "eventTime": rfc3339_from_millis(time),
            "producer": self.producer,
            "schemaURL": SCHEMA_URL,
            "run": { "runId": run_uuid, "facets": { "mlsecops_run": run_facet } },
            "job": { "namespace": self.namespace, "name": job },
            "inputs": inputs,
            "outputs": outputs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_support::{artifact, edge, graph};

    fn opts() -> ExportOptions {
        ExportOptions {
            tool_version: "0.1.0".into(),
            timestamp: "2024-05-01T10:00:00Z".into(),
            namespace: "team-a".into(),
        }
    }

    fn run(id: &str, name: Option<&str>, at: i64) -> Run {
        Run {
            id: id.into(),
            name: name.map(Into::into),
            source: "cli".into(),
            external_id: None,
            code_commit: Some("abc123".into()),
            parameters: json!({"lr": 0.1}),
            environment: json!({"SECRET": "x"}),
            created_at: at,
            created_by: "alice".into(),
        }
    }

    fn sample() -> Graph {
        let raw = artifact(ArtifactKind::Dataset, "raw", 1, 'a');
        let clean = artifact(ArtifactKind::Dataset, "clean", 1, 'b');
        let m = artifact(ArtifactKind::Model, "m", 1, 'c');
        let mut e1 = edge(&clean, &m, Relation::TrainedOn);
        e1.run = Some("sha256:run-train".into());
        let mut e2 = edge(&raw, &m, Relation::TestedOn);
        e2.run = Some("sha256:run-train".into());
        let mut g = graph(
            &m.digest.clone(),
            vec![raw.clone(), clean.clone(), m],
            vec![e1, e2, edge(&raw, &clean, Relation::DerivedFrom)],
        );
        g.runs = vec![run("sha256:run-train", Some("train"), 1_714_557_600_000)];
        g
    }

    #[test]
    fn one_event_per_run_and_per_unrun_child() {
        let g = sample();
        let events = openlineage(&g, &opts());
        assert_eq!(events.len(), 2);
        let train = &events[0];
        assert_eq!(train["eventType"], "COMPLETE");
        assert_eq!(
            train["job"],
            json!({"namespace": "team-a", "name": "train"})
        );
        assert_eq!(train["schemaURL"], SCHEMA_URL);
        assert_eq!(
            train["producer"],
            "https://github.com/mlsecops/mlsecops/tree/v0.1.0"
        );
        assert_eq!(
            train["run"]["runId"],
            uuid_from(b"mlsecops:run:sha256:run-train")
        );
        let names: Vec<&str> = train["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["raw@v1", "clean@v1"]); // sorted by digest (a < b)
        assert_eq!(train["outputs"][0]["name"], "m@v1");
        let rel = &train["inputs"][0]["inputFacets"]["mlsecops_input"]["relations"][0];
        assert_eq!(rel["relation"], "tested_on");
        let facets = &train["outputs"][0]["facets"];
        assert_eq!(facets["mlsecops_artifact"]["digest"], g.root);
        assert_eq!(facets["version"]["datasetVersion"], g.root);
        let run_facet = &train["run"]["facets"]["mlsecops_run"];
        assert_eq!(run_facet["codeCommit"], "abc123");
        assert!(run_facet.get("environment").is_none());
        for f in [run_facet, &facets["mlsecops_artifact"]] {
            assert!(f["_producer"].is_string());
            assert!(f["_schemaURL"].as_str().unwrap().starts_with(FACETS_SCHEMA));
        }

        let link = &events[1];
        assert_eq!(link["job"]["name"], "lineage.clean@v1");
        assert_eq!(link["run"]["facets"]["mlsecops_run"]["synthetic"], true);
        assert_eq!(link["inputs"][0]["name"], "raw@v1");
        assert_eq!(link["outputs"][0]["name"], "clean@v1");
    }

    #[test]
    fn deterministic_and_tolerant() {
        let mut g = sample();
        let a = openlineage(&g, &opts());
        let mut shuffled = g.clone();
        shuffled.edges.reverse();
        shuffled.nodes.reverse();
        assert_eq!(a, openlineage(&shuffled, &opts()));
        // An edge naming an unknown run and an unknown parent.
        g.edges.push(Edge {
            parent: "sha256:elsewhere".into(),
            child: g.root.clone(),
            relation: Relation::Uses,
            run: Some("ghost".into()),
        });
        g.runs.push(run("idle", None, 0));
        let events = openlineage(&g, &ExportOptions::default());
        assert_eq!(events.len(), 4);
        let ghost = events.iter().find(|e| e["job"]["name"] == "ghost").unwrap();
        assert_eq!(ghost["inputs"][0]["name"], "sha256:elsewhere");
        assert_eq!(ghost["producer"], "https://github.com/mlsecops/mlsecops");
        let idle = events.iter().find(|e| e["job"]["name"] == "idle").unwrap();
        assert_eq!(idle["inputs"], json!([]));
        assert_eq!(idle["eventTime"], "1970-01-01T00:00:00Z");
    }
}
