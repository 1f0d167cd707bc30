//! The registry's nouns. Everything is addressed by a `sha256:` digest;
//! names, versions and tags only point at digests.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What an artifact is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    Dataset,
    Model,
    Code,
    Other,
}

impl ArtifactKind {
    pub const ALL: [Self; 4] = [Self::Dataset, Self::Model, Self::Code, Self::Other];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dataset => "dataset",
            Self::Model => "model",
            Self::Code => "code",
            Self::Other => "other",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a child artifact relates to one of its parents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// A dataset made from another dataset (cleaning, filtering, splitting).
    DerivedFrom,
    /// A model trained on a dataset.
    TrainedOn,
    /// A model evaluated on a dataset.
    TestedOn,
    /// A model fine-tuned from a base model.
    FineTunedFrom,
    /// Anything else a run consumed (code, configuration).
    Uses,
}

impl Relation {
    pub const ALL: [Self; 5] = [
        Self::DerivedFrom,
        Self::TrainedOn,
        Self::TestedOn,
        Self::FineTunedFrom,
        Self::Uses,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DerivedFrom => "derived_from",
            Self::TrainedOn => "trained_on",
            Self::TestedOn => "tested_on",
            Self::FineTunedFrom => "fine_tuned_from",
            Self::Uses => "uses",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The relation implied by the kinds at both ends when the user gave none.
    #[must_use]
    pub fn infer(parent: ArtifactKind, child: ArtifactKind) -> Self {
        match (parent, child) {
            (ArtifactKind::Dataset, ArtifactKind::Model) => Self::TrainedOn,
            (ArtifactKind::Model, ArtifactKind::Model) => Self::FineTunedFrom,
            (ArtifactKind::Dataset | ArtifactKind::Model, ArtifactKind::Dataset) => {
                Self::DerivedFrom
            }
            _ => Self::Uses,
        }
    }
}

impl std::fmt::Display for Relation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One file of a registered artifact (a directory artifact has many).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the artifact root, `/`-separated.
    pub path: String,
    pub digest: String,
    pub size: u64,
}

/// A registered dataset, model or other artifact version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    pub digest: String,
    pub kind: ArtifactKind,
    pub name: String,
    /// 1, 2, … per name, in registration order.
    pub version: i64,
    pub size: u64,
    pub files: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Where it was registered from (a path or URI), informational only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Free-form facts: model card fields, DVC md5, OpenLineage facets.
    pub metadata: Value,
    /// Unix milliseconds.
    pub created_at: i64,
    pub created_by: String,
    /// Set when the artifact or something upstream of it was revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revocation>,
}

/// What to register.
#[derive(Clone, Debug, PartialEq)]
pub struct NewArtifact {
    pub digest: String,
    pub kind: ArtifactKind,
    pub name: String,
    pub size: u64,
    pub files: u64,
    pub media_type: Option<String>,
    pub source: Option<String>,
    pub metadata: Value,
}

/// A run: inputs went in, outputs came out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// `sha256:` of the run's canonical event.
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the run was reported from: `cli`, `openlineage`, `dvc`.
    pub source: String,
    /// The producer's own id (an OpenLineage runId, a DVC stage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_commit: Option<String>,
    pub parameters: Value,
    pub environment: Value,
    pub created_at: i64,
    pub created_by: String,
}

/// What a run consumed and produced.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRun {
    pub name: Option<String>,
    pub source: String,
    pub external_id: Option<String>,
    pub code_commit: Option<String>,
    pub parameters: Value,
    pub environment: Value,
    /// Input digests; `None` lets the store infer the relation from kinds.
    pub inputs: Vec<(String, Option<Relation>)>,
    pub outputs: Vec<String>,
}

/// A lineage edge: `child` was made from `parent`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct Edge {
    pub parent: String,
    pub child: String,
    pub relation: Relation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// A human name pointing at a digest (`credit-risk@champion`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub name: String,
    pub tag: String,
    pub digest: String,
    pub updated_at: i64,
    pub updated_by: String,
}

/// A report or finding attached to an artifact (scan report, data check).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: String,
    pub subject: String,
    /// `scan-report`, `data-check`, `evaluation`, …
    pub kind: String,
    /// Digest of the full document in the blob store, if stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
    pub summary: Value,
    pub created_at: i64,
    pub created_by: String,
}

/// An approval or rejection of an artifact for a stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub id: String,
    pub subject: String,
    pub stage: String,
    /// `approved` or `rejected`.
    pub decision: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub created_at: i64,
    pub created_by: String,
}

/// A deployment of a model to an environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: String,
    pub subject: String,
    pub environment: String,
    pub created_at: i64,
    pub created_by: String,
}

/// Why an artifact may no longer be used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub digest: String,
    pub reason: String,
    /// The digest whose revocation caused this one (itself for the root).
    pub cause: String,
    pub created_at: i64,
    pub created_by: String,
}

/// The outcome of a revocation: every artifact at or downstream of the root.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlastRadius {
    pub root: String,
    /// Artifacts revoked by this call (root first, then by name).
    pub revoked: Vec<Artifact>,
    /// Downstream artifacts that were already revoked before.
    pub already_revoked: Vec<Artifact>,
    /// Deployments of any artifact in the radius.
    pub deployments: Vec<Deployment>,
}

/// A state change, recorded in the store and mirrored into the ledger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: i64,
    /// `sha256:` of `body`.
    pub id: String,
    pub kind: String,
    /// The exact bytes appended to the ledger (canonical JSON).
    pub body: String,
    pub ledger_index: Option<i64>,
}

/// Which way to walk lineage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Everything the artifact was made from.
    Up,
    /// Everything made from the artifact.
    Down,
    /// Both.
    Both,
}

/// A lineage subgraph around one artifact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    pub root: String,
    pub direction: Direction,
    /// Root first, then the rest ordered by (kind, name, version).
    pub nodes: Vec<Artifact>,
    pub edges: Vec<Edge>,
    pub runs: Vec<Run>,
}

impl Graph {
    /// The node with this digest.
    #[must_use]
    pub fn node(&self, digest: &str) -> Option<&Artifact> {
        self.nodes.iter().find(|n| n.digest == digest)
    }
}

/// Filter for `list_artifacts`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub kind: Option<ArtifactKind>,
    pub name: Option<String>,
    pub limit: Option<u32>,
}
