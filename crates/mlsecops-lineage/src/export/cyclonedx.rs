//! CycloneDX 1.6 JSON ML-BOM: models as `machine-learning-model` components
//! with a model card, datasets as `data` components, the lineage as the
//! `dependencies` graph (a child depends on its parents) and base models as
//! `pedigree.ancestors`.
//!
//! Every node's `bom-ref` is its digest. The subject is
//! `metadata.component`; every other node is in `components`. Copies of
//! base models inside `pedigree.ancestors` carry no `bom-ref`, since a
//! `bom-ref` must be unique within the BOM. The `SHA-256` hash is the
//! artifact's content digest: of the bytes for a file, of the `sha256sum`
//! manifest for a directory (the `mlsecops:files` property tells which).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::model::{Artifact, ArtifactKind, Graph, Relation};

use super::common::{
    self, ModelCard, find, rfc3339_from_millis, sha256_hex, sorted_edges, sorted_nodes,
};
use super::{ExportOptions, uuid_from};

/// The JSON Schema this output conforms to.
pub const SCHEMA_URL: &str = "http://cyclonedx.org/schema/bom-1.6.schema.json";

/// A CycloneDX 1.6 BOM about `subject` (a digest) and its lineage in `graph`.
///
/// When `subject` is not in the graph the graph's root is the subject; when
/// that is missing too, the BOM has no `metadata.component`.
#[must_use]
pub fn cyclonedx(graph: &Graph, subject: &str, opts: &ExportOptions) -> Value {
    let nodes = sorted_nodes(graph);
    let edges = sorted_edges(graph);
    let subject = find(&nodes, subject).or_else(|| find(&nodes, &graph.root));
    let timestamp = common::document_time(opts, graph);
    let serial = format!(
        "urn:uuid:{}",
        uuid_from(format!("{}\n{timestamp}", subject.map_or("", |s| &s.digest)).as_bytes())
    );

    // parents[child] = [(relation, parent digest)], in edge order.
    let mut parents: BTreeMap<&str, Vec<(Relation, &str)>> = BTreeMap::new();
    for e in &edges {
        parents
            .entry(e.child.as_str())
            .or_default()
            .push((e.relation, e.parent.as_str()));
    }
    let known: BTreeSet<&str> = nodes.iter().map(|n| n.digest.as_str()).collect();
    let ctx = Ctx {
        nodes: &nodes,
        parents: &parents,
    };

    let mut tool = Map::new();
    tool.insert("type".into(), json!("application"));
    tool.insert("name".into(), json!("mlsecops"));
    if !opts.tool_version.trim().is_empty() {
        tool.insert("version".into(), json!(opts.tool_version.trim()));
    }
    tool.insert(
        "externalReferences".into(),
        json!([{"type": "website", "url": common::PROJECT_URL}]),
    );
    let mut metadata = Map::new();
    metadata.insert("timestamp".into(), json!(timestamp));
    metadata.insert(
        "tools".into(),
        json!({ "components": [Value::Object(tool)] }),
    );
    if let Some(s) = subject {
        metadata.insert("component".into(), ctx.component(s));
    }

    let components: Vec<Value> = nodes
        .iter()
        .filter(|n| subject.is_none_or(|s| s.digest != n.digest))
        .map(|n| ctx.component(n))
        .collect();

    // A node with no parents is declared dependency-free only when the graph
    // holds its whole ancestry (walked upwards); otherwise it is left out,
    // which CycloneDX reads as "unknown".
    let complete_upwards = graph.direction == crate::model::Direction::Up;
    let dependencies: Vec<Value> = nodes
        .iter()
        .filter_map(|n| {
            let on: BTreeSet<&str> = parents
                .get(n.digest.as_str())
                .into_iter()
                .flatten()
                .map(|(_, p)| *p)
                .filter(|p| known.contains(p))
                .collect();
            if on.is_empty() {
                complete_upwards.then(|| json!({ "ref": n.digest, "dependsOn": [] }))
            } else {
                Some(json!({ "ref": n.digest, "dependsOn": on }))
            }
        })
        .collect();

    json!({
        "$schema": SCHEMA_URL,
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial,
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": dependencies,
    })
}

