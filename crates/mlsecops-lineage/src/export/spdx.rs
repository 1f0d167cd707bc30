//! SPDX 3.0.1 JSON-LD with the AI and Dataset profiles: models as
//! `ai_AIPackage`, datasets as `dataset_DatasetPackage`, code and other
//! artifacts as `software_Package`, lineage as `Relationship`s.
//!
//! Relationships point from the child to its parents, as SPDX defines them:
//! `trainedOn` and `testedOn` (model → dataset), `descendantOf` for a dataset
//! derived from another and for a model fine-tuned from a base model, and a
//! build-scoped `dependsOn` (`LifecycleScopedRelationship`) for anything else
//! a run used. Edges to artifacts outside the graph are left out, since SPDX
//! would need an `import` to reference them.
//!
//! What the schema cannot check but the profiles require is written too:
//! every AI and dataset package has `suppliedBy`, `originatedBy`,
//! `releaseTime`, `builtTime`, `software_downloadLocation`,
//! `software_packageVersion`, `software_primaryPurpose`, and exactly one
//! `hasConcludedLicense` and one `hasDeclaredLicense` relationship (to
//! `NoAssertionLicense` unless `metadata.license` holds a license
//! expression, which becomes the declared license).
//! Revocations are `Annotation`s plus the package's `validUntilTime`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::model::{Artifact, ArtifactKind, Graph, Relation};

use super::common::{
    self, ModelCard, find, handle, hex16, pct_encode, rfc3339_from_millis, sha256_hex,
    sorted_edges, sorted_nodes,
};
use super::{ExportOptions, uuid_from};

/// The JSON-LD context every SPDX 3.0.1 document names.
pub const CONTEXT: &str = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld";
/// The JSON Schema this output conforms to.
pub const SCHEMA_URL: &str = "https://spdx.org/schema/3.0.1/spdx-json-schema.json";

const CREATION_INFO: &str = "_:creationinfo";
/// The `NoAssertionLicense` individual, compacted by the 3.0.1 context.
const NO_ASSERTION_LICENSE: &str = "expandedlicensing_NoAssertionLicense";

/// How a directory artifact's digest is computed (see `mlsecops-registry`).
const DIRECTORY_HASH: &str =
    "SHA-256 of the directory's manifest: one `sha256sum` line per file, sorted by path";

/// Dataset types SPDX 3.0.1 defines (`dataset_DatasetType`).
const DATASET_TYPES: [&str; 14] = [
    "audio",
    "categorical",
    "graph",
    "image",
    "noAssertion",
    "numeric",
    "other",
    "sensor",
    "structured",
    "syntactic",
    "text",
    "timeseries",
    "timestamp",
    "video",
];

