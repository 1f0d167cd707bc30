//! The OMS manifest: every file (or file shard) of a model paired with its
//! digest, and the in-toto predicate that carries it.
//!
//! This is a byte-compatible model of `model_signing.manifest` and of the
//! predicate built by `model_signing._signing.signing.Payload` (model-signing
//! 1.x, predicate type [`PREDICATE_TYPE`]), plus the legacy v0.1 "Digests"
//! layout ([`PREDICATE_TYPE_LEGACY`]) that 1.x still verifies.
//!
//! Reference behaviours kept here, each checked against model-signing 1.1.1
//! output by the golden tests in `tests/it/manifest.rs`:
//!
//! - resources are sorted by key: a file key compares its path component by
//!   component (`a/b` < `a.b` < `a.txt`, unlike a plain string sort); a shard
//!   key compares (path components, start, end) with numeric offsets;
//! - the subject digest ([`Manifest::root_digest`]) is SHA-256 over the raw
//!   resource digests concatenated in the order the resources are listed;
//! - the predicate records `shard_size` as a JSON float (`8.0`), because the
//!   reference passes the predicate through a protobuf `Struct`;
//! - BLAKE2 is BLAKE2b-512 and is recorded as `blake2b`; a sharded resource's
//!   algorithm is `<hash>-sharded-<shard_size>`;
//! - `ignore_paths` is left out of the predicate when empty.
//!
//! Parsing ([`Manifest::from_predicate`]) is stricter than the reference
//! where the reference would later fail or silently merge entries: duplicate
//! resources, algorithms that do not match the serialization, digests of the
//! wrong length and non-canonical shard offsets are errors naming the field.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// Predicate type of model-signing v1.0 signatures (written by 1.x).
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";

/// Predicate type of the legacy v0.2 "Digests" layout, whose digests live in
/// the statement subjects (read with [`Manifest::from_legacy_subjects`]).
pub const PREDICATE_TYPE_LEGACY: &str = "https://model_signing/Digests/v0.1";

/// Model name the reference gives manifests read from the legacy layout,
/// which records none.
pub const LEGACY_MODEL_NAME: &str = "compat-undefined-not-present";

/// Shard size the reference uses when none is given (10^9 bytes).
pub const DEFAULT_SHARD_SIZE: u64 = 1_000_000_000;

/// Largest accepted shard size: the predicate stores it as a JSON float, so
/// it must be exactly representable as an `f64`.
pub const MAX_SHARD_SIZE: u64 = 1 << 53;

/// Paths the reference ignores by default (`ignore_git_paths=True`), as it
/// records them in the predicate.
pub const DEFAULT_IGNORE_PATHS: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

/// Longest accepted resource name or ignore path, in bytes (Linux `PATH_MAX`
/// plus room for a shard suffix).
pub const MAX_NAME_LEN: usize = 4096 + 64;

/// Most ignore paths accepted in one serialization.
pub const MAX_IGNORE_PATHS: usize = 4096;

/// A hash algorithm the reference supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashType {
    /// SHA-256 (the reference's default).
    Sha256,
    /// BLAKE2b with a 64-byte digest (Python's `hashlib.blake2b()`).
    Blake2,
    /// BLAKE3 with a 32-byte digest.
    Blake3,
}

impl HashType {
    /// Every supported algorithm.
    pub const ALL: [HashType; 3] = [HashType::Sha256, HashType::Blake2, HashType::Blake3];

    /// The name recorded in manifests (`hash_type` and resource algorithms):
    /// `sha256`, `blake2b` or `blake3`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            HashType::Sha256 => "sha256",
            HashType::Blake2 => "blake2b",
            HashType::Blake3 => "blake3",
        }
    }

    /// The name the reference's configuration API and CLI take
    /// (`hashing_algorithm=`): `sha256`, `blake2` or `blake3`.
    #[must_use]
    pub const fn config_name(self) -> &'static str {
        match self {
            HashType::Sha256 => "sha256",
            HashType::Blake2 => "blake2",
            HashType::Blake3 => "blake3",
        }
    }

    /// Length of a digest in bytes.
    #[must_use]
    pub const fn digest_len(self) -> usize {
        match self {
            HashType::Sha256 | HashType::Blake3 => 32,
            HashType::Blake2 => 64,
        }
    }

    /// Parses a manifest name ([`HashType::name`]) and nothing else.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        HashType::ALL.into_iter().find(|h| h.name() == name)
    }
}

impl fmt::Display for HashType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashType {
    type Err = ManifestError;

    /// Accepts both the configuration names (`blake2`) and the manifest
    /// names (`blake2b`), for command-line use.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HashType::ALL
            .into_iter()
            .find(|h| h.name() == s || h.config_name() == s)
            .ok_or_else(|| {
                ManifestError::invalid(
                    "hash_type",
                    format!("unknown hash algorithm `{s}` (expected sha256, blake2 or blake3)"),
                )
            })
    }
}

