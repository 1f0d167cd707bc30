//! Imports: lineage that other tools recorded, read into [`ImportedRun`]s.
//!
//! Two sources are understood:
//! - OpenLineage run events ([`openlineage::parse_run_events`]): JSON Lines,
//!   one JSON object, or a JSON array of events;
//! - DVC ([`dvc::parse_dvc_file`] for `.dvc` pointer files,
//!   [`dvc::parse_dvc_lock`] for `dvc.lock`), read with the bounded YAML subset
//!   reader in [`yaml`].
//!
//! Everything here is a pure function of the text a caller hands in: no file
//! system, no network. Hostile input yields an [`ImportError`] naming the
//! 1-based line (and the field path where there is one), never a panic.

pub mod dvc;
pub mod openlineage;
pub mod yaml;

pub use dvc::{parse_dvc_file, parse_dvc_lock};
pub use openlineage::{OpenLineageImport, SkippedRun, parse_run_events};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::ArtifactKind;

/// One run reported by another tool: what went in, what came out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportedRun {
    /// `openlineage` or `dvc`.
    pub source: String,
    /// The producer's own id: the OpenLineage `runId`, the DVC stage name.
    pub external_id: Option<String>,
    /// OpenLineage `namespace/job`; the DVC stage name or first output path.
    pub name: Option<String>,
    /// The version-control revision of the code that ran, if reported.
    pub code_commit: Option<String>,
    /// Always a JSON object.
    pub parameters: Value,
    /// Always a JSON object.
    pub environment: Value,
    /// RFC 3339 time as the producer wrote it.
    pub event_time: Option<String>,
    pub inputs: Vec<DatasetRef>,
    pub outputs: Vec<DatasetRef>,
}

/// A dataset (or model, or code file) named by an imported run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetRef {
    /// The OpenLineage namespace; `file` for a local DVC path, the repository
    /// URL for a `dvc import` dependency, `scheme://authority` for a URL.
    pub namespace: String,
    /// The OpenLineage name; for DVC the path as written (joined onto the
    /// file's `wdir` when there is one), or the path part of a URL.
    pub name: String,
    pub kind: ArtifactKind,
    /// What the producer says the content should hash to, if anything.
    pub expected: Option<Expected>,
    /// Everything else the producer said about it; always a JSON object.
    pub facets: Value,
}

/// Checksums a producer recorded for a dataset (DVC does; OpenLineage does
/// not).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    /// The DVC `md5` as written, including a `.dir` suffix for directories.
    pub md5: Option<String>,
    /// Bytes (for a directory: the sum over its files).
    pub size: Option<u64>,
    pub is_dir: bool,
    pub nfiles: Option<u64>,
}

/// Why an import failed. Every variant but [`ImportError::TooLarge`] names
/// the 1-based line it refers to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("input is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    /// Malformed JSON or YAML.
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
    /// A YAML feature this reader refuses (anchors, aliases, tags, …).
    #[error("line {line}: {what} are not supported")]
    Unsupported { line: usize, what: &'static str },
    #[error("line {line}: nesting deeper than {limit} levels")]
    TooDeep { line: usize, limit: usize },
    /// Well-formed text whose content does not fit the format.
    #[error("line {line}: {path}: {message}")]
    Field {
        line: usize,
        path: String,
        message: String,
    },
}

impl ImportError {
    /// The 1-based line the error refers to, if any.
    #[must_use]
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::TooLarge { .. } => None,
            Self::Syntax { line, .. }
            | Self::Unsupported { line, .. }
            | Self::TooDeep { line, .. }
            | Self::Field { line, .. } => Some(*line),
        }
    }
}

/// File extensions read as models (lowercase, without the dot).
pub const MODEL_EXTENSIONS: [&str; 16] = [
    "pt",
    "pth",
    "bin",
    "safetensors",
    "onnx",
    "pkl",
    "pickle",
    "joblib",
    "gguf",
    "h5",
    "keras",
    "pb",
    "ckpt",
    "mlmodel",
    "tflite",
    "pmml",
];

