//! Keyless (Sigstore) signing, without I/O of its own.
//!
//! The flow is the one `sigstore-python` (and so OpenSSF model-signing's
//! `sign sigstore`) follows, with the network behind the [`Transport`]
//! trait so the caller owns HTTP and the flow is tested offline:
//!
//! 1. an OIDC identity token ([`IdentityToken`]) says who signs; its
//!    audience must include `sigstore` and it must not have expired;
//! 2. an ephemeral ECDSA P-256 key is generated and never stored;
//! 3. Fulcio (`POST /api/v2/signingCert`) certifies the key for the token's
//!    identity, given a proof of possession: the key's signature over the
//!    identity the certificate will name (the `email` claim for e-mail
//!    issuers, else `sub`), as Fulcio's challenge requires;
//! 4. the statement is signed as a DSSE envelope with the ephemeral key;
//! 5. Rekor (`POST /api/v1/log/entries`) records a `dsse` 0.0.1 entry and
//!    answers with the signed entry timestamp, the inclusion proof and the
//!    signed checkpoint;
//! 6. the answers become a Sigstore bundle v0.3 (leaf certificate + one
//!    tlog entry), which [`crate::bundle::Bundle::verify_sigstore`] checks
//!    against a trusted root.
//!
//! What is checked here, before anything is returned: Fulcio's leaf
//! certifies exactly the ephemeral key and may sign code; Rekor's entry
//! body names exactly this envelope's payload, signature and leaf. The
//! signed timestamp, inclusion proof and checkpoint need the log's key, so
//! callers verify the finished bundle against a trusted root
//! ([`crate::bundle::sigstore::TrustedRoot`]).
//!
//! Not done: obtaining a token interactively (browser OAuth flow) — the
//! caller passes one or takes it from the CI environment; signed certificate
//! timestamps are carried in the leaf as Fulcio embeds them but not checked;
//! Rekor v2 and RFC 3161 timestamp authorities.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::bundle::{BUNDLE_MEDIA_TYPE, Bundle, CertificateError, VerificationMaterial, x509};
use crate::dsse::{
    self, DsseSignature, Envelope, PAYLOAD_TYPE_IN_TOTO, decode_base64, encode_base64,
};
use crate::keys::{KeyKind, SigningKey, hex};
use crate::statement::strict_json;

/// Largest answer read from Fulcio or Rekor.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Largest identity token accepted.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// Issuers whose certificates name the `email` claim (as Fulcio's e-mail
/// principal does); every other issuer is named by `sub`.
const EMAIL_ISSUERS: [&str; 5] = [
    "https://accounts.google.com",
    "https://oauth2.sigstore.dev/auth",
    "https://oauth2.sigstage.dev/auth",
    "https://login.microsoftonline.com",
    "https://github.com/login/oauth",
];

/// A Sigstore instance: where its certificate authority and log live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Fulcio base URL, e.g. `https://fulcio.sigstore.dev`.
    pub fulcio_url: String,
    /// Rekor base URL, e.g. `https://rekor.sigstore.dev`.
    pub rekor_url: String,
}

impl Instance {
    /// The public-good instance.
    #[must_use]
    pub fn public_good() -> Self {
        Self {
            fulcio_url: "https://fulcio.sigstore.dev".into(),
            rekor_url: "https://rekor.sigstore.dev".into(),
        }
    }

    /// The staging instance (for trying things out).
    #[must_use]
    pub fn staging() -> Self {
        Self {
            fulcio_url: "https://fulcio.sigstage.dev".into(),
            rekor_url: "https://rekor.sigstage.dev".into(),
        }
    }
}

/// How the flow reaches Fulcio and Rekor: one JSON POST, answered with the
/// body of a 2xx response (at most [`MAX_RESPONSE_BYTES`]) or an error.
pub trait Transport {
    /// POSTs `body` (JSON) to `url`, with `Authorization: Bearer` when
    /// `bearer` is given.
    fn post_json(
        &self,
        url: &str,
        body: &[u8],
        bearer: Option<&str>,
    ) -> Result<Vec<u8>, TransportError>;
}

/// A failed request.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TransportError {
    /// The server answered with a non-success status.
    #[error("HTTP {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of the answer's body, for the error message.
        body: String,
    },
    /// No answer (connection, TLS, timeout, oversized answer).
    #[error("{0}")]
    Failed(String),
}

