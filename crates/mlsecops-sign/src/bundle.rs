//! Sigstore bundles (media type `application/vnd.dev.sigstore.bundle.v0.3+json`)
//! wrapping a DSSE envelope, as OpenSSF model-signing writes them to
//! `model.sig` for key- and certificate-based signing, and their verification.
//!
//! Layout written (compact JSON, this key order, like the reference):
//! `{"mediaType", "verificationMaterial": {<material>, "tlogEntries": []},
//! "dsseEnvelope": {"payload", "payloadType", "signatures": [{"sig", "keyid": ""}]}}`
//! where `<material>` is `"publicKey": {"hint"}` (hint = SHA-256 hex of the
//! public key's PEM), `"x509CertificateChain": {"certificates": [{"rawBytes"}]}`
//! (leaf first) or `"certificate": {"rawBytes"}`.
//!
//! Verification follows the reference: the media type must be v0.3; a key
//! hint that is present must match the key (the reference raises "Key
//! mismatch"; an absent hint only warns there and is reported here as
//! [`KeyHint::Absent`]); the envelope must have exactly one signature (the
//! bundle specification's rule; the reference reads only the first); the
//! signature is ECDSA over `PAE("application/vnd.in-toto+json", payload)`
//! with the curve's hash, falling back like the reference to model-signing
//! v0.2's mistaken encoding; the payload type must be in-toto. The payload
//! is parsed only after the signature verified, from the very bytes that
//! were verified.

mod sigstore;
pub(crate) mod x509;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::dsse::{
    self, Envelope, EnvelopeError, PAYLOAD_TYPE_IN_TOTO, base64_field, encode_base64, join_path,
    json_type,
};
use crate::keys::{HashAlg, KeyKind, SignatureError, SigningKey, VerifyingKey};
use crate::statement::{Statement, StatementError, StatementType, strict_json};

pub use sigstore::{
    Identity, MAX_TRUSTED_ROOT_BYTES, SigstoreError, SigstoreVerified, TrustedRoot,
    TrustedRootError,
};
pub use x509::{CertificateError, TrustedCertificates, VerificationTime};

/// The bundle media type OpenSSF model-signing writes and requires.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Largest bundle [`Bundle::parse`] reads: room for a
/// [`crate::statement::MAX_STATEMENT_BYTES`] payload in base64.
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024 * 1024;
/// Deepest JSON nesting accepted in a bundle (real ones nest 6 levels).
pub const MAX_BUNDLE_DEPTH: usize = 32;
/// Most certificates accepted in a bundle's chain.
pub const MAX_BUNDLE_CERTIFICATES: usize = 16;

/// The key material a bundle names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerificationMaterial {
    /// A public key identified by a hint, the key itself coming out of band.
    PublicKey {
        /// The hint; `None` when absent or empty (older model-signing
        /// versions wrote the key's PEM in `rawBytes` instead, ignored here
        /// as by the reference).
        hint: Option<String>,
    },
    /// An X.509 chain, leaf first, DER.
    X509CertificateChain {
        /// The certificates.
        certs: Vec<Vec<u8>>,
    },
    /// A single leaf certificate, DER (Sigstore/Fulcio bundles).
    Certificate {
        /// The certificate.
        der: Vec<u8>,
    },
}

impl VerificationMaterial {
    fn name(&self) -> &'static str {
        match self {
            Self::PublicKey { .. } => "publicKey",
            Self::X509CertificateChain { .. } => "x509CertificateChain",
            Self::Certificate { .. } => "certificate",
        }
    }
}

/// A Sigstore bundle carrying a DSSE envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    /// `mediaType`.
    pub media_type: String,
    /// `verificationMaterial` key material.
    pub verification_material: VerificationMaterial,
    /// `verificationMaterial.tlogEntries`, kept as read (see
    /// [`crate::bundle`] docs; empty for key- and certificate-signed models).
    pub tlog_entries: Vec<Value>,
    /// `verificationMaterial.timestampVerificationData`, kept as read.
    pub timestamp_verification_data: Option<Value>,
    /// `dsseEnvelope`.
    pub envelope: Envelope,
}

