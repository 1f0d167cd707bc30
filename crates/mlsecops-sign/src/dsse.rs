//! DSSE (Dead Simple Signing Envelope) v1: the pre-authentication encoding
//! that is signed, and the JSON envelope as it appears in a Sigstore bundle's
//! `dsseEnvelope` (byte fields in base64).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::statement::strict_json;

/// The DSSE payload type of in-toto Statements, the only one OpenSSF
/// model-signing signs and accepts.
pub const PAYLOAD_TYPE_IN_TOTO: &str = "application/vnd.in-toto+json";
/// Largest standalone envelope [`Envelope::from_json`] reads (room for a
/// [`crate::statement::MAX_STATEMENT_BYTES`] payload in base64).
pub const MAX_ENVELOPE_BYTES: usize = 64 * 1024 * 1024;
/// Deepest JSON nesting accepted in an envelope.
pub const MAX_ENVELOPE_DEPTH: usize = 8;

/// `PAE(type, body)` of DSSE v1: `"DSSEv1" SP LEN(type) SP type SP LEN(body)
/// SP body`, lengths in decimal bytes. This is what gets signed.
#[must_use]
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let header = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    );
    let mut out = Vec::with_capacity(header.len() + payload.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// The pre-authentication encoding OpenSSF model-signing v0.2 signed by
/// mistake: `"DSSEV1 28 application/vnd.in-toto+json LEN b'…'"` with the
/// payload written as a Python `bytes` literal. Its verifiers still accept
/// signatures over it, so ours do too (see `bundle::Verified::legacy_pae`).
#[must_use]
pub(crate) fn pae_v0_2_legacy(payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEV1 {} {} {} ",
        PAYLOAD_TYPE_IN_TOTO.len(),
        PAYLOAD_TYPE_IN_TOTO,
        payload.len()
    )
    .into_bytes();
    python_bytes_repr(payload, &mut out);
    out
}

/// Appends Python's `repr()` of a `bytes` value.
fn python_bytes_repr(bytes: &[u8], out: &mut Vec<u8>) {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    out.push(b'b');
    out.push(quote);
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ if b == quote => {
                out.push(b'\\');
                out.push(b);
            }
            0x20..0x7f => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(quote);
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsseSignature {
    /// The signature bytes (DER for ECDSA, 64 bytes for Ed25519).
    pub sig: Vec<u8>,
    /// Unauthenticated key hint; OpenSSF model-signing writes `""`.
    pub keyid: Option<String>,
}

/// A DSSE envelope: the exact payload bytes, their type, the signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The signed bytes, exactly as carried (never re-serialized).
    pub payload: Vec<u8>,
    /// `payloadType`, e.g. [`PAYLOAD_TYPE_IN_TOTO`].
    pub payload_type: String,
    /// The signatures, in envelope order.
    pub signatures: Vec<DsseSignature>,
}

/// Why bytes or a JSON value are not a DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Larger than [`MAX_ENVELOPE_BYTES`].
    #[error("envelope is {size} bytes, more than the {limit}-byte limit")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON, a duplicate key, or too deeply nested.
    #[error("envelope is not acceptable JSON: {0}")]
    Json(String),
    /// A field is missing or malformed.
    #[error("envelope field `{field}`: {reason}")]
    Field {
        /// JSON path of the field, e.g. `signatures[0].sig`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

pub(crate) fn join_path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

const PADDING_OPTIONAL: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, PADDING_OPTIONAL);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, PADDING_OPTIONAL);

/// Decodes base64 in either alphabet (standard or URL-safe, as DSSE and the
/// protobuf JSON mapping allow), padded or not.
pub(crate) fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let engine = if text.bytes().any(|b| b == b'-' || b == b'_') {
        &URL_SAFE_LENIENT
    } else {
        &STANDARD_LENIENT
    };
    engine
        .decode(text)
        .map_err(|e| format!("invalid base64: {e}"))
}