/// An SPDX 3.0.1 document whose root element is `subject` (a digest; the
/// graph's root when `subject` is not in the graph).
#[must_use]
pub fn spdx(graph: &Graph, subject: &str, opts: &ExportOptions) -> Value {
    let nodes = sorted_nodes(graph);
    let edges = sorted_edges(graph);
    let subject = find(&nodes, subject).or_else(|| find(&nodes, &graph.root));
    let created = common::document_time(opts, graph);
    let ids = Ids::new(&opts.namespace);

    let tool_version = opts.tool_version.trim();
    let tool_id = if tool_version.is_empty() {
        ids.id(&["tool", "mlsecops"])
    } else {
        ids.id(&["tool", "mlsecops", tool_version])
    };
    let tool_name = if tool_version.is_empty() {
        "mlsecops".to_owned()
    } else {
        format!("mlsecops {tool_version}")
    };
    let self_agent = ids.id(&["agent", "mlsecops"]);

    let mut elements: Vec<Value> = vec![
        json!({
            "type": "SoftwareAgent",
            "spdxId": self_agent,
            "creationInfo": CREATION_INFO,
            "name": "mlsecops",
        }),
        json!({
            "type": "Tool",
            "spdxId": tool_id,
            "creationInfo": CREATION_INFO,
            "name": tool_name,
        }),
    ];

    // Who registered each artifact supplies it.
    let creators: BTreeSet<&str> = nodes.iter().map(|n| n.created_by.as_str()).collect();
    for c in &creators {
        let mut agent = Map::new();
        agent.insert("type".into(), json!("Agent"));
        agent.insert("spdxId".into(), json!(ids.agent(c)));
        agent.insert("creationInfo".into(), json!(CREATION_INFO));
        if !c.trim().is_empty() {
            agent.insert("name".into(), json!(c));
        }
        elements.push(Value::Object(agent));
    }

    let mut licenses: BTreeSet<String> = BTreeSet::new();
    let mut relationships: Vec<Value> = Vec::new();
    let mut annotations: Vec<Value> = Vec::new();
    let mut profiles: BTreeSet<&str> = ["core", "software"].into();
    for n in &nodes {
        match n.kind {
            ArtifactKind::Model => {
                profiles.insert("ai");
            }
            ArtifactKind::Dataset => {
                profiles.insert("dataset");
            }
            ArtifactKind::Code | ArtifactKind::Other => {}
        }
        elements.push(package(&ids, n));
        let pkg = ids.artifact(&n.digest);
        let declared = match common::license(n).filter(|l| common::is_license_expression(l)) {
            Some(expr) => {
                let id = ids.id(&["license", &hex16(&expr)]);
                licenses.insert(expr);
                profiles.insert("simpleLicensing");
                id
            }
            None => NO_ASSERTION_LICENSE.to_owned(),
        };
        profiles.insert("expandedLicensing");
        relationships.push(relationship(
            &ids,
            &pkg,
            "hasConcludedLicense",
            &[NO_ASSERTION_LICENSE.to_owned()],
            None,
        ));
        relationships.push(relationship(
            &ids,
            &pkg,
            "hasDeclaredLicense",
            &[declared],
            None,
        ));
        if let Some(r) = &n.revoked {
            annotations.push(json!({
                "type": "Annotation",
                "spdxId": ids.id(&["annotation", "revoked", &n.digest]),
                "creationInfo": CREATION_INFO,
                "annotationType": "other",
                "subject": pkg,
                "statement": format!(
                    "mlsecops: revoked at {} by {}: {} (cause: {})",
                    rfc3339_from_millis(r.created_at),
                    r.created_by,
                    r.reason,
                    r.cause
                ),
            }));
        }
    }
    for expr in &licenses {
        elements.push(json!({
            "type": "simplelicensing_LicenseExpression",
            "spdxId": ids.id(&["license", &hex16(expr)]),
            "creationInfo": CREATION_INFO,
            "simplelicensing_licenseExpression": expr,
        }));
    }

    // Lineage: one relationship per (child, type), `to` sorted.
    let known: BTreeSet<&str> = nodes.iter().map(|n| n.digest.as_str()).collect();
    let mut grouped: BTreeMap<(&str, &str, Option<&str>), BTreeSet<String>> = BTreeMap::new();
    for e in &edges {
        if !known.contains(e.parent.as_str()) || !known.contains(e.child.as_str()) {
            continue;
        }
        let (ty, scope) = relationship_type(e.relation);
        grouped
            .entry((e.child.as_str(), ty, scope))
            .or_default()
            .insert(ids.artifact(&e.parent));
    }
    for ((child, ty, scope), to) in grouped {
        let to: Vec<String> = to.into_iter().collect();
        relationships.push(relationship(&ids, &ids.artifact(child), ty, &to, scope));
    }

    elements.extend(relationships);
    elements.extend(annotations);

    let mut element_ids: Vec<&str> = elements
        .iter()
        .filter_map(|e| e.get("spdxId").and_then(Value::as_str))
        .collect();
    element_ids.sort_unstable();
    element_ids.dedup();

    let doc_uuid =
        uuid_from(format!("{}\n{created}", subject.map_or("", |s| &s.digest)).as_bytes());
    let mut doc = Map::new();
    doc.insert("type".into(), json!("SpdxDocument"));
    doc.insert("spdxId".into(), json!(ids.id(&["document", &doc_uuid])));
    doc.insert("creationInfo".into(), json!(CREATION_INFO));
    doc.insert(
        "name".into(),
        json!(match subject {
            Some(s) => format!("mlsecops lineage of {}", handle(s)),
            None => "mlsecops lineage".to_owned(),
        }),
    );
    doc.insert("profileConformance".into(), json!(profiles));
    if let Some(s) = subject {
        doc.insert("rootElement".into(), json!([ids.artifact(&s.digest)]));
    }
    doc.insert("element".into(), json!(element_ids));

    let mut graph_out = vec![
        json!({
            "type": "CreationInfo",
            "@id": CREATION_INFO,
            "specVersion": "3.0.1",
            "created": created,
            "createdBy": [self_agent],
            "createdUsing": [tool_id],
        }),
        Value::Object(doc),
    ];
    graph_out.extend(elements);
    json!({ "@context": CONTEXT, "@graph": graph_out })
}