/// How a model is cut into resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// One resource per file, named by its path relative to the model.
    Files,
    /// One resource per `shard_size` bytes of each file, named
    /// `path:start:end`; empty files produce no resource.
    Shards {
        /// Bytes per shard (the last shard of a file may be shorter).
        shard_size: u64,
    },
}

impl Method {
    /// The name recorded in the predicate: `files` or `shards`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Method::Files => "files",
            Method::Shards { .. } => "shards",
        }
    }
}

/// Everything needed to recompute a manifest: the predicate's
/// `serialization` object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Serialization {
    /// Files or shards.
    pub method: Method,
    /// Digest algorithm of every resource.
    pub hash_type: HashType,
    /// Whether symbolic links were followed (a link to a file is hashed as
    /// its target's content under the link's name).
    pub allow_symlinks: bool,
    /// Paths relative to the model root that were left out (a directory
    /// leaves out everything below it). Hashing records them normalized,
    /// de-duplicated and sorted; the reference records them in hash-set
    /// order, so compare them as a set.
    pub ignore_paths: Vec<String>,
}

impl Default for Serialization {
    /// The reference's default: files, SHA-256, no symlinks, git paths
    /// ignored.
    fn default() -> Self {
        Serialization::new(Method::Files, HashType::Sha256)
    }
}

impl Serialization {
    /// A serialization with the reference's other defaults: symlinks refused
    /// and [`DEFAULT_IGNORE_PATHS`] ignored.
    #[must_use]
    pub fn new(method: Method, hash_type: HashType) -> Self {
        Serialization {
            method,
            hash_type,
            allow_symlinks: false,
            ignore_paths: DEFAULT_IGNORE_PATHS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }

    /// The algorithm name each resource carries: the hash name for files,
    /// `<hash>-sharded-<shard_size>` for shards (e.g. `sha256-sharded-8`).
    #[must_use]
    pub fn resource_algorithm(&self) -> String {
        match self.method {
            Method::Files => self.hash_type.name().to_owned(),
            Method::Shards { shard_size } => {
                format!("{}-sharded-{shard_size}", self.hash_type.name())
            }
        }
    }

    /// The predicate's `serialization` object, as the reference writes it.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("method".into(), Value::from(self.method.name()));
        m.insert("hash_type".into(), Value::from(self.hash_type.name()));
        if let Method::Shards { shard_size } = self.method {
            // The reference's protobuf Struct turns every number into a double.
            m.insert("shard_size".into(), Value::from(shard_size as f64));
        }
        m.insert("allow_symlinks".into(), Value::Bool(self.allow_symlinks));
        if !self.ignore_paths.is_empty() {
            m.insert(
                "ignore_paths".into(),
                Value::from(self.ignore_paths.clone()),
            );
        }
        Value::Object(m)
    }

    /// Parses a predicate's `serialization` object; `field` names it in
    /// errors (e.g. `predicate.serialization`). Unknown members are ignored.
    pub fn from_json(value: &Value, field: &str) -> Result<Self, ManifestError> {
        let obj = value.as_object().ok_or_else(|| {
            ManifestError::invalid(
                field,
                format!("expected an object, got {}", crate::dsse::json_type(value)),
            )
        })?;
        let method = get_str(obj, field, "method")?;
        let hash_name = get_str(obj, field, "hash_type")?;
        let hash_type = HashType::from_name(hash_name).ok_or_else(|| {
            ManifestError::invalid(
                format!("{field}.hash_type"),
                format!(
                    "unknown hash type `{}` (expected sha256, blake2b or blake3)",
                    truncate(hash_name)
                ),
            )
        })?;
        let allow_symlinks = match obj.get("allow_symlinks") {
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                return Err(ManifestError::invalid(
                    format!("{field}.allow_symlinks"),
                    format!("expected a boolean, got {}", crate::dsse::json_type(v)),
                ));
            }
            None => return Err(ManifestError::missing(format!("{field}.allow_symlinks"))),
        };
        let method = match method {
            "files" => Method::Files,
            "shards" => {
                let f = format!("{field}.shard_size");
                let v = obj
                    .get("shard_size")
                    .ok_or_else(|| ManifestError::missing(f.clone()))?;
                Method::Shards {
                    shard_size: parse_shard_size(v, &f)?,
                }
            }
            other => {
                return Err(ManifestError::invalid(
                    format!("{field}.method"),
                    format!(
                        "unknown serialization method `{}` (expected files or shards)",
                        truncate(other)
                    ),
                ));
            }
        };
        let ignore_paths = match obj.get("ignore_paths") {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                if items.len() > MAX_IGNORE_PATHS {
                    return Err(ManifestError::invalid(
                        format!("{field}.ignore_paths"),
                        format!(
                            "{} entries is more than the limit of {MAX_IGNORE_PATHS}",
                            items.len()
                        ),
                    ));
                }
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let f = format!("{field}.ignore_paths[{i}]");
                    let s = item.as_str().ok_or_else(|| {
                        ManifestError::invalid(
                            &f,
                            format!("expected a string, got {}", crate::dsse::json_type(item)),
                        )
                    })?;
                    if s.len() > MAX_NAME_LEN || s.contains('\0') {
                        return Err(ManifestError::invalid(f, "too long or contains NUL"));
                    }
                    out.push(s.to_owned());
                }
                out
            }
            Some(v) => {
                return Err(ManifestError::invalid(
                    format!("{field}.ignore_paths"),
                    format!("expected an array, got {}", crate::dsse::json_type(v)),
                ));
            }
        };
        Ok(Serialization {
            method,
            hash_type,
            allow_symlinks,
            ignore_paths,
        })
    }
}

