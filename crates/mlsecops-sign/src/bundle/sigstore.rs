//! Offline verification of Sigstore ("keyless") bundles, as OpenSSF
//! model-signing's Sigstore signer writes them: a Fulcio leaf certificate,
//! a Rekor v1 transparency-log entry of kind `dsse` 0.0.1 with an inclusion
//! proof, a signed checkpoint and a signed entry timestamp, all checked
//! against a Sigstore `trusted_root.json` (protobuf-specs `TrustedRoot`).
//!
//! Checked: the entry's RFC 6962 inclusion proof against its root hash; the
//! checkpoint (a C2SP signed note by the log's ECDSA key) commits to that
//! root and tree size; the signed entry timestamp (the log's signature over
//! body, integrated time, log id and index) authenticates the integrated
//! time; the entry's body names this envelope's payload hash, signature and
//! leaf certificate; the leaf chains to a Fulcio CA of the trusted root that
//! was valid then, the leaf was valid then and may sign code; the DSSE
//! signature verifies with the leaf's key; the leaf's identity (a subject
//! alternative name) and OIDC issuer are the expected ones.
//!
//! Not checked (so not claimed): signed certificate timestamps of the leaf
//! (CT logs), RFC 3161 timestamps, Rekor v2 entries, the body's
//! `envelopeHash`.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Map, Value};
use sha2::Digest as _;

use super::x509::{self, CertificateError, TrustedCertificates, VerificationTime};
use super::{Bundle, KeyHint, VerificationMaterial, Verified, VerifyError};
use crate::dsse::{self, PAYLOAD_TYPE_IN_TOTO, decode_base64, encode_base64, json_type};
use crate::keys::{VerifyingKey, hex};
use crate::statement::{Statement, strict_json};

/// Largest `trusted_root.json` read.
pub const MAX_TRUSTED_ROOT_BYTES: usize = 4 * 1024 * 1024;

/// Media types of Sigstore bundles accepted for Sigstore verification.
const SIGSTORE_BUNDLE_MEDIA_TYPES: [&str; 3] = [
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
];

/// A validity window in unix seconds, `end` exclusive-or-open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ValidFor {
    start: u64,
    end: Option<u64>,
}

impl ValidFor {
    fn contains(self, t: u64) -> bool {
        t >= self.start && self.end.is_none_or(|end| t <= end)
    }
}

#[derive(Debug, Clone)]
struct TransparencyLog {
    base_url: String,
    key_id: Vec<u8>,
    key: VerifyingKey,
    valid_for: ValidFor,
}

#[derive(Debug, Clone)]
struct CertificateAuthority {
    chain: Vec<Vec<u8>>,
    valid_for: ValidFor,
}

/// The trust material of a Sigstore deployment: transparency-log keys and
/// certificate authorities (the `trusted_root.json` that Sigstore clients
/// get through TUF).
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    tlogs: Vec<TransparencyLog>,
    certificate_authorities: Vec<CertificateAuthority>,
}

/// Why a `trusted_root.json` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustedRootError {
    /// Larger than [`MAX_TRUSTED_ROOT_BYTES`].
    #[error("trusted root is larger than {MAX_TRUSTED_ROOT_BYTES} bytes")]
    TooLarge,
    /// Not JSON, or a duplicate key.
    #[error("trusted root is not acceptable JSON: {0}")]
    Json(String),
    /// A field is missing or malformed.
    #[error("trusted root field `{field}`: {reason}")]
    Field {
        /// JSON path.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

fn root_field(field: impl Into<String>, reason: impl Into<String>) -> TrustedRootError {
    TrustedRootError::Field {
        field: field.into(),
        reason: reason.into(),
    }
}

fn get<'a>(map: &'a Map<String, Value>, path: &str, name: &str) -> Result<&'a Value, String> {
    map.get(name)
        .ok_or_else(|| format!("{path}.{name}: missing"))
}

fn as_object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{path}: expected an object, found {}", json_type(value)))
}

fn as_str<'a>(value: &'a Value, path: &str) -> Result<&'a str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("{path}: expected a string, found {}", json_type(value)))
}

fn as_array<'a>(value: &'a Value, path: &str) -> Result<&'a [Value], String> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| format!("{path}: expected an array, found {}", json_type(value)))
}

