//! RSA PKCS#1 v1.5 signature verification (RFC 8017 §8.2.2), used only to
//! check X.509 certificate signatures made by RSA certificate authorities
//! (common for private PKIs, e.g. model-signing's own test chain). Only
//! public values are involved, so variable-time arithmetic is fine; no RSA
//! signing or decryption exists in this crate.

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use x509_cert::der::asn1::UintRef;
use x509_cert::der::{Reader as _, SliceReader};

use super::{HashAlg, KeyError, SignatureError};

/// Smallest modulus accepted: RSA below 2048 bits is not trustworthy.
const MIN_MODULUS_BITS: usize = 2048;
/// Largest modulus accepted (bounds the work a hostile certificate causes).
const MAX_MODULUS_BITS: usize = 8192;

/// An RSA public key, checked and ready for verification.
#[derive(Clone)]
pub(crate) struct RsaPublicKey {
    modulus_len: usize,
    modulus: BoxedUint,
    exponent: BoxedUint,
    params: BoxedMontyParams,
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPublicKey({} bits)", self.modulus_len * 8)
    }
}

fn digest_info_prefix(hash: HashAlg) -> &'static [u8] {
    match hash {
        HashAlg::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        HashAlg::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        HashAlg::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    }
}

impl RsaPublicKey {
    /// Reads the DER `RSAPublicKey` (`SEQUENCE { modulus, publicExponent }`)
    /// carried in a SubjectPublicKeyInfo bit string.
    pub(crate) fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        let malformed =
            |e: x509_cert::der::Error| KeyError::Malformed(format!("RSA public key: {e}"));
        let mut reader = SliceReader::new(der).map_err(malformed)?;
        let (modulus, exponent) = reader
            .sequence(|r| {
                Ok::<_, x509_cert::der::Error>((
                    r.decode::<UintRef<'_>>()?,
                    r.decode::<UintRef<'_>>()?,
                ))
            })
            .map_err(malformed)?;
        reader.finish().map_err(malformed)?;
        Self::new(modulus.as_bytes(), exponent.as_bytes())
    }

    fn new(modulus: &[u8], exponent: &[u8]) -> Result<Self, KeyError> {
        let bits = match modulus.first() {
            Some(&top) => modulus.len() * 8 - top.leading_zeros() as usize,
            None => 0,
        };
        if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits) {
            return Err(KeyError::Unsupported(format!(
                "RSA modulus of {bits} bits (accepted: {MIN_MODULUS_BITS} to {MAX_MODULUS_BITS})"
            )));
        }
        // Exponents are small in practice; 3 ≤ e < 2^64, odd.
        if exponent.is_empty()
            || exponent.len() > 8
            || exponent.last().is_some_and(|b| b & 1 == 0)
            || exponent == [1]
        {
            return Err(KeyError::Unsupported(
                "RSA public exponent out of range".into(),
            ));
        }
        let precision = (modulus.len() * 8) as u32;
        let malformed = |_| KeyError::Malformed("RSA modulus".into());
        let n = BoxedUint::from_be_slice(modulus, precision).map_err(malformed)?;
        let odd = Option::<Odd<BoxedUint>>::from(Odd::new(n.clone()))
            .ok_or_else(|| KeyError::Malformed("RSA modulus is even".into()))?;
        let params = BoxedMontyParams::new_vartime(odd);
        let exponent = BoxedUint::from_be_slice_vartime(exponent);
        Ok(Self {
            modulus_len: modulus.len(),
            modulus: n,
            exponent,
            params,
        })
    }

    /// Verifies an RSASSA-PKCS1-v1_5 signature over `message` hashed with
    /// `hash`.
    pub(crate) fn verify_pkcs1v15(
        &self,
        hash: HashAlg,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let k = self.modulus_len;
        if signature.len() != k {
            return Err(SignatureError::Mismatch);
        }
        let precision = (k * 8) as u32;
        let s =
            BoxedUint::from_be_slice(signature, precision).map_err(|_| SignatureError::Mismatch)?;
        if s >= self.modulus {
            return Err(SignatureError::Mismatch);
        }
        let m = BoxedMontyForm::new(s, &self.params)
            .pow(&self.exponent)
            .retrieve();
        let m_bytes = m.to_be_bytes();
        // `to_be_bytes` pads to whole limbs: the extra leading bytes are zero.
        let (padding, em) = m_bytes.split_at(m_bytes.len() - k);
        if padding.iter().any(|&b| b != 0) {
            return Err(SignatureError::Mismatch);
        }
        let prefix = digest_info_prefix(hash);
        let digest = hash.digest(message);
        let t_len = prefix.len() + digest.len();
        if k < t_len + 11 {
            return Err(SignatureError::Mismatch);
        }
        let mut expected = Vec::with_capacity(k);
        expected.extend_from_slice(&[0x00, 0x01]);
        expected.resize(k - t_len - 1, 0xff);
        expected.push(0x00);
        expected.extend_from_slice(prefix);
        expected.extend_from_slice(&digest);
        if em == expected.as_slice() {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}
