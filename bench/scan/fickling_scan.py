#!/usr/bin/env python3
"""Scan one local file (or every file under a directory) with fickling.

fickling's own CLI (`fickling --check-safety FILE`) only parses FILE as a raw
(possibly stacked) pickle, so a torch.save zip checkpoint fails to parse there.
fickling's Hugging Face scan mode picks the right library entry point by file
type; this wrapper does the same for local paths, using only fickling's public
API (fickling.loader.scan_file and fickling.loader.scan_zip_archive; zip vs raw
pickle is decided with zipfile.is_zipfile because fickling.polyglot needs torch,
which the bench venv does not have), and prints one JSON object:

  {"files": [{"path", "member", "severity", "errors": [...]}],
   "severity": <max severity name>, "errors": <count>}

Exit code, like fickling's CLI: 0 = LIKELY_SAFE everywhere, 1 = some
severity > LIKELY_SAFE, 2 = nothing could be scanned / every file failed.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import zipfile

from fickling.analysis import Severity
from fickling.loader import scan_file, scan_zip_archive


def _scan_one(path: str, json_out: str) -> list[dict]:
    out: list[dict] = []
    try:
        is_zip = zipfile.is_zipfile(path)
    except OSError as e:
        return [{"path": path, "member": None, "severity": None, "errors": [f"open: {e!r}"]}]
    if is_zip:
        results = scan_zip_archive(path, graceful=True, json_output_path=json_out)
        if not results:
            out.append({"path": path, "member": None, "severity": None,
                        "errors": ["zip archive: no pickle member scanned"]})
        for member, res in results.items():
            out.append({"path": path, "member": member, "severity": res.severity.name,
                        "errors": list(res.errors)})
    else:
        res = scan_file(path, graceful=True, json_output_path=json_out)
        out.append({"path": path, "member": None, "severity": res.severity.name,
                    "errors": list(res.errors)})
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: fickling_scan.py PATH", file=sys.stderr)
        return 2
    target = argv[1]
    paths: list[str] = []
    if os.path.isdir(target):
        for root, _dirs, names in os.walk(target):
            paths.extend(os.path.join(root, n) for n in sorted(names))
    else:
        paths.append(target)
    files: list[dict] = []
    with tempfile.TemporaryDirectory() as td:
        json_out = os.path.join(td, "safety_results.json")
        for p in paths:
            files.extend(_scan_one(p, json_out))
    sevs = [Severity[f["severity"]] for f in files if f["severity"] is not None]
    worst = max(sevs) if sevs else None
    nerr = sum(1 for f in files if f["errors"])
    print(json.dumps({"files": files, "severity": worst.name if worst else None, "errors": nerr}))
    if worst is None:
        return 2
    return 0 if worst == Severity.LIKELY_SAFE else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
