//! Keyless (Sigstore) signing, offline: `mlsecops sign --sigstore` against a
//! private Sigstore instance served on loopback by this test — an OIDC
//! issuer whose ES256 tokens Fulcio checks, a Fulcio that verifies the
//! token and the proof of possession and issues a short chain with the
//! Fulcio extensions, and a Rekor that verifies the DSSE signature, appends
//! the entry to an RFC 6962 tree and answers with a signed entry timestamp,
//! an inclusion proof and a signed checkpoint. The public-good instance
//! needs the internet; its protocol is the same.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use mlsecops_ledger::merkle::{MerkleTree, leaf_hash};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::signature::Verifier as _;
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::support::mlsecops;

const ISSUER: &str = "https://idp.example.test";
const WORKFLOW: &str =
    "https://github.com/acme/models/.github/workflows/release.yml@refs/heads/main";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hexs(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// How the log misbehaves, to test that the signer notices.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rekor {
    Honest,
    /// Logs a different payload hash than the one submitted.
    WrongPayload,
}

struct Instance {
    idp: p256::ecdsa::SigningKey,
    ca_key: rcgen::KeyPair,
    ca_params: rcgen::CertificateParams,
    ca_der: Vec<u8>,
    log_key: p256::ecdsa::SigningKey,
    log_id: Vec<u8>,
    tree: Mutex<MerkleTree>,
    rekor: Rekor,
}