fn b64_at(map: &Map<String, Value>, path: &str, name: &str) -> Result<Vec<u8>, String> {
    let text = as_str(get(map, path, name)?, &format!("{path}.{name}"))?;
    decode_base64(text).map_err(|e| format!("{path}.{name}: {e}"))
}

/// Protobuf JSON int64: a decimal string (or a plain number).
fn int_at(map: &Map<String, Value>, path: &str, name: &str) -> Result<u64, String> {
    let p = format!("{path}.{name}");
    match get(map, path, name)? {
        Value::String(s) => s
            .parse()
            .map_err(|_| format!("{p}: not a non-negative integer")),
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("{p}: not a non-negative integer")),
        other => Err(format!(
            "{p}: expected an integer, found {}",
            json_type(other)
        )),
    }
}

/// Reads an RFC 3339 UTC timestamp (`2021-01-12T11:53:27Z`, optional
/// fraction, `Z` or a numeric offset) as unix seconds.
fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(range)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && &rest[3..4] == ":" =>
        {
            let h: i64 = rest[1..3].parse().ok()?;
            let m: i64 = rest[4..6].parse().ok()?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    u64::try_from(secs).ok()
}

fn valid_for(map: &Map<String, Value>, path: &str) -> Result<ValidFor, String> {
    let window = as_object(get(map, path, "validFor")?, &format!("{path}.validFor"))?;
    let time = |name: &str| -> Result<Option<u64>, String> {
        match window.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => {
                let p = format!("{path}.validFor.{name}");
                parse_rfc3339(as_str(v, &p)?)
                    .map(Some)
                    .ok_or_else(|| format!("{p}: not an RFC 3339 timestamp"))
            }
        }
    };
    let start = time("start")?.ok_or_else(|| format!("{path}.validFor.start: missing"))?;
    Ok(ValidFor {
        start,
        end: time("end")?,
    })
}

fn split_error(message: String) -> TrustedRootError {
    match message.split_once(": ") {
        Some((field, reason)) => root_field(field, reason),
        None => root_field("$", message),
    }
}

impl TrustedRoot {
    /// Reads a `trusted_root.json`. Transparency logs whose key this crate
    /// cannot use (e.g. RSA) are skipped; CT logs and timestamp authorities
    /// are ignored (not verified, see the module docs).
    pub fn from_json(bytes: &[u8]) -> Result<Self, TrustedRootError> {
        if bytes.len() > MAX_TRUSTED_ROOT_BYTES {
            return Err(TrustedRootError::TooLarge);
        }
        let value = strict_json::parse(bytes, 16).map_err(TrustedRootError::Json)?;
        Self::from_value(&value).map_err(split_error)
    }

    fn from_value(value: &Value) -> Result<Self, String> {
        let root = as_object(value, "$")?;
        let media_type = as_str(get(root, "$", "mediaType")?, "mediaType")?;
        if !media_type.starts_with("application/vnd.dev.sigstore.trustedroot") {
            return Err(format!(
                "mediaType: not a Sigstore trusted root ({media_type:?})"
            ));
        }
        let mut tlogs = Vec::new();
        for (i, item) in as_array(get(root, "$", "tlogs")?, "tlogs")?
            .iter()
            .enumerate()
        {
            let path = format!("tlogs[{i}]");
            let log = as_object(item, &path)?;
            let base_url =
                as_str(get(log, &path, "baseUrl")?, &format!("{path}.baseUrl"))?.to_owned();
            let public_key =
                as_object(get(log, &path, "publicKey")?, &format!("{path}.publicKey"))?;
            let key_path = format!("{path}.publicKey");
            let spki = b64_at(public_key, &key_path, "rawBytes")?;
            let valid_for = valid_for(public_key, &key_path)?;
            let log_id = as_object(get(log, &path, "logId")?, &format!("{path}.logId"))?;
            let key_id = b64_at(log_id, &format!("{path}.logId"), "keyId")?;
            let Ok(key) = VerifyingKey::from_spki_der(&spki) else {
                continue;
            };
            tlogs.push(TransparencyLog {
                base_url,
                key_id,
                key,
                valid_for,
            });
        }
        let mut certificate_authorities = Vec::new();
        let cas = match root.get("certificateAuthorities") {
            Some(v) => as_array(v, "certificateAuthorities")?,
            None => &[],
        };
        for (i, item) in cas.iter().enumerate() {
            let path = format!("certificateAuthorities[{i}]");
            let ca = as_object(item, &path)?;
            let chain_path = format!("{path}.certChain");
            let chain_obj = as_object(get(ca, &path, "certChain")?, &chain_path)?;
            let certs_path = format!("{chain_path}.certificates");
            let mut chain = Vec::new();
            for (j, cert) in as_array(get(chain_obj, &chain_path, "certificates")?, &certs_path)?
                .iter()
                .enumerate()
            {
                let p = format!("{certs_path}[{j}]");
                chain.push(b64_at(as_object(cert, &p)?, &p, "rawBytes")?);
            }
            TrustedCertificates::from_der(chain.clone())
                .map_err(|e| format!("{certs_path}: {e}"))?;
            certificate_authorities.push(CertificateAuthority {
                chain,
                valid_for: valid_for(ca, &path)?,
            });
        }
        Ok(Self {
            tlogs,
            certificate_authorities,
        })
    }