/// One hashed object: a file or a file shard.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Resource {
    /// Path relative to the model root with `/` separators (`.` when the
    /// model is a single file); for shards `path:start:end` with decimal
    /// byte offsets, end excluded.
    pub name: String,
    /// Algorithm name, see [`Serialization::resource_algorithm`].
    pub algorithm: String,
    /// Raw digest bytes.
    pub digest: Vec<u8>,
}

impl Resource {
    /// The digest as lowercase hex, as the predicate records it.
    #[must_use]
    pub fn digest_hex(&self) -> String {
        hex(&self.digest)
    }
}

/// A model's manifest: its name, how it was serialized, and its resources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Informative name (the model directory's or file's final component);
    /// the statement subject's name. Renaming a model does not invalidate
    /// its signature.
    pub model_name: String,
    /// How the resources were computed.
    pub serialization: Serialization,
    /// The resources, in predicate order: sorted as the reference sorts
    /// them when built by hashing, as listed when parsed from a predicate.
    pub resources: Vec<Resource>,
}

/// Difference between an expected manifest and an actual one, by resource
/// name (see [`Manifest::diff`]); every list is in manifest order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManifestDiff {
    /// Resources only in the actual manifest (extra files).
    pub added: Vec<String>,
    /// Resources only in the expected manifest (missing files).
    pub removed: Vec<String>,
    /// Resources in both whose algorithm or digest differ.
    pub changed: Vec<String>,
}

impl ManifestDiff {
    /// Whether the two manifests have the same resources, which is the
    /// reference's notion of manifest equality (names and serialization
    /// parameters aside).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Why a manifest, predicate or digest list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The predicate type is neither v1.0 nor the legacy v0.1.
    #[error("unsupported predicate type `{0}` (expected {PREDICATE_TYPE})")]
    UnsupportedPredicateType(String),
    /// The legacy predicate type was passed to [`Manifest::from_predicate`].
    #[error(
        "predicate type {PREDICATE_TYPE_LEGACY} keeps its digests in the statement subjects\nhint: read it with Manifest::from_legacy_subjects"
    )]
    LegacySubjectsRequired,
    /// A field is missing or has a wrong type or value; `field` is its path,
    /// e.g. `predicate.resources[3].digest`.
    #[error("{field}: {reason}")]
    Invalid {
        /// Path of the offending field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ManifestError {
    fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ManifestError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn missing(field: impl Into<String>) -> Self {
        ManifestError::invalid(field, "missing")
    }
}

impl Manifest {
    /// Builds a manifest from precomputed `(name, digest)` pairs, e.g. a
    /// digest list produced elsewhere. Names are canonicalized the way the
    /// reference's `PurePosixPath` does (`./a//b/` is `a/b`), validated for
    /// the serialization (shard names must be `path:start:end` on shard
    /// boundaries), de-duplicated (a duplicate is an error) and sorted in the
    /// reference's order; each digest must have the algorithm's length.
    pub fn from_digests<I>(
        model_name: &str,
        serialization: Serialization,
        digests: I,
    ) -> Result<Manifest, ManifestError>
    where
        I: IntoIterator<Item = (String, Vec<u8>)>,
    {
        if let Method::Shards { shard_size } = serialization.method
            && !(1..=MAX_SHARD_SIZE).contains(&shard_size)
        {
            return Err(ManifestError::invalid(
                "serialization.shard_size",
                format!("expected 1 to 2^53, got {shard_size}"),
            ));
        }
        let algorithm = serialization.resource_algorithm();
        let mut seen = Seen::default();
        let mut keyed = Vec::new();
        for (i, (name, digest)) in digests.into_iter().enumerate() {
            let key = ResourceKey::parse(&name, serialization.method)
                .map_err(|r| ManifestError::invalid(format!("digests[{i}].name"), r))?;
            seen.insert(&key)
                .map_err(|r| ManifestError::invalid(format!("digests[{i}].name"), r))?;
            if digest.len() != serialization.hash_type.digest_len() {
                return Err(ManifestError::invalid(
                    format!("digests[{i}].digest"),
                    format!(
                        "expected {} bytes for {}, got {}",
                        serialization.hash_type.digest_len(),
                        serialization.hash_type,
                        digest.len()
                    ),
                ));
            }
            keyed.push((key, digest));
        }
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let resources = keyed
            .into_iter()
            .map(|(key, digest)| Resource {
                name: key.to_string(),
                algorithm: algorithm.clone(),
                digest,
            })
            .collect();
        Ok(Manifest {
            model_name: model_name.to_owned(),
            serialization,
            resources,
        })
    }

