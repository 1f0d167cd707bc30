//! X.509 certificate path validation for certificate-signed bundles: from
//! the bundle's leaf, through the bundle's intermediates, to a certificate
//! the caller trusts.
//!
//! What is checked, at one explicit instant: every certificate's signature
//! (ECDSA P-256/P-384/P-521 with SHA-256/384/512, RSA PKCS#1 v1.5 with
//! SHA-256/384/512, Ed25519), every validity window, issuer names, that
//! issuers are CAs (basicConstraints `cA`, `pathLenConstraint`, keyUsage
//! `keyCertSign` when present), that no unknown extension is critical, and
//! that the leaf may sign: keyUsage `digitalSignature` or extendedKeyUsage
//! `codeSigning`, the rule of OpenSSF model-signing's certificate verifier.
//! Revocation (CRL, OCSP), name and policy constraints are not checked: a
//! critical name or policy constraint makes the path fail.

use std::collections::BTreeSet;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use x509_cert::Certificate;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode as _, Encode as _, Header, Reader as _, SliceReader};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

use crate::keys::rsa::RsaPublicKey;
use crate::keys::{HashAlg, KeyError, OID_RSA, SignatureError, VerifyingKey};

/// Longest path accepted, leaf and anchor included.
const MAX_PATH_LEN: usize = 10;
/// Most trusted certificates a [`TrustedCertificates`] holds (an OS bundle
/// has a few hundred).
const MAX_TRUSTED: usize = 4096;

const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const OID_RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const OID_ED25519_SIG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_RSA_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5");

const OID_EXT_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_EXT_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_EXT_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// id-kp-codeSigning.
pub(crate) const OID_KP_CODE_SIGNING: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

/// The instant certificates must be valid at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationTime {
    /// The leaf certificate's `notBefore`: what OpenSSF model-signing's
    /// certificate verifier uses (it has no trusted signing time).
    LeafNotBefore,
    /// A given instant, e.g. now or a transparency log's integrated time.
    At(SystemTime),
}

/// Why a certificate path does not validate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// A certificate is not DER X.509 (the string names which one).
    #[error("certificate {which} is malformed: {reason}")]
    Malformed {
        /// `bundle[i]`, `trusted[i]` or `PEM block i`.
        which: String,
        /// What is wrong.
        reason: String,
    },
    /// The bundle has no certificate.
    #[error("bundle carries no certificate")]
    Empty,
    /// No trusted certificate was given.
    #[error("no trusted certificates given")]
    NoTrustAnchors,
    /// Too many trusted certificates were given.
    #[error("more than {MAX_TRUSTED} trusted certificates")]
    TooManyTrusted,
    /// The path reached a certificate whose issuer is neither trusted nor
    /// among the bundle's certificates (or whose signature no candidate
    /// issuer's key verifies).
    #[error("no trusted issuer found for `{subject}` (issuer `{issuer}`)")]
    UntrustedIssuer {
        /// Subject of the last certificate reached.
        subject: String,
        /// The issuer name it names.
        issuer: String,
    },
    /// A certificate is outside its validity window at the checked instant.
    #[error(
        "certificate `{subject}` is not valid at {at} (valid {not_before} to {not_after}, unix seconds)"
    )]
    NotValidAt {
        /// Subject of the certificate.
        subject: String,
        /// The instant checked (unix seconds).
        at: u64,
        /// Start of validity (unix seconds).
        not_before: u64,
        /// End of validity (unix seconds).
        not_after: u64,
    },
    /// An issuing certificate is not a CA, may not sign certificates, or
    /// its path length constraint is exceeded.
    #[error("certificate `{subject}` may not issue certificates: {reason}")]
    NotACa {
        /// Subject of the issuing certificate.
        subject: String,
        /// Which constraint fails.
        reason: String,
    },
    /// The leaf's key usages do not allow signing.
    #[error("certificate `{subject}` may not sign: {reason}")]
    LeafUsage {
        /// Subject of the leaf.
        subject: String,
        /// Which usage is missing.
        reason: String,
    },
    /// A critical extension this validator does not process.
    #[error("certificate `{subject}` has an unsupported critical extension {oid}")]
    UnhandledCriticalExtension {
        /// Subject of the certificate.
        subject: String,
        /// The extension's OID.
        oid: String,
    },
    /// A signature or key algorithm this validator does not verify.
    #[error("certificate `{subject}`: unsupported algorithm: {reason}")]
    UnsupportedAlgorithm {
        /// Subject of the certificate.
        subject: String,
        /// The algorithm.
        reason: String,
    },
    /// The path is longer than the limit.
    #[error("certificate path longer than {MAX_PATH_LEN}")]
    PathTooLong,
    /// The leaf's public key is not one a bundle signature can use.
    #[error("leaf certificate key: {0}")]
    LeafKey(KeyError),
}