/// The SPDX relationship type (from = child, to = parent) and, for
/// `dependsOn`, its lifecycle scope.
#[must_use]
pub fn relationship_type(r: Relation) -> (&'static str, Option<&'static str>) {
    match r {
        Relation::TrainedOn => ("trainedOn", None),
        Relation::TestedOn => ("testedOn", None),
        Relation::DerivedFrom | Relation::FineTunedFrom => ("descendantOf", None),
        Relation::Uses => ("dependsOn", Some("build")),
    }
}

/// Builds `spdxId`s under the export namespace.
struct Ids {
    base: String,
    sep: char,
}

impl Ids {
    /// `http(s)://…` and other `scheme://` namespaces are used as they are
    /// (with `/` between parts), `urn:` ones too (with `:`); anything else
    /// becomes `urn:mlsecops:<percent-encoded namespace>`.
    fn new(namespace: &str) -> Self {
        let ns = namespace.trim();
        let ns = ns.split(['?', '#']).next().unwrap_or_default();
        if common::is_absolute_uri(ns) && ns.contains("://") {
            Self {
                base: ns.trim_end_matches('/').to_owned(),
                sep: '/',
            }
        } else if common::is_absolute_uri(ns) {
            Self {
                base: ns.trim_end_matches(':').to_owned(),
                sep: ':',
            }
        } else if ns.is_empty() {
            Self {
                base: "urn:mlsecops".to_owned(),
                sep: ':',
            }
        } else {
            Self {
                base: format!("urn:mlsecops:{}", pct_encode(ns)),
                sep: ':',
            }
        }
    }

    fn id(&self, parts: &[&str]) -> String {
        let mut out = format!("{}{}spdx", self.base, self.sep);
        for p in parts {
            out.push(self.sep);
            out.push_str(&pct_encode(p));
        }
        out
    }

    fn artifact(&self, digest: &str) -> String {
        self.id(&["artifact", digest])
    }

    fn agent(&self, who: &str) -> String {
        self.id(&["agent", "user", &hex16(who)])
    }
}

fn relationship(ids: &Ids, from: &str, ty: &str, to: &[String], scope: Option<&str>) -> Value {
    let key = format!("{from}\n{ty}\n{}", to.join("\n"));
    let mut r = Map::new();
    r.insert(
        "type".into(),
        json!(if scope.is_some() {
            "LifecycleScopedRelationship"
        } else {
            "Relationship"
        }),
    );
    r.insert(
        "spdxId".into(),
        json!(ids.id(&["relationship", &hex16(&key)])),
    );
    r.insert("creationInfo".into(), json!(CREATION_INFO));
    r.insert("from".into(), json!(from));
    r.insert("relationshipType".into(), json!(ty));
    r.insert("to".into(), json!(to));
    if let Some(s) = scope {
        r.insert("scope".into(), json!(s));
    }
    Value::Object(r)
}

