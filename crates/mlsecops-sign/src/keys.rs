//! Signing and verifying keys: ECDSA on NIST P-256, P-384 and P-521 (what
//! OpenSSF model-signing accepts) and Ed25519 (our extension, which the
//! reference rejects), read from and written to PEM.
//!
//! ECDSA signatures are DER `Ecdsa-Sig-Value`s over the message hashed with
//! the curve's hash, as the reference (`get_ec_key_hash`) does: P-256 with
//! SHA-256, P-384 with SHA-384, P-521 with SHA-512. Signing is deterministic
//! (RFC 6979). The key hint recorded in bundles is the lowercase hex SHA-256
//! of the public key's SubjectPublicKeyInfo PEM exactly as OpenSSL writes it
//! (64-column base64, LF line ends, trailing newline).

pub(crate) mod rsa;

use std::fmt;
use std::str::FromStr;

use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::der::Decode as _;
use p256::pkcs8::der::pem::{self, LineEnding};
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _};
use sha2::Digest as _;
use x509_cert::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

pub use p256::elliptic_curve::zeroize::Zeroizing;

/// id-ecPublicKey (RFC 5480).
pub(crate) const OID_EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp256r1 / prime256v1.
pub(crate) const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// secp384r1.
pub(crate) const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// secp521r1.
pub(crate) const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
/// id-Ed25519 (RFC 8410).
pub(crate) const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// rsaEncryption (RFC 8017).
pub(crate) const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER prefix of an Ed25519 PKCS#8 v1 PrivateKeyInfo; the 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The kinds of key this crate signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// ECDSA on NIST P-256 with SHA-256.
    EcdsaP256,
    /// ECDSA on NIST P-384 with SHA-384.
    EcdsaP384,
    /// ECDSA on NIST P-521 with SHA-512.
    EcdsaP521,
    /// Ed25519 (an extension: OpenSSF model-signing does not accept it).
    Ed25519,
}

impl KeyKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 4] = [
        Self::EcdsaP256,
        Self::EcdsaP384,
        Self::EcdsaP521,
        Self::Ed25519,
    ];

    /// Stable lowercase name: `ecdsa-p256`, `ecdsa-p384`, `ecdsa-p521`, `ed25519`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ecdsa-p256",
            Self::EcdsaP384 => "ecdsa-p384",
            Self::EcdsaP521 => "ecdsa-p521",
            Self::Ed25519 => "ed25519",
        }
    }

    /// Whether OpenSSF model-signing (the reference) can verify this kind.
    #[must_use]
    pub fn is_reference_compatible(self) -> bool {
        self != Self::Ed25519
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyKind {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| {
                KeyError::Unsupported(format!(
                    "key kind {s:?} (expected one of ecdsa-p256, ecdsa-p384, ecdsa-p521, ed25519)"
                ))
            })
    }
}

/// Hash functions used with ECDSA here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub(crate) fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => sha2::Sha256::digest(message).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(message).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(message).to_vec(),
        }
    }
}

/// Why a key could not be read, generated or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No PEM block with a usable label.
    #[error("no PEM key block found{0}")]
    NoPem(&'static str),
    /// A password-protected key.
    #[error(
        "encrypted private keys are not supported\nhint: decrypt it first, e.g. `openssl pkey -in KEY -out PLAIN`"
    )]
    Encrypted,
    /// A key type or curve this crate does not sign or verify with.
    #[error("unsupported key: {0}")]
    Unsupported(String),
    /// The key bytes are malformed.
    #[error("malformed key: {0}")]
    Malformed(String),
    /// The operating system's random number generator failed.
    #[error("cannot generate a key: {0}")]
    Random(String),
}

/// Why a signature does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The bytes are not a signature of the key's kind (not DER for ECDSA,
    /// not 64 bytes for Ed25519, scalars out of range).
    #[error("signature is malformed for a {0} key")]
    Malformed(KeyKind),
    /// A well-formed signature that does not match the message and key.
    #[error("signature does not match the message and key")]
    Mismatch,
}