impl Instance {
    fn new(rekor: Rekor) -> Self {
        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "test-fulcio-root");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        ca_params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        ca_params.not_after = rcgen::date_time_ymd(2100, 1, 1);
        let ca_der = ca_params.self_signed(&ca_key).unwrap().der().to_vec();
        let log_key = p256::ecdsa::SigningKey::try_generate().unwrap();
        let spki = log_key.verifying_key().to_public_key_der().unwrap();
        let log_id = sha2::Sha256::digest(spki.as_bytes()).to_vec();
        Self {
            idp: p256::ecdsa::SigningKey::try_generate().unwrap(),
            ca_key,
            ca_params,
            ca_der,
            log_key,
            log_id,
            tree: Mutex::new(MerkleTree::new()),
            rekor,
        }
    }

    /// An ES256 identity token from this instance's OIDC issuer.
    fn token(idp: &p256::ecdsa::SigningKey, sub: &str) -> String {
        let header = b64url(br#"{"alg":"ES256","typ":"JWT"}"#);
        let claims = b64url(
            json!({"iss": ISSUER, "aud": "sigstore", "sub": sub, "exp": now() + 600, "iat": now()})
                .to_string()
                .as_bytes(),
        );
        let signing_input = format!("{header}.{claims}");
        let sig: p256::ecdsa::Signature = idp.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", b64url(&sig.to_bytes()))
    }

    fn trusted_root(&self, base: &str) -> String {
        let spki = self.log_key.verifying_key().to_public_key_der().unwrap();
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": base,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": b64(spki.as_bytes()), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": "2020-01-01T00:00:00Z"}},
                "logId": {"keyId": b64(&self.log_id)},
            }],
            "certificateAuthorities": [{
                "subject": {"organization": "test", "commonName": "test-fulcio-root"},
                "uri": base,
                "certChain": {"certificates": [{"rawBytes": b64(&self.ca_der)}]},
                "validFor": {"start": "2020-01-01T00:00:00Z"},
            }],
            "ctlogs": [],
            "timestampAuthorities": [],
        })
        .to_string()
    }

    /// Fulcio `POST /api/v2/signingCert`.
    fn fulcio(&self, body: &Value) -> Result<Value, (u16, String)> {
        let token = body["credentials"]["oidcIdentityToken"]
            .as_str()
            .ok_or((400, "no token".to_owned()))?;
        let parts: Vec<&str> = token.split('.').collect();
        let [header, claims, sig] = parts.as_slice() else {
            return Err((401, "malformed token".into()));
        };
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .ok()
            .and_then(|s| p256::ecdsa::Signature::from_slice(&s).ok())
            .ok_or((401, "malformed token signature".to_owned()))?;
        self.idp
            .verifying_key()
            .verify(format!("{header}.{claims}").as_bytes(), &sig)
            .map_err(|_| (401, "token signature invalid".to_owned()))?;
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(claims)
                .unwrap(),
        )
        .unwrap();
        if claims["aud"] != "sigstore" || claims["exp"].as_u64().unwrap_or(0) <= now() {
            return Err((401, "token audience or expiry".into()));
        }
        let subject = claims["sub"].as_str().unwrap_or_default();
        let pem = body["publicKeyRequest"]["publicKey"]["content"]
            .as_str()
            .ok_or((400, "no public key".to_owned()))?;
        let key = p256::ecdsa::VerifyingKey::from_public_key_pem(pem)
            .map_err(|_| (400, "public key".to_owned()))?;
        let proof = base64::engine::general_purpose::STANDARD
            .decode(
                body["publicKeyRequest"]["proofOfPossession"]
                    .as_str()
                    .unwrap_or_default(),
            )
            .ok()
            .and_then(|p| p256::ecdsa::DerSignature::from_bytes(&p).ok())
            .ok_or((400, "proof of possession malformed".to_owned()))?;
        key.verify(subject.as_bytes(), &proof)
            .map_err(|_| (400, "proof of possession invalid".to_owned()))?;

        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![rcgen::SanType::URI(subject.try_into().unwrap())];
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2100, 1, 1);
        // 1.3.6.1.4.1.57264.1.8: the OIDC issuer, a DER UTF8String.
        let mut issuer_der = vec![0x0c, ISSUER.len() as u8];
        issuer_der.extend_from_slice(ISSUER.as_bytes());
        params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
            issuer_der,
        )];
        // The uncompressed point ends a P-256 SubjectPublicKeyInfo.
        let spki = key.to_public_key_der().unwrap();
        let point = spki.as_bytes()[spki.as_bytes().len() - 65..].to_vec();
        let issuer = rcgen::Issuer::new(self.ca_params.clone(), &self.ca_key);
        let leaf = params.signed_by(&RawP256(point), &issuer).unwrap();
        Ok(
            json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": [
                leaf.pem(),
                pem_cert(&self.ca_der),
            ]}}}),
        )
    }

    /// Rekor `POST /api/v1/log/entries` (kind `dsse` 0.0.1).
    fn rekor(&self, body: &Value) -> Result<Value, (u16, String)> {
        let content = &body["spec"]["proposedContent"];
        let envelope: Value = serde_json::from_str(content["envelope"].as_str().unwrap_or("null"))
            .map_err(|_| (400, "envelope".to_owned()))?;
        let verifier_pem = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(content["verifiers"][0].as_str().unwrap_or_default())
                .map_err(|_| (400, "verifier".to_owned()))?,
        )
        .unwrap();
        let payload = base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().unwrap_or_default())
            .unwrap();
        let sig = base64::engine::general_purpose::STANDARD
            .decode(
                envelope["signatures"][0]["sig"]
                    .as_str()
                    .unwrap_or_default(),
            )
            .unwrap();
        // Rekor checks the envelope signature with the verifier's key.
        let cert = mlsecops_sign::bundle::TrustedCertificates::from_pem(&verifier_pem).unwrap();
        let leaf_key = leaf_p256(&cert.certificates()[0]);
        let payload_type = envelope["payloadType"].as_str().unwrap_or_default();
        let pae = mlsecops_sign::dsse::pae(payload_type, &payload);
        leaf_key
            .verify(
                &pae,
                &p256::ecdsa::DerSignature::from_bytes(&sig)
                    .map_err(|_| (400, "signature".to_owned()))?,
            )
            .map_err(|_| (400, "envelope signature does not verify".to_owned()))?;

        let logged_payload = match self.rekor {
            Rekor::Honest => payload.clone(),
            Rekor::WrongPayload => b"something else".to_vec(),
        };
        let canonical = serde_json::to_vec(&json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": hexs(&sha2::Sha256::digest(content["envelope"].as_str().unwrap().as_bytes()))},
                "payloadHash": {"algorithm": "sha256", "value": hexs(&sha2::Sha256::digest(&logged_payload))},
                "signatures": [{"signature": b64(&sig), "verifier": content["verifiers"][0]}],
            },
        }))
        .unwrap();
        let mut tree = self.tree.lock().unwrap();
        // Some earlier entries, so the proof has hashes in it.
        while tree.len() < 5 {
            let n = tree.len();
            tree.push(leaf_hash(format!("earlier entry {n}").as_bytes()));
        }
        let index = tree.len();
        tree.push(leaf_hash(&canonical));
        let size = tree.len();
        let root = tree.root();
        let proof = tree.inclusion_proof(index, size).unwrap();
        let integrated = now();
        let set_payload = format!(
            r#"{{"body":"{}","integratedTime":{integrated},"logID":"{}","logIndex":{index}}}"#,
            b64(&canonical),
            hexs(&self.log_id)
        );
        let set: p256::ecdsa::DerSignature = self.log_key.sign(set_payload.as_bytes());
        let note_body = format!("test.rekor.local - 1\n{size}\n{}\n", b64(&root));
        let note_sig: p256::ecdsa::DerSignature = self.log_key.sign(note_body.as_bytes());
        let mut keyed = self.log_id[..4].to_vec();
        keyed.extend_from_slice(note_sig.as_bytes());
        let checkpoint = format!("{note_body}\n\u{2014} test.rekor.local {}\n", b64(&keyed));
        Ok(json!({ "24296fb24b8ad77a": {
            "body": b64(&canonical),
            "integratedTime": integrated,
            "logID": hexs(&self.log_id),
            "logIndex": index,
            "verification": {
                "inclusionProof": {
                    "checkpoint": checkpoint,
                    "hashes": proof.iter().map(|h| hexs(h)).collect::<Vec<_>>(),
                    "logIndex": index,
                    "rootHash": hexs(&root),
                    "treeSize": size,
                },
                "signedEntryTimestamp": b64(set.as_bytes()),
            },
        }}))
    }
}