/// Why bytes are not a bundle this crate reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Larger than [`MAX_BUNDLE_BYTES`].
    #[error("bundle is {size} bytes, more than the {limit}-byte limit")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON, a duplicate key, or too deeply nested.
    #[error("bundle is not acceptable JSON: {0}")]
    Json(String),
    /// A field is missing or malformed.
    #[error("bundle field `{field}`: {reason}")]
    Field {
        /// JSON path, e.g. `verificationMaterial.publicKey.hint`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl From<EnvelopeError> for BundleError {
    fn from(e: EnvelopeError) -> Self {
        match e {
            EnvelopeError::TooLarge { size, limit } => Self::TooLarge { size, limit },
            EnvelopeError::Json(reason) => Self::Json(reason),
            EnvelopeError::Field { field, reason } => Self::Field { field, reason },
        }
    }
}

/// Why signing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The signing certificate does not parse.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// The signing certificate certifies another key.
    #[error("the signing certificate's public key is not the signing key's")]
    CertificateKeyMismatch,
}

/// How the bundle's key hint compared with the verifying key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHint {
    /// The bundle's hint equals the key's.
    Matched,
    /// The bundle has no hint (older model-signing; the reference warns).
    Absent,
    /// The bundle names certificates, not a key hint.
    NotApplicable,
}

/// What a successful verification vouches for.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The statement parsed from [`Verified::payload`].
    pub statement: Statement,
    /// The statement's declared version (model-signing accepts only v1).
    pub statement_type: StatementType,
    /// The exact payload bytes whose signature verified.
    pub payload: Vec<u8>,
    /// The envelope's payload type (always [`PAYLOAD_TYPE_IN_TOTO`]).
    pub payload_type: String,
    /// The key-hint check.
    pub key_hint: KeyHint,
    /// The signature was over model-signing v0.2's mistaken encoding.
    pub legacy_pae: bool,
    /// For certificate-signed bundles, the validated path from leaf to the
    /// trusted anchor (DER); empty for key-signed bundles.
    pub certificate_chain: Vec<Vec<u8>>,
}

/// Why a bundle does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not [`BUNDLE_MEDIA_TYPE`].
    #[error("bundle media type is {found:?}, expected {BUNDLE_MEDIA_TYPE:?}")]
    MediaType {
        /// The media type found.
        found: String,
    },
    /// The bundle's material does not suit this verification.
    #[error("bundle carries {found} verification material, which {expected}")]
    Material {
        /// What this verification needs.
        expected: &'static str,
        /// The material found.
        found: &'static str,
    },
    /// The envelope has zero or several signatures.
    #[error("envelope has {0} signatures, a bundle must have exactly one")]
    SignatureCount(usize),
    /// The envelope's payload type is not in-toto.
    #[error("payload type is {found:?}, expected {PAYLOAD_TYPE_IN_TOTO:?}")]
    PayloadType {
        /// The payload type found.
        found: String,
    },
    /// The bundle's key hint names another key.
    #[error(
        "key mismatch: the bundle's key hint {bundle} is not the verifying key's {key}\nhint: verify with the public key that signed this model"
    )]
    KeyHintMismatch {
        /// Hint in the bundle.
        bundle: String,
        /// Hint of the verifying key.
        key: String,
    },
    /// The certificate path does not validate.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// The signature is not a well-formed signature for the key.
    #[error("signature is malformed for a {0} key")]
    SignatureMalformed(KeyKind),
    /// The signature does not verify (payload, signature or key differ).
    #[error(
        "signature does not verify: the payload or signature was altered, or another key signed it"
    )]
    SignatureMismatch,
    /// The signed payload is not an acceptable in-toto Statement.
    #[error("signed payload: {0}")]
    Statement(#[from] StatementError),
}

impl From<SignatureError> for VerifyError {
    fn from(e: SignatureError) -> Self {
        match e {
            SignatureError::Malformed(kind) => Self::SignatureMalformed(kind),
            SignatureError::Mismatch => Self::SignatureMismatch,
        }
    }
}

fn field(field: impl Into<String>, reason: impl Into<String>) -> BundleError {
    BundleError::Field {
        field: field.into(),
        reason: reason.into(),
    }
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, BundleError> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(field(
            path,
            format!("expected an object, found {}", json_type(other)),
        )),
    }
}

fn raw_bytes(value: &Value, path: &str) -> Result<Vec<u8>, BundleError> {
    let map = object(value, path)?;
    let bytes = base64_field(map, path, "rawBytes").map_err(|(f, r)| field(f, r))?;
    if bytes.is_empty() {
        return Err(field(join_path(path, "rawBytes"), "empty"));
    }
    Ok(bytes)
}

