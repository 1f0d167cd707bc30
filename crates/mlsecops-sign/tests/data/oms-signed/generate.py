#!/usr/bin/env python3
"""Regenerates the OpenSSF model-signing interop fixtures in this directory.

Signs the tiny `model/` directory with the reference implementation
(PyPI `model-signing`, key- and certificate-based signing through its Python
API) so that mlsecops-sign's tests can check they verify our way.

    python3 -m venv /tmp/oms-env
    /tmp/oms-env/bin/pip install model-signing==1.1.1 pyopenssl
    /tmp/oms-env/bin/python generate.py

(model-signing 1.1.1 imports `OpenSSL` without declaring it, hence
`pyopenssl`.) ECDSA signatures are randomized, so every run rewrites the
`.sig` files and keys; commit them together.

Writes:
  model/                        the signed "model" (three small files)
  p256.pub.pem, model.sig       P-256 key-signed bundle
  p384.pub.pem, model-p384.sig  P-384 key-signed bundle
  p521.pub.pem, model-p521.sig  P-521 key-signed bundle
  root-ca.pem                   RSA-3072 root (trust anchor for model-cert.sig)
  intermediate-ca.pem           P-384 intermediate, signed by the root
  leaf.pem, leaf.key.pem        P-256 code-signing leaf and its (test-only) key
  model-cert.sig                certificate-signed bundle (leaf + intermediate)
"""

import datetime
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from model_signing import hashing, signing

HERE = pathlib.Path(__file__).resolve().parent
MODEL = HERE / "model"


def write_model() -> None:
    (MODEL / "weights").mkdir(parents=True, exist_ok=True)
    (MODEL / "config.json").write_text('{"layers": 2, "name": "tiny"}\n')
    (MODEL / "weights" / "layer0.bin").write_bytes(bytes(range(256)) * 4)
    (MODEL / "weights" / "layer1.bin").write_bytes(b"\x00" * 100 + b"tail")


def write_key(key, path: pathlib.Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def write_public(key, path: pathlib.Path) -> None:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    )


def hashing_config() -> hashing.Config:
    # Explicit so that signatures don't depend on the library's defaults.
    return hashing.Config().use_file_serialization(
        hashing_algorithm="sha256", allow_symlinks=False
    )


def sign_with_keys(tmp: pathlib.Path) -> None:
    for curve, name, sig in [
        (ec.SECP256R1(), "p256", "model.sig"),
        (ec.SECP384R1(), "p384", "model-p384.sig"),
        (ec.SECP521R1(), "p521", "model-p521.sig"),
    ]:
        key = ec.generate_private_key(curve)
        key_path = tmp / f"{name}.key.pem"
        write_key(key, key_path)
        write_public(key, HERE / f"{name}.pub.pem")
        (
            signing.Config()
            .use_elliptic_key_signer(private_key=key_path)
            .set_hashing_config(hashing_config())
            .sign(MODEL, HERE / sig)
        )


def certificate(subject, issuer, public_key, issuer_key, ca, hash_alg):
    not_before = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before.replace(year=2049))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
        )
    return builder.sign(issuer_key, hash_alg)


def sign_with_certificate() -> None:
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    root = certificate("mlsecops test root", "mlsecops test root", root_key.public_key(), root_key, True, hashes.SHA256())
    int_key = ec.generate_private_key(ec.SECP384R1())
    intermediate = certificate(
        "mlsecops test intermediate", "mlsecops test root", int_key.public_key(), root_key, True, hashes.SHA256()
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = certificate(
        "mlsecops test signer", "mlsecops test intermediate", leaf_key.public_key(), int_key, False, hashes.SHA384()
    )
    pem = serialization.Encoding.PEM
    (HERE / "root-ca.pem").write_bytes(root.public_bytes(pem))
    (HERE / "intermediate-ca.pem").write_bytes(intermediate.public_bytes(pem))
    (HERE / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    write_key(leaf_key, HERE / "leaf.key.pem")
    (
        signing.Config()
        .use_certificate_signer(
            private_key=HERE / "leaf.key.pem",
            signing_certificate=HERE / "leaf.pem",
            certificate_chain=[HERE / "intermediate-ca.pem"],
        )
        .set_hashing_config(hashing_config())
        .sign(MODEL, HERE / "model-cert.sig")
    )


def main() -> None:
    import tempfile

    write_model()
    with tempfile.TemporaryDirectory() as tmp:
        sign_with_keys(pathlib.Path(tmp))
    sign_with_certificate()


if __name__ == "__main__":
    main()
