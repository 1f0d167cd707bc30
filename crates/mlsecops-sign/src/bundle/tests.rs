//! Unit tests of bundle signing, parsing and verification.

use super::*;
use crate::dsse::DsseSignature;
use crate::statement::Subject;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn statement_bytes() -> Vec<u8> {
    Statement {
        subjects: vec![Subject {
            name: "model".into(),
            digest: BTreeMap::from([("sha256".into(), "00".repeat(32))]),
        }],
        predicate_type: "https://model_signing/signature/v1.0".into(),
        predicate: serde_json::json!({"resources": []}),
    }
    .to_json_bytes()
}

#[test]
fn sign_verify_round_trip_every_key_kind() {
    for kind in KeyKind::ALL {
        let key = SigningKey::generate(kind).unwrap();
        let bundle = Bundle::sign_statement(&statement_bytes(), &key);
        let reparsed = Bundle::parse(&bundle.to_json()).unwrap();
        assert_eq!(reparsed, bundle);
        let verified = reparsed.verify_with_key(&key.verifying_key()).unwrap();
        assert_eq!(verified.payload, statement_bytes());
        assert_eq!(verified.key_hint, KeyHint::Matched);
        assert!(!verified.legacy_pae);
        assert_eq!(verified.statement_type, StatementType::V1);
        assert_eq!(verified.statement.subjects[0].name, "model");
    }
}

#[test]
fn output_shape_matches_the_reference() {
    let key = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
    let bundle = Bundle::sign_statement(b"{}", &key);
    let json = String::from_utf8(bundle.to_json()).unwrap();
    let sig = encode_base64(&bundle.envelope.signatures[0].sig);
    assert_eq!(
        json,
        format!(
            concat!(
                r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","#,
                r#""verificationMaterial":{{"publicKey":{{"hint":"{}"}},"tlogEntries":[]}},"#,
                r#""dsseEnvelope":{{"payload":"e30=","payloadType":"application/vnd.in-toto+json","#,
                r#""signatures":[{{"sig":"{}","keyid":""}}]}}}}"#
            ),
            key.verifying_key().hint(),
            sig
        )
    );
}

fn signed() -> (SigningKey, Bundle) {
    let key = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
    let bundle = Bundle::sign_statement(&statement_bytes(), &key);
    (key, bundle)
}

#[test]
fn tampering_is_rejected_with_distinct_errors() {
    let (key, bundle) = signed();
    let public = key.verifying_key();

    let mut payload = bundle.clone();
    payload.envelope.payload[10] ^= 1;
    assert_eq!(
        payload.verify_with_key(&public),
        Err(VerifyError::SignatureMismatch)
    );

    let mut sig = bundle.clone();
    let last = sig.envelope.signatures[0].sig.len() - 1;
    sig.envelope.signatures[0].sig[last] ^= 1;
    assert!(matches!(
        sig.verify_with_key(&public),
        Err(VerifyError::SignatureMismatch | VerifyError::SignatureMalformed(_))
    ));
    let mut sig_der = bundle.clone();
    sig_der.envelope.signatures[0].sig[0] = 0x31;
    assert_eq!(
        sig_der.verify_with_key(&public),
        Err(VerifyError::SignatureMalformed(KeyKind::EcdsaP256))
    );

    let mut payload_type = bundle.clone();
    payload_type.envelope.payload_type = "application/json".into();
    assert!(matches!(
        payload_type.verify_with_key(&public),
        Err(VerifyError::PayloadType { .. })
    ));

    let other = SigningKey::generate(KeyKind::EcdsaP256)
        .unwrap()
        .verifying_key();
    assert!(matches!(
        bundle.verify_with_key(&other),
        Err(VerifyError::KeyHintMismatch { .. })
    ));
    let mut no_hint = bundle.clone();
    no_hint.verification_material = VerificationMaterial::PublicKey { hint: None };
    assert_eq!(
        no_hint.verify_with_key(&other),
        Err(VerifyError::SignatureMismatch)
    );
    assert_eq!(
        no_hint.verify_with_key(&public).unwrap().key_hint,
        KeyHint::Absent
    );

    let mut media = bundle.clone();
    media.media_type = "application/vnd.dev.sigstore.bundle+json;version=0.2".into();
    assert!(matches!(
        media.verify_with_key(&public),
        Err(VerifyError::MediaType { .. })
    ));

    let mut two = bundle.clone();
    two.envelope
        .signatures
        .push(two.envelope.signatures[0].clone());
    assert_eq!(
        two.verify_with_key(&public),
        Err(VerifyError::SignatureCount(2))
    );
    let mut none = bundle.clone();
    none.envelope.signatures.clear();
    assert_eq!(
        none.verify_with_key(&public),
        Err(VerifyError::SignatureCount(0))
    );
}

#[test]
fn signed_garbage_is_a_statement_error_after_the_signature() {
    let key = SigningKey::generate(KeyKind::EcdsaP384).unwrap();
    let bundle = Bundle::sign_statement(b"not json", &key);
    assert!(matches!(
        bundle.verify_with_key(&key.verifying_key()),
        Err(VerifyError::Statement(StatementError::Json(_)))
    ));
}

#[test]
fn legacy_v0_2_encoding_still_verifies() {
    let key = SigningKey::generate(KeyKind::EcdsaP384).unwrap();
    let payload = statement_bytes();
    let sig = key.sign(&dsse::pae_v0_2_legacy(&payload));
    let bundle = Bundle {
        media_type: BUNDLE_MEDIA_TYPE.into(),
        verification_material: VerificationMaterial::PublicKey { hint: None },
        tlog_entries: Vec::new(),
        timestamp_verification_data: None,
        envelope: Envelope {
            payload,
            payload_type: PAYLOAD_TYPE_IN_TOTO.into(),
            signatures: vec![DsseSignature { sig, keyid: None }],
        },
    };
    assert!(
        bundle
            .verify_with_key(&key.verifying_key())
            .unwrap()
            .legacy_pae
    );
}