    /// Number of usable transparency logs.
    #[must_use]
    pub fn tlog_count(&self) -> usize {
        self.tlogs.len()
    }

    /// Number of certificate authorities.
    #[must_use]
    pub fn certificate_authority_count(&self) -> usize {
        self.certificate_authorities.len()
    }
}

/// Who must have signed: OpenSSF model-signing's Sigstore verifier takes
/// the same two values (`identity`, `oidc_issuer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// A subject alternative name of the signing certificate (an e-mail
    /// address or a URI such as a CI workflow), compared exactly.
    pub identity: String,
    /// The OIDC issuer recorded by Fulcio, compared exactly.
    pub issuer: String,
}

/// What Sigstore verification established beyond [`Verified`].
#[derive(Debug, Clone, PartialEq)]
pub struct SigstoreVerified {
    /// The verified statement and payload.
    pub verified: Verified,
    /// The signing certificate's e-mail / URI names.
    pub identities: Vec<String>,
    /// The signing certificate's OIDC issuer.
    pub issuer: String,
    /// When the log integrated the entry (authenticated by the log).
    pub integrated_time: u64,
    /// The entry's index in the log.
    pub log_index: u64,
    /// The log's URL from the trusted root.
    pub log_url: String,
}

/// Why a Sigstore bundle does not verify (beyond [`VerifyError`]'s cases).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigstoreError {
    /// The envelope or certificate checks shared with other verifications.
    #[error(transparent)]
    Bundle(#[from] VerifyError),
    /// A transparency-log entry is missing or malformed.
    #[error("transparency log entry: {0}")]
    Entry(String),
    /// The entry's log is not in the trusted root (or not valid then).
    #[error("transparency log entry is from an untrusted log (key id {0})")]
    UnknownLog(String),
    /// The inclusion proof does not lead to the root hash.
    #[error("inclusion proof does not verify: {0}")]
    InclusionProof(String),
    /// The checkpoint is unsigned, signed by another key, or names another
    /// tree.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The signed entry timestamp does not verify.
    #[error("signed entry timestamp does not verify")]
    SignedEntryTimestamp,
    /// The log entry is about another payload, signature or certificate.
    #[error("transparency log entry does not match the bundle: {0}")]
    EntryMismatch(String),
    /// The certificate authorities of the trusted root do not issue the leaf.
    #[error("signing certificate: {0}")]
    Certificate(CertificateError),
    /// The certificate names another signer.
    #[error("signed by {found}, expected {expected}")]
    Identity {
        /// What the policy wanted.
        expected: String,
        /// What the certificate says.
        found: String,
    },
}

fn entry_err(e: impl Into<String>) -> SigstoreError {
    SigstoreError::Entry(e.into())
}

/// One parsed Rekor v1 entry.
struct Entry {
    log_index: u64,
    key_id: Vec<u8>,
    kind: String,
    version: String,
    integrated_time: u64,
    set: Vec<u8>,
    body: Vec<u8>,
    proof_index: u64,
    tree_size: u64,
    root_hash: [u8; 32],
    hashes: Vec<[u8; 32]>,
    checkpoint: String,
}

fn hash32(bytes: &[u8], path: &str) -> Result<[u8; 32], String> {
    bytes
        .try_into()
        .map_err(|_| format!("{path}: not a 32-byte hash"))
}