/// A private key.
#[derive(Clone)]
pub enum SigningKey {
    /// ECDSA P-256.
    EcdsaP256(p256::ecdsa::SigningKey),
    /// ECDSA P-384.
    EcdsaP384(p384::ecdsa::SigningKey),
    /// ECDSA P-521.
    EcdsaP521(p521::ecdsa::SigningKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::SigningKey),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kind", &self.kind())
            .field("hint", &self.verifying_key().hint())
            .finish_non_exhaustive()
    }
}

/// A public key.
#[derive(Clone, PartialEq, Eq)]
pub enum VerifyingKey {
    /// ECDSA P-256.
    EcdsaP256(p256::ecdsa::VerifyingKey),
    /// ECDSA P-384.
    EcdsaP384(p384::ecdsa::VerifyingKey),
    /// ECDSA P-521.
    EcdsaP521(p521::ecdsa::VerifyingKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kind", &self.kind())
            .field("hint", &self.hint())
            .finish()
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// PEM blocks of `text` as (label, whole block text), in order.
fn pem_blocks(text: &str) -> Vec<(&str, &str)> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = rest[start..].find(&end_marker) else {
            break;
        };
        let block_end = start + end + end_marker.len();
        blocks.push((label, &rest[start..block_end]));
        rest = &rest[block_end..];
    }
    blocks
}

fn decode_pem_block(block: &str) -> Result<Vec<u8>, KeyError> {
    if block.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(KeyError::Encrypted);
    }
    // pem-rfc7468 wants the block to end with a line ending or not at all;
    // normalise CRLF so Windows-edited files read too.
    let normalised = block.replace("\r\n", "\n");
    pem::decode_vec(normalised.as_bytes())
        .map(|(_, der)| der)
        .map_err(|e| KeyError::Malformed(format!("PEM: {e}")))
}

fn curve_oid(
    parameters: Option<x509_cert::der::asn1::AnyRef<'_>>,
) -> Result<ObjectIdentifier, KeyError> {
    let parameters =
        parameters.ok_or_else(|| KeyError::Malformed("EC key without curve parameters".into()))?;
    parameters.decode_as::<ObjectIdentifier>().map_err(|_| {
        KeyError::Unsupported("EC key with explicit curve parameters (use a named curve)".into())
    })
}

fn unsupported_algorithm(oid: ObjectIdentifier) -> KeyError {
    if oid == OID_RSA {
        KeyError::Unsupported(
            "RSA keys are not supported for signing; use ECDSA P-256/P-384/P-521".into(),
        )
    } else {
        KeyError::Unsupported(format!("key algorithm {oid}"))
    }
}

fn unsupported_curve(oid: ObjectIdentifier) -> KeyError {
    KeyError::Unsupported(format!(
        "elliptic curve {oid} (supported: P-256, P-384, P-521)"
    ))
}

fn malformed(e: impl fmt::Display) -> KeyError {
    KeyError::Malformed(e.to_string())
}

impl SigningKey {
    /// A new random key from the operating system's generator.
    pub fn generate(kind: KeyKind) -> Result<Self, KeyError> {
        let random = |e: getrandom::Error| KeyError::Random(e.to_string());
        Ok(match kind {
            KeyKind::EcdsaP256 => {
                Self::EcdsaP256(p256::ecdsa::SigningKey::try_generate().map_err(random)?)
            }
            KeyKind::EcdsaP384 => {
                Self::EcdsaP384(p384::ecdsa::SigningKey::try_generate().map_err(random)?)
            }
            KeyKind::EcdsaP521 => {
                Self::EcdsaP521(p521::ecdsa::SigningKey::try_generate().map_err(random)?)
            }
            KeyKind::Ed25519 => {
                let mut seed = Zeroizing::new([0u8; 32]);
                getrandom::fill(seed.as_mut()).map_err(random)?;
                Self::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
            }
        })
    }

