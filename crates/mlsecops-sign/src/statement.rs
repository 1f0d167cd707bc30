//! in-toto Statements: the JSON document a model signature's DSSE envelope
//! carries (`_type`, `subject`, `predicateType`, `predicate`).
//!
//! Writing produces Statement v1 in the layout OpenSSF model-signing's
//! signer produces (protobuf JSON, two-space indentation, fields in proto
//! order). Reading accepts Statement v1 and v0.1, whose JSON shapes are the
//! same, and reports which one it read; OpenSSF model-signing itself only
//! accepts v1, so its verifier layer checks [`StatementType`].
//!
//! A verifier never re-serializes a statement: the bytes that were signed are
//! kept next to the parsed value (see `bundle::Verified`).

pub(crate) mod strict_json;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::dsse::json_type;

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE_V1: &str = "https://in-toto.io/Statement/v1";
/// `_type` of an in-toto Statement v0.1 (read only).
pub const STATEMENT_TYPE_V0_1: &str = "https://in-toto.io/Statement/v0.1";
/// Largest statement [`Statement::parse`] reads: a manifest of a few hundred
/// thousand files, far beyond any model seen in practice.
pub const MAX_STATEMENT_BYTES: usize = 32 * 1024 * 1024;
/// Deepest nesting of arrays and objects [`Statement::parse`] accepts.
pub const MAX_STATEMENT_DEPTH: usize = 64;

/// Which in-toto Statement version a payload declared in `_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatementType {
    /// `https://in-toto.io/Statement/v1`.
    V1,
    /// `https://in-toto.io/Statement/v0.1`.
    V0_1,
}

impl StatementType {
    /// The `_type` URI of this version.
    #[must_use]
    pub fn uri(self) -> &'static str {
        match self {
            Self::V1 => STATEMENT_TYPE_V1,
            Self::V0_1 => STATEMENT_TYPE_V0_1,
        }
    }
}

/// One `subject` entry: an in-toto ResourceDescriptor reduced to the fields
/// subjects use. Other descriptor fields (`uri`, `annotations`, …) are
/// ignored when reading, as the in-toto parsing rules require.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Artifact name; empty when the descriptor has none.
    pub name: String,
    /// Algorithm name (`sha256`, …) to digest, usually lowercase hex.
    pub digest: BTreeMap<String, String>,
}

/// An in-toto Statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The artifacts the statement is about (`subject`).
    pub subjects: Vec<Subject>,
    /// URI naming the predicate schema (`predicateType`).
    pub predicate_type: String,
    /// The predicate: a JSON object (`Value::Null` is written as `{}`).
    pub predicate: Value,
}