/// Certificates the caller trusts as path anchors (roots, or intermediates
/// the caller vouches for).
#[derive(Clone, Default)]
pub struct TrustedCertificates {
    certs: Vec<Vec<u8>>,
}

impl fmt::Debug for TrustedCertificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustedCertificates({} certificates)", self.certs.len())
    }
}

impl TrustedCertificates {
    /// Reads every `-----BEGIN CERTIFICATE-----` block of `text`; other
    /// blocks and text between blocks are ignored.
    pub fn from_pem(text: &str) -> Result<Self, CertificateError> {
        let mut certs = Vec::new();
        let mut rest = text;
        let begin = "-----BEGIN CERTIFICATE-----";
        let end = "-----END CERTIFICATE-----";
        while let Some(start) = rest.find(begin) {
            let Some(stop) = rest[start..].find(end) else {
                return Err(CertificateError::Malformed {
                    which: format!("PEM block {}", certs.len()),
                    reason: "no END CERTIFICATE line".into(),
                });
            };
            let block = rest[start..start + stop + end.len()].replace("\r\n", "\n");
            let der = x509_cert::der::pem::decode_vec(block.as_bytes())
                .map(|(_, der)| der)
                .map_err(|e| CertificateError::Malformed {
                    which: format!("PEM block {}", certs.len()),
                    reason: e.to_string(),
                })?;
            certs.push(der);
            rest = &rest[start + stop + end.len()..];
        }
        Self::from_der(certs)
    }

    /// Takes DER certificates, checking that each parses.
    pub fn from_der(certs: Vec<Vec<u8>>) -> Result<Self, CertificateError> {
        if certs.len() > MAX_TRUSTED {
            return Err(CertificateError::TooManyTrusted);
        }
        for (i, der) in certs.iter().enumerate() {
            Parsed::new(der, &format!("trusted[{i}]"))?;
        }
        Ok(Self { certs })
    }

    /// The certificates, DER.
    #[must_use]
    pub fn certificates(&self) -> &[Vec<u8>] {
        &self.certs
    }

    /// Number of trusted certificates.
    #[must_use]
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Whether no certificate is trusted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }
}

/// A certificate and the bytes its signature covers.
struct Parsed<'a> {
    der: &'a [u8],
    tbs: &'a [u8],
    cert: Certificate,
}

impl<'a> Parsed<'a> {
    fn new(der: &'a [u8], which: &str) -> Result<Self, CertificateError> {
        let malformed = |e: x509_cert::der::Error| CertificateError::Malformed {
            which: which.to_owned(),
            reason: e.to_string(),
        };
        let cert = Certificate::from_der(der).map_err(malformed)?;
        // The signed bytes are the original TBSCertificate TLV, not a
        // re-encoding of the decoded value.
        // (Certificate::from_der has checked the outer structure.)
        let mut reader = SliceReader::new(der).map_err(malformed)?;
        Header::decode(&mut reader).map_err(malformed)?;
        let tbs = reader.tlv_bytes().map_err(malformed)?;
        if cert.signature_algorithm() != cert.tbs_certificate().signature() {
            return Err(CertificateError::Malformed {
                which: which.to_owned(),
                reason: "signatureAlgorithm differs from the signed tbsCertificate.signature"
                    .into(),
            });
        }
        Ok(Self { der, tbs, cert })
    }

    fn subject(&self) -> String {
        self.cert.tbs_certificate().subject().to_string()
    }

