//! in-toto attestations about a model, signed as DSSE envelopes and kept
//! next to the model as JSON lines (`<model>.intoto.jsonl`, one envelope per
//! line, as SLSA generators write them):
//! - SLSA Provenance v1 of the training run that produced the model;
//! - the JSON reports of the other guards (scan, data check, acceptance);
//! - a CycloneDX ML-BOM.
//!
//! Every statement's subject is the model's root digest (the one its
//! model signature names), so a policy can demand that all of them speak of
//! the same bytes.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::dsse::{DsseSignature, Envelope, PAYLOAD_TYPE_IN_TOTO};
use crate::keys::{SigningKey, VerifyingKey};
use crate::statement::{Statement, Subject};

/// SLSA Provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// CycloneDX BOM (in-toto predicate registry).
pub const CYCLONEDX: &str = "https://cyclonedx.org/bom";
/// `mlsecops scan` report.
pub const SCAN_REPORT: &str = "https://mlsecops.dev/attestation/scan-report/v1";
/// `mlsecops data check` report.
pub const DATA_CHECK_REPORT: &str = "https://mlsecops.dev/attestation/data-check/v1";
/// `mlsecops accept` report.
pub const ACCEPTANCE_REPORT: &str = "https://mlsecops.dev/attestation/acceptance/v1";
/// The build type our provenance declares for a training run.
pub const TRAINING_BUILD_TYPE: &str = "https://mlsecops.dev/build-types/training/v1";

/// Largest `.intoto.jsonl` line read.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Why an attestation could not be read or does not satisfy a policy.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    #[error("line {line}: {message}")]
    Parse { line: usize, message: String },
    #[error("policy: {0}")]
    Policy(String),
}

/// An input of a training run (`resolvedDependencies` entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    /// Algorithm → hex digest (`sha256`, `gitCommit`, …).
    pub digest: BTreeMap<String, String>,
    pub uri: Option<String>,
    /// `dataset`, `base-model`, `code`, … (recorded as an annotation).
    pub role: Option<String>,
}

/// The training run a provenance statement describes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainingRun {
    pub builder_id: String,
    pub invocation_id: Option<String>,
    /// RFC 3339.
    pub started_on: Option<String>,
    pub finished_on: Option<String>,
    /// Hyperparameters and other inputs the user chose.
    pub external_parameters: Value,
    pub dependencies: Vec<Dependency>,
}

fn subject(name: &str, root_digest_hex: &str) -> Vec<Subject> {
    vec![Subject {
        name: name.to_owned(),
        digest: [("sha256".to_owned(), root_digest_hex.to_owned())].into(),
    }]
}

/// SLSA Provenance v1 for a model produced by `run`.
#[must_use]
pub fn provenance(model_name: &str, root_digest_hex: &str, run: &TrainingRun) -> Statement {
    let deps: Vec<Value> = run
        .dependencies
        .iter()
        .map(|d| {
            let mut v = json!({"name": d.name, "digest": d.digest});
            if let Some(u) = &d.uri {
                v["uri"] = json!(u);
            }
            if let Some(r) = &d.role {
                v["annotations"] = json!({"role": r});
            }
            v
        })
        .collect();
    let mut metadata = serde_json::Map::new();
    if let Some(i) = &run.invocation_id {
        metadata.insert("invocationId".into(), json!(i));
    }
    if let Some(t) = &run.started_on {
        metadata.insert("startedOn".into(), json!(t));
    }
    if let Some(t) = &run.finished_on {
        metadata.insert("finishedOn".into(), json!(t));
    }
    let external = if run.external_parameters.is_object() {
        run.external_parameters.clone()
    } else {
        json!({})
    };
    Statement {
        subjects: subject(model_name, root_digest_hex),
        predicate_type: SLSA_PROVENANCE_V1.to_owned(),
        predicate: json!({
            "buildDefinition": {
                "buildType": TRAINING_BUILD_TYPE,
                "externalParameters": external,
                "resolvedDependencies": deps,
            },
            "runDetails": {
                "builder": {"id": run.builder_id},
                "metadata": Value::Object(metadata),
            },
        }),
    }
}