fn dictionary(pairs: &[(String, String)]) -> Value {
    pairs
        .iter()
        .map(|(k, v)| json!({ "type": "DictionaryEntry", "key": k, "value": v }))
        .collect()
}

fn package(ids: &Ids, a: &Artifact) -> Value {
    let (ty, purpose) = match a.kind {
        ArtifactKind::Model => ("ai_AIPackage", "model"),
        ArtifactKind::Dataset => ("dataset_DatasetPackage", "data"),
        ArtifactKind::Code => ("software_Package", "source"),
        ArtifactKind::Other => ("software_Package", "other"),
    };
    let agent = ids.agent(&a.created_by);
    let when = rfc3339_from_millis(a.created_at);
    let mut p = Map::new();
    p.insert("type".into(), json!(ty));
    p.insert("spdxId".into(), json!(ids.artifact(&a.digest)));
    p.insert("creationInfo".into(), json!(CREATION_INFO));
    p.insert("name".into(), json!(a.name));
    if let Some(d) = common::description(a) {
        p.insert("description".into(), json!(d));
    }
    if let Some(hex) = sha256_hex(&a.digest) {
        let mut hash = Map::new();
        hash.insert("type".into(), json!("Hash"));
        hash.insert("algorithm".into(), json!("sha256"));
        hash.insert("hashValue".into(), json!(hex));
        if a.files > 1 {
            hash.insert("comment".into(), json!(DIRECTORY_HASH));
        }
        p.insert("verifiedUsing".into(), json!([hash]));
    }
    p.insert("suppliedBy".into(), json!(agent));
    p.insert("originatedBy".into(), json!([agent]));
    p.insert("builtTime".into(), json!(when));
    p.insert("releaseTime".into(), json!(when));
    if let Some(r) = &a.revoked {
        p.insert(
            "validUntilTime".into(),
            json!(rfc3339_from_millis(r.created_at)),
        );
    }
    p.insert(
        "software_packageVersion".into(),
        json!(format!("v{}", a.version)),
    );
    let location = common::source_uri(a).map_or_else(
        || format!("urn:mlsecops:artifact:{}", pct_encode(&a.digest)),
        str::to_owned,
    );
    p.insert("software_downloadLocation".into(), json!(location));
    p.insert("software_primaryPurpose".into(), json!(purpose));

    match a.kind {
        ArtifactKind::Model => {
            let card = ModelCard::from_metadata(&a.metadata);
            let mut types: Vec<&String> = card
                .architecture_family
                .iter()
                .chain(card.model_architecture.iter())
                .collect();
            types.dedup();
            if !types.is_empty() {
                p.insert("ai_typeOfModel".into(), json!(types));
            }
            if !card.domains.is_empty() {
                p.insert("ai_domain".into(), json!(card.domains));
            }
            let application: Vec<String> = card
                .task
                .iter()
                .map(|t| format!("task: {t}"))
                .chain(card.use_cases.iter().map(|u| format!("use case: {u}")))
                .chain(card.users.iter().map(|u| format!("intended user: {u}")))
                .collect();
            if !application.is_empty() {
                p.insert(
                    "ai_informationAboutApplication".into(),
                    json!(application.join("\n")),
                );
            }
            if !card.limitations.is_empty() {
                p.insert("ai_limitation".into(), json!(card.limitations.join("\n")));
            }
            if !card.metrics.is_empty() {
                p.insert("ai_metric".into(), dictionary(&card.metrics));
            }
            if !card.hyperparameters.is_empty() {
                p.insert(
                    "ai_hyperparameter".into(),
                    dictionary(&card.hyperparameters),
                );
            }
        }
        ArtifactKind::Dataset => {
            let declared = a.metadata.get("dataset_type").and_then(Value::as_str);
            let dtype = DATASET_TYPES
                .into_iter()
                .find(|t| Some(*t) == declared)
                .unwrap_or("noAssertion");
            p.insert("dataset_datasetType".into(), json!([dtype]));
            p.insert("dataset_datasetSize".into(), json!(a.size));
        }
        ArtifactKind::Code | ArtifactKind::Other => {}
    }
    Value::Object(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_support::{artifact, edge, graph};
    use crate::model::Revocation;

    fn opts(namespace: &str) -> ExportOptions {
        ExportOptions {
            tool_version: "0.1.0".into(),
            timestamp: "2024-05-01T10:00:00Z".into(),
            namespace: namespace.into(),
        }
    }

    fn sample() -> Graph {
        let raw = artifact(ArtifactKind::Dataset, "raw", 1, 'a');
        let mut clean = artifact(ArtifactKind::Dataset, "clean", 1, 'b');
        clean.metadata = json!({"dataset_type": "structured", "license": "CC-BY-4.0"});
        let mut model = artifact(ArtifactKind::Model, "m", 1, 'c');
        model.revoked = Some(Revocation {
            digest: model.digest.clone(),
            reason: "bad".into(),
            cause: model.digest.clone(),
            created_at: 1_714_600_000_000,
            created_by: "bob".into(),
        });
        let tuned = artifact(ArtifactKind::Model, "t", 1, 'd');
        let code = artifact(ArtifactKind::Code, "train.py", 1, 'e');
        graph(
            &model.digest.clone(),
            vec![
                raw.clone(),
                clean.clone(),
                model.clone(),
                tuned.clone(),
                code.clone(),
            ],
            vec![
                edge(&raw, &clean, Relation::DerivedFrom),
                edge(&clean, &model, Relation::TrainedOn),
                edge(&raw, &model, Relation::TestedOn),
                edge(&model, &tuned, Relation::FineTunedFrom),
                edge(&code, &model, Relation::Uses),
            ],
        )
    }

    fn by_type<'a>(doc: &'a Value, ty: &str) -> Vec<&'a Value> {
        doc["@graph"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == ty)
            .collect()
    }

    fn art(ns: &str, c: char) -> String {
        format!("{ns}/spdx/artifact/sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn relations_map_child_to_parent() {
        let g = sample();
        let ns = "https://registry.example";
        let doc = spdx(&g, &g.root, &opts(ns));
        let rels: Vec<(String, String, Vec<String>)> = by_type(&doc, "Relationship")
            .into_iter()
            .chain(by_type(&doc, "LifecycleScopedRelationship"))
            .filter(|r| !r["relationshipType"].as_str().unwrap().contains("License"))
            .map(|r| {
                (
                    r["from"].as_str().unwrap().to_owned(),
                    r["relationshipType"].as_str().unwrap().to_owned(),
                    serde_json::from_value(r["to"].clone()).unwrap(),
                )
            })
            .collect();
        let want = [
            (art(ns, 'b'), "descendantOf", vec![art(ns, 'a')]),
            (art(ns, 'c'), "testedOn", vec![art(ns, 'a')]),
            (art(ns, 'c'), "trainedOn", vec![art(ns, 'b')]),
            (art(ns, 'c'), "dependsOn", vec![art(ns, 'e')]),
            (art(ns, 'd'), "descendantOf", vec![art(ns, 'c')]),
        ];
        for w in &want {
            let w = (w.0.clone(), w.1.to_owned(), w.2.clone());
            assert!(rels.contains(&w), "missing {w:?} in {rels:#?}");
        }
        assert_eq!(rels.len(), want.len());
        let scoped = by_type(&doc, "LifecycleScopedRelationship");
        assert_eq!(scoped.len(), 1);
        assert_eq!(scoped[0]["scope"], "build");
    }

    #[test]
    fn profile_requirements_are_met() {
        let g = sample();
        let doc = spdx(&g, &g.root, &opts("https://registry.example/"));
        for ty in ["ai_AIPackage", "dataset_DatasetPackage"] {
            for p in by_type(&doc, ty) {
                for key in [
                    "suppliedBy",
                    "releaseTime",
                    "software_downloadLocation",
                    "software_packageVersion",
                    "software_primaryPurpose",
                ] {
                    assert!(p.get(key).is_some(), "{ty} lacks {key}");
                }
                let id = &p["spdxId"];
                for lic in ["hasConcludedLicense", "hasDeclaredLicense"] {
                    let n = by_type(&doc, "Relationship")
                        .iter()
                        .filter(|r| r["from"] == *id && r["relationshipType"] == lic)
                        .count();
                    assert_eq!(n, 1, "{ty} {lic}");
                }
            }
        }
        for p in by_type(&doc, "dataset_DatasetPackage") {
            assert!(p.get("builtTime").is_some() && p.get("originatedBy").is_some());
            assert!(p.get("dataset_datasetType").is_some());
        }
        let clean = by_type(&doc, "dataset_DatasetPackage")
            .into_iter()
            .find(|p| p["name"] == "clean")
            .unwrap();
        assert_eq!(clean["dataset_datasetType"], json!(["structured"]));
        let exprs = by_type(&doc, "simplelicensing_LicenseExpression");
        assert_eq!(exprs.len(), 1);
        assert_eq!(exprs[0]["simplelicensing_licenseExpression"], "CC-BY-4.0");
        let docs = by_type(&doc, "SpdxDocument");
        assert_eq!(
            docs[0]["rootElement"],
            json!([art("https://registry.example", 'c')])
        );
        assert!(
            docs[0]["profileConformance"]
                .as_array()
                .unwrap()
                .contains(&json!("simpleLicensing"))
        );
    }

    #[test]
    fn revocation_is_an_annotation() {
        let g = sample();
        let doc = spdx(&g, &g.root, &opts("x"));
        let notes = by_type(&doc, "Annotation");
        assert_eq!(notes.len(), 1);
        assert_eq!(
            notes[0]["subject"],
            "urn:mlsecops:x:spdx:artifact:sha256:".to_owned() + &"c".repeat(64)
        );
        assert!(notes[0]["statement"].as_str().unwrap().contains("bad"));
        let model = by_type(&doc, "ai_AIPackage")
            .into_iter()
            .find(|p| p["name"] == "m")
            .unwrap();
        assert_eq!(model["validUntilTime"], "2024-05-01T21:46:40Z");
    }

    #[test]
    fn ids_are_iris_for_any_namespace() {
        for (ns, prefix) in [
            ("https://r.example/base/", "https://r.example/base/spdx/"),
            ("urn:acme:reg", "urn:acme:reg:spdx:"),
            ("", "urn:mlsecops:spdx:"),
            ("team a/b", "urn:mlsecops:team%20a%2Fb:spdx:"),
            ("https://r.example?q#f", "https://r.example/spdx/"),
        ] {
            let ids = Ids::new(ns);
            let id = ids.artifact("sha256:x y");
            assert!(id.starts_with(prefix), "{ns}: {id}");
            assert!(id.ends_with("artifact:sha256:x%20y") || id.ends_with("artifact/sha256:x%20y"));
            assert!(!id.contains(char::is_whitespace));
        }
    }

    #[test]
    fn deterministic_and_every_reference_resolves() {
        let g = sample();
        let mut shuffled = g.clone();
        shuffled.nodes.reverse();
        shuffled.edges.reverse();
        let a = spdx(&g, &g.root, &opts("ns"));
        assert_eq!(a, spdx(&shuffled, &g.root, &opts("ns")));
        let defined: BTreeSet<&str> = a["@graph"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["spdxId"].as_str())
            .collect();
        let doc = by_type(&a, "SpdxDocument")[0];
        for id in doc["element"].as_array().unwrap() {
            assert!(defined.contains(id.as_str().unwrap()));
        }
        for r in by_type(&a, "Relationship") {
            assert!(defined.contains(r["from"].as_str().unwrap()));
            for t in r["to"].as_array().unwrap() {
                let t = t.as_str().unwrap();
                assert!(defined.contains(t) || t == NO_ASSERTION_LICENSE, "{t}");
            }
        }
    }
}