fn parse_material(vm: &Map<String, Value>) -> Result<VerificationMaterial, BundleError> {
    let present: Vec<&str> = ["publicKey", "x509CertificateChain", "certificate"]
        .into_iter()
        .filter(|k| vm.contains_key(*k))
        .collect();
    match present.as_slice() {
        [] => Err(field(
            "verificationMaterial",
            "missing: expected one of publicKey, x509CertificateChain, certificate",
        )),
        ["publicKey"] => {
            let path = "verificationMaterial.publicKey";
            let pk = object(&vm["publicKey"], path)?;
            let hint = match pk.get("hint") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.is_empty() => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => {
                    return Err(field(
                        format!("{path}.hint"),
                        format!("expected a string, found {}", json_type(other)),
                    ));
                }
            };
            Ok(VerificationMaterial::PublicKey { hint })
        }
        ["x509CertificateChain"] => {
            let path = "verificationMaterial.x509CertificateChain";
            let chain = object(&vm["x509CertificateChain"], path)?;
            let certs_path = format!("{path}.certificates");
            let certs = match chain.get("certificates") {
                Some(Value::Array(items)) if items.is_empty() => {
                    return Err(field(certs_path, "empty"));
                }
                Some(Value::Array(items)) if items.len() > MAX_BUNDLE_CERTIFICATES => {
                    return Err(field(
                        certs_path,
                        format!(
                            "{} certificates, more than {MAX_BUNDLE_CERTIFICATES}",
                            items.len()
                        ),
                    ));
                }
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| raw_bytes(item, &format!("{certs_path}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?,
                Some(other) => {
                    return Err(field(
                        certs_path,
                        format!("expected an array, found {}", json_type(other)),
                    ));
                }
                None => return Err(field(certs_path, "missing")),
            };
            Ok(VerificationMaterial::X509CertificateChain { certs })
        }
        ["certificate"] => Ok(VerificationMaterial::Certificate {
            der: raw_bytes(&vm["certificate"], "verificationMaterial.certificate")?,
        }),
        several => Err(field(
            "verificationMaterial",
            format!(
                "several key materials ({}): expected exactly one",
                several.join(", ")
            ),
        )),
    }
}

#[derive(Serialize)]
struct BundleJson<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    #[serde(rename = "verificationMaterial")]
    verification_material: MaterialJson<'a>,
    #[serde(rename = "dsseEnvelope")]
    dsse_envelope: dsse::EnvelopeJson<'a>,
}

#[derive(Serialize)]
struct MaterialJson<'a> {
    #[serde(rename = "publicKey", skip_serializing_if = "Option::is_none")]
    public_key: Option<PublicKeyJson<'a>>,
    #[serde(
        rename = "x509CertificateChain",
        skip_serializing_if = "Option::is_none"
    )]
    x509_certificate_chain: Option<ChainJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<RawBytesJson>,
    #[serde(rename = "tlogEntries")]
    tlog_entries: &'a [Value],
    #[serde(
        rename = "timestampVerificationData",
        skip_serializing_if = "Option::is_none"
    )]
    timestamp_verification_data: Option<&'a Value>,
}

#[derive(Serialize)]
struct PublicKeyJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
}

#[derive(Serialize)]
struct ChainJson {
    certificates: Vec<RawBytesJson>,
}

#[derive(Serialize)]
struct RawBytesJson {
    #[serde(rename = "rawBytes")]
    raw_bytes: String,
}