fn field_error(json: &str) -> String {
    match Bundle::parse(json.as_bytes()) {
        Err(BundleError::Field { field, .. }) => field,
        other => panic!("{json}: {other:?}"),
    }
}

#[test]
fn parse_errors_name_the_json_path() {
    let env = r#""dsseEnvelope": {"payload": "", "payloadType": "t", "signatures": []}"#;
    let pk = r#""verificationMaterial": {"publicKey": {"hint": "h"}}"#;
    let mt = r#""mediaType": "m""#;
    assert_eq!(field_error("[]"), "$");
    assert_eq!(field_error(&format!("{{{pk}, {env}}}")), "mediaType");
    assert_eq!(
        field_error(&format!("{{{mt}, {env}}}")),
        "verificationMaterial"
    );
    assert_eq!(
        field_error(&format!(r#"{{{mt}, "verificationMaterial": {{}}, {env}}}"#)),
        "verificationMaterial"
    );
    assert_eq!(
        field_error(&format!(
            r#"{{{mt}, "verificationMaterial": {{"publicKey": {{}}, "certificate": {{}}}}, {env}}}"#
        )),
        "verificationMaterial"
    );
    assert_eq!(
        field_error(&format!(
            r#"{{{mt}, "verificationMaterial": {{"publicKey": {{"hint": 3}}}}, {env}}}"#
        )),
        "verificationMaterial.publicKey.hint"
    );
    assert_eq!(
        field_error(&format!(
            r#"{{{mt}, "verificationMaterial": {{"x509CertificateChain": {{"certificates": [{{"rawBytes": "!"}}]}}}}, {env}}}"#
        )),
        "verificationMaterial.x509CertificateChain.certificates[0].rawBytes"
    );
    assert_eq!(
        field_error(&format!(
            r#"{{{mt}, "verificationMaterial": {{"certificate": {{}}}}, {env}}}"#
        )),
        "verificationMaterial.certificate.rawBytes"
    );
    assert_eq!(
        field_error(&format!(
            r#"{{{mt}, "verificationMaterial": {{"publicKey": {{}}, "tlogEntries": [1]}}, {env}}}"#
        )),
        "verificationMaterial.tlogEntries[0]"
    );
    assert_eq!(field_error(&format!("{{{mt}, {pk}}}")), "dsseEnvelope");
    assert_eq!(
        field_error(&format!(
            r#"{{{mt}, {pk}, "dsseEnvelope": {{"payload": "", "payloadType": "t", "signatures": [{{"sig": 1}}]}}}}"#
        )),
        "dsseEnvelope.signatures[0].sig"
    );
    assert_eq!(
        field_error(&format!(
            r#"{{{mt}, {pk}, "messageSignature": {{}}, {env}}}"#
        )),
        "messageSignature"
    );
}

#[test]
fn parse_is_bounded() {
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(matches!(
        Bundle::parse(deep.as_bytes()),
        Err(BundleError::Json(_))
    ));
    assert!(matches!(
        Bundle::parse(&vec![b' '; MAX_BUNDLE_BYTES + 1]),
        Err(BundleError::TooLarge { .. })
    ));
}

#[test]
fn older_public_key_material_is_read_like_the_reference() {
    // model-signing 0.3 wrote rawBytes/keyDetails and no hint.
    let (key, bundle) = signed();
    let json = String::from_utf8(bundle.to_json()).unwrap().replace(
        &format!(r#""publicKey":{{"hint":"{}"}}"#, key.verifying_key().hint()),
        r#""publicKey":{"rawBytes":"AAAA","keyDetails":"PKIX_ECDSA_P256_SHA_256"}"#,
    );
    let parsed = Bundle::parse(json.as_bytes()).unwrap();
    assert_eq!(
        parsed.verification_material,
        VerificationMaterial::PublicKey { hint: None }
    );
    assert_eq!(
        parsed
            .verify_with_key(&key.verifying_key())
            .unwrap()
            .key_hint,
        KeyHint::Absent
    );
}

#[derive(Debug, Clone)]
enum Part {
    Payload,
    Signature,
    PayloadType,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_single_byte_change_is_detected(
        part in prop_oneof![Just(Part::Payload), Just(Part::Signature), Just(Part::PayloadType)],
        index in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        thread_local! {
            static SIGNED: (SigningKey, Bundle) = signed();
        }
        SIGNED.with(|(key, bundle)| {
            let mut bundle = bundle.clone();
            match part {
                Part::Payload => {
                    let i = index.index(bundle.envelope.payload.len());
                    bundle.envelope.payload[i] ^= xor;
                }
                Part::Signature => {
                    let sig = &mut bundle.envelope.signatures[0].sig;
                    let i = index.index(sig.len());
                    sig[i] ^= xor;
                }
                Part::PayloadType => {
                    let mut bytes = bundle.envelope.payload_type.clone().into_bytes();
                    let i = index.index(bytes.len());
                    bytes[i] ^= xor;
                    bundle.envelope.payload_type = String::from_utf8_lossy(&bytes).into_owned();
                }
            }
            prop_assert!(bundle.verify_with_key(&key.verifying_key()).is_err());
            // The same change made in the JSON is detected too (or the JSON no
            // longer parses).
            if let Ok(reparsed) = Bundle::parse(&bundle.to_json()) {
                prop_assert!(reparsed.verify_with_key(&key.verifying_key()).is_err());
            }
            Ok(())
        })?;
    }
}