    /// Reads a private key from PEM: PKCS#8 (`PRIVATE KEY`) for every kind,
    /// or SEC1 (`EC PRIVATE KEY`, optionally after an `EC PARAMETERS` block,
    /// as `openssl ecparam -genkey` writes). Encrypted keys are refused with
    /// [`KeyError::Encrypted`].
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        for (label, block) in pem_blocks(text) {
            match label {
                "EC PARAMETERS" => {}
                "PRIVATE KEY" => return Self::from_pkcs8_der(&decode_pem_block(block)?),
                "EC PRIVATE KEY" => return Self::from_sec1_der(&decode_pem_block(block)?),
                "ENCRYPTED PRIVATE KEY" => return Err(KeyError::Encrypted),
                "RSA PRIVATE KEY" => return Err(unsupported_algorithm(OID_RSA)),
                "OPENSSH PRIVATE KEY" => {
                    return Err(KeyError::Unsupported(
                        "OpenSSH private key format\nhint: convert it with `ssh-keygen -p -m PKCS8 -f KEY`".into(),
                    ));
                }
                other => {
                    return Err(KeyError::Unsupported(format!(
                        "PEM block {other:?} (expected PRIVATE KEY or EC PRIVATE KEY)"
                    )));
                }
            }
        }
        Err(KeyError::NoPem(" (expected -----BEGIN PRIVATE KEY-----)"))
    }

    /// Reads a DER PKCS#8 PrivateKeyInfo.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let info = p256::pkcs8::PrivateKeyInfoRef::from_der(der).map_err(malformed)?;
        let algorithm = info.algorithm.oid;
        if algorithm == OID_ED25519 {
            // RFC 8410: privateKey is an OCTET STRING wrapping the 32-byte seed.
            let inner = info.private_key.as_bytes();
            let seed: [u8; 32] = match inner {
                [0x04, 0x20, rest @ ..] => rest
                    .try_into()
                    .map_err(|_| malformed("Ed25519 private key is not 32 bytes"))?,
                _ => {
                    return Err(malformed(
                        "Ed25519 private key is not an OCTET STRING of 32 bytes",
                    ));
                }
            };
            let seed = Zeroizing::new(seed);
            return Ok(Self::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed)));
        }
        if algorithm != OID_EC_PUBLIC_KEY {
            return Err(unsupported_algorithm(algorithm));
        }
        let curve = curve_oid(info.algorithm.parameters)?;
        Ok(match curve {
            OID_P256 => {
                Self::EcdsaP256(p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(malformed)?)
            }
            OID_P384 => {
                Self::EcdsaP384(p384::ecdsa::SigningKey::from_pkcs8_der(der).map_err(malformed)?)
            }
            OID_P521 => {
                Self::EcdsaP521(p521::ecdsa::SigningKey::from_pkcs8_der(der).map_err(malformed)?)
            }
            other => return Err(unsupported_curve(other)),
        })
    }

    /// Reads a DER SEC1 `ECPrivateKey` (RFC 5915). The curve comes from its
    /// parameters, or from the private key length when they are absent.
    pub fn from_sec1_der(der: &[u8]) -> Result<Self, KeyError> {
        if let Ok(key) = p256::SecretKey::from_sec1_der(der) {
            return Ok(Self::EcdsaP256(key.into()));
        }
        if let Ok(key) = p384::SecretKey::from_sec1_der(der) {
            return Ok(Self::EcdsaP384(key.into()));
        }
        match p521::SecretKey::from_sec1_der(der) {
            Ok(key) => Ok(Self::EcdsaP521(key.into())),
            Err(e) => Err(KeyError::Malformed(format!(
                "not a SEC1 EC private key on P-256, P-384 or P-521 ({e})"
            ))),
        }
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, LF line ends), readable by
    /// OpenSSL, Python `cryptography` and [`SigningKey::from_pem`].
    #[must_use]
    pub fn to_pem(&self) -> Zeroizing<String> {
        let der = self.to_pkcs8_der();
        // Encoding a few dozen bytes into a String cannot fail.
        Zeroizing::new(pem::encode_string("PRIVATE KEY", LineEnding::LF, &der).unwrap_or_default())
    }

    /// DER PKCS#8 PrivateKeyInfo (v1, without the public key).
    #[must_use]
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        let der = match self {
            Self::EcdsaP256(key) => key.to_pkcs8_der().map(|d| d.as_bytes().to_vec()),
            Self::EcdsaP384(key) => key.to_pkcs8_der().map(|d| d.as_bytes().to_vec()),
            Self::EcdsaP521(key) => key.to_pkcs8_der().map(|d| d.as_bytes().to_vec()),
            Self::Ed25519(key) => {
                let mut der = ED25519_PKCS8_PREFIX.to_vec();
                der.extend_from_slice(key.as_bytes());
                Ok(der)
            }
        };
        // Encoding a valid in-memory key cannot fail.
        Zeroizing::new(der.unwrap_or_default())
    }

    /// The kind of this key.
    #[must_use]
    pub fn kind(&self) -> KeyKind {
        match self {
            Self::EcdsaP256(_) => KeyKind::EcdsaP256,
            Self::EcdsaP384(_) => KeyKind::EcdsaP384,
            Self::EcdsaP521(_) => KeyKind::EcdsaP521,
            Self::Ed25519(_) => KeyKind::Ed25519,
        }
    }

    /// The matching public key.
    #[must_use]
    pub fn verifying_key(&self) -> VerifyingKey {
        match self {
            Self::EcdsaP256(key) => VerifyingKey::EcdsaP256(*key.verifying_key()),
            Self::EcdsaP384(key) => VerifyingKey::EcdsaP384(*key.verifying_key()),
            Self::EcdsaP521(key) => VerifyingKey::EcdsaP521(*key.verifying_key()),
            Self::Ed25519(key) => VerifyingKey::Ed25519(key.verifying_key()),
        }
    }

    /// Signs `message`: a DER ECDSA signature over the curve's hash of it,
    /// or a 64-byte Ed25519 signature.
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::EcdsaP256(key) => {
                let sig: p256::ecdsa::DerSignature = key.sign(message);
                sig.as_bytes().to_vec()
            }
            Self::EcdsaP384(key) => {
                let sig: p384::ecdsa::DerSignature = key.sign(message);
                sig.as_bytes().to_vec()
            }
            Self::EcdsaP521(key) => {
                let sig: p521::ecdsa::DerSignature = key.sign(message);
                sig.as_bytes().to_vec()
            }
            Self::Ed25519(key) => ed25519_dalek::Signer::sign(key, message)
                .to_bytes()
                .to_vec(),
        }
    }
}