impl Bundle {
    /// Reads a bundle. Requires `mediaType` (any string; verification checks
    /// it), `verificationMaterial` with exactly one of `publicKey`,
    /// `x509CertificateChain`, `certificate`, and `dsseEnvelope`. Other
    /// fields are ignored, except `messageSignature`, which is refused.
    /// Bounded by [`MAX_BUNDLE_BYTES`] and [`MAX_BUNDLE_DEPTH`]; never
    /// panics; errors name the JSON path.
    pub fn parse(bytes: &[u8]) -> Result<Self, BundleError> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge {
                size: bytes.len(),
                limit: MAX_BUNDLE_BYTES,
            });
        }
        let value = strict_json::parse(bytes, MAX_BUNDLE_DEPTH).map_err(BundleError::Json)?;
        let root = object(&value, "$")?;
        let media_type = match root.get("mediaType") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(field(
                    "mediaType",
                    format!("expected a string, found {}", json_type(other)),
                ));
            }
            None => return Err(field("mediaType", "missing")),
        };
        let vm = object(
            root.get("verificationMaterial")
                .ok_or_else(|| field("verificationMaterial", "missing"))?,
            "verificationMaterial",
        )?;
        let verification_material = parse_material(vm)?;
        let tlog_entries = match vm.get("tlogEntries") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    object(item, &format!("verificationMaterial.tlogEntries[{i}]"))?;
                }
                items.clone()
            }
            Some(other) => {
                return Err(field(
                    "verificationMaterial.tlogEntries",
                    format!("expected an array, found {}", json_type(other)),
                ));
            }
        };
        let timestamp_verification_data = vm
            .get("timestampVerificationData")
            .filter(|v| !v.is_null())
            .cloned();
        if root.contains_key("messageSignature") {
            return Err(field(
                "messageSignature",
                "a message signature, not a DSSE envelope: model signatures use dsseEnvelope",
            ));
        }
        let envelope_value = root
            .get("dsseEnvelope")
            .ok_or_else(|| field("dsseEnvelope", "missing"))?;
        let envelope = Envelope::from_value(envelope_value, "dsseEnvelope")?;
        Ok(Self {
            media_type,
            verification_material,
            tlog_entries,
            timestamp_verification_data,
            envelope,
        })
    }

    /// Compact JSON in the reference's layout (see the module docs). For
    /// bundles the reference wrote, `Bundle::parse(b)?.to_json() == b`.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let mut material = MaterialJson {
            public_key: None,
            x509_certificate_chain: None,
            certificate: None,
            tlog_entries: &self.tlog_entries,
            timestamp_verification_data: self.timestamp_verification_data.as_ref(),
        };
        match &self.verification_material {
            VerificationMaterial::PublicKey { hint } => {
                material.public_key = Some(PublicKeyJson {
                    hint: hint.as_deref(),
                });
            }
            VerificationMaterial::X509CertificateChain { certs } => {
                material.x509_certificate_chain = Some(ChainJson {
                    certificates: certs
                        .iter()
                        .map(|der| RawBytesJson {
                            raw_bytes: encode_base64(der),
                        })
                        .collect(),
                });
            }
            VerificationMaterial::Certificate { der } => {
                material.certificate = Some(RawBytesJson {
                    raw_bytes: encode_base64(der),
                });
            }
        }
        let json = BundleJson {
            media_type: &self.media_type,
            verification_material: material,
            dsse_envelope: self.envelope.to_serializable(),
        };
        serde_json::to_vec(&json).unwrap_or_default()
    }

    /// Signs in-toto Statement bytes (e.g. [`Statement::to_json_bytes`]) as
    /// the reference's key signer does: one signature over
    /// `PAE("application/vnd.in-toto+json", statement_bytes)`, `keyid` `""`,
    /// material `publicKey.hint` = [`VerifyingKey::hint`].
    #[must_use]
    pub fn sign_statement(statement_bytes: &[u8], key: &SigningKey) -> Self {
        Self::signed(
            statement_bytes,
            key,
            VerificationMaterial::PublicKey {
                hint: Some(key.verifying_key().hint()),
            },
        )
    }

    /// Signs like [`Bundle::sign_statement`] but names the signer by
    /// certificates, as the reference's certificate signer does: `chain[0]`
    /// is the signing certificate (its key must be `key`'s), then the
    /// intermediates (DER each).
    pub fn sign_statement_with_certificates(
        statement_bytes: &[u8],
        key: &SigningKey,
        chain: Vec<Vec<u8>>,
    ) -> Result<Self, SignError> {
        let Some(leaf) = chain.first() else {
            return Err(SignError::Certificate(CertificateError::Empty));
        };
        let leaf_key = x509::leaf_public_key(leaf)?;
        if leaf_key != key.verifying_key() {
            return Err(SignError::CertificateKeyMismatch);
        }
        Ok(Self::signed(
            statement_bytes,
            key,
            VerificationMaterial::X509CertificateChain { certs: chain },
        ))
    }

    fn signed(statement_bytes: &[u8], key: &SigningKey, material: VerificationMaterial) -> Self {
        let sig = key.sign(&dsse::pae(PAYLOAD_TYPE_IN_TOTO, statement_bytes));
        Self {
            media_type: BUNDLE_MEDIA_TYPE.to_owned(),
            verification_material: material,
            tlog_entries: Vec::new(),
            timestamp_verification_data: None,
            envelope: Envelope {
                payload: statement_bytes.to_vec(),
                payload_type: PAYLOAD_TYPE_IN_TOTO.to_owned(),
                signatures: vec![dsse::DsseSignature {
                    sig,
                    keyid: Some(String::new()),
                }],
            },
        }
    }

    fn check_envelope_shape(&self) -> Result<&[u8], VerifyError> {
        if self.media_type != BUNDLE_MEDIA_TYPE {
            return Err(VerifyError::MediaType {
                found: self.media_type.clone(),
            });
        }
        let [signature] = self.envelope.signatures.as_slice() else {
            return Err(VerifyError::SignatureCount(self.envelope.signatures.len()));
        };
        if self.envelope.payload_type != PAYLOAD_TYPE_IN_TOTO {
            return Err(VerifyError::PayloadType {
                found: self.envelope.payload_type.clone(),
            });
        }
        Ok(&signature.sig)
    }

    /// Verifies the envelope signature with `key` and returns the statement.
    /// Bundles naming certificates verify too (as with the reference) but
    /// then nothing about the certificates is checked.
    pub fn verify_with_key(&self, key: &VerifyingKey) -> Result<Verified, VerifyError> {
        if self.media_type != BUNDLE_MEDIA_TYPE {
            return Err(VerifyError::MediaType {
                found: self.media_type.clone(),
            });
        }
        let key_hint = match &self.verification_material {
            VerificationMaterial::PublicKey { hint: Some(hint) } => {
                let expected = key.hint();
                if *hint != expected {
                    return Err(VerifyError::KeyHintMismatch {
                        bundle: hint.clone(),
                        key: expected,
                    });
                }
                KeyHint::Matched
            }
            VerificationMaterial::PublicKey { hint: None } => KeyHint::Absent,
            _ => KeyHint::NotApplicable,
        };
        let signature = self.check_envelope_shape()?;
        let legacy_hash = key.ecdsa_hash();
        let legacy_pae =
            verify_envelope_signature(key, &self.envelope.payload, signature, legacy_hash)?;
        self.finish(key_hint, legacy_pae, Vec::new())
    }

    /// Validates the bundle's certificates (`x509CertificateChain` or
    /// `certificate`) to one of `trusted` at `time`, then verifies the
    /// envelope with the leaf's key. The reference checks validity at the
    /// leaf's `notBefore` ([`VerificationTime::LeafNotBefore`]).
    pub fn verify_with_certificate_chain(
        &self,
        trusted: &TrustedCertificates,
        time: VerificationTime,
    ) -> Result<Verified, VerifyError> {
        let certs: &[Vec<u8>] = match &self.verification_material {
            VerificationMaterial::X509CertificateChain { certs } => certs,
            VerificationMaterial::Certificate { der } => std::slice::from_ref(der),
            other @ VerificationMaterial::PublicKey { .. } => {
                return Err(VerifyError::Material {
                    expected: "certificate verification cannot use (verify with the public key)",
                    found: other.name(),
                });
            }
        };
        let signature = self.check_envelope_shape()?;
        let path = x509::validate_path(certs, trusted, time)?;
        // model-signing v0.2 hashed with SHA-256 whatever the curve.
        let legacy_pae = verify_envelope_signature(
            &path.leaf_key,
            &self.envelope.payload,
            signature,
            Some(HashAlg::Sha256),
        )?;
        self.finish(KeyHint::NotApplicable, legacy_pae, path.chain)
    }

    fn finish(
        &self,
        key_hint: KeyHint,
        legacy_pae: bool,
        certificate_chain: Vec<Vec<u8>>,
    ) -> Result<Verified, VerifyError> {
        let payload = self.envelope.payload.clone();
        let (statement_type, statement) = Statement::parse_versioned(&payload)?;
        Ok(Verified {
            statement,
            statement_type,
            payload,
            payload_type: self.envelope.payload_type.clone(),
            key_hint,
            legacy_pae,
            certificate_chain,
        })
    }
}

/// Verifies `signature` over the DSSE PAE of `payload`; on failure, over
/// model-signing v0.2's encoding hashed with `legacy_hash` (ECDSA keys
/// only). Returns whether the legacy encoding was the one signed.
fn verify_envelope_signature(
    key: &VerifyingKey,
    payload: &[u8],
    signature: &[u8],
    legacy_hash: Option<HashAlg>,
) -> Result<bool, VerifyError> {
    let first = match key.verify(&dsse::pae(PAYLOAD_TYPE_IN_TOTO, payload), signature) {
        Ok(()) => return Ok(false),
        Err(e) => e,
    };
    if let (SignatureError::Mismatch, Some(hash)) = (first, legacy_hash)
        && key.ecdsa_hash().is_some()
        && key
            .verify_with_hash(hash, &dsse::pae_v0_2_legacy(payload), signature)
            .is_ok()
    {
        return Ok(true);
    }
    Err(first.into())
}

#[cfg(test)]
mod tests;