/// File extensions read as source code (lowercase, without the dot).
pub const CODE_EXTENSIONS: [&str; 17] = [
    "py", "ipynb", "r", "jl", "sh", "bash", "scala", "java", "kt", "go", "rs", "js", "ts", "c",
    "cc", "cpp", "sql",
];

/// The kind a dataset name suggests by its extension: [`MODEL_EXTENSIONS`]
/// are models, [`CODE_EXTENSIONS`] code, anything else a dataset. A URL's
/// query and fragment are ignored; directories never count as models.
#[must_use]
pub fn kind_from_name(name: &str) -> ArtifactKind {
    let mut base = name;
    if name.contains("://") {
        base = base.split(['?', '#']).next().unwrap_or(base);
    }
    let base = base.trim_end_matches(['/', '\\']);
    let file = base.rsplit(['/', '\\']).next().unwrap_or(base);
    let Some((stem, ext)) = file.rsplit_once('.') else {
        return ArtifactKind::Dataset;
    };
    if stem.is_empty() || ext.is_empty() {
        return ArtifactKind::Dataset;
    }
    let ext = ext.to_ascii_lowercase();
    if MODEL_EXTENSIONS.contains(&ext.as_str()) {
        ArtifactKind::Model
    } else if CODE_EXTENSIONS.contains(&ext.as_str()) {
        ArtifactKind::Code
    } else {
        ArtifactKind::Dataset
    }
}

/// A field path such as `outputs[1].name`, built without allocating and
/// rendered only when an error needs it.
#[derive(Clone, Copy)]
pub(crate) struct FieldPath<'a> {
    parent: Option<&'a FieldPath<'a>>,
    seg: Seg<'a>,
}

#[derive(Clone, Copy)]
enum Seg<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

impl<'a> FieldPath<'a> {
    pub(crate) const ROOT: FieldPath<'static> = FieldPath {
        parent: None,
        seg: Seg::Root,
    };

    pub(crate) fn key(&'a self, key: &'a str) -> FieldPath<'a> {
        FieldPath {
            parent: Some(self),
            seg: Seg::Key(key),
        }
    }

    pub(crate) fn index(&'a self, i: usize) -> FieldPath<'a> {
        FieldPath {
            parent: Some(self),
            seg: Seg::Index(i),
        }
    }

    pub(crate) fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut at = Some(self);
        while let Some(p) = at {
            segs.push(p.seg);
            at = p.parent;
        }
        let mut out = String::new();
        for seg in segs.iter().rev() {
            match seg {
                Seg::Root => {}
                Seg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        if out.is_empty() {
            out.push_str("(top level)");
        }
        out
    }

    pub(crate) fn error(&self, line: usize, message: impl Into<String>) -> ImportError {
        ImportError::Field {
            line,
            path: self.render(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_names() {
        let check =
            |name: &str, kind: ArtifactKind| assert_eq!(kind_from_name(name), kind, "{name}");
        check("models/a.pt", ArtifactKind::Model);
        check("models/A.SafeTensors", ArtifactKind::Model);
        check("s3://bucket/m/model.onnx?versionId=3", ArtifactKind::Model);
        check("model.pkl", ArtifactKind::Model);
        check("data/raw.csv", ArtifactKind::Dataset);
        check("models/", ArtifactKind::Dataset);
        check("models/bert-model", ArtifactKind::Dataset);
        check(".pt", ArtifactKind::Dataset);
        check("weights.", ArtifactKind::Dataset);
        check("src/train.py", ArtifactKind::Code);
        check("db.schema.table", ArtifactKind::Dataset);
        check("", ArtifactKind::Dataset);
    }

    #[test]
    fn paths_render() {
        let root = FieldPath::ROOT;
        let a = root.key("outputs");
        let b = a.index(1);
        let c = b.key("name");
        assert_eq!(c.render(), "outputs[1].name");
        assert_eq!(root.render(), "(top level)");
        assert_eq!(
            c.error(3, "expected a string").to_string(),
            "line 3: outputs[1].name: expected a string"
        );
    }
}
