#!/usr/bin/env python3
"""Regenerates cases.json: model trees plus what OpenSSF model-signing makes of them.

Each case is a recipe for a small model tree (files, directories, symlinks;
contents in hex) and the in-toto statement the reference implementation
(PyPI `model-signing`) builds for it with a given hashing configuration. The
Rust golden tests (tests/it/manifest.rs) materialize each tree in a temporary
directory, hash it, and compare with the recorded statement.

Trees are recipes, not committed directories, because some of them contain
`.git`, `.gitignore` and symlinks, which cannot live inside this repository.

Usage (needs `pip install model-signing pyopenssl`):
    python generate.py            # rewrite cases.json next to this script
    python generate.py --check    # exit 1 if cases.json is stale

The reference records `ignore_paths` in hash-set order; they are sorted here
(component-wise, as the Rust side sorts them) so the file is deterministic.
"""

import json
import os
import pathlib
import sys
import tempfile

from google.protobuf import json_format
import model_signing
from model_signing._signing import signing as _signing

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "cases.json"


def pattern(n, seed):
    """Deterministic bytes, every value used."""
    return bytes((i * 31 + seed * 7 + i // 251) % 256 for i in range(n))


def text(s):
    return s.encode("utf-8")


# A directory model exercising sort order, hidden files, empty files and
# directories, nested directories, git paths and odd names.
BASIC = {
    "model/README.md": text("# a model\n"),
    "model/config.json": text('{"hidden_size": 8}\n'),
    "model/weights.bin": pattern(64, 1),
    "model/odd.bin": pattern(45, 2),
    "model/empty": b"",
    "model/.hidden": text("h"),
    "model/.hiddendir/x": text("x"),
    "model/a/b/c.txt": text("c"),
    "model/a.b/q": text("q"),
    "model/a.txt": text("a.txt"),
    "model/a-b": text("a-b"),
    "model/A": text("upper"),
    "model/sub/deep/er/file.bin": pattern(17, 3),
    "model/sub/empty_dir/": None,
    "model/\u00fcn\u00efcode.txt": text("unicode"),
    "model/with space.txt": text("space"),
    "model/model.sig": text("{}"),
    "model/.git/config": text("[core]\n"),
    "model/.git/objects/ab/cdef": pattern(9, 4),
    "model/.gitignore": text("*.pyc\n"),
    "model/.gitattributes": text("*.bin filter=lfs\n"),
    "model/.github/workflows/ci.yml": text("on: push\n"),
}

SINGLE = {"model/weights.bin": pattern(45, 5)}
SINGLE_EMPTY = {"model/empty.bin": b""}
EMPTY_DIR = {"model/": None}
COLON = {"model/a:b": text("colon"), "model/c": text("c")}
SYMLINKS = {
    "model/d/y": text("y"),
    "model/linkfile": ("symlink", "../target/f"),
    "model/linkdir": ("symlink", "../target"),
    "target/f": text("target file\n"),
}

IGNORES = ["model.sig", "./sub/", "a/b/c.txt", "not-there"]

# (name, tree, model path, method, hash, shard_size, ignore_paths,
#  ignore_git_paths, allow_symlinks)
CASES = [
    ("files-sha256", BASIC, "model", "files", "sha256", None, [], True, False),
    ("files-blake2", BASIC, "model", "files", "blake2", None, [], True, False),
    ("files-blake3", BASIC, "model", "files", "blake3", None, [], True, False),
    ("shards-sha256-8", BASIC, "model", "shards", "sha256", 8, [], True, False),
    ("shards-sha256-default", BASIC, "model", "shards", "sha256", None, [], True, False),
    ("shards-blake2-16", BASIC, "model", "shards", "blake2", 16, [], True, False),
    ("shards-blake3-8", BASIC, "model", "shards", "blake3", 8, [], True, False),
    ("files-sha256-ignore", BASIC, "model", "files", "sha256", None, IGNORES, True, False),
    ("files-sha256-no-git-ignore", BASIC, "model", "files", "sha256", None, [], False, False),
    ("shards-sha256-8-ignore", BASIC, "model", "shards", "sha256", 8, IGNORES, True, False),
    ("single-files-sha256", SINGLE, "model/weights.bin", "files", "sha256", None, [], True, False),
    ("single-shards-sha256-8", SINGLE, "model/weights.bin", "shards", "sha256", 8, [], True, False),
    ("single-empty-files-sha256", SINGLE_EMPTY, "model/empty.bin", "files", "sha256", None, [], True, False),
    ("single-empty-shards-sha256-8", SINGLE_EMPTY, "model/empty.bin", "shards", "sha256", 8, [], True, False),
    ("empty-dir-files-sha256", EMPTY_DIR, "model", "files", "sha256", None, [], True, False),
    ("colon-files-sha256", COLON, "model", "files", "sha256", None, [], False, False),
    ("symlinks-files-sha256", SYMLINKS, "model", "files", "sha256", None, [], True, True),
]


def encode_tree(tree):
    out = {}
    for path, content in tree.items():
        if content is None:
            out[path] = {"dir": True}
        elif isinstance(content, tuple):
            out[path] = {"symlink": content[1]}
        else:
            out[path] = {"hex": content.hex()}
    return out


def materialize(tree, root):
    for path, content in tree.items():
        p = root / path
        if content is None:
            p.mkdir(parents=True, exist_ok=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple):
            os.symlink(content[1], p)
        else:
            p.write_bytes(content)


def run(case):
    (name, tree, model, method, hash_alg, shard_size, ignores, git, symlinks) = case
    config = model_signing.hashing.Config()
    if method == "files":
        config.use_file_serialization(hashing_algorithm=hash_alg)
    else:
        kwargs = {"hashing_algorithm": hash_alg}
        if shard_size is not None:
            kwargs["shard_size"] = shard_size
        config.use_shard_serialization(**kwargs)
    config.set_ignored_paths(paths=ignores, ignore_git_paths=git)
    config.set_allow_symlinks(symlinks)
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        materialize(tree, root)
        manifest = config.hash(root / model)
    statement = json.loads(
        json_format.MessageToJson(_signing.Payload(manifest).statement.pb)
    )
    ser = statement["predicate"]["serialization"]
    if "ignore_paths" in ser:
        ser["ignore_paths"] = sorted(ser["ignore_paths"], key=lambda p: p.split("/"))
    return {
        "name": name,
        "tree": encode_tree(tree),
        "model": model,
        "config": {
            "method": method,
            "hash": hash_alg,
            "shard_size": shard_size,
            "ignore_paths": ignores,
            "ignore_git_paths": git,
            "allow_symlinks": symlinks,
        },
        "statement": statement,
    }


def main():
    doc = {
        "generator": "tests/data/oms/generate.py",
        "model_signing_version": model_signing.__version__,
        "cases": [run(c) for c in CASES],
    }
    text_out = json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if "--check" in sys.argv[1:]:
        old = json.loads(OUT.read_text(encoding="utf-8"))
        # The reference version may differ; compare the cases only.
        if old["cases"] != doc["cases"]:
            print(f"{OUT} is stale: rerun generate.py", file=sys.stderr)
            return 1
        print(f"{OUT} matches model-signing {doc['model_signing_version']}")
        return 0
    OUT.write_text(text_out, encoding="utf-8")
    print(f"wrote {OUT} with model-signing {doc['model_signing_version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