/// Why keyless signing failed.
#[derive(Debug, thiserror::Error)]
pub enum KeylessError {
    /// The identity token is not a usable OIDC token.
    #[error("identity token: {0}")]
    Token(String),
    /// Fulcio refused or could not be reached.
    #[error("Fulcio ({url}): {source}")]
    Fulcio {
        /// The endpoint.
        url: String,
        /// What happened.
        source: TransportError,
    },
    /// Fulcio's answer is not what it must be.
    #[error("Fulcio answer: {0}")]
    FulcioAnswer(String),
    /// Fulcio's certificate does not certify our key for code signing.
    #[error("Fulcio certificate: {0}")]
    Certificate(#[from] CertificateError),
    /// Rekor refused or could not be reached.
    #[error("Rekor ({url}): {source}")]
    Rekor {
        /// The endpoint.
        url: String,
        /// What happened.
        source: TransportError,
    },
    /// Rekor's answer is not what it must be.
    #[error("Rekor answer: {0}")]
    RekorAnswer(String),
}

/// An OIDC identity token, read but not verified (Fulcio verifies it; we
/// only refuse tokens that cannot work, before any key is made).
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityToken {
    raw: String,
    /// `iss`.
    pub issuer: String,
    /// The identity Fulcio will certify and the proof of possession signs.
    pub identity: String,
    /// `exp`, unix seconds.
    pub expires: u64,
}

impl std::fmt::Debug for IdentityToken {
    // Never print the token itself: it is a bearer credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityToken")
            .field("issuer", &self.issuer)
            .field("identity", &self.identity)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl IdentityToken {
    /// Reads a compact JWT (`header.claims.signature`). Requires `iss`,
    /// `exp`, an audience including `sigstore`, and the identity claim
    /// (`email`, verified, for e-mail issuers; `sub` otherwise). `now` is
    /// unix seconds.
    pub fn parse(raw: &str, now: u64) -> Result<Self, KeylessError> {
        let bad = |m: &str| KeylessError::Token(m.to_owned());
        let raw = raw.trim();
        if raw.len() > MAX_TOKEN_BYTES {
            return Err(bad("larger than 64 KiB"));
        }
        let mut parts = raw.split('.');
        let (Some(_header), Some(claims), Some(_sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not a compact JWT (three dot-separated parts)"));
        };
        let claims = decode_base64(claims).map_err(|e| bad(&format!("claims: {e}")))?;
        let claims = strict_json::parse(&claims, 16).map_err(|e| bad(&format!("claims: {e}")))?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let issuer = text("iss").ok_or_else(|| bad("no `iss` claim"))?;
        let expires = claims
            .get("exp")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("no `exp` claim"))?;
        if expires <= now {
            return Err(bad("expired; get a fresh token"));
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(a)) => a == "sigstore",
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some("sigstore")),
            _ => false,
        };
        if !audience_ok {
            return Err(bad("audience does not include `sigstore`"));
        }
        let identity = if EMAIL_ISSUERS.contains(&issuer.as_str()) {
            if claims.get("email_verified").and_then(Value::as_bool) == Some(false) {
                return Err(bad("the `email` claim is not verified"));
            }
            text("email").ok_or_else(|| bad("no `email` claim"))?
        } else {
            text("sub").ok_or_else(|| bad("no `sub` claim"))?
        };
        Ok(Self {
            raw: raw.to_owned(),
            issuer,
            identity,
            expires,
        })
    }

    /// The token as given, for the request only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.raw
    }
}

