//! Fuzz the signature envelope parsers of mlsecops-sign: Sigstore bundles
//! (and their verification: keys, X.509 paths, Sigstore logs), DSSE
//! envelopes, in-toto Statements, Sigstore trusted roots and PEM keys.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mlsecops_sign::bundle::{Bundle, Identity, TrustedCertificates, TrustedRoot, VerificationTime};
use mlsecops_sign::dsse::Envelope;
use mlsecops_sign::keys::{SigningKey, VerifyingKey};
use mlsecops_sign::statement::Statement;

const PUBLIC_KEY: &str =
    include_str!("../../crates/mlsecops-sign/tests/data/oms-signed/p256.pub.pem");
const ROOT: &str = include_str!("../../crates/mlsecops-sign/tests/data/oms-signed/root-ca.pem");
const SIGSTORE_ROOT: &[u8] =
    include_bytes!("../../crates/mlsecops-sign/tests/data/sigstore/trusted_root.json");

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = Bundle::parse(data) {
        // Writing and reading back is lossless.
        let again = Bundle::parse(&bundle.to_json()).expect("a written bundle parses");
        assert_eq!(again, bundle);
        if let Ok(key) = VerifyingKey::from_pem(PUBLIC_KEY) {
            let _ = bundle.verify_with_key(&key);
        }
        if let Ok(root) = TrustedCertificates::from_pem(ROOT) {
            let _ = bundle.verify_with_certificate_chain(&root, VerificationTime::LeafNotBefore);
        }
        if let Ok(root) = TrustedRoot::from_json(SIGSTORE_ROOT) {
            let identity = Identity {
                identity: "stefanb@us.ibm.com".into(),
                issuer: "https://sigstore.verify.ibm.com/oauth2".into(),
            };
            let _ = bundle.verify_sigstore(&root, &identity);
        }
    }
    if let Ok(envelope) = Envelope::from_json(data) {
        assert_eq!(
            Envelope::from_json(&envelope.to_json()).as_ref(),
            Ok(&envelope)
        );
    }
    let _ = TrustedRoot::from_json(data);
    if let Ok(statement) = Statement::parse(data) {
        assert_eq!(
            Statement::parse(&statement.to_json_bytes()).as_ref(),
            Ok(&statement)
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = SigningKey::from_pem(text);
        let _ = VerifyingKey::from_pem(text);
        let _ = TrustedCertificates::from_pem(text);
    }
});
