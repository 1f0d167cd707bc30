#!/usr/bin/env python3
"""Drive the reference OpenSSF model-signing library (PyPI `model-signing`)
for interoperability tests and benchmarks.

    oms.py keygen PRIVATE.pem PUBLIC.pem            # P-256 key pair
    oms.py sign MODEL SIG PRIVATE.pem [--method files|shards] [--hash sha256|blake2|blake3] [--shard-size N]
    oms.py verify MODEL SIG PUBLIC.pem             # prints OK or FAIL: <reason>; exit 0/1

Verification uses the library's Python API (`model_signing.verifying`) with
the hashing settings guessed from the signature, as the reference does.
"""
import argparse
import sys


def keygen(args):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    with open(args.private, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(args.public, "wb") as f:
        f.write(key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo))


def sign(args):
    from model_signing import hashing, signing

    h = hashing.Config()
    if args.method == "shards":
        kw = {"hashing_algorithm": args.hash}
        if args.shard_size:
            kw["shard_size"] = args.shard_size
        h.use_shard_serialization(**kw)
    else:
        h.use_file_serialization(hashing_algorithm=args.hash)
    # The signature file itself and git files are ignored, as the CLI does.
    h.set_ignored_paths(paths=[args.sig], ignore_git_paths=True)
    signing.Config().use_elliptic_key_signer(private_key=args.key) \
        .set_hashing_config(h).sign(args.model, args.sig)


def verify(args):
    from model_signing import verifying

    try:
        verifying.Config().use_elliptic_key_verifier(public_key=args.key) \
            .verify(args.model, args.sig)
    except Exception as e:  # the library raises ValueError and others
        print(f"FAIL: {type(e).__name__}: {e}")
        return 1
    print("OK")
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen")
    k.add_argument("private")
    k.add_argument("public")
    s = sub.add_parser("sign")
    s.add_argument("model")
    s.add_argument("sig")
    s.add_argument("key")
    s.add_argument("--method", default="files", choices=["files", "shards"])
    s.add_argument("--hash", default="sha256", choices=["sha256", "blake2", "blake3"])
    s.add_argument("--shard-size", type=int, default=0)
    v = sub.add_parser("verify")
    v.add_argument("model")
    v.add_argument("sig")
    v.add_argument("key")
    args = p.parse_args()
    if args.cmd == "keygen":
        keygen(args)
    elif args.cmd == "sign":
        sign(args)
    else:
        sys.exit(verify(args))


if __name__ == "__main__":
    main()