fn parse_entry(value: &Value) -> Result<Entry, String> {
    let p = "tlogEntries[0]";
    let e = as_object(value, p)?;
    let log_id = as_object(get(e, p, "logId")?, &format!("{p}.logId"))?;
    let kv = as_object(get(e, p, "kindVersion")?, &format!("{p}.kindVersion"))?;
    let promise = match e.get("inclusionPromise") {
        Some(v) => as_object(v, &format!("{p}.inclusionPromise"))?,
        None => {
            return Err(format!(
                "{p}.inclusionPromise: missing (entries without a signed entry timestamp need RFC 3161 timestamps, which are not supported)"
            ));
        }
    };
    let proof_path = format!("{p}.inclusionProof");
    let proof = as_object(get(e, p, "inclusionProof")?, &proof_path)?;
    let checkpoint = as_object(
        get(proof, &proof_path, "checkpoint")?,
        &format!("{proof_path}.checkpoint"),
    )?;
    let hashes = as_array(
        get(proof, &proof_path, "hashes")?,
        &format!("{proof_path}.hashes"),
    )?
    .iter()
    .enumerate()
    .map(|(i, h)| {
        let hp = format!("{proof_path}.hashes[{i}]");
        let bytes = decode_base64(as_str(h, &hp)?).map_err(|e| format!("{hp}: {e}"))?;
        hash32(&bytes, &hp)
    })
    .collect::<Result<Vec<_>, _>>()?;
    if hashes.len() > 64 {
        return Err(format!("{proof_path}.hashes: more than 64 hashes"));
    }
    Ok(Entry {
        log_index: int_at(e, p, "logIndex")?,
        key_id: b64_at(log_id, &format!("{p}.logId"), "keyId")?,
        kind: as_str(get(kv, p, "kind")?, &format!("{p}.kindVersion.kind"))?.to_owned(),
        version: as_str(get(kv, p, "version")?, &format!("{p}.kindVersion.version"))?.to_owned(),
        integrated_time: int_at(e, p, "integratedTime")?,
        set: b64_at(
            promise,
            &format!("{p}.inclusionPromise"),
            "signedEntryTimestamp",
        )?,
        body: b64_at(e, p, "canonicalizedBody")?,
        proof_index: int_at(proof, &proof_path, "logIndex")?,
        tree_size: int_at(proof, &proof_path, "treeSize")?,
        root_hash: hash32(
            &b64_at(proof, &proof_path, "rootHash")?,
            &format!("{proof_path}.rootHash"),
        )?,
        hashes,
        checkpoint: as_str(
            get(checkpoint, &proof_path, "envelope")?,
            &format!("{proof_path}.checkpoint.envelope"),
        )?
        .to_owned(),
    })
}

/// Verifies a C2SP signed note whose signature lines carry
/// `key_id[..4] || DER ECDSA signature`, and returns its body lines.
fn verify_checkpoint(
    note: &str,
    log: &TransparencyLog,
) -> Result<(String, u64, [u8; 32]), SigstoreError> {
    let bad = |m: &str| SigstoreError::Checkpoint(m.to_owned());
    if note.len() > 64 * 1024 {
        return Err(bad("larger than 64 KiB"));
    }
    let split = note
        .find("\n\n")
        .ok_or_else(|| bad("no blank line before signatures"))?;
    let body = &note[..=split];
    let signatures = &note[split + 2..];
    let hint = log
        .key_id
        .get(..4)
        .ok_or_else(|| bad("log key id shorter than 4 bytes"))?;
    let mut verified = false;
    for line in signatures.lines() {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return Err(bad("malformed signature line"));
        };
        let Some((_, sig_b64)) = rest.rsplit_once(' ') else {
            return Err(bad("malformed signature line"));
        };
        let Ok(sig) = decode_base64(sig_b64) else {
            continue;
        };
        if sig.len() > 4 && &sig[..4] == hint && log.key.verify(body.as_bytes(), &sig[4..]).is_ok()
        {
            verified = true;
            break;
        }
    }
    if !verified {
        return Err(bad("no signature by the log's key verifies"));
    }
    let mut lines = body.lines();
    let origin = lines.next().unwrap_or_default().to_owned();
    let size = lines
        .next()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| bad("malformed tree size"))?;
    let root = lines
        .next()
        .and_then(|s| decode_base64(s).ok())
        .and_then(|r| <[u8; 32]>::try_from(r.as_slice()).ok())
        .ok_or_else(|| bad("malformed root hash"))?;
    Ok((origin, size, root))
}

