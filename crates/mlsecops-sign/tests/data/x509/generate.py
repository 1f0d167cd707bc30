#!/usr/bin/env python3
"""Regenerates the X.509 path-validation fixtures in this directory.

Each case writes CASE.chain.pem (leaf first, then intermediates),
CASE.root.pem (the trust anchor) and CASE.key.pem (the leaf's test-only
private key, PKCS#8). Needs only the `cryptography` package:

    python3 -m venv /tmp/x509-env && /tmp/x509-env/bin/pip install cryptography
    /tmp/x509-env/bin/python generate.py

Cases (what mlsecops-sign must conclude):
  good             P-256 root -> P-384 intermediate -> P-256 leaf: valid
  eku-only         leaf without keyUsage but with EKU codeSigning: valid
  ed25519-p521     Ed25519 root -> P-521 intermediate (ECDSA SHA-512) -> leaf: valid
  not-ca           intermediate with basicConstraints cA=false: not a CA
  no-bc            intermediate without basicConstraints: not a CA
  no-certsign      intermediate keyUsage without keyCertSign: not a CA
  pathlen          root -> intermediate (pathlen 0) -> intermediate -> leaf: too long
  leaf-no-usage    leaf keyUsage keyEncipherment only, no EKU: may not sign
  critical-unknown leaf with an unknown critical extension: refused
"""

import datetime
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

HERE = pathlib.Path(__file__).resolve().parent
START = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
END = datetime.datetime(2049, 1, 1, tzinfo=datetime.timezone.utc)


def usage(sign=False, cert_sign=False, encipher=False):
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=encipher,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def cert(name, issuer_name, key, issuer_key, extensions, hash_alg=hashes.SHA256()):
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(START)
        .not_valid_after(END)
    )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    if isinstance(issuer_key, ed25519.Ed25519PrivateKey):
        hash_alg = None
    return builder.sign(issuer_key, hash_alg)


CA = [(x509.BasicConstraints(ca=True, path_length=None), True), (usage(cert_sign=True), True)]
LEAF = [
    (x509.BasicConstraints(ca=False, path_length=None), True),
    (usage(sign=True), True),
    (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False),
]


def write(case, chain, root, leaf_key):
    pem = serialization.Encoding.PEM
    (HERE / f"{case}.chain.pem").write_bytes(b"".join(c.public_bytes(pem) for c in chain))
    (HERE / f"{case}.root.pem").write_bytes(root.public_bytes(pem))
    (HERE / f"{case}.key.pem").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def simple(case, int_ext=CA, leaf_ext=LEAF):
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = cert("root", "root", root_key, root_key, CA)
    int_key = ec.generate_private_key(ec.SECP384R1())
    inter = cert("intermediate", "root", int_key, root_key, int_ext)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = cert("leaf", "intermediate", leaf_key, int_key, leaf_ext, hashes.SHA384())
    write(case, [leaf, inter], root, leaf_key)


def main():
    simple("good")
    simple("eku-only", leaf_ext=[LEAF[2]])
    simple("not-ca", int_ext=[(x509.BasicConstraints(ca=False, path_length=None), True)])
    simple("no-bc", int_ext=[(usage(cert_sign=True), True)])
    simple("no-certsign", int_ext=[CA[0], (usage(sign=True), True)])
    simple("leaf-no-usage", leaf_ext=[(usage(encipher=True), True)])
    simple(
        "critical-unknown",
        leaf_ext=LEAF + [(x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00"), True)],
    )

    root_key = ec.generate_private_key(ec.SECP256R1())
    root = cert("root", "root", root_key, root_key, CA)
    k1 = ec.generate_private_key(ec.SECP256R1())
    i1 = cert("int1", "root", k1, root_key, [(x509.BasicConstraints(ca=True, path_length=0), True)])
    k2 = ec.generate_private_key(ec.SECP256R1())
    i2 = cert("int2", "int1", k2, k1, CA)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = cert("leaf", "int2", leaf_key, k2, LEAF)
    write("pathlen", [leaf, i2, i1], root, leaf_key)

    root_key = ed25519.Ed25519PrivateKey.generate()
    root = cert("ed-root", "ed-root", root_key, root_key, CA)
    int_key = ec.generate_private_key(ec.SECP521R1())
    inter = cert("p521-int", "ed-root", int_key, root_key, CA)
    leaf_key = ec.generate_private_key(ec.SECP384R1())
    leaf = cert("leaf", "p521-int", leaf_key, int_key, LEAF, hashes.SHA512())
    write("ed25519-p521", [leaf, inter], root, leaf_key)


if __name__ == "__main__":
    main()