    /// The statement subject's digest: SHA-256 over the raw digests of the
    /// resources concatenated in listed order (the reference hashes them in
    /// predicate order both when signing and when verifying).
    #[must_use]
    pub fn root_digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for r in &self.resources {
            h.update(&r.digest);
        }
        h.finalize().into()
    }

    /// [`Manifest::root_digest`] as lowercase hex (the subject's `sha256`).
    #[must_use]
    pub fn root_digest_hex(&self) -> String {
        hex(&self.root_digest())
    }

    /// The v1.0 predicate (`serialization` and `resources`), with the same
    /// values and JSON types as the reference's.
    #[must_use]
    pub fn to_predicate(&self) -> Value {
        let resources: Vec<Value> = self
            .resources
            .iter()
            .map(|r| {
                let mut m = Map::new();
                m.insert("name".into(), Value::from(r.name.as_str()));
                m.insert("algorithm".into(), Value::from(r.algorithm.as_str()));
                m.insert("digest".into(), Value::from(r.digest_hex()));
                Value::Object(m)
            })
            .collect();
        let mut m = Map::new();
        m.insert("serialization".into(), self.serialization.to_json());
        m.insert("resources".into(), Value::Array(resources));
        Value::Object(m)
    }

    /// Parses a v1.0 predicate; `subject_name` becomes the model name. The
    /// caller checks the subject digest against [`Manifest::root_digest`]
    /// (resources keep their listed order, so the two agree exactly when the
    /// reference's check would). Unknown fields are ignored; `shard_size`
    /// may be an integer or an integral float. The legacy predicate type is
    /// refused with [`ManifestError::LegacySubjectsRequired`].
    pub fn from_predicate(
        predicate_type: &str,
        predicate: &Value,
        subject_name: &str,
    ) -> Result<Manifest, ManifestError> {
        if predicate_type == PREDICATE_TYPE_LEGACY {
            return Err(ManifestError::LegacySubjectsRequired);
        }
        if predicate_type != PREDICATE_TYPE {
            return Err(ManifestError::UnsupportedPredicateType(
                truncate(predicate_type).to_owned(),
            ));
        }
        let obj = predicate.as_object().ok_or_else(|| {
            ManifestError::invalid(
                "predicate",
                format!(
                    "expected an object, got {}",
                    crate::dsse::json_type(predicate)
                ),
            )
        })?;
        let serialization = Serialization::from_json(
            obj.get("serialization")
                .ok_or_else(|| ManifestError::missing("predicate.serialization"))?,
            "predicate.serialization",
        )?;
        let items = match obj.get("resources") {
            Some(Value::Array(items)) => items,
            Some(v) => {
                return Err(ManifestError::invalid(
                    "predicate.resources",
                    format!("expected an array, got {}", crate::dsse::json_type(v)),
                ));
            }
            None => return Err(ManifestError::missing("predicate.resources")),
        };
        let algorithm = serialization.resource_algorithm();
        let mut seen = Seen::default();
        let mut resources = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = format!("predicate.resources[{i}]");
            let r = item.as_object().ok_or_else(|| {
                ManifestError::invalid(
                    &field,
                    format!("expected an object, got {}", crate::dsse::json_type(item)),
                )
            })?;
            let name = get_str(r, &field, "name")?;
            let key = ResourceKey::parse(name, serialization.method)
                .map_err(|e| ManifestError::invalid(format!("{field}.name"), e))?;
            seen.insert(&key)
                .map_err(|e| ManifestError::invalid(format!("{field}.name"), e))?;
            let alg = get_str(r, &field, "algorithm")?;
            if alg != algorithm {
                return Err(ManifestError::invalid(
                    format!("{field}.algorithm"),
                    format!(
                        "expected `{algorithm}` (from the serialization), got `{}`",
                        truncate(alg)
                    ),
                ));
            }
            let digest = parse_hex(get_str(r, &field, "digest")?, serialization.hash_type)
                .map_err(|e| ManifestError::invalid(format!("{field}.digest"), e))?;
            resources.push(Resource {
                name: key.to_string(),
                algorithm: algorithm.clone(),
                digest,
            });
        }
        Ok(Manifest {
            model_name: subject_name.to_owned(),
            serialization,
            resources,
        })
    }

    /// Reads the legacy v0.1 layout ([`PREDICATE_TYPE_LEGACY`]) from the
    /// statement's `subject` array: one subject per file with a `sha256`
    /// digest, as model-signing 1.x does (files, SHA-256, model name
    /// [`LEGACY_MODEL_NAME`]). An `annotations.actual_hash_algorithm` other
    /// than `file-sha256` is refused rather than misread as SHA-256.
    pub fn from_legacy_subjects(subjects: &Value) -> Result<Manifest, ManifestError> {
        let items = subjects.as_array().ok_or_else(|| {
            ManifestError::invalid(
                "subject",
                format!(
                    "expected an array, got {}",
                    crate::dsse::json_type(subjects)
                ),
            )
        })?;
        let serialization = Serialization {
            method: Method::Files,
            hash_type: HashType::Sha256,
            allow_symlinks: false,
            ignore_paths: Vec::new(),
        };
        let mut seen = Seen::default();
        let mut resources = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = format!("subject[{i}]");
            let s = item.as_object().ok_or_else(|| {
                ManifestError::invalid(
                    &field,
                    format!("expected an object, got {}", crate::dsse::json_type(item)),
                )
            })?;
            let name = get_str(s, &field, "name")?;
            let key = ResourceKey::parse(name, Method::Files)
                .map_err(|e| ManifestError::invalid(format!("{field}.name"), e))?;
            seen.insert(&key)
                .map_err(|e| ManifestError::invalid(format!("{field}.name"), e))?;
            let digests = match s.get("digest") {
                Some(Value::Object(d)) => d,
                Some(v) => {
                    return Err(ManifestError::invalid(
                        format!("{field}.digest"),
                        format!("expected an object, got {}", crate::dsse::json_type(v)),
                    ));
                }
                None => return Err(ManifestError::missing(format!("{field}.digest"))),
            };
            let digest = parse_hex(
                get_str(digests, &format!("{field}.digest"), "sha256")?,
                HashType::Sha256,
            )
            .map_err(|e| ManifestError::invalid(format!("{field}.digest.sha256"), e))?;
            if let Some(actual) = s
                .get("annotations")
                .and_then(|a| a.get("actual_hash_algorithm"))
                && actual.as_str() != Some("file-sha256")
            {
                return Err(ManifestError::invalid(
                    format!("{field}.annotations.actual_hash_algorithm"),
                    format!(
                        "only file-sha256 is supported, got {}",
                        truncate(&actual.to_string())
                    ),
                ));
            }
            resources.push(Resource {
                name: key.to_string(),
                algorithm: HashType::Sha256.name().to_owned(),
                digest,
            });
        }
        Ok(Manifest {
            model_name: LEGACY_MODEL_NAME.to_owned(),
            serialization,
            resources,
        })
    }

    /// Compares `self` (the expected manifest, e.g. the signed one) with
    /// `actual` by resource name: `added` are names only in `actual`,
    /// `removed` only in `self`, `changed` in both with a different digest
    /// or algorithm. Lists are sorted in the reference's resource order.
    #[must_use]
    pub fn diff(&self, actual: &Manifest) -> ManifestDiff {
        let expected: HashMap<&str, &Resource> = self
            .resources
            .iter()
            .map(|r| (r.name.as_str(), r))
            .collect();
        let actual_map: HashMap<&str, &Resource> = actual
            .resources
            .iter()
            .map(|r| (r.name.as_str(), r))
            .collect();
        let mut d = ManifestDiff::default();
        for r in &actual.resources {
            match expected.get(r.name.as_str()) {
                None => d.added.push(r.name.clone()),
                Some(e) if e.digest != r.digest || e.algorithm != r.algorithm => {
                    d.changed.push(r.name.clone());
                }
                Some(_) => {}
            }
        }
        for r in &self.resources {
            if !actual_map.contains_key(r.name.as_str()) {
                d.removed.push(r.name.clone());
            }
        }
        let sharded = matches!(self.serialization.method, Method::Shards { .. });
        for list in [&mut d.added, &mut d.removed, &mut d.changed] {
            list.sort_by(|a, b| compare_names(a, b, sharded));
            list.dedup();
        }
        d
    }
}

