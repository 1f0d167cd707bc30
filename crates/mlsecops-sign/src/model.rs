//! Signing and verifying a model directory end to end, as OpenSSF
//! model-signing does: hash → manifest → in-toto Statement → DSSE → bundle,
//! and back. Verification always re-hashes with the settings recorded in
//! the signature (method, hash, shard size, ignore paths), never defaults.

use std::path::Path;

use crate::bundle::{Bundle, VerifyError};
use crate::hashing::{HashError, HashOptions, hash_listed, hash_model, relative_ignore_path};
use crate::keys::{SigningKey, VerifyingKey};
use crate::manifest::{
    Manifest, ManifestDiff, ManifestError, Method, PREDICATE_TYPE, PREDICATE_TYPE_LEGACY,
    Serialization,
};
use crate::statement::{Statement, Subject};

/// Why signing or verifying a model failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("signature: {0}")]
    Bundle(#[from] VerifyError),
    #[error("signature content: {0}")]
    Manifest(#[from] ManifestError),
    #[error("signature subject digest {found} does not match its own manifest ({expected})")]
    SubjectDigest { found: String, expected: String },
    #[error("signature statement has {0} subjects; model signatures have exactly one")]
    SubjectCount(usize),
    /// The files on disk differ from the signed manifest.
    #[error("{}", describe(.0))]
    Mismatch(ManifestDiff),
}

fn describe(d: &ManifestDiff) -> String {
    let mut parts = Vec::new();
    let list = |v: &[String]| {
        let shown: Vec<&str> = v.iter().take(20).map(String::as_str).collect();
        let more = v.len().saturating_sub(shown.len());
        if more > 0 {
            format!("{} (and {more} more)", shown.join(", "))
        } else {
            shown.join(", ")
        }
    };
    if !d.changed.is_empty() {
        parts.push(format!("changed: {}", list(&d.changed)));
    }
    if !d.added.is_empty() {
        parts.push(format!("added (not signed): {}", list(&d.added)));
    }
    if !d.removed.is_empty() {
        parts.push(format!(
            "removed (signed but missing): {}",
            list(&d.removed)
        ));
    }
    format!("model does not match its signature; {}", parts.join("; "))
}

/// The Statement a model signature carries for `manifest`.
#[must_use]
pub fn statement_for(manifest: &Manifest) -> Statement {
    let mut predicate = manifest.to_predicate();
    // The reference writes `shard_size` as a float (`8.0`) and then cannot
    // read it back itself; an integer means the same to every reader,
    // including the reference's verifier.
    if let Some(size) = predicate
        .pointer_mut("/serialization/shard_size")
        .filter(|v| v.is_f64())
        && let Method::Shards { shard_size } = manifest.serialization.method
    {
        *size = serde_json::Value::from(shard_size);
    }
    Statement {
        subjects: vec![Subject {
            name: manifest.model_name.clone(),
            digest: [("sha256".to_owned(), manifest.root_digest_hex())].into(),
        }],
        predicate_type: PREDICATE_TYPE.to_owned(),
        predicate,
    }
}

/// Signs an already built manifest.
#[must_use]
pub fn sign_manifest(manifest: &Manifest, key: &SigningKey) -> Bundle {
    Bundle::sign_statement(&statement_for(manifest).to_json_bytes(), key)
}

/// Hashes the model at `model` and signs its manifest. The signature file,
/// when it will live inside the model, must be in `serialization`'s ignore
/// paths (see [`with_signature_ignored`]).
pub fn sign_model(
    model: &Path,
    serialization: &Serialization,
    key: &SigningKey,
    options: &HashOptions<'_>,
) -> Result<(Bundle, Manifest), ModelError> {
    let manifest = hash_model(model, serialization, options)?;
    Ok((sign_manifest(&manifest, key), manifest))
}

/// Adds `signature`'s path to the ignore paths when it lies inside `model`.
pub fn with_signature_ignored(
    model: &Path,
    signature: &Path,
    mut serialization: Serialization,
) -> Result<Serialization, ModelError> {
    if let Some(rel) = relative_ignore_path(model, signature)?
        && !serialization.ignore_paths.contains(&rel)
    {
        serialization.ignore_paths.push(rel);
    }
    Ok(serialization)
}

/// Options for [`verify_model`].
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions<'a> {
    pub hash: HashOptions<'a>,
    /// Accept files on disk that the signature does not list.
    pub ignore_unsigned_files: bool,
    /// Where the signature file lives (ignored when inside the model).
    pub signature_path: Option<&'a Path>,
}

/// What a verified model signature vouches for.
#[derive(Debug, Clone)]
pub struct VerifiedModel {
    pub manifest: Manifest,
    pub statement: Statement,
    /// The signed root digest (hex SHA-256), as the subject names it.
    pub root_digest: String,
}

/// The manifest a verified statement carries.
pub fn manifest_of(statement: &Statement) -> Result<Manifest, ModelError> {
    if statement.predicate_type == PREDICATE_TYPE_LEGACY {
        let subjects = serde_json::Value::Array(
            statement
                .subjects
                .iter()
                .map(|s| serde_json::json!({"name": s.name, "digest": s.digest}))
                .collect(),
        );
        return Ok(Manifest::from_legacy_subjects(&subjects)?);
    }
    let [subject] = statement.subjects.as_slice() else {
        return Err(ModelError::SubjectCount(statement.subjects.len()));
    };
    let manifest = Manifest::from_predicate(
        &statement.predicate_type,
        &statement.predicate,
        &subject.name,
    )?;
    let expected = manifest.root_digest_hex();
    let found = subject.digest.get("sha256").cloned().unwrap_or_default();
    if found != expected {
        return Err(ModelError::SubjectDigest { found, expected });
    }
    Ok(manifest)
}

/// Verifies `bundle` with `key`, then re-hashes `model` with the recorded
/// settings and compares every resource.
pub fn verify_model(
    model: &Path,
    bundle: &Bundle,
    key: &VerifyingKey,
    options: &VerifyOptions<'_>,
) -> Result<VerifiedModel, ModelError> {
    let verified = bundle.verify_with_key(key)?;
    check_model(model, verified.statement, options)
}

/// The second half of verification: the statement's signature already
/// verified (by key or certificate chain); compare the model with it.
pub fn check_model(
    model: &Path,
    statement: Statement,
    options: &VerifyOptions<'_>,
) -> Result<VerifiedModel, ModelError> {
    let expected = manifest_of(&statement)?;
    let mut serialization = expected.serialization.clone();
    if let Some(sig) = options.signature_path {
        serialization = with_signature_ignored(model, sig, serialization)?;
    }
    let actual = if options.ignore_unsigned_files {
        // Hash only what the signature lists (by file; shard resources are
        // `path:start:end`).
        let listed: std::collections::HashSet<String> = expected
            .resources
            .iter()
            .map(|r| match expected.serialization.method {
                Method::Files => r.name.clone(),
                Method::Shards { .. } => {
                    let mut parts = r.name.rsplitn(3, ':');
                    let _end = parts.next();
                    let _start = parts.next();
                    parts.next().unwrap_or(&r.name).to_owned()
                }
            })
            .collect();
        hash_listed(model, &serialization, &options.hash, &listed)?
    } else {
        hash_model(model, &serialization, &options.hash)?
    };
    let diff = expected.diff(&actual);
    if !diff.is_empty() {
        return Err(ModelError::Mismatch(diff));
    }
    Ok(VerifiedModel {
        root_digest: expected.root_digest_hex(),
        manifest: expected,
        statement,
    })
}