    fn issuer_matches(&self, issuer: &Parsed<'_>) -> bool {
        let issuer_name = self.cert.tbs_certificate().issuer().to_der();
        let subject_name = issuer.cert.tbs_certificate().subject().to_der();
        matches!((issuer_name, subject_name), (Ok(a), Ok(b)) if a == b)
    }

    fn validity(&self) -> (u64, u64) {
        let validity = self.cert.tbs_certificate().validity();
        (
            validity.not_before.to_unix_duration().as_secs(),
            validity.not_after.to_unix_duration().as_secs(),
        )
    }

    fn check_valid_at(&self, at: u64) -> Result<(), CertificateError> {
        let (not_before, not_after) = self.validity();
        if at < not_before || at > not_after {
            return Err(CertificateError::NotValidAt {
                subject: self.subject(),
                at,
                not_before,
                not_after,
            });
        }
        Ok(())
    }

    fn check_critical_extensions(&self) -> Result<(), CertificateError> {
        let handled = [
            OID_EXT_BASIC_CONSTRAINTS,
            OID_EXT_KEY_USAGE,
            OID_EXT_EXT_KEY_USAGE,
            OID_EXT_SUBJECT_ALT_NAME,
        ];
        for ext in self
            .cert
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
        {
            if ext.critical && !handled.contains(&ext.extn_id) {
                return Err(CertificateError::UnhandledCriticalExtension {
                    subject: self.subject(),
                    oid: ext.extn_id.to_string(),
                });
            }
        }
        Ok(())
    }

    fn extension<T>(&self) -> Result<Option<T>, CertificateError>
    where
        T: for<'b> x509_cert::der::Decode<'b, Error = x509_cert::der::Error>
            + x509_cert::der::oid::AssociatedOid,
    {
        self.cert
            .tbs_certificate()
            .get_extension::<T>()
            .map(|found| found.map(|(_, value)| value))
            .map_err(|e| CertificateError::Malformed {
                which: format!("`{}`", self.subject()),
                reason: format!("extension {}: {e}", T::OID),
            })
    }

    /// Checks that this certificate may issue a certificate with
    /// `below` CA certificates under it (leaf excluded).
    fn check_issuer(&self, below: usize, is_anchor: bool) -> Result<(), CertificateError> {
        let not_ca = |reason: &str| CertificateError::NotACa {
            subject: self.subject(),
            reason: reason.to_owned(),
        };
        match self.extension::<BasicConstraints>()? {
            Some(bc) if !bc.ca => return Err(not_ca("basicConstraints cA is false")),
            Some(bc) => {
                if let Some(limit) = bc.path_len_constraint
                    && below > usize::from(limit)
                {
                    return Err(not_ca(&format!(
                        "pathLenConstraint {limit} but {below} CA certificates below it"
                    )));
                }
            }
            // A caller-trusted anchor without basicConstraints (old v1
            // roots) is accepted; an intermediate must say it is a CA.
            None if is_anchor => {}
            None => return Err(not_ca("no basicConstraints extension")),
        }
        if let Some(usage) = self.extension::<KeyUsage>()?
            && !usage.key_cert_sign()
        {
            return Err(not_ca("keyUsage lacks keyCertSign"));
        }
        Ok(())
    }