struct Ctx<'a> {
    nodes: &'a [&'a Artifact],
    parents: &'a BTreeMap<&'a str, Vec<(Relation, &'a str)>>,
}

fn component_type(kind: ArtifactKind) -> &'static str {
    match kind {
        ArtifactKind::Model => "machine-learning-model",
        ArtifactKind::Dataset => "data",
        ArtifactKind::Code | ArtifactKind::Other => "file",
    }
}

/// `[{alg: SHA-256, content}]` for a well-formed sha256 digest.
fn hashes(digest: &str) -> Option<Value> {
    sha256_hex(digest).map(|hex| json!([{ "alg": "SHA-256", "content": hex }]))
}

/// The media type, if it has the shape CycloneDX's `mime-type` pattern wants.
fn mime_type(a: &Artifact) -> Option<&str> {
    let m = a.media_type.as_deref()?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-+.".contains(&b))
    };
    let (t, sub) = m.split_once('/')?;
    (ok(t) && ok(sub)).then_some(m)
}

impl Ctx<'_> {
    fn component(&self, a: &Artifact) -> Value {
        let mut c = Map::new();
        c.insert("type".into(), json!(component_type(a.kind)));
        c.insert("bom-ref".into(), json!(a.digest));
        c.insert("name".into(), json!(a.name));
        c.insert("version".into(), json!(format!("v{}", a.version)));
        if let Some(m) = mime_type(a) {
            c.insert("mime-type".into(), json!(m));
        }
        if let Some(d) = common::description(a) {
            c.insert("description".into(), json!(d));
        }
        if let Some(h) = hashes(&a.digest) {
            c.insert("hashes".into(), h);
        }
        if let Some(l) = common::license(a) {
            let choice = if common::is_license_expression(&l) {
                json!([{ "expression": l }])
            } else {
                json!([{ "license": { "name": l } }])
            };
            c.insert("licenses".into(), choice);
        }
        if let Some(url) = common::source_uri(a) {
            c.insert(
                "externalReferences".into(),
                json!([{ "type": "distribution", "url": url }]),
            );
        }
        match a.kind {
            ArtifactKind::Model => {
                if let Some(card) = self.model_card(a) {
                    c.insert("modelCard".into(), card);
                }
                let ancestors = self.ancestors(a);
                if !ancestors.is_empty() {
                    c.insert("pedigree".into(), json!({ "ancestors": ancestors }));
                }
            }
            ArtifactKind::Dataset => {
                let mut data = Map::new();
                data.insert("type".into(), json!("dataset"));
                data.insert("name".into(), json!(a.name));
                if let Some(d) = common::description(a) {
                    data.insert("description".into(), json!(d));
                }
                if let Some(url) = common::source_uri(a) {
                    data.insert("contents".into(), json!({ "url": url }));
                }
                c.insert("data".into(), json!([data]));
            }
            ArtifactKind::Code | ArtifactKind::Other => {}
        }
        c.insert("properties".into(), json!(properties(a)));
        Value::Object(c)
    }

    fn parents_of(&self, a: &Artifact, relations: &[Relation]) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .parents
            .get(a.digest.as_str())
            .into_iter()
            .flatten()
            .filter(|(r, _)| relations.contains(r))
            .map(|(_, p)| *p)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn model_card(&self, a: &Artifact) -> Option<Value> {
        let card = ModelCard::from_metadata(&a.metadata);
        let mut params = Map::new();
        if let Some(approach) = card.approach {
            params.insert("approach".into(), json!({ "type": approach }));
        }
        if let Some(t) = &card.task {
            params.insert("task".into(), json!(t));
        }
        if let Some(f) = &card.architecture_family {
            params.insert("architectureFamily".into(), json!(f));
        }
        if let Some(m) = &card.model_architecture {
            params.insert("modelArchitecture".into(), json!(m));
        }
        // The data the model was trained and evaluated on: a reference to the
        // data component when it is in the BOM, inline otherwise.
        let datasets: Vec<Value> = self
            .parents_of(a, &[Relation::TrainedOn, Relation::TestedOn])
            .into_iter()
            .map(|p| match find(self.nodes, p) {
                Some(_) => json!({ "ref": p }),
                None => json!({ "type": "dataset", "name": p }),
            })
            .collect();
        if !datasets.is_empty() {
            params.insert("datasets".into(), json!(datasets));
        }

        let mut out = Map::new();
        if !params.is_empty() {
            out.insert("modelParameters".into(), Value::Object(params));
        }
        if !card.metrics.is_empty() {
            let metrics: Vec<Value> = card
                .metrics
                .iter()
                .map(|(k, v)| json!({ "type": k, "value": v }))
                .collect();
            out.insert(
                "quantitativeAnalysis".into(),
                json!({ "performanceMetrics": metrics }),
            );
        }
        let mut considerations = Map::new();
        for (key, list) in [
            ("users", &card.users),
            ("useCases", &card.use_cases),
            ("technicalLimitations", &card.limitations),
        ] {
            if !list.is_empty() {
                considerations.insert(key.into(), json!(list));
            }
        }
        if !considerations.is_empty() {
            out.insert("considerations".into(), Value::Object(considerations));
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }

    /// The base models a model was fine-tuned from, as nested components.
    fn ancestors(&self, a: &Artifact) -> Vec<Value> {
        self.parents_of(a, &[Relation::FineTunedFrom])
            .into_iter()
            .map(|p| {
                let mut c = Map::new();
                if let Some(base) = find(self.nodes, p) {
                    c.insert("type".into(), json!(component_type(base.kind)));
                    c.insert("name".into(), json!(base.name));
                    c.insert("version".into(), json!(format!("v{}", base.version)));
                } else {
                    c.insert("type".into(), json!("machine-learning-model"));
                    c.insert("name".into(), json!(p));
                }
                if let Some(h) = hashes(p) {
                    c.insert("hashes".into(), h);
                }
                Value::Object(c)
            })
            .collect()
    }
}