/// Compares two resource names in the reference's order: paths component by
/// component, then (for shards) numeric start and end offsets. Names that do
/// not parse as shards fall back to the path order.
#[must_use]
pub fn compare_names(a: &str, b: &str, sharded: bool) -> Ordering {
    if sharded && let (Some(ka), Some(kb)) = (split_shard(a), split_shard(b)) {
        return compare_paths(ka.0, kb.0)
            .then(ka.1.cmp(&kb.1))
            .then(ka.2.cmp(&kb.2));
    }
    compare_paths(a, b)
}

/// Compares relative POSIX paths component by component, as Python's
/// `PurePosixPath` ordering does (`a/b` < `a.b`).
#[must_use]
pub fn compare_paths(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

fn split_shard(name: &str) -> Option<(&str, u64, u64)> {
    let mut it = name.rsplitn(3, ':');
    let end = it.next()?.parse().ok()?;
    let start = it.next()?.parse().ok()?;
    Some((it.next()?, start, end))
}

/// A parsed, canonical resource key; orders as the reference sorts keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResourceKey {
    pub(crate) path: String,
    pub(crate) shard: Option<(u64, u64)>,
}

impl Ord for ResourceKey {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_paths(&self.path, &other.path).then(self.shard.cmp(&other.shard))
    }
}