    /// Verifies that `issuer`'s key signed this certificate.
    fn verify_signed_by(&self, issuer: &Parsed<'_>) -> Result<bool, CertificateError> {
        let unsupported = |reason: String| CertificateError::UnsupportedAlgorithm {
            subject: issuer.subject(),
            reason,
        };
        let algorithm = self.cert.signature_algorithm().oid;
        let signature =
            self.cert
                .signature()
                .as_bytes()
                .ok_or_else(|| CertificateError::Malformed {
                    which: format!("`{}`", self.subject()),
                    reason: "signature bit string has unused bits".into(),
                })?;
        let spki = issuer.cert.tbs_certificate().subject_public_key_info();
        let result = match algorithm {
            OID_ECDSA_SHA256 | OID_ECDSA_SHA384 | OID_ECDSA_SHA512 | OID_ED25519_SIG => {
                let spki_der = spki.to_der().map_err(|e| unsupported(e.to_string()))?;
                let key = VerifyingKey::from_spki_der(&spki_der)
                    .map_err(|e| unsupported(e.to_string()))?;
                let hash = match algorithm {
                    OID_ECDSA_SHA256 => HashAlg::Sha256,
                    OID_ECDSA_SHA384 => HashAlg::Sha384,
                    _ => HashAlg::Sha512,
                };
                let is_ed25519 = key.ecdsa_hash().is_none();
                if is_ed25519 != (algorithm == OID_ED25519_SIG) {
                    return Err(unsupported(format!(
                        "signature algorithm {algorithm} with a {} key",
                        key.kind()
                    )));
                }
                key.verify_with_hash(hash, self.tbs, signature)
            }
            OID_RSA_SHA256 | OID_RSA_SHA384 | OID_RSA_SHA512 => {
                if spki.algorithm.oid != OID_RSA {
                    return Err(unsupported(format!(
                        "RSA signature with a {} key",
                        spki.algorithm.oid
                    )));
                }
                let key_bytes = spki
                    .subject_public_key
                    .as_bytes()
                    .ok_or_else(|| unsupported("RSA key bit string has unused bits".into()))?;
                let key = RsaPublicKey::from_pkcs1_der(key_bytes)
                    .map_err(|e| unsupported(e.to_string()))?;
                let hash = match algorithm {
                    OID_RSA_SHA256 => HashAlg::Sha256,
                    OID_RSA_SHA384 => HashAlg::Sha384,
                    _ => HashAlg::Sha512,
                };
                key.verify_pkcs1v15(hash, self.tbs, signature)
            }
            OID_RSA_PSS => return Err(unsupported("RSASSA-PSS signatures".into())),
            OID_RSA_SHA1 => return Err(unsupported("SHA-1 signatures".into())),
            other => return Err(unsupported(format!("signature algorithm {other}"))),
        };
        match result {
            Ok(()) => Ok(true),
            Err(SignatureError::Mismatch | SignatureError::Malformed(_)) => Ok(false),
        }
    }
}