/// A statement whose predicate is a whole JSON document (a guard's report
/// or a CycloneDX BOM).
#[must_use]
pub fn document(
    model_name: &str,
    root_digest_hex: &str,
    predicate_type: &str,
    doc: Value,
) -> Statement {
    Statement {
        subjects: subject(model_name, root_digest_hex),
        predicate_type: predicate_type.to_owned(),
        predicate: doc,
    }
}

/// Signs a statement as a DSSE envelope (one line of `.intoto.jsonl`).
#[must_use]
pub fn sign(statement: &Statement, key: &SigningKey) -> Envelope {
    let payload = statement.to_json_bytes();
    let mut env = Envelope {
        payload,
        payload_type: PAYLOAD_TYPE_IN_TOTO.to_owned(),
        signatures: Vec::new(),
    };
    let sig = key.sign(&env.pae());
    env.signatures.push(DsseSignature {
        sig,
        keyid: Some(key.verifying_key().hint()),
    });
    env
}

/// One verified attestation.
#[derive(Clone, Debug)]
pub struct Attestation {
    pub line: usize,
    pub statement: Statement,
    /// Index (into the allowed keys) of the key whose signature verified.
    pub key_index: usize,
}

/// Reads `.intoto.jsonl` text: every line must be a DSSE envelope signed by
/// one of `keys` over an in-toto statement. Lines signed by none of the
/// keys are returned separately (they satisfy no policy but are not errors:
/// other parties may attest too).
pub fn read_jsonl(
    text: &str,
    keys: &[VerifyingKey],
) -> Result<(Vec<Attestation>, Vec<usize>), AttestError> {
    let mut good = Vec::new();
    let mut unverified = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if line.len() > MAX_LINE_BYTES {
            return Err(AttestError::Parse {
                line: n,
                message: format!("longer than {MAX_LINE_BYTES} bytes"),
            });
        }
        let env = Envelope::from_json(line.as_bytes()).map_err(|e| AttestError::Parse {
            line: n,
            message: e.to_string(),
        })?;
        if env.payload_type != PAYLOAD_TYPE_IN_TOTO {
            return Err(AttestError::Parse {
                line: n,
                message: format!("payload type {:?} is not in-toto", env.payload_type),
            });
        }
        let pae = env.pae();
        let key_index = keys.iter().position(|k| {
            env.signatures
                .iter()
                .any(|s| k.verify(&pae, &s.sig).is_ok())
        });
        let Some(key_index) = key_index else {
            unverified.push(n);
            continue;
        };
        let statement = Statement::parse(&env.payload).map_err(|e| AttestError::Parse {
            line: n,
            message: e.to_string(),
        })?;
        good.push(Attestation {
            line: n,
            statement,
            key_index,
        });
    }
    Ok((good, unverified))
}

/// A verification policy: which attestations must exist, and which keys may
/// sign each.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub require: Vec<Requirement>,
}

/// One required attestation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// The predicate type, or a short name: `provenance`, `scan`,
    /// `data-check`, `acceptance`, `cyclonedx`.
    pub predicate_type: String,
    /// Public key files (PEM) allowed to sign it, relative to the policy.
    pub keys: Vec<String>,
}

impl Requirement {
    /// The full predicate type URI.
    #[must_use]
    pub fn predicate_uri(&self) -> &str {
        match self.predicate_type.as_str() {
            "provenance" | "slsa" => SLSA_PROVENANCE_V1,
            "scan" => SCAN_REPORT,
            "data-check" => DATA_CHECK_REPORT,
            "acceptance" => ACCEPTANCE_REPORT,
            "cyclonedx" => CYCLONEDX,
            other => other,
        }
    }
}