impl PartialOrd for ResourceKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.shard {
            None => f.write_str(&self.path),
            Some((s, e)) => write!(f, "{}:{s}:{e}", self.path),
        }
    }
}

impl ResourceKey {
    fn parse(name: &str, method: Method) -> Result<ResourceKey, String> {
        if name.len() > MAX_NAME_LEN {
            return Err(format!("name is longer than {MAX_NAME_LEN} bytes"));
        }
        match method {
            Method::Files => Ok(ResourceKey {
                path: canonical_path(name)?,
                shard: None,
            }),
            Method::Shards { shard_size } => {
                let parts: Vec<&str> = name.split(':').collect();
                let [path, start, end] = parts[..] else {
                    return Err(format!(
                        "expected `path:start:end` with exactly two `:`, got `{}`",
                        truncate(name)
                    ));
                };
                let start = parse_offset(start)?;
                let end = parse_offset(end)?;
                if end <= start {
                    return Err(format!("shard end {end} is not after its start {start}"));
                }
                if start % shard_size != 0 || end - start > shard_size {
                    return Err(format!(
                        "shard {start}..{end} is not on a {shard_size}-byte shard boundary"
                    ));
                }
                Ok(ResourceKey {
                    path: canonical_path(path)?,
                    shard: Some((start, end)),
                })
            }
        }
    }
}

/// Tracks keys already seen: a repeated key, or two shards of one file
/// starting at the same offset, is refused.
#[derive(Default)]
struct Seen {
    keys: HashSet<(String, Option<u64>)>,
}

impl Seen {
    fn insert(&mut self, key: &ResourceKey) -> Result<(), String> {
        if self.keys.insert((key.path.clone(), key.shard.map(|s| s.0))) {
            Ok(())
        } else {
            Err(format!(
                "duplicate resource `{}`",
                truncate(&key.to_string())
            ))
        }
    }
}

/// Canonicalizes a relative POSIX path as `PurePosixPath` does (empty and
/// `.` components dropped; `.` alone stays `.`, the single-file model), and
/// refuses absolute paths, `..` components, NUL and empty names.
pub(crate) fn canonical_path(name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("empty path".into());
    }
    if name.contains('\0') {
        return Err("path contains NUL".into());
    }
    if name.starts_with('/') {
        return Err(format!("absolute path `{}`", truncate(name)));
    }
    let mut out = String::with_capacity(name.len());
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(format!("path `{}` has a `..` component", truncate(name))),
            c => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    Ok(out)
}

/// Canonical decimal: digits only, no sign, no leading zero but `0`.
fn parse_offset(s: &str) -> Result<u64, String> {
    let ok =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if !ok {
        return Err(format!(
            "shard offset `{}` is not a canonical decimal number",
            truncate(s)
        ));
    }
    s.parse()
        .map_err(|_| format!("shard offset `{}` is out of range", truncate(s)))
}

fn parse_shard_size(v: &Value, field: &str) -> Result<u64, ManifestError> {
    let bad = || {
        ManifestError::invalid(
            field,
            format!(
                "expected a positive integer up to 2^53, got {}",
                truncate(&v.to_string())
            ),
        )
    };
    let n = if let Some(n) = v.as_u64() {
        n
    } else if let Some(f) = v.as_f64() {
        if !(f.is_finite() && f.fract() == 0.0 && f >= 1.0 && f <= MAX_SHARD_SIZE as f64) {
            return Err(bad());
        }
        f as u64
    } else {
        return Err(bad());
    };
    if n == 0 || n > MAX_SHARD_SIZE {
        return Err(bad());
    }
    Ok(n)
}

fn parse_hex(s: &str, hash_type: HashType) -> Result<Vec<u8>, String> {
    let want = hash_type.digest_len() * 2;
    if s.len() != want {
        return Err(format!(
            "expected {want} hex digits for {hash_type}, got {}",
            s.len()
        ));
    }
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| "not a hex string".to_owned())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn get_str<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
    key: &str,
) -> Result<&'a str, ManifestError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(ManifestError::invalid(
            format!("{field}.{key}"),
            format!("expected a string, got {}", crate::dsse::json_type(v)),
        )),
        None => Err(ManifestError::missing(format!("{field}.{key}"))),
    }
}