/// A validated path: the leaf's key and the certificates from leaf to
/// anchor (DER).
#[derive(Debug, Clone)]
pub(crate) struct ValidPath {
    pub(crate) leaf_key: VerifyingKey,
    pub(crate) chain: Vec<Vec<u8>>,
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Validates `bundle_certs[0]` (leaf) through `bundle_certs[1..]` to one of
/// `trusted` at `time`.
pub(crate) fn validate_path(
    bundle_certs: &[Vec<u8>],
    trusted: &TrustedCertificates,
    time: VerificationTime,
) -> Result<ValidPath, CertificateError> {
    let Some(leaf_der) = bundle_certs.first() else {
        return Err(CertificateError::Empty);
    };
    if trusted.is_empty() {
        return Err(CertificateError::NoTrustAnchors);
    }
    let leaf = Parsed::new(leaf_der, "bundle[0]")?;
    let intermediates = bundle_certs[1..]
        .iter()
        .enumerate()
        .map(|(i, der)| Parsed::new(der, &format!("bundle[{}]", i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    let anchors = trusted
        .certs
        .iter()
        .enumerate()
        .map(|(i, der)| Parsed::new(der, &format!("trusted[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let at = match time {
        VerificationTime::LeafNotBefore => leaf.validity().0,
        VerificationTime::At(instant) => unix_seconds(instant),
    };

    leaf.check_valid_at(at)?;
    leaf.check_critical_extensions()?;
    check_leaf_usage(&leaf)?;
    let leaf_key = leaf_key(&leaf)?;

    let mut chain = vec![leaf.der.to_vec()];
    let mut used = BTreeSet::new();
    let mut current = &leaf;
    let mut ca_below = 0usize;
    loop {
        if chain.len() >= MAX_PATH_LEN {
            return Err(CertificateError::PathTooLong);
        }
        // Trusted issuers first, so a bundle that (against the spec) also
        // carries the root still ends at the caller's copy.
        let mut next = None;
        for anchor in &anchors {
            if current.issuer_matches(anchor) && current.verify_signed_by(anchor)? {
                next = Some((anchor, true));
                break;
            }
        }
        if next.is_none() {
            for (i, candidate) in intermediates.iter().enumerate() {
                if !used.contains(&i)
                    && current.issuer_matches(candidate)
                    && current.verify_signed_by(candidate)?
                {
                    used.insert(i);
                    next = Some((candidate, false));
                    break;
                }
            }
        }
        let Some((issuer, is_anchor)) = next else {
            return Err(CertificateError::UntrustedIssuer {
                subject: current.subject(),
                issuer: current.cert.tbs_certificate().issuer().to_string(),
            });
        };
        issuer.check_valid_at(at)?;
        issuer.check_critical_extensions()?;
        issuer.check_issuer(ca_below, is_anchor)?;
        chain.push(issuer.der.to_vec());
        if is_anchor {
            return Ok(ValidPath { leaf_key, chain });
        }
        ca_below += 1;
        current = issuer;
    }
}

/// The public key a DER certificate certifies, if it is a signing key kind.
pub(crate) fn leaf_public_key(der: &[u8]) -> Result<VerifyingKey, CertificateError> {
    let leaf = Parsed::new(der, "bundle[0]")?;
    leaf_key(&leaf)
}

fn leaf_key(leaf: &Parsed<'_>) -> Result<VerifyingKey, CertificateError> {
    let spki_der = leaf
        .cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| CertificateError::LeafKey(KeyError::Malformed(e.to_string())))?;
    VerifyingKey::from_spki_der(&spki_der).map_err(CertificateError::LeafKey)
}

/// What a Fulcio-style leaf certificate says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeafIdentity {
    /// Subject alternative names: e-mail addresses and URIs.
    pub(crate) names: Vec<String>,
    /// The OIDC issuer (Fulcio extension 1.3.6.1.4.1.57264.1.8, or the
    /// legacy 1.3.6.1.4.1.57264.1.1).
    pub(crate) issuer: Option<String>,
    /// Whether extendedKeyUsage lists codeSigning.
    pub(crate) code_signing: bool,
}

const OID_FULCIO_ISSUER_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
const OID_FULCIO_ISSUER_V1: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");

pub(crate) fn leaf_identity(der: &[u8]) -> Result<LeafIdentity, CertificateError> {
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    let leaf = Parsed::new(der, "bundle[0]")?;
    let mut names = Vec::new();
    if let Some(san) = leaf.extension::<SubjectAltName>()? {
        for name in san.0 {
            match name {
                GeneralName::Rfc822Name(s) | GeneralName::UniformResourceIdentifier(s) => {
                    names.push(s.to_string());
                }
                _ => {}
            }
        }
    }
    let mut issuer = None;
    for ext in leaf
        .cert
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
    {
        let raw = ext.extn_value.as_bytes();
        if ext.extn_id == OID_FULCIO_ISSUER_V2 {
            let value = x509_cert::der::asn1::Utf8StringRef::from_der(raw).map_err(|e| {
                CertificateError::Malformed {
                    which: "bundle[0]".into(),
                    reason: format!("OIDC issuer extension: {e}"),
                }
            })?;
            issuer = Some(value.as_str().to_owned());
        } else if ext.extn_id == OID_FULCIO_ISSUER_V1 && issuer.is_none() {
            issuer = Some(String::from_utf8_lossy(raw).into_owned());
        }
    }
    let code_signing = leaf
        .extension::<ExtendedKeyUsage>()?
        .is_some_and(|eku| eku.0.contains(&OID_KP_CODE_SIGNING));
    Ok(LeafIdentity {
        names,
        issuer,
        code_signing,
    })
}

/// The reference's rule: keyUsage `digitalSignature`, or extendedKeyUsage
/// `codeSigning`.
fn check_leaf_usage(leaf: &Parsed<'_>) -> Result<(), CertificateError> {
    let digital_signature = leaf
        .extension::<KeyUsage>()?
        .is_some_and(|usage| usage.digital_signature());
    let code_signing = leaf
        .extension::<ExtendedKeyUsage>()?
        .is_some_and(|eku| eku.0.contains(&OID_KP_CODE_SIGNING));
    if digital_signature || code_signing {
        Ok(())
    } else {
        Err(CertificateError::LeafUsage {
            subject: leaf.subject(),
            reason: "neither keyUsage digitalSignature nor extendedKeyUsage codeSigning".into(),
        })
    }
}