/// Checks that for every requirement some attestation of that predicate
/// type, signed by one of its keys, names `root_digest_hex` as its subject.
/// `attestations` come from [`read_jsonl`] with `keys` = all policy keys in
/// order; `key_sets[r]` lists the indices allowed for requirement `r`.
pub fn check_policy(
    policy: &Policy,
    key_sets: &[Vec<usize>],
    attestations: &[Attestation],
    root_digest_hex: &str,
) -> Result<Vec<(String, usize)>, AttestError> {
    let mut satisfied = Vec::new();
    for (r, req) in policy.require.iter().enumerate() {
        let uri = req.predicate_uri();
        let allowed = key_sets.get(r).map_or(&[][..], Vec::as_slice);
        let candidates: Vec<&Attestation> = attestations
            .iter()
            .filter(|a| a.statement.predicate_type == uri)
            .collect();
        let good = candidates.iter().find(|a| {
            allowed.contains(&a.key_index)
                && a.statement
                    .subjects
                    .iter()
                    .any(|s| s.digest.get("sha256").map(String::as_str) == Some(root_digest_hex))
        });
        match good {
            Some(a) => satisfied.push((uri.to_owned(), a.line)),
            None if candidates.is_empty() => {
                return Err(AttestError::Policy(format!(
                    "no {uri} attestation signed by an allowed key"
                )));
            }
            None => {
                let wrong_key = candidates.iter().all(|a| !allowed.contains(&a.key_index));
                return Err(AttestError::Policy(if wrong_key {
                    format!("the {uri} attestation is not signed by a key the policy allows for it")
                } else {
                    format!(
                        "the {uri} attestation is about other bytes (subject is not sha256:{root_digest_hex})"
                    )
                }));
            }
        }
    }
    Ok(satisfied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyKind;

    fn run() -> TrainingRun {
        TrainingRun {
            builder_id: "https://ci.example/runner".into(),
            invocation_id: Some("run-42".into()),
            started_on: Some("2026-11-22T01:00:00Z".into()),
            finished_on: Some("2026-11-22T02:00:00Z".into()),
            external_parameters: json!({"lr": 0.01, "epochs": 3}),
            dependencies: vec![Dependency {
                name: "transactions@v1".into(),
                digest: [("sha256".to_owned(), "ab".repeat(32))].into(),
                uri: None,
                role: Some("dataset".into()),
            }],
        }
    }

    #[test]
    fn provenance_signs_reads_and_satisfies_a_policy() {
        let key = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
        let other = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
        let root = "cd".repeat(32);
        let st = provenance("fraud", &root, &run());
        assert_eq!(
            st.predicate["buildDefinition"]["externalParameters"]["epochs"],
            3
        );
        let scan = document(
            "fraud",
            &root,
            SCAN_REPORT,
            json!({"summary": {"findings": 0}}),
        );
        let foreign = document("fraud", &"ee".repeat(32), SCAN_REPORT, json!({}));
        let lines: Vec<String> = [sign(&st, &key), sign(&scan, &other), sign(&foreign, &key)]
            .iter()
            .map(|e| String::from_utf8(e.to_json()).unwrap())
            .collect();
        let text = lines.join("\n");
        let keys = [key.verifying_key(), other.verifying_key()];
        let (atts, unverified) = read_jsonl(&text, &keys).unwrap();
        assert_eq!(atts.len(), 3);
        assert!(unverified.is_empty());
        let policy: Policy = toml_like(&[("provenance", 0), ("scan", 1)]);
        let ok = check_policy(&policy, &[vec![0], vec![1]], &atts, &root).unwrap();
        assert_eq!(ok.len(), 2);
        // Scan signed by a key the policy does not allow for it (the
        // allowed key signed only a scan of other bytes).
        let e = check_policy(&policy, &[vec![0], vec![0]], &atts, &root).unwrap_err();
        assert!(e.to_string().contains("scan-report"), "{e}");
        let only_allowed: Vec<Attestation> = atts.iter().filter(|a| a.line != 3).cloned().collect();
        let e = check_policy(&policy, &[vec![0], vec![0]], &only_allowed, &root).unwrap_err();
        assert!(e.to_string().contains("not signed by a key"), "{e}");
        // Another model's bytes.
        let e = check_policy(&policy, &[vec![0], vec![1]], &atts, &"00".repeat(32)).unwrap_err();
        assert!(e.to_string().contains("other bytes"), "{e}");
        // A flipped payload byte makes the line unverifiable.
        let mut env = sign(&st, &key);
        env.payload[10] ^= 1;
        let (atts, unverified) =
            read_jsonl(&String::from_utf8(env.to_json()).unwrap(), &keys).unwrap();
        assert!(atts.is_empty());
        assert_eq!(unverified, vec![1]);
    }

    fn toml_like(reqs: &[(&str, usize)]) -> Policy {
        Policy {
            require: reqs
                .iter()
                .map(|(p, _)| Requirement {
                    predicate_type: (*p).to_owned(),
                    keys: vec![],
                })
                .collect(),
        }
    }
}