/// The JSON a Rekor v1 signed entry timestamp signs: keys sorted, no spaces.
fn set_payload(entry: &Entry) -> Vec<u8> {
    format!(
        r#"{{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}}"#,
        encode_base64(&entry.body),
        entry.integrated_time,
        hex(&entry.key_id),
        entry.log_index
    )
    .into_bytes()
}

/// Checks that a `dsse` 0.0.1 body names this payload, signature and leaf.
fn check_body(
    entry: &Entry,
    payload: &[u8],
    signature: &[u8],
    leaf_der: &[u8],
) -> Result<(), SigstoreError> {
    let mismatch = |m: String| SigstoreError::EntryMismatch(m);
    if entry.kind != "dsse" || entry.version != "0.0.1" {
        return Err(entry_err(format!(
            "kind {} {} (supported: dsse 0.0.1)",
            entry.kind, entry.version
        )));
    }
    let body = strict_json::parse(&entry.body, 16)
        .map_err(|e| entry_err(format!("canonicalizedBody: {e}")))?;
    let spec = body
        .get("spec")
        .and_then(Value::as_object)
        .ok_or_else(|| entry_err("canonicalizedBody.spec: missing"))?;
    let payload_hash = spec
        .get("payloadHash")
        .and_then(Value::as_object)
        .ok_or_else(|| entry_err("canonicalizedBody.spec.payloadHash: missing"))?;
    if payload_hash.get("algorithm").and_then(Value::as_str) != Some("sha256")
        || payload_hash.get("value").and_then(Value::as_str)
            != Some(hex(&sha2::Sha256::digest(payload)).as_str())
    {
        return Err(mismatch("payload hash differs".into()));
    }
    let signatures = spec
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or_else(|| entry_err("canonicalizedBody.spec.signatures: missing"))?;
    let [entry_sig] = signatures.as_slice() else {
        return Err(mismatch(format!(
            "{} signatures, expected one",
            signatures.len()
        )));
    };
    let sig = entry_sig
        .get("signature")
        .and_then(Value::as_str)
        .and_then(|s| decode_base64(s).ok())
        .ok_or_else(|| entry_err("canonicalizedBody signature: malformed"))?;
    if sig != signature {
        return Err(mismatch("signature differs".into()));
    }
    let verifier_pem = entry_sig
        .get("verifier")
        .and_then(Value::as_str)
        .and_then(|s| decode_base64(s).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| entry_err("canonicalizedBody verifier: malformed"))?;
    let certs = TrustedCertificates::from_pem(&verifier_pem)
        .map_err(|e| entry_err(format!("verifier: {e}")))?;
    if certs.certificates().first().map(Vec::as_slice) != Some(leaf_der) {
        return Err(mismatch("certificate differs".into()));
    }
    Ok(())
}