/// `mlsecops:*` name/value pairs, sorted by name.
fn properties(a: &Artifact) -> Vec<Value> {
    let mut props: Vec<(&str, String)> = vec![
        ("mlsecops:kind", a.kind.as_str().to_owned()),
        ("mlsecops:created-at", rfc3339_from_millis(a.created_at)),
        ("mlsecops:created-by", a.created_by.clone()),
        ("mlsecops:size", a.size.to_string()),
        ("mlsecops:files", a.files.to_string()),
    ];
    if let Some(r) = &a.revoked {
        props.push(("mlsecops:revoked", r.reason.clone()));
        props.push(("mlsecops:revoked-at", rfc3339_from_millis(r.created_at)));
        props.push(("mlsecops:revoked-by", r.created_by.clone()));
        props.push(("mlsecops:revoked-cause", r.cause.clone()));
    }
    props.sort();
    props
        .into_iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_support::{artifact, edge, graph};
    use crate::model::Revocation;

    fn opts() -> ExportOptions {
        ExportOptions {
            tool_version: "0.1.0".into(),
            timestamp: "2024-05-01T10:00:00.5+02:00".into(),
            namespace: "test".into(),
        }
    }

    fn sample() -> Graph {
        let mut base = artifact(ArtifactKind::Model, "base", 1, 'b');
        base.metadata = json!({"model_card": {"task": "classification", "metrics": {"auc": 0.91}}});
        let mut tuned = artifact(ArtifactKind::Model, "tuned", 1, 'c');
        tuned.revoked = Some(Revocation {
            digest: tuned.digest.clone(),
            reason: "poisoned \"data\"".into(),
            cause: artifact(ArtifactKind::Dataset, "d", 1, 'a').digest,
            created_at: 1_714_557_600_000,
            created_by: "alice".into(),
        });
        let data = artifact(ArtifactKind::Dataset, "d", 1, 'a');
        graph(
            &tuned.digest.clone(),
            vec![tuned.clone(), base.clone(), data.clone()],
            vec![
                edge(&data, &base, Relation::TrainedOn),
                edge(&base, &tuned, Relation::FineTunedFrom),
                edge(&data, &tuned, Relation::TestedOn),
            ],
        )
    }

    #[test]
    fn bom_shape() {
        let g = sample();
        let bom = cyclonedx(&g, &g.root, &opts());
        assert_eq!(bom["specVersion"], "1.6");
        assert_eq!(bom["metadata"]["timestamp"], "2024-05-01T08:00:00Z");
        assert!(
            bom["serialNumber"]
                .as_str()
                .unwrap()
                .starts_with("urn:uuid:")
        );
        assert_eq!(bom["metadata"]["component"]["bom-ref"], g.root);
        assert_eq!(
            bom["metadata"]["component"]["type"],
            "machine-learning-model"
        );
        let comps = bom["components"].as_array().unwrap();
        assert_eq!(comps.len(), 2);
        assert_eq!(comps[0]["type"], "data");
        assert_eq!(comps[0]["data"][0]["type"], "dataset");
        assert_eq!(comps[1]["name"], "base");
        assert_eq!(comps[1]["version"], "v1");
        assert_eq!(comps[1]["hashes"][0]["content"], "b".repeat(64));
        assert_eq!(
            comps[1]["modelCard"]["quantitativeAnalysis"]["performanceMetrics"][0],
            json!({"type": "auc", "value": "0.91"})
        );
    }

    #[test]
    fn relations_map_to_dependencies_card_and_pedigree() {
        let g = sample();
        let bom = cyclonedx(&g, &g.root, &opts());
        let data = "sha256:".to_owned() + &"a".repeat(64);
        let base = "sha256:".to_owned() + &"b".repeat(64);
        let subject = &bom["metadata"]["component"];
        // tested_on is in the card, fine_tuned_from is pedigree, not a dataset.
        assert_eq!(
            subject["modelCard"]["modelParameters"]["datasets"],
            json!([{ "ref": data }])
        );
        let anc = &subject["pedigree"]["ancestors"][0];
        assert_eq!(anc["name"], "base");
        assert!(anc.get("bom-ref").is_none());
        let deps = bom["dependencies"].as_array().unwrap();
        let of = |r: &str| {
            deps.iter()
                .find(|d| d["ref"] == r)
                .map(|d| d["dependsOn"].clone())
        };
        assert_eq!(of(&g.root), Some(json!([data, base])));
        assert_eq!(of(&base), Some(json!([data])));
        // Downward graph: the dataset's own parents are unknown, not "none".
        assert_eq!(of(&data), None);
    }

    #[test]
    fn revocation_is_a_property() {
        let g = sample();
        let bom = cyclonedx(&g, &g.root, &opts());
        let props = bom["metadata"]["component"]["properties"]
            .as_array()
            .unwrap();
        assert!(props.contains(&json!({"name": "mlsecops:revoked", "value": "poisoned \"data\""})));
        let names: Vec<&str> = props.iter().map(|p| p["name"].as_str().unwrap()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }

    #[test]
    fn deterministic_regardless_of_input_order() {
        let g = sample();
        let mut shuffled = g.clone();
        shuffled.nodes.reverse();
        shuffled.edges.reverse();
        let a = cyclonedx(&g, &g.root, &opts());
        assert_eq!(a, cyclonedx(&shuffled, &g.root, &opts()));
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&cyclonedx(&g, &g.root, &opts())).unwrap()
        );
        let mut later = opts();
        later.timestamp = "2025-01-01T00:00:00Z".into();
        assert_ne!(
            a["serialNumber"],
            cyclonedx(&g, &g.root, &later)["serialNumber"]
        );
    }

    #[test]
    fn hostile_input_does_not_break_the_bom() {
        let mut g = sample();
        g.nodes[0].digest = "not a digest".into();
        g.nodes[0].media_type = Some("Text/Plain; charset=x".into());
        g.nodes.push(g.nodes[1].clone()); // duplicate digest
        let bom = cyclonedx(&g, "missing", &opts());
        // Root is gone (digest rewritten): falls back to no subject.
        assert!(bom["metadata"].get("component").is_none());
        let comps = bom["components"].as_array().unwrap();
        assert_eq!(comps.len(), 3);
        let broken = comps
            .iter()
            .find(|c| c["bom-ref"] == "not a digest")
            .unwrap();
        assert!(broken.get("hashes").is_none());
        assert!(broken.get("mime-type").is_none());
        let empty = Graph {
            root: String::new(),
            direction: crate::model::Direction::Up,
            nodes: vec![],
            edges: vec![],
            runs: vec![],
        };
        let bom = cyclonedx(&empty, "", &ExportOptions::default());
        assert_eq!(bom["components"], json!([]));
        assert_eq!(bom["metadata"]["timestamp"], "1970-01-01T00:00:00Z");
    }
}