/// Encodes standard, padded base64 (what the reference writes).
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Reads a required base64 string field of `object`.
pub(crate) fn base64_field(
    object: &Map<String, Value>,
    prefix: &str,
    name: &str,
) -> Result<Vec<u8>, (String, String)> {
    let path = join_path(prefix, name);
    match object.get(name) {
        Some(Value::String(text)) => decode_base64(text).map_err(|reason| (path, reason)),
        Some(other) => Err((
            path,
            format!("expected a base64 string, found {}", json_type(other)),
        )),
        None => Err((path, "missing".to_owned())),
    }
}

fn field_error((field, reason): (String, String)) -> EnvelopeError {
    EnvelopeError::Field { field, reason }
}

#[derive(Serialize)]
pub(crate) struct EnvelopeJson<'a> {
    payload: String,
    #[serde(rename = "payloadType")]
    payload_type: &'a str,
    signatures: Vec<SignatureJson<'a>>,
}

#[derive(Serialize)]
struct SignatureJson<'a> {
    sig: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    keyid: Option<&'a str>,
}

impl Envelope {
    /// `PAE(payload_type, payload)` of this envelope.
    #[must_use]
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// Reads a standalone DSSE JSON envelope (`payload`, `payloadType`,
    /// `signatures[].sig`, optional `signatures[].keyid`). Unknown fields are
    /// ignored; duplicate keys are rejected.
    pub fn from_json(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(EnvelopeError::TooLarge {
                size: bytes.len(),
                limit: MAX_ENVELOPE_BYTES,
            });
        }
        let value = strict_json::parse(bytes, MAX_ENVELOPE_DEPTH).map_err(EnvelopeError::Json)?;
        Self::from_value(&value, "")
    }

    /// Reads an envelope from an already parsed JSON value; `prefix` is the
    /// JSON path of `value`, used in error messages (`dsseEnvelope` in a
    /// bundle, empty for a standalone envelope).
    pub(crate) fn from_value(value: &Value, prefix: &str) -> Result<Self, EnvelopeError> {
        let Value::Object(object) = value else {
            return Err(EnvelopeError::Field {
                field: if prefix.is_empty() {
                    "$".into()
                } else {
                    prefix.into()
                },
                reason: format!("expected an object, found {}", json_type(value)),
            });
        };
        let payload = base64_field(object, prefix, "payload").map_err(field_error)?;
        let payload_type = match object.get("payloadType") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(EnvelopeError::Field {
                    field: join_path(prefix, "payloadType"),
                    reason: format!("expected a string, found {}", json_type(other)),
                });
            }
            None => {
                return Err(EnvelopeError::Field {
                    field: join_path(prefix, "payloadType"),
                    reason: "missing".into(),
                });
            }
        };
        let signatures = match object.get("signatures") {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    parse_signature(item, &join_path(prefix, &format!("signatures[{i}]")))
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => {
                return Err(EnvelopeError::Field {
                    field: join_path(prefix, "signatures"),
                    reason: format!("expected an array, found {}", json_type(other)),
                });
            }
            None => {
                return Err(EnvelopeError::Field {
                    field: join_path(prefix, "signatures"),
                    reason: "missing".into(),
                });
            }
        };
        Ok(Self {
            payload,
            payload_type,
            signatures,
        })
    }

    pub(crate) fn to_serializable(&self) -> EnvelopeJson<'_> {
        EnvelopeJson {
            payload: encode_base64(&self.payload),
            payload_type: &self.payload_type,
            signatures: self
                .signatures
                .iter()
                .map(|s| SignatureJson {
                    sig: encode_base64(&s.sig),
                    keyid: s.keyid.as_deref(),
                })
                .collect(),
        }
    }

    /// Compact JSON as in a Sigstore bundle's `dsseEnvelope`: `payload`,
    /// `payloadType`, `signatures` (`sig`, then `keyid` when present), byte
    /// fields in standard padded base64.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_serializable()).unwrap_or_default()
    }
}

