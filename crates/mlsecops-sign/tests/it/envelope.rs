//! Interop of the envelope layers with OpenSSF model-signing (the Python
//! reference): its bundles verify with our code, and bundles we make verify
//! with its API (when `MLSECOPS_TEST_PYTHON` names a python that has
//! `model-signing` installed). Fixtures: `tests/data/oms-signed/generate.py`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mlsecops_sign::bundle::{
    Bundle, CertificateError, KeyHint, TrustedCertificates, VerificationMaterial, VerificationTime,
    VerifyError,
};
use mlsecops_sign::dsse::PAYLOAD_TYPE_IN_TOTO;
use mlsecops_sign::keys::{KeyKind, SigningKey, VerifyingKey};
use mlsecops_sign::statement::{Statement, StatementType};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/oms-signed")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(data().join(name)).unwrap()
}

fn read_text(name: &str) -> String {
    String::from_utf8(read(name)).unwrap()
}

const KEY_FIXTURES: [(&str, &str, KeyKind); 3] = [
    ("model.sig", "p256.pub.pem", KeyKind::EcdsaP256),
    ("model-p384.sig", "p384.pub.pem", KeyKind::EcdsaP384),
    ("model-p521.sig", "p521.pub.pem", KeyKind::EcdsaP521),
];

#[test]
fn reference_key_bundles_verify() {
    for (sig, public, kind) in KEY_FIXTURES {
        let bytes = read(sig);
        let bundle = Bundle::parse(&bytes).unwrap();
        // Our writer reproduces the reference's file byte for byte.
        assert_eq!(bundle.to_json(), bytes, "{sig}");

        let pem = read_text(public);
        let key = VerifyingKey::from_pem(&pem).unwrap();
        assert_eq!(key.kind(), kind);
        // Our PEM is OpenSSL's, so the hint (SHA-256 of it) is the reference's.
        assert_eq!(key.to_pem(), pem);
        assert_eq!(
            bundle.verification_material,
            VerificationMaterial::PublicKey {
                hint: Some(key.hint())
            }
        );

        let verified = bundle.verify_with_key(&key).unwrap();
        assert_eq!(verified.key_hint, KeyHint::Matched);
        assert!(!verified.legacy_pae);
        assert_eq!(verified.statement_type, StatementType::V1);
        assert_eq!(verified.payload_type, PAYLOAD_TYPE_IN_TOTO);
        assert_eq!(verified.payload, bundle.envelope.payload);
        assert_eq!(
            verified.statement.predicate_type,
            "https://model_signing/signature/v1.0"
        );
        assert_eq!(verified.statement.subjects.len(), 1);
        assert_eq!(verified.statement.subjects[0].name, "model");
        assert!(verified.statement.subjects[0].digest.contains_key("sha256"));
        assert_eq!(
            verified.statement.predicate["resources"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }
}

#[test]
fn reference_key_bundles_reject_the_other_keys() {
    let keys: Vec<VerifyingKey> = KEY_FIXTURES
        .iter()
        .map(|(_, public, _)| VerifyingKey::from_pem(&read_text(public)).unwrap())
        .collect();
    for (i, (sig, _, _)) in KEY_FIXTURES.iter().enumerate() {
        let bundle = Bundle::parse(&read(sig)).unwrap();
        for (j, key) in keys.iter().enumerate() {
            if i != j {
                assert!(
                    matches!(
                        bundle.verify_with_key(key),
                        Err(VerifyError::KeyHintMismatch { .. })
                    ),
                    "{sig} with key {j}"
                );
            }
        }
    }
}

#[test]
fn our_statement_writer_reads_back_the_reference_statement() {
    let bundle = Bundle::parse(&read("model.sig")).unwrap();
    let statement = Statement::parse(&bundle.envelope.payload).unwrap();
    let ours = statement.to_json_bytes();
    let theirs: serde_json::Value = serde_json::from_slice(&bundle.envelope.payload).unwrap();
    let again: serde_json::Value = serde_json::from_slice(&ours).unwrap();
    assert_eq!(again, theirs);
    assert_eq!(Statement::parse(&ours).unwrap(), statement);
}

fn trusted(name: &str) -> TrustedCertificates {
    TrustedCertificates::from_pem(&read_text(name)).unwrap()
}

#[test]
fn reference_certificate_bundle_verifies() {
    let bytes = read("model-cert.sig");
    let bundle = Bundle::parse(&bytes).unwrap();
    assert_eq!(bundle.to_json(), bytes);
    let VerificationMaterial::X509CertificateChain { certs } = &bundle.verification_material else {
        panic!("expected a certificate chain");
    };
    assert_eq!(certs.len(), 2);

    let root = trusted("root-ca.pem");
    // The reference checks validity at the leaf's notBefore.
    let verified = bundle
        .verify_with_certificate_chain(&root, VerificationTime::LeafNotBefore)
        .unwrap();
    assert_eq!(verified.key_hint, KeyHint::NotApplicable);
    assert_eq!(verified.certificate_chain.len(), 3);
    assert_eq!(verified.certificate_chain[..2], certs[..]);
    assert_eq!(verified.statement.subjects[0].name, "model");

    let now = SystemTime::now();
    bundle
        .verify_with_certificate_chain(&root, VerificationTime::At(now))
        .unwrap();

    // Trusting the intermediate directly is enough (partial chain).
    let verified = bundle
        .verify_with_certificate_chain(
            &trusted("intermediate-ca.pem"),
            VerificationTime::LeafNotBefore,
        )
        .unwrap();
    assert_eq!(verified.certificate_chain.len(), 2);

    // Fixture certificates are valid from 2025-01-01 to 2049-01-01.
    let after = UNIX_EPOCH + Duration::from_secs(2_600_000_000);
    assert!(matches!(
        bundle.verify_with_certificate_chain(&root, VerificationTime::At(after)),
        Err(VerifyError::Certificate(
            CertificateError::NotValidAt { .. }
        ))
    ));
    let before = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert!(matches!(
        bundle.verify_with_certificate_chain(&root, VerificationTime::At(before)),
        Err(VerifyError::Certificate(
            CertificateError::NotValidAt { .. }
        ))
    ));

    // A root that did not issue the chain.
    assert!(matches!(
        bundle.verify_with_certificate_chain(&trusted("leaf.pem"), VerificationTime::LeafNotBefore),
        Err(VerifyError::Certificate(
            CertificateError::UntrustedIssuer { .. }
        ))
    ));

    // Without the intermediate the leaf cannot reach the root.
    let mut leaf_only = bundle.clone();
    leaf_only.verification_material = VerificationMaterial::Certificate {
        der: certs[0].clone(),
    };
    assert!(matches!(
        leaf_only.verify_with_certificate_chain(&root, VerificationTime::LeafNotBefore),
        Err(VerifyError::Certificate(
            CertificateError::UntrustedIssuer { .. }
        ))
    ));

    // A key-signed bundle is not a certificate-signed one.
    let key_bundle = Bundle::parse(&read("model.sig")).unwrap();
    assert!(matches!(
        key_bundle.verify_with_certificate_chain(&root, VerificationTime::LeafNotBefore),
        Err(VerifyError::Material { .. })
    ));
}

#[test]
fn certificate_tampering_is_detected() {
    let bundle = Bundle::parse(&read("model-cert.sig")).unwrap();
    let root = trusted("root-ca.pem");
    let VerificationMaterial::X509CertificateChain { certs } = &bundle.verification_material else {
        panic!("expected a certificate chain");
    };
    // Flip one byte inside each certificate's signature value (its last byte).
    for i in 0..certs.len() {
        let mut tampered = bundle.clone();
        let VerificationMaterial::X509CertificateChain { certs } =
            &mut tampered.verification_material
        else {
            unreachable!()
        };
        let last = certs[i].len() - 1;
        certs[i][last] ^= 1;
        assert!(
            matches!(
                tampered.verify_with_certificate_chain(&root, VerificationTime::LeafNotBefore),
                Err(VerifyError::Certificate(
                    CertificateError::UntrustedIssuer { .. }
                ))
            ),
            "certificate {i}"
        );
    }
}

// ---- our bundles, verified by the reference ----

fn oms_python() -> Option<PathBuf> {
    match std::env::var_os("MLSECOPS_TEST_PYTHON") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            assert!(
                std::env::var("MLSECOPS_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "MLSECOPS_REQUIRE_SERVICES=1 but MLSECOPS_TEST_PYTHON is unset"
            );
            println!("SKIP: MLSECOPS_TEST_PYTHON unset (a python with model-signing installed)");
            None
        }
    }
}

/// Runs the reference verifier; `Ok(())` or `Err(its message)`.
fn reference_verify(
    python: &Path,
    bundle: &Bundle,
    trust_flag: &str,
    trust_pem: &str,
) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let sig = dir.path().join("model.sig");
    let trust = dir.path().join("trust.pem");
    std::fs::write(&sig, bundle.to_json()).unwrap();
    std::fs::write(&trust, trust_pem).unwrap();
    let output = Command::new(python)
        .arg(data().parent().unwrap().join("oms_verify.py"))
        .arg(data().join("model"))
        .arg(&sig)
        .arg(trust_flag)
        .arg(&trust)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && stdout == "OK" {
        Ok(())
    } else {
        Err(format!(
            "{stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

#[test]
fn reference_verifies_our_key_bundles() {
    let Some(python) = oms_python() else { return };
    let reference = Bundle::parse(&read("model.sig")).unwrap();
    let payload = reference.envelope.payload.clone();
    let statement = Statement::parse(&payload).unwrap();
    for kind in [KeyKind::EcdsaP256, KeyKind::EcdsaP384, KeyKind::EcdsaP521] {
        let key = SigningKey::generate(kind).unwrap();
        let public = key.verifying_key().to_pem();
        // The reference's own payload bytes, signed by us.
        let bundle = Bundle::sign_statement(&payload, &key);
        reference_verify(&python, &bundle, "--public-key", &public)
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        // Our serialization of the same statement, signed by us.
        let ours = Bundle::sign_statement(&statement.to_json_bytes(), &key);
        reference_verify(&python, &ours, "--public-key", &public)
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        // And the reference notices a changed payload.
        let mut tampered = bundle.clone();
        tampered.envelope.payload[20] ^= 1;
        assert!(reference_verify(&python, &tampered, "--public-key", &public).is_err());
        // ... and another key.
        let other = SigningKey::generate(kind).unwrap().verifying_key().to_pem();
        assert!(reference_verify(&python, &bundle, "--public-key", &other).is_err());
    }
    // Ed25519 is our extension: the reference refuses it.
    let key = SigningKey::generate(KeyKind::Ed25519).unwrap();
    let bundle = Bundle::sign_statement(&payload, &key);
    assert!(
        reference_verify(
            &python,
            &bundle,
            "--public-key",
            &key.verifying_key().to_pem()
        )
        .is_err()
    );
}

#[test]
fn reference_verifies_our_certificate_bundles() {
    let Some(python) = oms_python() else { return };
    let reference = Bundle::parse(&read("model-cert.sig")).unwrap();
    let VerificationMaterial::X509CertificateChain { certs } = &reference.verification_material
    else {
        panic!("expected a certificate chain");
    };
    let key = SigningKey::from_pem(&read_text("leaf.key.pem")).unwrap();
    let bundle =
        Bundle::sign_statement_with_certificates(&reference.envelope.payload, &key, certs.clone())
            .unwrap();
    let root = read_text("root-ca.pem");
    reference_verify(&python, &bundle, "--certificate-chain", &root).unwrap();
    // Our verifier agrees.
    bundle
        .verify_with_certificate_chain(&trusted("root-ca.pem"), VerificationTime::LeafNotBefore)
        .unwrap();
    // The reference refuses a root that did not issue the chain.
    assert!(
        reference_verify(
            &python,
            &bundle,
            "--certificate-chain",
            &read_text("leaf.pem")
        )
        .is_err()
    );
    // Signing with certificates for another key is refused.
    let other = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
    assert!(Bundle::sign_statement_with_certificates(b"{}", &other, certs.clone()).is_err());
}

// ---- certificate path rules (fixtures: tests/data/x509/generate.py) ----

fn x509_case(case: &str) -> (Vec<Vec<u8>>, TrustedCertificates, SigningKey) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/x509");
    let text =
        |suffix: &str| std::fs::read_to_string(dir.join(format!("{case}.{suffix}"))).unwrap();
    let chain = TrustedCertificates::from_pem(&text("chain.pem"))
        .unwrap()
        .certificates()
        .to_vec();
    let root = TrustedCertificates::from_pem(&text("root.pem")).unwrap();
    let key = SigningKey::from_pem(&text("key.pem")).unwrap();
    (chain, root, key)
}

fn verify_case(case: &str) -> Result<(), VerifyError> {
    let (chain, root, key) = x509_case(case);
    let bundle = Bundle::sign_statement_with_certificates(&read_statement(), &key, chain).unwrap();
    bundle
        .verify_with_certificate_chain(&root, VerificationTime::LeafNotBefore)
        .map(|_| ())
}

fn read_statement() -> Vec<u8> {
    Bundle::parse(&read("model.sig")).unwrap().envelope.payload
}

#[test]
fn certificate_path_rules() {
    for case in ["good", "eku-only", "ed25519-p521"] {
        verify_case(case).unwrap_or_else(|e| panic!("{case}: {e}"));
    }
    for case in ["not-ca", "no-bc", "no-certsign", "pathlen"] {
        assert!(
            matches!(
                verify_case(case),
                Err(VerifyError::Certificate(CertificateError::NotACa { .. }))
            ),
            "{case}: {:?}",
            verify_case(case)
        );
    }
    assert!(matches!(
        verify_case("leaf-no-usage"),
        Err(VerifyError::Certificate(CertificateError::LeafUsage { .. }))
    ));
    assert!(matches!(
        verify_case("critical-unknown"),
        Err(VerifyError::Certificate(
            CertificateError::UnhandledCriticalExtension { .. }
        ))
    ));
}

#[test]
fn certificate_bundle_signature_tampering_is_detected() {
    let (chain, root, key) = x509_case("good");
    let bundle = Bundle::sign_statement_with_certificates(&read_statement(), &key, chain).unwrap();
    let mut payload = bundle.clone();
    payload.envelope.payload[5] ^= 1;
    assert_eq!(
        payload.verify_with_certificate_chain(&root, VerificationTime::LeafNotBefore),
        Err(VerifyError::SignatureMismatch)
    );
    let mut payload_type = bundle.clone();
    payload_type.envelope.payload_type = "text/plain".into();
    assert!(matches!(
        payload_type.verify_with_certificate_chain(&root, VerificationTime::LeafNotBefore),
        Err(VerifyError::PayloadType { .. })
    ));
    // Another chain's root does not anchor this one.
    let (_, other_root, _) = x509_case("eku-only");
    assert!(matches!(
        bundle.verify_with_certificate_chain(&other_root, VerificationTime::LeafNotBefore),
        Err(VerifyError::Certificate(
            CertificateError::UntrustedIssuer { .. }
        ))
    ));
}

// ---- Sigstore (keyless) bundles, offline (fixtures: tests/data/sigstore/fetch.sh) ----

mod sigstore {
    use super::*;
    use mlsecops_sign::bundle::{Identity, SigstoreError, TrustedRoot};

    fn dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigstore")
    }

    fn root() -> TrustedRoot {
        TrustedRoot::from_json(&std::fs::read(dir().join("trusted_root.json")).unwrap()).unwrap()
    }

    fn bundle(version: &str) -> Bundle {
        Bundle::parse(&std::fs::read(dir().join(version).join("model.sig")).unwrap()).unwrap()
    }

    fn ibm() -> Identity {
        Identity {
            identity: "stefanb@us.ibm.com".into(),
            issuer: "https://sigstore.verify.ibm.com/oauth2".into(),
        }
    }

    #[test]
    fn model_signing_sigstore_bundles_verify_offline() {
        let root = root();
        assert!(root.tlog_count() >= 1);
        assert!(root.certificate_authority_count() >= 1);
        for version in ["v1.0.0-sigstore", "v1.1.0-sigstore"] {
            let verified = bundle(version)
                .verify_sigstore(&root, &ibm())
                .unwrap_or_else(|e| panic!("{version}: {e}"));
            assert_eq!(verified.issuer, "https://sigstore.verify.ibm.com/oauth2");
            assert!(
                verified
                    .identities
                    .contains(&"stefanb@us.ibm.com".to_owned())
            );
            assert_eq!(verified.log_url, "https://rekor.sigstore.dev");
            assert!(verified.integrated_time > 1_700_000_000);
            assert_eq!(verified.verified.statement.subjects[0].name, version);
            // leaf -> Fulcio intermediate (trusted material of the root)
            assert_eq!(verified.verified.certificate_chain.len(), 2);
        }
    }

    #[test]
    fn sigstore_checks_fail_closed() {
        let root = root();
        let good = bundle("v1.1.0-sigstore");

        let other = Identity {
            identity: "someone@example.com".into(),
            ..ibm()
        };
        assert!(matches!(
            good.verify_sigstore(&root, &other),
            Err(SigstoreError::Identity { .. })
        ));
        let other_issuer = Identity {
            issuer: "https://accounts.google.com".into(),
            ..ibm()
        };
        assert!(matches!(
            good.verify_sigstore(&root, &other_issuer),
            Err(SigstoreError::Identity { .. })
        ));

        let mut payload = good.clone();
        payload.envelope.payload[30] ^= 1;
        assert!(matches!(
            payload.verify_sigstore(&root, &ibm()),
            Err(SigstoreError::EntryMismatch(_))
        ));

        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut b = good.clone();
            f(&mut b.tlog_entries[0]);
            b.verify_sigstore(&root, &ibm())
        };
        assert!(matches!(
            edit(&|e| e["integratedTime"] = "1746236087".into()),
            Err(SigstoreError::SignedEntryTimestamp)
        ));
        assert!(matches!(
            edit(&|e| e["inclusionProof"]["hashes"][0] =
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into()),
            Err(SigstoreError::InclusionProof(_))
        ));
        assert!(matches!(
            edit(&|e| {
                let text = e["inclusionProof"]["checkpoint"]["envelope"]
                    .as_str()
                    .unwrap()
                    .replacen("rekor", "rekoR", 1);
                e["inclusionProof"]["checkpoint"]["envelope"] = text.into();
            }),
            Err(SigstoreError::Checkpoint(_))
        ));
        assert!(matches!(
            edit(&|e| e["logId"]["keyId"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into()),
            Err(SigstoreError::UnknownLog(_))
        ));
        assert!(matches!(
            edit(&|e| {
                e.as_object_mut().unwrap().remove("inclusionPromise");
            }),
            Err(SigstoreError::Entry(_))
        ));

        // A key-signed bundle is not a Sigstore one.
        assert!(matches!(
            Bundle::parse(&read("model.sig"))
                .unwrap()
                .verify_sigstore(&root, &ibm()),
            Err(SigstoreError::Bundle(VerifyError::Material { .. }))
        ));
    }
}