/// Unix seconds now.
#[must_use]
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// PEM of one DER certificate.
#[must_use]
pub fn certificate_pem(der: &[u8]) -> String {
    let b64 = encode_base64(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The Fulcio v2 `signingCert` request for `key` and `token`.
#[must_use]
pub fn fulcio_request(key: &SigningKey, token: &IdentityToken) -> Vec<u8> {
    let proof = key.sign(token.identity.as_bytes());
    let body = json!({
        "credentials": { "oidcIdentityToken": token.expose() },
        "publicKeyRequest": {
            "publicKey": {
                "algorithm": "ECDSA",
                "content": key.verifying_key().to_pem(),
            },
            "proofOfPossession": encode_base64(&proof),
        },
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Reads Fulcio's answer: the chain (leaf first, DER), from either
/// `signedCertificateEmbeddedSct` or `signedCertificateDetachedSct`.
pub fn parse_fulcio_response(bytes: &[u8]) -> Result<Vec<Vec<u8>>, KeylessError> {
    let bad = |m: String| KeylessError::FulcioAnswer(m);
    let value = strict_json::parse(bytes, 16).map_err(|e| bad(e.clone()))?;
    let chain = [
        "signedCertificateEmbeddedSct",
        "signedCertificateDetachedSct",
    ]
    .iter()
    .find_map(|k| value.get(*k))
    .and_then(|v| v.pointer("/chain/certificates"))
    .and_then(Value::as_array)
    .ok_or_else(|| bad("no chain.certificates".into()))?;
    let mut pem = String::new();
    for (i, c) in chain.iter().enumerate() {
        let c = c
            .as_str()
            .ok_or_else(|| bad(format!("chain.certificates[{i}]: not a string")))?;
        pem.push_str(c);
        pem.push('\n');
    }
    let certs = x509::TrustedCertificates::from_pem(&pem).map_err(KeylessError::Certificate)?;
    if certs.is_empty() {
        return Err(bad("empty chain".into()));
    }
    Ok(certs.certificates().to_vec())
}

/// The Rekor v1 `dsse` 0.0.1 proposed entry for `envelope` signed by the
/// key of `leaf_der`.
#[must_use]
pub fn rekor_request(envelope: &Envelope, leaf_der: &[u8]) -> Vec<u8> {
    let body = json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "proposedContent": {
                "envelope": String::from_utf8_lossy(&envelope.to_json()),
                "verifiers": [encode_base64(certificate_pem(leaf_der).as_bytes())],
            },
        },
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

fn hex_decode(text: &str, what: &str) -> Result<Vec<u8>, KeylessError> {
    let bad = || KeylessError::RekorAnswer(format!("{what}: not hex"));
    if !text.len().is_multiple_of(2) {
        return Err(bad());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

/// Turns Rekor's `LogEntry` answer (`{uuid: {body, integratedTime, logID,
/// logIndex, verification}}`) into a bundle `tlogEntries[]` element
/// (protobuf JSON: 64-bit integers as strings, bytes as base64).
pub fn rekor_entry_to_bundle(bytes: &[u8]) -> Result<Value, KeylessError> {
    let bad = |m: &str| KeylessError::RekorAnswer(m.to_owned());
    let value = strict_json::parse(bytes, 16).map_err(|e| bad(&e))?;
    let map = value.as_object().ok_or_else(|| bad("not an object"))?;
    let (Some((_uuid, entry)), 1) = (map.iter().next(), map.len()) else {
        return Err(bad("expected exactly one entry"));
    };
    let s = |p: &str| {
        entry
            .pointer(p)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(&format!("{p}: missing")))
    };
    let n = |p: &str| {
        entry
            .pointer(p)
            .and_then(Value::as_u64)
            .ok_or_else(|| bad(&format!("{p}: missing")))
    };
    let body_b64 = s("/body")?;
    let body = decode_base64(body_b64).map_err(|e| bad(&format!("/body: {e}")))?;
    let body_json = strict_json::parse(&body, 16).map_err(|e| bad(&format!("/body: {e}")))?;
    let kind = body_json
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("/body: no kind"))?;
    let version = body_json
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("/body: no apiVersion"))?;
    let hashes = entry
        .pointer("/verification/inclusionProof/hashes")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("/verification/inclusionProof/hashes: missing"))?
        .iter()
        .map(|h| {
            let h = h
                .as_str()
                .ok_or_else(|| bad("inclusion proof hash: not a string"))?;
            Ok(encode_base64(&hex_decode(h, "inclusion proof hash")?))
        })
        .collect::<Result<Vec<_>, KeylessError>>()?;
    Ok(json!({
        "logIndex": n("/logIndex")?.to_string(),
        "logId": { "keyId": encode_base64(&hex_decode(s("/logID")?, "logID")?) },
        "kindVersion": { "kind": kind, "version": version },
        "integratedTime": n("/integratedTime")?.to_string(),
        "inclusionPromise": { "signedEntryTimestamp": s("/verification/signedEntryTimestamp")? },
        "inclusionProof": {
            "logIndex": n("/verification/inclusionProof/logIndex")?.to_string(),
            "rootHash": encode_base64(&hex_decode(s("/verification/inclusionProof/rootHash")?, "rootHash")?),
            "treeSize": n("/verification/inclusionProof/treeSize")?.to_string(),
            "hashes": hashes,
            "checkpoint": { "envelope": s("/verification/inclusionProof/checkpoint")? },
        },
        "canonicalizedBody": body_b64,
    }))
}

/// Checks that Rekor's entry body is this envelope's, signed by `leaf_der`.
fn check_entry_names_envelope(
    entry: &Value,
    envelope: &Envelope,
    leaf_der: &[u8],
) -> Result<(), KeylessError> {
    let bad = |m: &str| KeylessError::RekorAnswer(m.to_owned());
    let body = entry
        .get("canonicalizedBody")
        .and_then(Value::as_str)
        .and_then(|b| decode_base64(b).ok())
        .ok_or_else(|| bad("canonicalizedBody: missing"))?;
    let body = strict_json::parse(&body, 16).map_err(|e| bad(&e))?;
    let payload_hash = hex(&<sha2::Sha256 as sha2::Digest>::digest(&envelope.payload));
    if body
        .pointer("/spec/payloadHash/value")
        .and_then(Value::as_str)
        != Some(payload_hash.as_str())
    {
        return Err(bad("the logged payload hash is not this envelope's"));
    }
    let sig = body
        .pointer("/spec/signatures/0/signature")
        .and_then(Value::as_str)
        .and_then(|s| decode_base64(s).ok());
    if sig.as_deref() != envelope.signatures.first().map(|s| s.sig.as_slice()) {
        return Err(bad("the logged signature is not this envelope's"));
    }
    let verifier = body
        .pointer("/spec/signatures/0/verifier")
        .and_then(Value::as_str)
        .and_then(|s| decode_base64(s).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| bad("the logged verifier is missing"))?;
    let certs =
        x509::TrustedCertificates::from_pem(&verifier).map_err(KeylessError::Certificate)?;
    if certs.certificates().first().map(Vec::as_slice) != Some(leaf_der) {
        return Err(bad("the logged certificate is not Fulcio's"));
    }
    Ok(())
}

/// Signs in-toto Statement bytes keylessly: certificate from Fulcio, entry
/// in Rekor, result a Sigstore bundle v0.3 as model-signing writes it.
pub fn sign_statement(
    statement_bytes: &[u8],
    token: &IdentityToken,
    instance: &Instance,
    transport: &dyn Transport,
) -> Result<Bundle, KeylessError> {
    let key = SigningKey::generate(KeyKind::EcdsaP256)
        .map_err(|e| KeylessError::FulcioAnswer(format!("cannot generate a key: {e}")))?;

    let fulcio_url = format!(
        "{}/api/v2/signingCert",
        instance.fulcio_url.trim_end_matches('/')
    );
    let answer = transport
        .post_json(
            &fulcio_url,
            &fulcio_request(&key, token),
            Some(token.expose()),
        )
        .map_err(|source| KeylessError::Fulcio {
            url: fulcio_url.clone(),
            source,
        })?;
    let chain = parse_fulcio_response(&answer)?;
    let leaf = chain
        .first()
        .ok_or(KeylessError::Certificate(CertificateError::Empty))?
        .clone();
    if x509::leaf_public_key(&leaf)? != key.verifying_key() {
        return Err(KeylessError::FulcioAnswer(
            "the certificate is for another key".into(),
        ));
    }
    let identity = x509::leaf_identity(&leaf)?;
    if !identity.code_signing {
        return Err(KeylessError::FulcioAnswer(
            "the certificate may not sign code".into(),
        ));
    }

    let envelope = Envelope {
        payload: statement_bytes.to_vec(),
        payload_type: PAYLOAD_TYPE_IN_TOTO.to_owned(),
        signatures: vec![DsseSignature {
            sig: key.sign(&dsse::pae(PAYLOAD_TYPE_IN_TOTO, statement_bytes)),
            keyid: Some(String::new()),
        }],
    };

    let rekor_url = format!(
        "{}/api/v1/log/entries",
        instance.rekor_url.trim_end_matches('/')
    );
    let answer = transport
        .post_json(&rekor_url, &rekor_request(&envelope, &leaf), None)
        .map_err(|source| KeylessError::Rekor {
            url: rekor_url.clone(),
            source,
        })?;
    let entry = rekor_entry_to_bundle(&answer)?;
    check_entry_names_envelope(&entry, &envelope, &leaf)?;

    Ok(Bundle {
        media_type: BUNDLE_MEDIA_TYPE.to_owned(),
        verification_material: VerificationMaterial::Certificate { der: leaf },
        tlog_entries: vec![entry],
        timestamp_verification_data: None,
        envelope,
    })
}

/// The identities (subject alternative names) and OIDC issuer of a
/// bundle's signing certificate, if it has one that parses.
#[must_use]
pub fn certificate_identity(bundle: &Bundle) -> Option<(Vec<String>, Option<String>)> {
    let leaf = match &bundle.verification_material {
        VerificationMaterial::Certificate { der } => der,
        VerificationMaterial::X509CertificateChain { certs } => certs.first()?,
        VerificationMaterial::PublicKey { .. } => return None,
    };
    let id = x509::leaf_identity(leaf).ok()?;
    Some((id.names, id.issuer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &Value) -> String {
        let enc = |v: &[u8]| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
        };
        format!(
            "{}.{}.{}",
            enc(br#"{"alg":"RS256"}"#),
            enc(&serde_json::to_vec(claims).unwrap()),
            enc(b"sig")
        )
    }

    #[test]
    fn token_identity_follows_the_issuer_kind() {
        let t = IdentityToken::parse(
            &jwt(
                &json!({"iss": "https://accounts.google.com", "aud": "sigstore",
                "exp": 2000, "sub": "123", "email": "a@example.com", "email_verified": true}),
            ),
            1000,
        )
        .unwrap();
        assert_eq!(t.identity, "a@example.com");
        let t = IdentityToken::parse(
            &jwt(
                &json!({"iss": "https://token.actions.githubusercontent.com",
                "aud": ["x", "sigstore"], "exp": 2000,
                "sub": "repo:o/r:ref:refs/heads/main"}),
            ),
            1000,
        )
        .unwrap();
        assert_eq!(t.identity, "repo:o/r:ref:refs/heads/main");
        assert!(!format!("{t:?}").contains(t.expose()));
    }

    #[test]
    fn unusable_tokens_are_refused_before_any_request() {
        for (claims, why) in [
            (
                json!({"iss": "i", "aud": "sigstore", "exp": 999, "sub": "s"}),
                "expired",
            ),
            (
                json!({"iss": "i", "aud": "other", "exp": 2000, "sub": "s"}),
                "audience",
            ),
            (json!({"aud": "sigstore", "exp": 2000, "sub": "s"}), "iss"),
            (
                json!({"iss": "https://accounts.google.com", "aud": "sigstore", "exp": 2000,
                "email": "a@b", "email_verified": false}),
                "verified",
            ),
        ] {
            let err = IdentityToken::parse(&jwt(&claims), 1000)
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{err}");
        }
        assert!(IdentityToken::parse("a.b", 0).is_err());
        assert!(IdentityToken::parse("", 0).is_err());
    }

    #[test]
    fn rekor_answer_becomes_a_bundle_entry() {
        let body = encode_base64(br#"{"apiVersion":"0.0.1","kind":"dsse","spec":{}}"#);
        let answer = json!({"abc": {"body": body, "integratedTime": 1_700_000_000u64,
            "logID": "0a0b", "logIndex": 42,
            "verification": {"signedEntryTimestamp": "c2V0",
                "inclusionProof": {"checkpoint": "cp", "hashes": ["00ff"], "logIndex": 7,
                    "rootHash": "0102", "treeSize": 8}}}});
        let e = rekor_entry_to_bundle(&serde_json::to_vec(&answer).unwrap()).unwrap();
        assert_eq!(e["logIndex"], "42");
        assert_eq!(e["logId"]["keyId"], "Cgs=");
        assert_eq!(e["kindVersion"]["kind"], "dsse");
        assert_eq!(e["inclusionProof"]["logIndex"], "7");
        assert_eq!(e["inclusionProof"]["hashes"][0], "AP8=");
        assert!(rekor_entry_to_bundle(b"{}").is_err());
        assert!(rekor_entry_to_bundle(b"[]").is_err());
    }
}