fn parse_signature(item: &Value, path: &str) -> Result<DsseSignature, EnvelopeError> {
    let Value::Object(object) = item else {
        return Err(EnvelopeError::Field {
            field: path.into(),
            reason: format!("expected an object, found {}", json_type(item)),
        });
    };
    let sig = base64_field(object, path, "sig").map_err(field_error)?;
    let keyid = match object.get("keyid") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(EnvelopeError::Field {
                field: join_path(path, "keyid"),
                reason: format!("expected a string, found {}", json_type(other)),
            });
        }
    };
    Ok(DsseSignature { sig, keyid })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_vector() {
        // DSSE protocol.md, "Test Vectors".
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        // Implementation test cases: empty type and body, non-ASCII body.
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
        assert_eq!(pae("t", "é".as_bytes()), "DSSEv1 1 t 2 é".as_bytes());
    }

    #[test]
    fn legacy_pae_matches_python_repr() {
        // Expected values printed by model-signing 1.1.1's `pae_compat`.
        let cases: [(&[u8], &[u8]); 4] = [
            (
                b"{\"a\": \"it's\"}\n\t\\",
                b"DSSEV1 28 application/vnd.in-toto+json 16 b'{\"a\": \"it\\'s\"}\\n\\t\\\\'",
            ),
            (
                b"plain \"q\"",
                b"DSSEV1 28 application/vnd.in-toto+json 9 b'plain \"q\"'",
            ),
            (
                b"\x00\x7f\xff\xe2\x80\x94 '\"",
                b"DSSEV1 28 application/vnd.in-toto+json 9 b'\\x00\\x7f\\xff\\xe2\\x80\\x94 \\'\"'",
            ),
            (b"", b"DSSEV1 28 application/vnd.in-toto+json 0 b''"),
        ];
        for (payload, expected) in cases {
            assert_eq!(pae_v0_2_legacy(payload), expected, "{payload:?}");
        }
        let mut only_single = Vec::new();
        python_bytes_repr(b"it's", &mut only_single);
        assert_eq!(only_single, b"b\"it's\"");
    }

    #[test]
    fn envelope_json_round_trip_and_spec_example() {
        let spec = br#"{"payload": "aGVsbG8gd29ybGQ=",
            "payloadType": "http://example.com/HelloWorld",
            "signatures": [{"sig": "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="}]}"#;
        let envelope = Envelope::from_json(spec).unwrap();
        assert_eq!(envelope.payload, b"hello world");
        assert_eq!(envelope.signatures[0].sig.len(), 64);
        assert_eq!(envelope.signatures[0].keyid, None);
        assert_eq!(Envelope::from_json(&envelope.to_json()).unwrap(), envelope);
        let with_keyid = Envelope {
            signatures: vec![DsseSignature {
                sig: vec![1, 2, 3],
                keyid: Some(String::new()),
            }],
            ..envelope
        };
        assert_eq!(
            String::from_utf8(with_keyid.to_json()).unwrap(),
            r#"{"payload":"aGVsbG8gd29ybGQ=","payloadType":"http://example.com/HelloWorld","signatures":[{"sig":"AQID","keyid":""}]}"#
        );
    }

    #[test]
    fn base64_accepts_both_alphabets_with_or_without_padding() {
        for text in ["+/8=", "+/8", "-_8=", "-_8"] {
            assert_eq!(decode_base64(text).unwrap(), [0xfb, 0xff], "{text}");
        }
        assert!(decode_base64("+_8=").is_err());
        assert!(decode_base64("a b").is_err());
    }

    #[test]
    fn errors_name_the_field() {
        let cases: [(&str, &str); 6] = [
            (r#"{"payloadType": "t", "signatures": []}"#, "payload"),
            (
                r#"{"payload": "!", "payloadType": "t", "signatures": []}"#,
                "payload",
            ),
            (r#"{"payload": "", "signatures": []}"#, "payloadType"),
            (r#"{"payload": "", "payloadType": "t"}"#, "signatures"),
            (
                r#"{"payload": "", "payloadType": "t", "signatures": [{}]}"#,
                "signatures[0].sig",
            ),
            (
                r#"{"payload": "", "payloadType": "t", "signatures": [{"sig": "", "keyid": 1}]}"#,
                "signatures[0].keyid",
            ),
        ];
        for (json, expected) in cases {
            match Envelope::from_json(json.as_bytes()) {
                Err(EnvelopeError::Field { field, .. }) => assert_eq!(field, expected, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
    }
}
