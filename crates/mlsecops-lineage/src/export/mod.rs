//! Exports of a lineage [`Graph`](crate::model::Graph) to the formats other
//! tools read: CycloneDX 1.6 ML-BOM, SPDX 3.0.1 JSON-LD (AI and Dataset
//! profiles), OpenLineage 2-0-2 run events and Graphviz DOT.
//!
//! Every exporter is a pure function of its inputs: the same graph and
//! options give byte-identical output (arrays are sorted, identifiers are
//! derived with SHA-256, never drawn at random), so exports can be snapshot
//! tested, diffed and signed. No exporter panics or fails: facts that do not
//! fit a target format (a malformed digest, a model-card value of the wrong
//! type, an edge to an artifact outside the graph) are left out rather than
//! written invalid.
//!
//! Facts read from `Artifact::metadata` (all optional):
//! - `description`: a string;
//! - `license`: an SPDX license expression the artifact declares (anything
//!   else is written as a CycloneDX license name and left out of SPDX);
//! - `dataset_type` (datasets): one of SPDX 3's `DatasetType` values;
//! - `model_card` (models): an object with `description`, `task`,
//!   `approach` (a CycloneDX learning type), `architecture_family`,
//!   `model_architecture`, `metrics` and `hyperparameters` (`{name: value}`
//!   or `[{name, value}]`), `limitations`, `use_cases`, `users`, `domains`
//!   (a string or a list of strings).

mod common;
pub mod cyclonedx;
pub mod dot;
pub mod openlineage;
pub mod spdx;
#[cfg(test)]
mod test_support;

pub use cyclonedx::cyclonedx;
pub use dot::dot;
pub use openlineage::openlineage;
pub use spdx::spdx;

use sha2::{Digest as _, Sha256};

/// What an export says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// The mlsecops version written as the producing tool.
    pub tool_version: String,
    /// When the document was made, RFC 3339. Written normalised to
    /// `YYYY-MM-DDTHH:MM:SSZ`; if it does not parse, the newest `created_at`
    /// in the graph is used instead, so output stays deterministic.
    pub timestamp: String,
    /// Where identifiers live: the OpenLineage job namespace, and the base
    /// of SPDX `spdxId`s (an `http(s)://` or `urn:` IRI is used as it is;
    /// anything else becomes `urn:mlsecops:<namespace>`).
    pub namespace: String,
}

/// A UUID (RFC 9562 version 8, "custom") made from the first 128 bits of
/// SHA-256 over `bytes`: the same input always gives the same UUID, and
/// different inputs collide only as often as SHA-256 prefixes do.
#[must_use]
pub fn uuid_from(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80; // version 8
    b[8] = (b[8] & 0x3f) | 0x80; // variant 10xx
    let hex = common::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_deterministic_and_well_formed() {
        let a = uuid_from(b"run-1");
        assert_eq!(a, uuid_from(b"run-1"));
        assert_ne!(a, uuid_from(b"run-2"));
        assert_eq!(a.len(), 36);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('8'), "version 8: {a}");
        assert!("89ab".contains(&parts[3][..1]), "RFC variant: {a}");
        assert!(
            a.bytes()
                .all(|c| c == b'-' || c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        );
        assert_eq!(uuid_from(b"").len(), 36);
    }

    proptest::proptest! {
        /// Whatever the graph holds, every exporter returns (no panic) and
        /// the JSON exporters give the same output twice.
        #[test]
        fn exporters_accept_any_graph(
            names in proptest::collection::vec("\\PC{0,12}", 1..6),
            digests in proptest::collection::vec("(sha256:[0-9a-f]{64})|(\\PC{0,12})", 1..6),
            links in proptest::collection::vec((0usize..6, 0usize..6, 0usize..5, proptest::option::of("\\PC{0,6}")), 0..10),
            meta in "\\PC{0,20}",
            ts in "\\PC{0,25}",
        ) {
            use crate::model::{ArtifactKind, Direction, Edge, Graph, Relation};
            let nodes: Vec<_> = names
                .iter()
                .zip(digests.iter().cycle())
                .enumerate()
                .map(|(i, (n, d))| {
                    let mut a = test_support::artifact(ArtifactKind::ALL[i % 4], n, i as i64 - 1, 'a');
                    a.digest.clone_from(d);
                    a.metadata = serde_json::json!({"model_card": {"metrics": {n.as_str(): meta.as_str()}}, "license": meta, "dataset_type": meta});
                    a.source = Some(meta.clone());
                    a.created_at = i64::MAX - i as i64;
                    a
                })
                .collect();
            let edges = links
                .iter()
                .map(|(p, c, r, run)| Edge {
                    parent: digests[p % digests.len()].clone(),
                    child: digests[c % digests.len()].clone(),
                    relation: Relation::ALL[*r],
                    run: run.clone(),
                })
                .collect();
            let g = Graph { root: digests[0].clone(), direction: Direction::Up, nodes, edges, runs: vec![] };
            let opts = ExportOptions { tool_version: meta.clone(), timestamp: ts, namespace: meta.clone() };
            let bom = cyclonedx(&g, &digests[0], &opts);
            proptest::prop_assert_eq!(&bom, &cyclonedx(&g, &digests[0], &opts));
            let doc = spdx(&g, &digests[0], &opts);
            proptest::prop_assert_eq!(&doc, &spdx(&g, &digests[0], &opts));
            for e in doc["@graph"].as_array().into_iter().flatten() {
                if let Some(id) = e.get("spdxId").and_then(serde_json::Value::as_str) {
                    proptest::prop_assert!(!id.starts_with("_:") && id.contains(':') && !id.contains(char::is_whitespace), "{}", id);
                }
            }
            let _ = openlineage(&g, &opts);
            let d = dot(&g);
            let well_formed = d.starts_with("digraph lineage {") && d.ends_with("}\n");
            proptest::prop_assert!(well_formed, "{}", d);
        }
    }
}
