//! Small builders for the exporters' unit tests.

use serde_json::json;

use crate::model::{Artifact, ArtifactKind, Direction, Edge, Graph, Relation};

/// An artifact whose digest is `sha256:` and 64 copies of `hex`.
pub(crate) fn artifact(kind: ArtifactKind, name: &str, version: i64, hex: char) -> Artifact {
    Artifact {
        digest: format!("sha256:{}", hex.to_string().repeat(64)),
        kind,
        name: name.into(),
        version,
        size: 1024,
        files: 1,
        media_type: None,
        source: None,
        metadata: json!({}),
        created_at: 1_714_557_600_000 + version * 1000,
        created_by: "alice".into(),
        revoked: None,
    }
}

pub(crate) fn edge(parent: &Artifact, child: &Artifact, relation: Relation) -> Edge {
    Edge {
        parent: parent.digest.clone(),
        child: child.digest.clone(),
        relation,
        run: None,
    }
}

pub(crate) fn graph(root: &str, nodes: Vec<Artifact>, edges: Vec<Edge>) -> Graph {
    Graph {
        root: root.into(),
        direction: Direction::Both,
        nodes,
        edges,
        runs: vec![],
    }
}