/// Why bytes are not an acceptable in-toto Statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// The payload is larger than [`MAX_STATEMENT_BYTES`].
    #[error("statement is {size} bytes, more than the {limit}-byte limit")]
    TooLarge {
        /// Size of the payload.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON, a duplicate key, or nesting deeper than
    /// [`MAX_STATEMENT_DEPTH`].
    #[error("statement is not acceptable JSON: {0}")]
    Json(String),
    /// A field is missing or has the wrong type or value.
    #[error("statement field `{field}`: {reason}")]
    Field {
        /// JSON path of the field, e.g. `subject[0].digest`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn field_error(field: impl Into<String>, reason: impl Into<String>) -> StatementError {
    StatementError::Field {
        field: field.into(),
        reason: reason.into(),
    }
}

impl Statement {
    /// Serializes the statement as in-toto Statement v1 JSON: two-space
    /// indentation, `_type`, `subject`, `predicateType`, `predicate` in that
    /// order, subjects as `name` (omitted when empty) then `digest`; no
    /// trailing newline. This is the layout of OpenSSF model-signing's
    /// payloads; key order inside `predicate` follows `serde_json`.
    #[must_use]
    pub fn to_json_bytes(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct SubjectOut<'a> {
            #[serde(skip_serializing_if = "str::is_empty")]
            name: &'a str,
            digest: &'a BTreeMap<String, String>,
        }
        #[derive(Serialize)]
        struct StatementOut<'a> {
            #[serde(rename = "_type")]
            statement_type: &'static str,
            subject: Vec<SubjectOut<'a>>,
            #[serde(rename = "predicateType")]
            predicate_type: &'a str,
            predicate: &'a Value,
        }
        let empty = Value::Object(Map::new());
        let out = StatementOut {
            statement_type: STATEMENT_TYPE_V1,
            subject: self
                .subjects
                .iter()
                .map(|s| SubjectOut {
                    name: &s.name,
                    digest: &s.digest,
                })
                .collect(),
            predicate_type: &self.predicate_type,
            predicate: if self.predicate.is_null() {
                &empty
            } else {
                &self.predicate
            },
        };
        // Serializing plain structs, strings and `Value`s cannot fail.
        serde_json::to_vec_pretty(&out).unwrap_or_default()
    }

    /// Reads an in-toto Statement v1 or v0.1; see [`Statement::parse_versioned`].
    pub fn parse(bytes: &[u8]) -> Result<Self, StatementError> {
        Self::parse_versioned(bytes).map(|(_, statement)| statement)
    }

    /// Reads an in-toto Statement and the version its `_type` declared.
    ///
    /// Requires `_type` (v1 or v0.1), a non-empty `subject` array whose
    /// entries each have a non-empty `digest` object of strings (and, if
    /// present, a string `name`), a non-empty string `predicateType`, and a
    /// `predicate` that is an object, `null` or absent (both read as `{}`).
    /// Unknown fields are ignored; duplicate keys are rejected.
    pub fn parse_versioned(bytes: &[u8]) -> Result<(StatementType, Self), StatementError> {
        if bytes.len() > MAX_STATEMENT_BYTES {
            return Err(StatementError::TooLarge {
                size: bytes.len(),
                limit: MAX_STATEMENT_BYTES,
            });
        }
        let value = strict_json::parse(bytes, MAX_STATEMENT_DEPTH).map_err(StatementError::Json)?;
        let Value::Object(mut root) = value else {
            return Err(field_error(
                "$",
                format!("expected an object, found {}", json_type(&value)),
            ));
        };
        let statement_type = match root.get("_type") {
            Some(Value::String(s)) if s == STATEMENT_TYPE_V1 => StatementType::V1,
            Some(Value::String(s)) if s == STATEMENT_TYPE_V0_1 => StatementType::V0_1,
            Some(Value::String(s)) => {
                return Err(field_error(
                    "_type",
                    format!("expected {STATEMENT_TYPE_V1} or {STATEMENT_TYPE_V0_1}, found {s:?}"),
                ));
            }
            Some(other) => {
                return Err(field_error(
                    "_type",
                    format!("expected a string, found {}", json_type(other)),
                ));
            }
            None => return Err(field_error("_type", "missing")),
        };
        let subjects = match root.get("subject") {
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(field_error("subject", "empty: a statement needs a subject"));
            }
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_subject(i, item))
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => {
                return Err(field_error(
                    "subject",
                    format!("expected an array, found {}", json_type(other)),
                ));
            }
            None => return Err(field_error("subject", "missing")),
        };
        let predicate_type = match root.get("predicateType") {
            Some(Value::String(s)) if s.is_empty() => {
                return Err(field_error("predicateType", "empty"));
            }
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(field_error(
                    "predicateType",
                    format!("expected a string, found {}", json_type(other)),
                ));
            }
            None => return Err(field_error("predicateType", "missing")),
        };
        let predicate = match root.remove("predicate") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(predicate @ Value::Object(_)) => predicate,
            Some(other) => {
                return Err(field_error(
                    "predicate",
                    format!("expected an object, found {}", json_type(&other)),
                ));
            }
        };
        Ok((
            statement_type,
            Self {
                subjects,
                predicate_type,
                predicate,
            },
        ))
    }
}