impl Bundle {
    /// Verifies a Sigstore-signed bundle offline against `root` and
    /// requires the signer `identity` (see the module docs of
    /// `bundle::sigstore` for what is and is not checked).
    pub fn verify_sigstore(
        &self,
        root: &TrustedRoot,
        identity: &Identity,
    ) -> Result<SigstoreVerified, SigstoreError> {
        if !SIGSTORE_BUNDLE_MEDIA_TYPES.contains(&self.media_type.as_str()) {
            return Err(VerifyError::MediaType {
                found: self.media_type.clone(),
            }
            .into());
        }
        let certs: &[Vec<u8>] = match &self.verification_material {
            VerificationMaterial::Certificate { der } => std::slice::from_ref(der),
            VerificationMaterial::X509CertificateChain { certs } => certs,
            other @ VerificationMaterial::PublicKey { .. } => {
                return Err(VerifyError::Material {
                    expected: "Sigstore verification cannot use (it needs a Fulcio certificate)",
                    found: other.name(),
                }
                .into());
            }
        };
        let [signature] = self.envelope.signatures.as_slice() else {
            return Err(VerifyError::SignatureCount(self.envelope.signatures.len()).into());
        };
        if self.envelope.payload_type != PAYLOAD_TYPE_IN_TOTO {
            return Err(VerifyError::PayloadType {
                found: self.envelope.payload_type.clone(),
            }
            .into());
        }
        let [entry_value] = self.tlog_entries.as_slice() else {
            return Err(entry_err(format!(
                "{} transparency log entries, expected one",
                self.tlog_entries.len()
            )));
        };
        let entry = parse_entry(entry_value).map_err(entry_err)?;

        // The log and its proofs.
        let log = root
            .tlogs
            .iter()
            .find(|log| log.key_id == entry.key_id)
            .ok_or_else(|| SigstoreError::UnknownLog(hex(&entry.key_id)))?;
        if !log.valid_for.contains(entry.integrated_time) {
            return Err(SigstoreError::UnknownLog(format!(
                "{} (not valid at the entry's integrated time)",
                hex(&entry.key_id)
            )));
        }
        log.key
            .verify(&set_payload(&entry), &entry.set)
            .map_err(|_| SigstoreError::SignedEntryTimestamp)?;
        let leaf = mlsecops_ledger::merkle::leaf_hash(&entry.body);
        mlsecops_ledger::merkle::verify_inclusion(
            entry.proof_index,
            entry.tree_size,
            &leaf,
            &entry.hashes,
            &entry.root_hash,
        )
        .map_err(|e| SigstoreError::InclusionProof(e.to_string()))?;
        let (_origin, size, checkpoint_root) = verify_checkpoint(&entry.checkpoint, log)?;
        if size != entry.tree_size || checkpoint_root != entry.root_hash {
            return Err(SigstoreError::Checkpoint(
                "signed tree size or root differs from the inclusion proof's".into(),
            ));
        }

        // The entry is about this envelope and certificate.
        let leaf_der = certs
            .first()
            .ok_or(SigstoreError::Certificate(CertificateError::Empty))?;
        check_body(&entry, &self.envelope.payload, &signature.sig, leaf_der)?;

        // The certificate, at the time the log vouches for.
        let at = entry.integrated_time;
        let anchors: Vec<Vec<u8>> = root
            .certificate_authorities
            .iter()
            .filter(|ca| ca.valid_for.contains(at))
            .flat_map(|ca| ca.chain.iter().cloned())
            .collect();
        let anchors = TrustedCertificates::from_der(anchors).map_err(SigstoreError::Certificate)?;
        let when = VerificationTime::At(UNIX_EPOCH + Duration::from_secs(at));
        let path =
            x509::validate_path(certs, &anchors, when).map_err(SigstoreError::Certificate)?;
        let leaf_identity = x509::leaf_identity(leaf_der).map_err(SigstoreError::Certificate)?;
        if !leaf_identity.code_signing {
            return Err(SigstoreError::Certificate(CertificateError::LeafUsage {
                subject: "Fulcio leaf".into(),
                reason: "extendedKeyUsage lacks codeSigning".into(),
            }));
        }
        let issuer = leaf_identity.issuer.clone().unwrap_or_default();
        if !leaf_identity.names.contains(&identity.identity) || issuer != identity.issuer {
            return Err(SigstoreError::Identity {
                expected: format!("{} (issuer {})", identity.identity, identity.issuer),
                found: format!("{} (issuer {issuer})", leaf_identity.names.join(", ")),
            });
        }

        // The envelope signature.
        path.leaf_key
            .verify(
                &dsse::pae(PAYLOAD_TYPE_IN_TOTO, &self.envelope.payload),
                &signature.sig,
            )
            .map_err(VerifyError::from)?;
        let payload = self.envelope.payload.clone();
        let (statement_type, statement) =
            Statement::parse_versioned(&payload).map_err(VerifyError::from)?;
        Ok(SigstoreVerified {
            verified: Verified {
                statement,
                statement_type,
                payload,
                payload_type: self.envelope.payload_type.clone(),
                key_hint: KeyHint::NotApplicable,
                legacy_pae: false,
                certificate_chain: path.chain,
            },
            identities: leaf_identity.names,
            issuer,
            integrated_time: at,
            log_index: entry.log_index,
            log_url: log.base_url.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2021-01-12T11:53:27Z"), Some(1_610_452_407));
        assert_eq!(
            parse_rfc3339("2022-12-31T23:59:59.999Z"),
            Some(1_672_531_199)
        );
        assert_eq!(
            parse_rfc3339("2000-02-29T12:00:00+01:00"),
            Some(951_822_000)
        );
        assert_eq!(parse_rfc3339("2021-13-12T11:53:27Z"), None);
        assert_eq!(parse_rfc3339("2021-01-12 11:53:27Z"), None);
        assert_eq!(parse_rfc3339("2021-01-12T11:53:27"), None);
    }
}