/// A P-256 public key as rcgen wants it: the uncompressed point.
struct RawP256(Vec<u8>);

impl rcgen::PublicKeyData for RawP256 {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

fn pem_cert(der: &[u8]) -> String {
    mlsecops_sign::keyless::certificate_pem(der)
}

fn leaf_p256(der: &[u8]) -> p256::ecdsa::VerifyingKey {
    use x509_cert::der::{Decode as _, Encode as _};
    let cert = x509_cert::Certificate::from_der(der).unwrap();
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap();
    p256::ecdsa::VerifyingKey::from_public_key_der(&spki).unwrap()
}

/// Serves the instance on loopback until dropped (or 120 s pass).
struct Server {
    base: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(instance: Arc<Instance>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_mins(2);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => handle(&instance, stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            base,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn handle(instance: &Instance, stream: TcpStream) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let answer = match path.as_str() {
        "/api/v2/signingCert" => instance.fulcio(&request).map(|v| (201, v)),
        "/api/v1/log/entries" => instance.rekor(&request).map(|v| (201, v)),
        _ => Err((404, "not found".to_owned())),
    };
    let (status, text) = match answer {
        Ok((status, v)) => (status, v.to_string()),
        Err((status, m)) => (status, json!({"code": status, "message": m}).to_string()),
    };
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
}

struct Setup {
    dir: tempfile::TempDir,
    server: Server,
}

fn setup(rekor: Rekor) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    std::fs::create_dir(&model).unwrap();
    std::fs::write(model.join("weights.bin"), vec![7u8; 100_000]).unwrap();
    std::fs::write(model.join("config.json"), br#"{"layers": 2}"#).unwrap();
    let instance = Arc::new(Instance::new(rekor));
    let server = Server::start(Arc::clone(&instance));
    std::fs::write(
        dir.path().join("trusted_root.json"),
        instance.trusted_root(&server.base),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("token"),
        Instance::token(&instance.idp, WORKFLOW),
    )
    .unwrap();
    Setup { dir, server }
}

fn sign(s: &Setup, extra: &[&str]) -> crate::support::Run {
    let base = s.server.base.as_str();
    let mut args = vec![
        "sign",
        "model",
        "--sigstore",
        "--identity-token-file",
        "token",
        "--fulcio-url",
        base,
        "--rekor-url",
        base,
        "-o",
        "model.sig",
    ];
    args.extend_from_slice(extra);
    mlsecops(s.dir.path(), &args)
}

fn verify(dir: &Path, identity: &str) -> crate::support::Run {
    mlsecops(
        dir,
        &[
            "verify",
            "model",
            "--signature",
            "model.sig",
            "--sigstore-trusted-root",
            "trusted_root.json",
            "--identity",
            identity,
            "--issuer",
            ISSUER,
        ],
    )
}

#[test]
fn keyless_sign_then_verify_offline() {
    let s = setup(Rekor::Honest);
    let r = sign(&s, &["--sigstore-trusted-root", "trusted_root.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("sha256:"), "{}", r.stdout);
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(s.dir.path().join("model.sig")).unwrap()).unwrap();
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert!(bundle["verificationMaterial"]["certificate"]["rawBytes"].is_string());
    assert_eq!(
        bundle["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"],
        "dsse"
    );
    // The token never reaches the output or the signature.
    let token = std::fs::read_to_string(s.dir.path().join("token")).unwrap();
    assert!(!r.stderr.contains(&token) && !bundle.to_string().contains(&token));

    let r = verify(s.dir.path(), WORKFLOW);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // Another identity is refused, and so is a changed file.
    let r = verify(
        s.dir.path(),
        "https://github.com/evil/fork/.github/workflows/x.yml@refs/heads/main",
    );
    assert_ne!(r.code, 0);
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(
        out.contains("verification FAILED") && out.contains("evil/fork"),
        "{out}"
    );
    std::fs::write(s.dir.path().join("model/config.json"), br#"{"layers": 3}"#).unwrap();
    let r = verify(s.dir.path(), WORKFLOW);
    assert_ne!(r.code, 0);
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(out.contains("config.json"), "{out}");
}

#[test]
fn keyless_signing_fails_closed() {
    // A token from another issuer's key: Fulcio refuses, nothing is written.
    let s = setup(Rekor::Honest);
    let stranger = p256::ecdsa::SigningKey::try_generate().unwrap();
    std::fs::write(
        s.dir.path().join("token"),
        Instance::token(&stranger, WORKFLOW),
    )
    .unwrap();
    let r = sign(&s, &[]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("Fulcio") && r.stderr.contains("401"),
        "{}",
        r.stderr
    );
    assert!(!s.dir.path().join("model.sig").exists());

    // A log that records something else is caught before writing.
    let s = setup(Rekor::WrongPayload);
    let r = sign(&s, &[]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("payload hash"), "{}", r.stderr);
    assert!(!s.dir.path().join("model.sig").exists());

    // No token at all: a hint, no request.
    let s = setup(Rekor::Honest);
    let r = mlsecops(
        s.dir.path(),
        &[
            "sign",
            "model",
            "--sigstore",
            "--fulcio-url",
            &s.server.base,
            "--rekor-url",
            &s.server.base,
        ],
    );
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("identity token"), "{}", r.stderr);
}

#[test]
fn keyless_signature_needs_the_right_log_key() {
    let s = setup(Rekor::Honest);
    let r = sign(&s, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A trusted root from another instance (other CA, other log key).
    let other = Instance::new(Rekor::Honest);
    std::fs::write(
        s.dir.path().join("trusted_root.json"),
        other.trusted_root(&s.server.base),
    )
    .unwrap();
    let r = verify(s.dir.path(), WORKFLOW);
    assert_ne!(r.code, 0);
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(out.contains("untrusted log"), "{out}");
}