/// Keeps hostile values from flooding error messages.
fn truncate(s: &str) -> &str {
    const MAX: usize = 200;
    if s.len() <= MAX {
        return s;
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn files(hash: HashType) -> Serialization {
        Serialization::new(Method::Files, hash)
    }

    #[test]
    fn paths_sort_by_component() {
        let mut v = vec![
            "a.txt",
            "a/b/x",
            "README.md",
            "a.b/q",
            ".hidden/f",
            "big",
            "A",
            "a-b",
        ];
        v.sort_by(|a, b| compare_paths(a, b));
        assert_eq!(
            v,
            [
                ".hidden/f",
                "A",
                "README.md",
                "a/b/x",
                "a-b",
                "a.b/q",
                "a.txt",
                "big"
            ]
        );
    }

    #[test]
    fn shards_sort_numerically() {
        let s = Serialization::new(Method::Shards { shard_size: 8 }, HashType::Sha256);
        let d = vec![0u8; 32];
        let m = Manifest::from_digests(
            "m",
            s,
            ["f:16:20", "f:8:16", "f.b:0:1", "f:0:8", "f/g:0:3"].map(|n| (n.to_owned(), d.clone())),
        )
        .unwrap();
        let names: Vec<_> = m.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["f:0:8", "f:8:16", "f:16:20", "f/g:0:3", "f.b:0:1"]);
        assert!(
            m.resources
                .iter()
                .all(|r| r.algorithm == "sha256-sharded-8")
        );
    }

    #[test]
    fn canonical_names() {
        for (input, want) in [("./a//b/", "a/b"), (".", "."), ("./", "."), ("a", "a")] {
            assert_eq!(canonical_path(input).unwrap(), want);
        }
        for bad in ["", "/etc/passwd", "a/../b", "..", "a\0b"] {
            assert!(canonical_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn predicate_round_trip_and_shard_size_float() {
        let mut s = Serialization::new(Method::Shards { shard_size: 4096 }, HashType::Blake2);
        s.ignore_paths.push("model.sig".into());
        let m = Manifest::from_digests("m", s, [("x:0:10".to_owned(), vec![7u8; 64])]).unwrap();
        let p = m.to_predicate();
        assert_eq!(p["serialization"]["shard_size"], json!(4096.0));
        assert!(p["serialization"]["shard_size"].is_f64());
        assert_eq!(p["serialization"]["hash_type"], "blake2b");
        assert_eq!(p["resources"][0]["algorithm"], "blake2b-sharded-4096");
        let back = Manifest::from_predicate(PREDICATE_TYPE, &p, "m").unwrap();
        assert_eq!(back, m);
        // Integers are accepted too.
        let mut p2 = p.clone();
        p2["serialization"]["shard_size"] = json!(4096);
        assert_eq!(
            Manifest::from_predicate(PREDICATE_TYPE, &p2, "m").unwrap(),
            m
        );
    }

    #[test]
    fn empty_ignore_paths_are_left_out() {
        let mut s = files(HashType::Sha256);
        s.ignore_paths.clear();
        let p = Manifest::from_digests("m", s, []).unwrap().to_predicate();
        assert!(p["serialization"].get("ignore_paths").is_none());
        assert_eq!(p["resources"], json!([]));
    }

    #[test]
    fn root_digest_is_sha256_of_concatenated_digests() {
        let m = Manifest::from_digests(
            "m",
            files(HashType::Sha256),
            [("b".into(), vec![2; 32]), ("a".into(), vec![1; 32])],
        )
        .unwrap();
        let mut cat = vec![1u8; 32];
        cat.extend([2u8; 32]);
        assert_eq!(m.root_digest(), <[u8; 32]>::from(Sha256::digest(&cat)));
        // Empty manifest: SHA-256 of nothing.
        let e = Manifest::from_digests("m", files(HashType::Sha256), []).unwrap();
        assert_eq!(
            e.root_digest_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    fn field_of(e: ManifestError) -> String {
        match e {
            ManifestError::Invalid { field, .. } => field,
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn predicate_errors_name_the_field() {
        let good = json!({
            "serialization": {"method": "shards", "hash_type": "sha256", "shard_size": 8.0, "allow_symlinks": false, "ignore_paths": [], "extra": 1},
            "resources": [{"name": "f:0:8", "algorithm": "sha256-sharded-8", "digest": "00".repeat(32), "extra": true}],
            "future": {}
        });
        assert!(Manifest::from_predicate(PREDICATE_TYPE, &good, "m").is_ok());
        let cases: &[(&str, Value, &str)] = &[
            (
                "/serialization/shard_size",
                json!(8.5),
                "predicate.serialization.shard_size",
            ),
            (
                "/serialization/shard_size",
                json!(0),
                "predicate.serialization.shard_size",
            ),
            (
                "/serialization/shard_size",
                json!(-8),
                "predicate.serialization.shard_size",
            ),
            (
                "/serialization/shard_size",
                json!(1e300),
                "predicate.serialization.shard_size",
            ),
            (
                "/serialization/shard_size",
                json!("8"),
                "predicate.serialization.shard_size",
            ),
            (
                "/serialization/hash_type",
                json!("blake2"),
                "predicate.serialization.hash_type",
            ),
            (
                "/serialization/method",
                json!("tensors"),
                "predicate.serialization.method",
            ),
            (
                "/serialization/allow_symlinks",
                json!("false"),
                "predicate.serialization.allow_symlinks",
            ),
            (
                "/serialization/ignore_paths",
                json!([1]),
                "predicate.serialization.ignore_paths[0]",
            ),
            (
                "/resources/0/name",
                json!("f:0:9"),
                "predicate.resources[0].name",
            ),
            (
                "/resources/0/name",
                json!("f:00:8"),
                "predicate.resources[0].name",
            ),
            (
                "/resources/0/name",
                json!("f:8:8"),
                "predicate.resources[0].name",
            ),
            (
                "/resources/0/name",
                json!("a:b:0:8"),
                "predicate.resources[0].name",
            ),
            (
                "/resources/0/name",
                json!("../f:0:8"),
                "predicate.resources[0].name",
            ),
            (
                "/resources/0/algorithm",
                json!("sha256"),
                "predicate.resources[0].algorithm",
            ),
            (
                "/resources/0/digest",
                json!("zz".repeat(32)),
                "predicate.resources[0].digest",
            ),
            (
                "/resources/0/digest",
                json!("00"),
                "predicate.resources[0].digest",
            ),
            ("/resources/0", json!(3), "predicate.resources[0]"),
            ("/resources", json!({}), "predicate.resources"),
        ];
        for (ptr, value, field) in cases {
            let mut p = good.clone();
            *p.pointer_mut(ptr).unwrap() = value.clone();
            let e = Manifest::from_predicate(PREDICATE_TYPE, &p, "m").unwrap_err();
            assert_eq!(&field_of(e), field, "{ptr} = {value}");
        }
        let mut dup = good.clone();
        let r = dup["resources"][0].clone();
        dup["resources"].as_array_mut().unwrap().push(r);
        assert_eq!(
            field_of(Manifest::from_predicate(PREDICATE_TYPE, &dup, "m").unwrap_err()),
            "predicate.resources[1].name"
        );
        assert_eq!(
            Manifest::from_predicate(PREDICATE_TYPE_LEGACY, &good, "m").unwrap_err(),
            ManifestError::LegacySubjectsRequired
        );
        assert!(matches!(
            Manifest::from_predicate("x", &good, "m"),
            Err(ManifestError::UnsupportedPredicateType(_))
        ));
        assert_eq!(
            field_of(Manifest::from_predicate(PREDICATE_TYPE, &json!([]), "m").unwrap_err()),
            "predicate"
        );
    }

    #[test]
    fn legacy_subjects() {
        let subjects = json!([
            {"name": "signme-1", "digest": {"sha256": "f6310066c7320497ea554260c32c43660bff648cb2a61194832cc086077085e1"},
             "annotations": {"actual_hash_algorithm": "file-sha256"}},
            {"name": "signme-2", "digest": {"sha256": "32dcb1f8e1ae52d5963e56a6ba06ab58b424c15ed2a6b70d2feca1d089370028"}}
        ]);
        let m = Manifest::from_legacy_subjects(&subjects).unwrap();
        assert_eq!(m.model_name, LEGACY_MODEL_NAME);
        assert_eq!(m.resources.len(), 2);
        assert_eq!(m.resources[1].algorithm, "sha256");
        let mut bad = subjects.clone();
        bad[0]["annotations"]["actual_hash_algorithm"] = json!("file-blake2");
        assert_eq!(
            field_of(Manifest::from_legacy_subjects(&bad).unwrap_err()),
            "subject[0].annotations.actual_hash_algorithm"
        );
    }

    #[test]
    fn diff_by_name() {
        let s = files(HashType::Sha256);
        let a = Manifest::from_digests(
            "m",
            s.clone(),
            [
                ("keep".into(), vec![0; 32]),
                ("gone".into(), vec![0; 32]),
                ("edit".into(), vec![0; 32]),
            ],
        )
        .unwrap();
        let b = Manifest::from_digests(
            "m2",
            s,
            [
                ("keep".into(), vec![0; 32]),
                ("new".into(), vec![0; 32]),
                ("edit".into(), vec![1; 32]),
            ],
        )
        .unwrap();
        let d = a.diff(&b);
        assert_eq!(
            d,
            ManifestDiff {
                added: vec!["new".into()],
                removed: vec!["gone".into()],
                changed: vec!["edit".into()]
            }
        );
        assert!(a.diff(&a).is_empty());
    }

    #[test]
    fn zero_shard_size_is_an_error_not_a_panic() {
        let s = Serialization::new(Method::Shards { shard_size: 0 }, HashType::Sha256);
        let e = Manifest::from_digests("m", s, [("f:0:1".to_owned(), vec![0; 32])]).unwrap_err();
        assert_eq!(field_of(e), "serialization.shard_size");
    }

    #[test]
    fn hash_type_names() {
        assert_eq!("blake2".parse::<HashType>().unwrap(), HashType::Blake2);
        assert_eq!("blake2b".parse::<HashType>().unwrap(), HashType::Blake2);
        assert_eq!(HashType::from_name("blake2"), None);
        assert!("md5".parse::<HashType>().is_err());
    }
}