fn parse_subject(index: usize, item: &Value) -> Result<Subject, StatementError> {
    let path = format!("subject[{index}]");
    let Value::Object(fields) = item else {
        return Err(field_error(
            path,
            format!("expected an object, found {}", json_type(item)),
        ));
    };
    let name = match fields.get("name") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(field_error(
                format!("{path}.name"),
                format!("expected a string, found {}", json_type(other)),
            ));
        }
    };
    let digest = match fields.get("digest") {
        Some(Value::Object(map)) if map.is_empty() => {
            return Err(field_error(format!("{path}.digest"), "empty"));
        }
        Some(Value::Object(map)) => {
            let mut digest = BTreeMap::new();
            for (algorithm, value) in map {
                let Value::String(value) = value else {
                    return Err(field_error(
                        format!("{path}.digest.{algorithm}"),
                        format!("expected a string, found {}", json_type(value)),
                    ));
                };
                digest.insert(algorithm.clone(), value.clone());
            }
            digest
        }
        Some(other) => {
            return Err(field_error(
                format!("{path}.digest"),
                format!("expected an object, found {}", json_type(other)),
            ));
        }
        None => return Err(field_error(format!("{path}.digest"), "missing")),
    };
    Ok(Subject { name, digest })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Statement {
        Statement {
            subjects: vec![Subject {
                name: "model".into(),
                digest: BTreeMap::from([("sha256".into(), "ab".repeat(32))]),
            }],
            predicate_type: "https://model_signing/signature/v1.0".into(),
            predicate: json!({"resources": [], "serialization": {"method": "files"}}),
        }
    }

    #[test]
    fn writes_the_reference_layout() {
        let text = String::from_utf8(sample().to_json_bytes()).unwrap();
        let expected = format!(
            "{{\n  \"_type\": \"https://in-toto.io/Statement/v1\",\n  \"subject\": [\n    {{\n      \
             \"name\": \"model\",\n      \"digest\": {{\n        \"sha256\": \"{}\"\n      }}\n    }}\n  \
             ],\n  \"predicateType\": \"https://model_signing/signature/v1.0\",\n  \"predicate\": {{\n    \
             \"resources\": [],\n    \"serialization\": {{\n      \"method\": \"files\"\n    }}\n  }}\n}}",
            "ab".repeat(32)
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn round_trips() {
        let statement = sample();
        let (version, parsed) = Statement::parse_versioned(&statement.to_json_bytes()).unwrap();
        assert_eq!(version, StatementType::V1);
        assert_eq!(parsed, statement);
    }

    #[test]
    fn reads_v0_1_and_ignores_unknown_fields() {
        let bytes = br#"{"_type": "https://in-toto.io/Statement/v0.1", "extra": 1,
            "subject": [{"name": "a", "digest": {"sha256": "00"}, "annotations": {"k": "v"}},
                        {"digest": {"sha512": "11"}}],
            "predicateType": "https://example.com/p"}"#;
        let (version, parsed) = Statement::parse_versioned(bytes).unwrap();
        assert_eq!(version, StatementType::V0_1);
        assert_eq!(parsed.subjects.len(), 2);
        assert_eq!(parsed.subjects[1].name, "");
        assert_eq!(parsed.predicate, json!({}));
    }

    fn field_of(bytes: &[u8]) -> String {
        match Statement::parse(bytes) {
            Err(StatementError::Field { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        let ok_subject = r#""subject": [{"digest": {"sha256": "00"}}]"#;
        let p = r#""predicateType": "p""#;
        let t = r#""_type": "https://in-toto.io/Statement/v1""#;
        assert_eq!(field_of(b"[]"), "$");
        assert_eq!(
            field_of(format!("{{{ok_subject}, {p}}}").as_bytes()),
            "_type"
        );
        assert_eq!(
            field_of(
                format!(r#"{{"_type": "https://in-toto.io/Statement/v2", {ok_subject}, {p}}}"#)
                    .as_bytes()
            ),
            "_type"
        );
        assert_eq!(field_of(format!("{{{t}, {p}}}").as_bytes()), "subject");
        assert_eq!(
            field_of(format!(r#"{{{t}, "subject": [], {p}}}"#).as_bytes()),
            "subject"
        );
        assert_eq!(
            field_of(format!(r#"{{{t}, "subject": [{{"name": "a"}}], {p}}}"#).as_bytes()),
            "subject[0].digest"
        );
        assert_eq!(
            field_of(
                format!(r#"{{{t}, "subject": [{{"digest": {{"sha256": 1}}}}], {p}}}"#).as_bytes()
            ),
            "subject[0].digest.sha256"
        );
        assert_eq!(
            field_of(
                format!(r#"{{{t}, "subject": [{{"name": 5, "digest": {{"a": "b"}}}}], {p}}}"#)
                    .as_bytes()
            ),
            "subject[0].name"
        );
        assert_eq!(
            field_of(format!("{{{t}, {ok_subject}}}").as_bytes()),
            "predicateType"
        );
        assert_eq!(
            field_of(format!(r#"{{{t}, {ok_subject}, {p}, "predicate": []}}"#).as_bytes()),
            "predicate"
        );
    }

    #[test]
    fn rejects_duplicates_and_oversize() {
        let dup = br#"{"_type": "https://in-toto.io/Statement/v1", "_type": "https://in-toto.io/Statement/v1"}"#;
        assert!(matches!(
            Statement::parse(dup),
            Err(StatementError::Json(_))
        ));
        let big = vec![b' '; MAX_STATEMENT_BYTES + 1];
        assert!(matches!(
            Statement::parse(&big),
            Err(StatementError::TooLarge { .. })
        ));
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(
            Statement::parse(deep.as_bytes()),
            Err(StatementError::Json(_))
        ));
    }
}
