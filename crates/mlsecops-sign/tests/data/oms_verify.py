#!/usr/bin/env python3
"""Verifies a model signature with the reference OpenSSF model-signing API.

Used by mlsecops-sign's interop tests (python from MLSECOPS_TEST_PYTHON):

    oms_verify.py MODEL_DIR SIGNATURE --public-key PEM
    oms_verify.py MODEL_DIR SIGNATURE --certificate-chain ROOT_PEM

Prints `OK` and exits 0 when the reference accepts the signature, else prints
`ERROR: <reason>` and exits 1.
"""

import argparse
import sys

from model_signing import verifying


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("signature")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--public-key")
    group.add_argument("--certificate-chain")
    args = parser.parse_args()
    config = verifying.Config()
    if args.public_key:
        config = config.use_elliptic_key_verifier(public_key=args.public_key)
    else:
        config = config.use_certificate_verifier(certificate_chain=[args.certificate_chain])
    try:
        config.verify(args.model, args.signature)
    except Exception as e:  # the reference raises ValueError and others
        print(f"ERROR: {type(e).__name__}: {e}")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