impl VerifyingKey {
    /// Reads a `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo) PEM.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let Some((label, block)) = pem_blocks(text).into_iter().next() else {
            return Err(KeyError::NoPem(" (expected -----BEGIN PUBLIC KEY-----)"));
        };
        match label {
            "PUBLIC KEY" => Self::from_spki_der(&decode_pem_block(block)?),
            "CERTIFICATE" => Err(KeyError::Unsupported(
                "a certificate where a public key was expected\nhint: verify certificate-signed bundles against a root certificate instead".into(),
            )),
            other => Err(KeyError::Unsupported(format!(
                "PEM block {other:?} (expected PUBLIC KEY)"
            ))),
        }
    }

    /// Reads a DER SubjectPublicKeyInfo (as in a certificate).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(malformed)?;
        Self::from_spki(&spki)
    }

    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<Self, KeyError> {
        let algorithm = spki.algorithm.oid;
        let key = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| malformed("public key bit string has unused bits"))?;
        if algorithm == OID_ED25519 {
            let bytes: [u8; 32] = key
                .try_into()
                .map_err(|_| malformed("Ed25519 public key is not 32 bytes"))?;
            return ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map(Self::Ed25519)
                .map_err(malformed);
        }
        if algorithm != OID_EC_PUBLIC_KEY {
            return Err(unsupported_algorithm(algorithm));
        }
        Ok(match curve_oid(spki.algorithm.parameters)? {
            OID_P256 => {
                Self::EcdsaP256(p256::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(malformed)?)
            }
            OID_P384 => {
                Self::EcdsaP384(p384::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(malformed)?)
            }
            OID_P521 => {
                Self::EcdsaP521(p521::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(malformed)?)
            }
            other => return Err(unsupported_curve(other)),
        })
    }

    /// DER SubjectPublicKeyInfo (EC points uncompressed, named curve).
    #[must_use]
    pub fn to_spki_der(&self) -> Vec<u8> {
        let der = match self {
            Self::EcdsaP256(key) => key.to_public_key_der().map(|d| d.as_bytes().to_vec()),
            Self::EcdsaP384(key) => key.to_public_key_der().map(|d| d.as_bytes().to_vec()),
            Self::EcdsaP521(key) => key.to_public_key_der().map(|d| d.as_bytes().to_vec()),
            Self::Ed25519(key) => {
                let mut der = ED25519_SPKI_PREFIX.to_vec();
                der.extend_from_slice(key.as_bytes());
                Ok(der)
            }
        };
        // Encoding a valid in-memory key cannot fail.
        der.unwrap_or_default()
    }

    /// `-----BEGIN PUBLIC KEY-----` PEM, byte for byte as OpenSSL (and so
    /// Python `cryptography`) writes it.
    #[must_use]
    pub fn to_pem(&self) -> String {
        pem::encode_string("PUBLIC KEY", LineEnding::LF, &self.to_spki_der()).unwrap_or_default()
    }

    /// The key hint OpenSSF model-signing records in
    /// `verificationMaterial.publicKey.hint`: lowercase hex SHA-256 of
    /// [`VerifyingKey::to_pem`].
    #[must_use]
    pub fn hint(&self) -> String {
        hex(&sha2::Sha256::digest(self.to_pem().as_bytes()))
    }

    /// The kind of this key.
    #[must_use]
    pub fn kind(&self) -> KeyKind {
        match self {
            Self::EcdsaP256(_) => KeyKind::EcdsaP256,
            Self::EcdsaP384(_) => KeyKind::EcdsaP384,
            Self::EcdsaP521(_) => KeyKind::EcdsaP521,
            Self::Ed25519(_) => KeyKind::Ed25519,
        }
    }

    /// The hash ECDSA signatures by this key use (`None` for Ed25519).
    pub(crate) fn ecdsa_hash(&self) -> Option<HashAlg> {
        match self {
            Self::EcdsaP256(_) => Some(HashAlg::Sha256),
            Self::EcdsaP384(_) => Some(HashAlg::Sha384),
            Self::EcdsaP521(_) => Some(HashAlg::Sha512),
            Self::Ed25519(_) => None,
        }
    }

    /// Verifies `signature` over `message` as [`SigningKey::sign`] makes it.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let malformed = SignatureError::Malformed(self.kind());
        let mismatch = |_| SignatureError::Mismatch;
        match self {
            Self::EcdsaP256(key) => {
                let sig =
                    p256::ecdsa::DerSignature::from_bytes(signature).map_err(|_| malformed)?;
                key.verify(message, &sig).map_err(mismatch)
            }
            Self::EcdsaP384(key) => {
                let sig =
                    p384::ecdsa::DerSignature::from_bytes(signature).map_err(|_| malformed)?;
                key.verify(message, &sig).map_err(mismatch)
            }
            Self::EcdsaP521(key) => {
                let sig =
                    p521::ecdsa::DerSignature::from_bytes(signature).map_err(|_| malformed)?;
                key.verify(message, &sig).map_err(mismatch)
            }
            Self::Ed25519(key) => {
                let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|_| malformed)?;
                key.verify_strict(message, &sig)
                    .map_err(|_| SignatureError::Mismatch)
            }
        }
    }

    /// Verifies a DER ECDSA signature over `message` hashed with `hash`
    /// (which may differ from the curve's own, as in X.509 signatures and
    /// model-signing v0.2). Ed25519 keys ignore `hash` and verify `message`.
    pub(crate) fn verify_with_hash(
        &self,
        hash: HashAlg,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let malformed = SignatureError::Malformed(self.kind());
        let mismatch = |_| SignatureError::Mismatch;
        match self {
            Self::EcdsaP256(key) => {
                let sig =
                    p256::ecdsa::DerSignature::from_bytes(signature).map_err(|_| malformed)?;
                key.verify_prehash(&hash.digest(message), &sig)
                    .map_err(mismatch)
            }
            Self::EcdsaP384(key) => {
                let sig =
                    p384::ecdsa::DerSignature::from_bytes(signature).map_err(|_| malformed)?;
                key.verify_prehash(&hash.digest(message), &sig)
                    .map_err(mismatch)
            }
            Self::EcdsaP521(key) => {
                let sig =
                    p521::ecdsa::DerSignature::from_bytes(signature).map_err(|_| malformed)?;
                key.verify_prehash(&hash.digest(message), &sig)
                    .map_err(mismatch)
            }
            Self::Ed25519(_) => self.verify(message, signature),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_round_trip_every_kind() {
        for kind in KeyKind::ALL {
            let key = SigningKey::generate(kind).unwrap();
            assert_eq!(key.kind(), kind);
            let public = key.verifying_key();
            let sig = key.sign(b"message");
            public.verify(b"message", &sig).unwrap();
            assert_eq!(
                public.verify(b"messagE", &sig),
                Err(SignatureError::Mismatch),
                "{kind}"
            );
            let other = SigningKey::generate(kind).unwrap().verifying_key();
            assert_eq!(
                other.verify(b"message", &sig),
                Err(SignatureError::Mismatch),
                "{kind}"
            );
            assert_eq!(
                public.verify(b"message", b"\x30\x00"),
                Err(SignatureError::Malformed(kind))
            );
            if let Some(hash) = public.ecdsa_hash() {
                public.verify_with_hash(hash, b"message", &sig).unwrap();
            }
        }
    }

    #[test]
    fn pem_round_trip_every_kind() {
        for kind in KeyKind::ALL {
            let key = SigningKey::generate(kind).unwrap();
            let pem = key.to_pem();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{kind}");
            let again = SigningKey::from_pem(&pem).unwrap();
            assert_eq!(again.verifying_key(), key.verifying_key());
            let public_pem = key.verifying_key().to_pem();
            assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
            assert!(public_pem.ends_with("-----END PUBLIC KEY-----\n"));
            assert_eq!(
                VerifyingKey::from_pem(&public_pem).unwrap(),
                key.verifying_key()
            );
            assert_eq!(key.verifying_key().hint().len(), 64);
        }
    }

    #[test]
    fn reads_sec1_with_ec_parameters_block() {
        let key = SigningKey::generate(KeyKind::EcdsaP384).unwrap();
        let SigningKey::EcdsaP384(inner) = &key else {
            unreachable!()
        };
        let secret = p384::SecretKey::from(inner);
        let sec1 = secret.to_sec1_pem(LineEnding::CRLF).unwrap();
        let text = format!(
            "-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\n{}",
            &*sec1
        );
        assert_eq!(
            SigningKey::from_pem(&text).unwrap().verifying_key(),
            key.verifying_key()
        );
    }

    #[test]
    fn clear_errors_for_unusable_pem() {
        assert_eq!(
            SigningKey::from_pem(
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----\n"
            )
            .unwrap_err(),
            KeyError::Encrypted
        );
        let legacy = "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAA==\n-----END EC PRIVATE KEY-----\n";
        assert_eq!(
            SigningKey::from_pem(legacy).unwrap_err(),
            KeyError::Encrypted
        );
        assert!(matches!(
            SigningKey::from_pem("nothing here"),
            Err(KeyError::NoPem(_))
        ));
        assert!(matches!(
            SigningKey::from_pem(
                "-----BEGIN RSA PRIVATE KEY-----\nAA==\n-----END RSA PRIVATE KEY-----\n"
            ),
            Err(KeyError::Unsupported(_))
        ));
        assert!(matches!(
            VerifyingKey::from_pem("-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----\n"),
            Err(KeyError::Malformed(_))
        ));
        assert_eq!("ecdsa-p521".parse::<KeyKind>().unwrap(), KeyKind::EcdsaP521);
        assert!("rsa".parse::<KeyKind>().is_err());
    }

    // Keys written by OpenSSL 3 (`openssl ecparam -genkey`, `genpkey`,
    // `pkcs8 -topk8`, `ec -pubout -conv_form compressed`); test-only.
    const OPENSSL_SECP256K1_SEC1: &str = "-----BEGIN EC PRIVATE KEY-----\nMHQCAQEEILpty4Nf2eqk4/Yf+JEE8d3maRJXWOZEgAQBhz7mVOFwoAcGBSuBBAAK\noUQDQgAEW0p5J3tx6vZkie9LCd0h3eqSfUwlOK+rw8pXdcaAs99vjDGY71ar9K1a\neGLhl8WP0lpfQFNNNMU9ptWr0RMIfA==\n-----END EC PRIVATE KEY-----\n";
    const OPENSSL_SECP256K1_PKCS8: &str = "-----BEGIN PRIVATE KEY-----\nMIGEAgEAMBAGByqGSM49AgEGBSuBBAAKBG0wawIBAQQgum3Lg1/Z6qTj9h/4kQTx\n3eZpEldY5kSABAGHPuZU4XChRANCAARbSnkne3Hq9mSJ70sJ3SHd6pJ9TCU4r6vD\nyld1xoCz32+MMZjvVqv0rVp4YuGXxY/SWl9AU000xT2m1avREwh8\n-----END PRIVATE KEY-----\n";
    const OPENSSL_P384_WITH_PARAMS: &str = "-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\n-----BEGIN EC PRIVATE KEY-----\nMIGkAgEBBDDZA74U0WLMUbidY3vIq/cx2vDxyS39IlleZb044EG3du3+pf6h7Sii\nCjGKXEZtomSgBwYFK4EEACKhZANiAARr6o8SDBqtRcXJh4zK8vhUUE9wXBJzW8KW\n4xBLRDczF2coBuwfDdhJhquvhiL/nj6zl8K+mL9G3msWXSp1xdsjRiofGIXO3L//\nK+PFilRb6qhbmtXjX4ZJ+95/vM4OkKM=\n-----END EC PRIVATE KEY-----\n";
    const OPENSSL_ED25519: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKGZTBDO+ZfXciHyVae3+JOT5pWwNRZdjmqR+gKGbNqT\n-----END PRIVATE KEY-----\n";
    const OPENSSL_ED25519_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAQQ7fX+Pohcb27ecQgNCc/FZ+SkaJfBdpLtG2MlbeF8Q=\n-----END PUBLIC KEY-----\n";
    const OPENSSL_P256_COMPRESSED_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADfOBI5Qr0TDT/Fa0wMI/ZpjRXbfYg\nlfuUfKgzyYu3IWg=\n-----END PUBLIC KEY-----\n";
    const OPENSSL_P256_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfOBI5Qr0TDT/Fa0wMI/ZpjRXbfYg\nlfuUfKgzyYu3IWgJhCODaXz41rxdc61fSCFtc6+n4hHSgvKaL/s8OR+uCw==\n-----END PUBLIC KEY-----\n";

    #[test]
    fn reads_openssl_keys() {
        // secp256k1 is not one of ours, whether SEC1 or PKCS#8.
        assert!(SigningKey::from_pem(OPENSSL_SECP256K1_SEC1).is_err());
        assert!(matches!(
            SigningKey::from_pem(OPENSSL_SECP256K1_PKCS8),
            Err(KeyError::Unsupported(_))
        ));
        let p384 = SigningKey::from_pem(OPENSSL_P384_WITH_PARAMS).unwrap();
        assert_eq!(p384.kind(), KeyKind::EcdsaP384);
        let ed = SigningKey::from_pem(OPENSSL_ED25519).unwrap();
        assert_eq!(
            ed.verifying_key(),
            VerifyingKey::from_pem(OPENSSL_ED25519_PUB).unwrap()
        );
        assert_eq!(ed.verifying_key().to_pem(), OPENSSL_ED25519_PUB);
        assert_eq!(&*ed.to_pem(), OPENSSL_ED25519);
        // A compressed point reads, and is written (and hinted) uncompressed
        // as OpenSSL and the reference do.
        let compressed = VerifyingKey::from_pem(OPENSSL_P256_COMPRESSED_PUB).unwrap();
        assert_eq!(compressed.to_pem(), OPENSSL_P256_PUB);
    }

    #[test]
    fn debug_does_not_print_secrets() {
        let key = SigningKey::generate(KeyKind::Ed25519).unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains("Ed25519"));
        let SigningKey::Ed25519(inner) = &key else {
            unreachable!()
        };
        let secret_hex = hex(inner.as_bytes());
        assert!(!debug.contains(&secret_hex));
    }
}
