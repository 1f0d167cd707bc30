#!/usr/bin/env python3
"""Compare `mlsecops scan` with its Python peers (modelscan, picklescan,
fickling, modelaudit) on speed, start-up time and detection quality.

Normally started by bench/scan/run.sh, with the bench venv's python (the peers'
versions are read with importlib.metadata from this interpreter, and their
executables are taken from the same bin/ directory).

Output: one Markdown report on stdout, also written to OUT/results.md, plus the
raw numbers in OUT/results.json.

Verdict mapping (per file, per tool) -- "unsafe" is the level used for
detections and for the headline false-positive count; "warn" is the next level
down (≈ mlsecops MEDIUM) and is reported in extra columns:

  mlsecops   `mlsecops scan PATH --format json --fail-on high`; exit 0 clean,
             1 findings at/above HIGH, 2 error. JSON report on stdout.
             unsafe = a finding with severity HIGH or CRITICAL whose
             location.path is the sample or inside it; warn = same with
             severity >= MEDIUM; error = exit 2 or a non-empty "errors" list.
  modelscan  `modelscan -p PATH -r json -o OUT`; exit 0 clean, 1 issues,
             2 scan errors, 3 nothing scanned (unsupported file type or
             parse failure). unsafe = an issue with severity CRITICAL or HIGH;
             warn = an issue with severity >= MEDIUM; error = JSON "errors"
             non-empty or exit 2; exit 3 without errors = "not scanned".
  picklescan `picklescan -p PATH`; exit 0 clean, 1 dangerous globals, 2 scan
             error. Text summary on stdout. unsafe = "Dangerous globals" > 0;
             warn = unsafe or "Suspicious globals" > 0; error = exit 2 or a
             "could not parse"/"ERROR" line (it exits 0 on unparsable files).
  fickling   its CLI only parses raw pickles (a torch zip fails to parse), so
             bench/scan/fickling_scan.py applies fickling.loader.scan_file /
             scan_zip_archive (what fickling's own Hugging Face mode does per
             file). Severity ladder LIKELY_SAFE < POSSIBLY_UNSAFE < SUSPICIOUS
             < LIKELY_UNSAFE < LIKELY_OVERTLY_MALICIOUS < OVERTLY_MALICIOUS.
             unsafe = max severity >= LIKELY_UNSAFE; warn = max severity >
             LIKELY_SAFE (this is what makes `fickling --check-safety` exit 1);
             error = an error recorded by fickling.
  modelaudit `modelaudit scan PATH --format json --no-cache -o OUT`; exit 0
             clean, 1 issues, 2 errors. Severities critical > warning > info >
             debug. unsafe = an issue with severity critical; warn = critical
             or warning; error = "has_errors" or exit 2. Telemetry is disabled
             through its documented environment switches.

Corpus scoring (tests/corpus/expected.json, one tool run per sample):
  malicious  detected = unsafe; missed = not unsafe (incl. errors/timeouts)
  benign     false positive = unsafe (FP) / warn (FP@warn)
  malformed  handled = the run completed (no crash, no timeout) and the tool
             said something: an error, or a verdict at warn level or above.
             A clean verdict on a malformed file is counted as "silent".
  suspicious flagged = warn
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import importlib.metadata as md
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MB = 1_000_000

PEER_ENV = {
    # modelaudit: opt out of its PostHog telemetry (documented switches)
    "NO_ANALYTICS": "1",
    "PROMPTFOO_DISABLE_TELEMETRY": "1",
    # no hub access from any peer; plain output
    "HF_HUB_OFFLINE": "1",
    "NO_COLOR": "1",
    "TERM": "dumb",
}


# --------------------------------------------------------------------------
# process running
# --------------------------------------------------------------------------
@dataclasses.dataclass
class Run:
    argv: list[str]
    rc: int | None
    wall: float
    maxrss_kib: int
    stdout: str
    stderr: str
    timed_out: bool
    signal: int | None


def run_cmd(argv: list[str], timeout: float, env: dict[str, str], cwd: str) -> Run:
    """Run argv in its own session; kill the whole group on timeout.  Uses
    os.wait4 to get the child's own peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(
                argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                env=env, cwd=cwd, start_new_session=True,
            )
        except OSError as e:
            return Run(argv, None, 0.0, 0, "", f"spawn failed: {e}", False, None)
        timed_out = threading.Event()

        def _kill() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, _kill)
        timer.start()
        try:
            _pid, status, ru = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        # reap anything the tool left behind in its group (e.g. worker processes)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        rc = proc.returncode
        sig = -rc if rc < 0 else None
        out.seek(0)
        err.seek(0)
        return Run(
            argv, rc if rc >= 0 else None, wall, int(ru.ru_maxrss),
            out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
            timed_out.is_set(), sig,
        )


# --------------------------------------------------------------------------
# verdicts
# --------------------------------------------------------------------------
@dataclasses.dataclass
class Verdict:
    completed: bool = True   # ran to the end (no timeout, no crash)
    timed_out: bool = False
    crashed: bool = False
    unsafe: bool = False
    warn: bool = False
    error: bool = False
    not_scanned: bool = False
    note: str = ""
    rules: list[str] = dataclasses.field(default_factory=list)

    def label(self) -> str:
        if self.timed_out:
            return "timeout"
        if self.crashed:
            return f"crash({self.note})" if self.note else "crash"
        parts = []
        if self.unsafe:
            parts.append("UNSAFE")
        elif self.warn:
            parts.append("warn")
        if self.error:
            parts.append("error")
        if self.not_scanned:
            parts.append("not-scanned")
        return "+".join(parts) if parts else "clean"


def _base_verdict(run: Run, ok_codes: set[int]) -> Verdict | None:
    if run.timed_out:
        return Verdict(completed=False, timed_out=True)
    if run.rc is None:
        note = f"signal {run.signal}" if run.signal else run.stderr.strip()[:80]
        return Verdict(completed=False, crashed=True, note=note)
    if run.rc not in ok_codes:
        return Verdict(completed=False, crashed=True, note=f"exit {run.rc}")
    return None


def _load_json(text: str):
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        # tolerate log lines before the JSON document
        i = text.find("{")
        if i < 0:
            return None
        try:
            return json.loads(text[i:])
        except ValueError:
            return None


def _has_traceback(run: Run) -> bool:
    return "Traceback (most recent call last)" in run.stderr or "Traceback (most recent call last)" in run.stdout


class Tool:
    name = ""
    package = ""          # PyPI distribution (None for mlsecops)
    invocation = ""
    uses_outfile = False

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.version: str | None = None
        self.unavailable_reason: str | None = None
        self.run_cwd = os.getcwd()  # set by Bench: relative report paths resolve here

    def available(self) -> bool:
        return self.unavailable_reason is None

    def argv(self, path: str, outfile: str) -> list[str]:
        raise NotImplementedError

    def verdict(self, run: Run, outfile: str, target: str) -> Verdict:
        raise NotImplementedError


class Mlsecops(Tool):
    name = "mlsecops"
    invocation = "mlsecops scan PATH --format json --fail-on high"
    UNSAFE = {"HIGH", "CRITICAL"}
    WARN = {"MEDIUM", "HIGH", "CRITICAL"}

    def __init__(self, binary: str | None):
        super().__init__(Path("."))
        self.binary = binary
        if not binary or not os.path.isfile(binary) or not os.access(binary, os.X_OK):
            self.unavailable_reason = "mlsecops binary not built"
            return
        r = run_cmd([binary, "--version"], 30, dict(os.environ), os.getcwd())
        self.version = (r.stdout.strip() or r.stderr.strip() or "?").splitlines()[0] if r.rc == 0 else "?"

    def argv(self, path, outfile):
        return [self.binary, "scan", path, "--format", "json", "--fail-on", "high"]

    @staticmethod
    def _inside(loc_path: str | None, target: str, cwd: str) -> bool:
        if not loc_path:
            return True  # one sample per run: an unattributed finding belongs to it
        p = os.path.realpath(os.path.join(cwd, loc_path))
        t = os.path.realpath(target)
        return p == t or p.startswith(t.rstrip(os.sep) + os.sep)

    def verdict(self, run, outfile, target):
        v = _base_verdict(run, {0, 1, 2})
        if v:
            return v
        rep = _load_json(run.stdout)
        if not isinstance(rep, dict):
            return Verdict(error=True, note="no JSON report")
        v = Verdict()
        sev_count: dict[str, int] = {}
        for f in rep.get("findings") or []:
            loc = (f.get("location") or {}).get("path")
            if not self._inside(loc, target, self.run_cwd):
                continue
            sev = str(f.get("severity", "")).upper()
            sev_count[sev] = sev_count.get(sev, 0) + 1
            if f.get("rule"):
                v.rules.append(str(f["rule"]))
            v.unsafe |= sev in self.UNSAFE
            v.warn |= sev in self.WARN
        v.error = run.rc == 2 or bool(rep.get("errors"))
        v.note = ",".join(f"{k}:{n}" for k, n in sorted(sev_count.items()))
        return v


class Modelscan(Tool):
    name = "modelscan"
    package = "modelscan"
    invocation = "modelscan -p PATH -r json -o OUT"
    uses_outfile = True

    def argv(self, path, outfile):
        return [str(self.bindir / "modelscan"), "-p", path, "-r", "json", "-o", outfile]

    def verdict(self, run, outfile, target):
        v = _base_verdict(run, {0, 1, 2, 3})
        if v:
            return v
        rep = None
        if os.path.exists(outfile):
            rep = _load_json(Path(outfile).read_text(errors="replace"))
        if rep is None:
            rep = _load_json(run.stdout)
        if not isinstance(rep, dict):
            if _has_traceback(run):
                return Verdict(completed=False, crashed=True, note="traceback")
            return Verdict(error=True, note="no JSON report")
        v = Verdict()
        sevs = [str(i.get("severity", "")).upper() for i in rep.get("issues") or []]
        v.unsafe = any(s in ("CRITICAL", "HIGH") for s in sevs)
        v.warn = any(s in ("CRITICAL", "HIGH", "MEDIUM") for s in sevs)
        v.error = bool(rep.get("errors")) or run.rc == 2
        scanned = ((rep.get("summary") or {}).get("scanned") or {}).get("total_scanned", 0)
        v.not_scanned = run.rc == 3 or not scanned
        v.note = ",".join(sorted(set(sevs)))
        return v


class Picklescan(Tool):
    name = "picklescan"
    package = "picklescan"
    invocation = "picklescan -p PATH"

    def argv(self, path, outfile):
        return [str(self.bindir / "picklescan"), "-p", path]

    def verdict(self, run, outfile, target):
        v = _base_verdict(run, {0, 1, 2})
        if v:
            return v
        text = run.stdout + "\n" + run.stderr

        def num(label: str) -> int:
            m = re.search(rf"^{label}:\s*(\d+)", text, re.M)
            return int(m.group(1)) if m else 0

        dangerous, suspicious = num("Dangerous globals"), num("Suspicious globals")
        v = Verdict(unsafe=dangerous > 0 or run.rc == 1)
        v.warn = v.unsafe or suspicious > 0
        v.error = run.rc == 2 or bool(re.search(r"could not parse|^ERROR|Unhandled exception", text, re.M))
        v.not_scanned = re.search(r"^Scanned files:\s*0\b", text, re.M) is not None
        v.note = f"dangerous:{dangerous},suspicious:{suspicious}"
        return v


class Fickling(Tool):
    name = "fickling"
    package = "fickling"
    invocation = "python bench/scan/fickling_scan.py PATH (fickling.loader API)"
    ORDER = ["LIKELY_SAFE", "POSSIBLY_UNSAFE", "SUSPICIOUS", "LIKELY_UNSAFE",
             "LIKELY_OVERTLY_MALICIOUS", "OVERTLY_MALICIOUS"]

    def argv(self, path, outfile):
        return [str(self.bindir / "python"), str(HERE / "fickling_scan.py"), path]

    def verdict(self, run, outfile, target):
        v = _base_verdict(run, {0, 1, 2})
        if v:
            return v
        rep = _load_json(run.stdout)
        if not isinstance(rep, dict):
            if _has_traceback(run):
                return Verdict(completed=False, crashed=True, note="traceback")
            return Verdict(error=True, note="no JSON output")
        sev = rep.get("severity")
        rank = self.ORDER.index(sev) if sev in self.ORDER else -1
        v = Verdict(unsafe=rank >= 3, warn=rank >= 1)
        v.error = bool(rep.get("errors")) or sev is None
        v.note = str(sev)
        return v


class Modelaudit(Tool):
    name = "modelaudit"
    package = "modelaudit"
    invocation = "modelaudit scan PATH --format json --no-cache -o OUT"
    uses_outfile = True

    def argv(self, path, outfile):
        return [str(self.bindir / "modelaudit"), "scan", path, "--format", "json", "--no-cache", "-o", outfile]

    def verdict(self, run, outfile, target):
        v = _base_verdict(run, {0, 1, 2})
        if v:
            return v
        rep = None
        if os.path.exists(outfile):
            rep = _load_json(Path(outfile).read_text(errors="replace"))
        if not isinstance(rep, dict):
            if _has_traceback(run):
                return Verdict(completed=False, crashed=True, note="traceback")
            return Verdict(error=True, note="no JSON report")
        sevs = [str(i.get("severity", "")).lower() for i in rep.get("issues") or []]
        v = Verdict(unsafe="critical" in sevs, warn=any(s in ("critical", "warning") for s in sevs))
        v.error = bool(rep.get("has_errors")) or run.rc == 2
        v.not_scanned = not rep.get("files_scanned")
        counts = {s: sevs.count(s) for s in sorted(set(sevs))}
        v.note = ",".join(f"{k}:{n}" for k, n in counts.items())
        return v


def make_tools(bindir: Path, mlsecops_bin: str | None) -> list[Tool]:
    tools: list[Tool] = [Mlsecops(mlsecops_bin)]
    for cls in (Modelscan, Picklescan, Fickling, Modelaudit):
        t = cls(bindir)
        try:
            t.version = md.version(t.package)
        except md.PackageNotFoundError:
            t.unavailable_reason = f"{t.package} not installed in the bench venv"
        else:
            exe = t.argv("X", "Y")[0]
            if not os.access(exe, os.X_OK):
                t.unavailable_reason = f"{exe} missing"
        tools.append(t)
    return tools


# --------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------
class Bench:
    def __init__(self, args):
        self.args = args
        self.scratch = Path(tempfile.mkdtemp(prefix="scan-", dir=args.out))
        self.env = dict(os.environ)
        self.env.update(PEER_ENV)
        self.cwd = str(self.scratch)

    def once(self, tool: Tool, path: str, timeout: float) -> tuple[Run, Verdict]:
        outfile = str(self.scratch / f"{tool.name}.out.json")
        if os.path.exists(outfile):
            os.unlink(outfile)
        tool.run_cwd = self.cwd
        r = run_cmd(tool.argv(path, outfile), timeout, self.env, self.cwd)
        try:
            v = tool.verdict(r, outfile, path)
        except Exception as e:  # noqa: BLE001 - a parser bug must not stop the bench
            v = Verdict(error=True, note=f"verdict parse failed: {e!r}")
        return r, v

    def cleanup(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)


def warm(path: str) -> None:
    with open(path, "rb") as fh:
        while fh.read(16 * 1024 * 1024):
            pass


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bench_large(bench: Bench, tools: list[Tool], inputs: list[tuple[str, str, int]], runs: int) -> list[dict]:
    rows = []
    for label, path, size in inputs:
        warm(path)
        for t in tools:
            if not t.available():
                continue
            times, rss, verdict = [], 0, None
            for i in range(runs):
                r, v = bench.once(t, path, bench.args.timeout)
                verdict = verdict or v
                rss = max(rss, r.maxrss_kib)
                if v.timed_out:
                    verdict = v
                    break  # a timed-out tool is not retried
                times.append(r.wall)
                log(f"  {label:14s} {t.name:11s} run {i + 1}/{runs}: {r.wall:8.2f}s  {v.label()}")
            if verdict and verdict.timed_out:
                log(f"  {label:14s} {t.name:11s} TIMEOUT after {bench.args.timeout:.0f}s")
            rows.append({
                "input": label, "size": size, "tool": t.name,
                "times": times, "median": statistics.median(times) if times else None,
                "maxrss_kib": rss, "verdict": verdict.label() if verdict else "n/a",
                "verdict_note": verdict.note if verdict else "",
                "timed_out": bool(verdict and verdict.timed_out),
            })
    return rows


def bench_startup(bench: Bench, tools: list[Tool], tiny: str, runs: int) -> list[dict]:
    rows = []
    for t in tools:
        if not t.available():
            continue
        times, label = [], None
        for _ in range(runs):
            r, v = bench.once(t, tiny, 120)
            if v.timed_out:
                label = "timeout"
                break
            times.append(r.wall)
            label = label or v.label()
        rows.append({"tool": t.name, "times": times,
                     "median": statistics.median(times) if times else None,
                     "min": min(times) if times else None, "verdict": label})
        if times:
            log(f"  startup {t.name:11s} median {statistics.median(times) * 1000:8.1f} ms  ({label})")
    return rows


def load_corpus(corpus: Path | None) -> tuple[list[dict], str | None]:
    if corpus is None:
        return [], "no corpus directory given"
    manifest = corpus / "expected.json"
    if not manifest.is_file():
        return [], f"{manifest} not found: corpus part skipped"
    try:
        doc = json.loads(manifest.read_text())
    except ValueError as e:
        return [], f"{manifest} is not valid JSON ({e}): corpus part skipped"
    samples = []
    missing = 0
    for s in doc.get("samples") or []:
        p = corpus / s["path"]
        if not p.exists():
            missing += 1
            continue
        ext = "".join(Path(s["path"]).suffixes[-1:]).lower() or ("(dir)" if p.is_dir() else "(none)")
        samples.append({"path": str(p), "rel": s["path"], "kind": s.get("kind", "?"),
                        "rules": list(s.get("rules") or []), "ext": ext})
    note = f"{missing} sample(s) listed in expected.json are missing on disk" if missing else None
    return samples, note


def bench_corpus(bench: Bench, tools: list[Tool], samples: list[dict]) -> tuple[list[dict], dict]:
    per_sample: dict[str, dict] = {
        s["rel"]: {"kind": s["kind"], "rules": s["rules"], "ext": s["ext"], "tools": {}} for s in samples
    }
    summary = []
    for t in tools:
        if not t.available():
            continue
        c = dict(mal=0, det=0, det_warn=0, missed=0, ben=0, fp=0, fp_warn=0,
                 malformed=0, handled=0, silent=0, susp=0, susp_flagged=0,
                 crashes=0, timeouts=0, rules_expected=0, rules_hit=0, secs=0.0)
        t0 = time.perf_counter()
        for s in samples:
            r, v = bench.once(t, s["path"], bench.args.corpus_timeout)
            per_sample[s["rel"]]["tools"][t.name] = {"verdict": v.label(), "note": v.note,
                                                     "wall": round(r.wall, 4), "rules": sorted(set(v.rules))}
            c["crashes"] += v.crashed
            c["timeouts"] += v.timed_out
            k = s["kind"]
            if k == "malicious":
                c["mal"] += 1
                c["det"] += v.unsafe
                c["det_warn"] += v.warn
                c["missed"] += not v.unsafe
            elif k == "benign":
                c["ben"] += 1
                c["fp"] += v.unsafe
                c["fp_warn"] += v.warn
            elif k == "malformed":
                c["malformed"] += 1
                said = v.error or v.warn or v.unsafe or v.not_scanned
                c["handled"] += v.completed and said
                c["silent"] += v.completed and not said
            elif k == "suspicious":
                c["susp"] += 1
                c["susp_flagged"] += v.warn
            if t.name == "mlsecops" and s["rules"]:
                c["rules_expected"] += 1
                c["rules_hit"] += set(s["rules"]).issubset(set(v.rules))
        c["secs"] = time.perf_counter() - t0
        log(f"  corpus  {t.name:11s} {len(samples)} samples in {c['secs']:.1f}s")
        summary.append({"tool": t.name, **c})
    return summary, per_sample


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
def fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def fmt_ms(x: float | None) -> str:
    return "—" if x is None else f"{x * 1000:.1f}"


def render(meta: dict, tools: list[Tool], large: list[dict], startup: list[dict],
           corpus: list[dict], per_sample: dict, corpus_note: str | None) -> str:
    L: list[str] = []
    L.append("# `mlsecops scan` vs Python peers")
    L.append("")
    L.append(f"- date: {meta['date']}  mode: {'quick' if meta['quick'] else 'full'}  "
             f"runs per large input: {meta['runs']}  start-up runs: {meta['startup_runs']}  "
             f"timeout: {meta['timeout']:.0f}s per run")
    L.append(f"- host: {meta['cpus']} CPU(s), {meta['platform']}, Python {meta['python']}")
    L.append("- wall time = whole process (start-up + scan), page cache warmed before each input; "
             "MB = 10^6 bytes; × = tool time / mlsecops time (higher = slower than mlsecops)")
    L.append("")
    L.append("## Tools")
    L.append("")
    L.append("| tool | version | invocation |")
    L.append("|---|---|---|")
    for t in tools:
        ver = t.version if t.available() else f"unavailable: {t.unavailable_reason}"
        L.append(f"| {t.name} | {ver} | `{t.invocation}` |")
    L.append("")

    L.append("## Large inputs")
    L.append("")
    if not large:
        L.append("_no large inputs measured_")
    else:
        L.append("| input | size MB | tool | median s | MB/s | × mlsecops | peak RSS MiB | verdict |")
        L.append("|---|---:|---|---:|---:|---:|---:|---|")
        base = {r["input"]: r["median"] for r in large if r["tool"] == "mlsecops" and r["median"]}
        for r in large:
            med = r["median"]
            if r["timed_out"]:
                t_s, mbps = f">{meta['timeout']:.0f} (timeout)", "—"
            else:
                t_s = fmt_s(med)
                mbps = f"{r['size'] / MB / med:.1f}" if med else "—"
            b = base.get(r["input"])
            if r["tool"] == "mlsecops":
                ratio = "1.0" if med else "—"
            elif b and med and not r["timed_out"]:
                ratio = f"{med / b:.1f}"
            elif b and r["timed_out"]:
                ratio = f">{meta['timeout'] / b:.0f}"
            else:
                ratio = "n/a"
            verdict = r["verdict"] + (f" ({r['verdict_note']})" if r["verdict_note"] else "")
            L.append(f"| {r['input']} | {r['size'] / MB:.1f} | {r['tool']} | {t_s} | {mbps} | {ratio} | "
                     f"{r['maxrss_kib'] / 1024:.0f} | {verdict} |")
        L.append("")
        L.append("All large inputs are benign: a verdict other than `clean` on them is a false positive "
                 "(or an error).")
    L.append("")

    L.append("## Start-up (tiny benign pickle)")
    L.append("")
    if not startup:
        L.append("_not measured_")
    else:
        L.append("| tool | median ms | min ms | × mlsecops | runs | verdict |")
        L.append("|---|---:|---:|---:|---:|---|")
        b = next((r["median"] for r in startup if r["tool"] == "mlsecops" and r["median"]), None)
        for r in startup:
            ratio = "1.0" if r["tool"] == "mlsecops" else (f"{r['median'] / b:.0f}" if b and r["median"] else "n/a")
            L.append(f"| {r['tool']} | {fmt_ms(r['median'])} | {fmt_ms(r['min'])} | {ratio} | "
                     f"{len(r['times'])} | {r['verdict']} |")
        if b is not None:
            L.append("")
            L.append(f"mlsecops start-up target < 10 ms: **{'met' if b < 0.010 else 'NOT met'}** "
                     f"({b * 1000:.1f} ms median)")
    L.append("")

    L.append("## Corpus (tests/corpus/expected.json)")
    L.append("")
    if corpus_note:
        L.append(f"_{corpus_note}_")
        L.append("")
    if corpus:
        n = corpus[0]
        L.append(f"{n['mal']} malicious, {n['ben']} benign, {n['malformed']} malformed, "
                 f"{n['susp']} suspicious samples; one run per sample, timeout "
                 f"{meta['corpus_timeout']:.0f}s.")
        L.append("")
        L.append("| tool | detected | missed | detected @warn | FP | FP @warn | malformed handled | "
                 "malformed silent | suspicious flagged | crashes | timeouts | total s |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in corpus:
            L.append(f"| {c['tool']} | {c['det']}/{c['mal']} | {c['missed']} | {c['det_warn']}/{c['mal']} | "
                     f"{c['fp']}/{c['ben']} | {c['fp_warn']}/{c['ben']} | {c['handled']}/{c['malformed']} | "
                     f"{c['silent']} | {c['susp_flagged']}/{c['susp']} | {c['crashes']} | {c['timeouts']} | "
                     f"{c['secs']:.1f} |")
        L.append("")
        L.append("detected / FP use each tool's *unsafe* level; *@warn* is one level lower "
                 "(see the mapping at the top of bench/scan/compare.py). For mlsecops the FP that counts "
                 "is FP @warn (any finding >= MEDIUM on a benign sample).")
        # malicious detections broken down by file extension (directories: "(dir)")
        exts: dict[str, list[dict]] = {}
        for s in per_sample.values():
            if s["kind"] == "malicious":
                exts.setdefault(s["ext"], []).append(s)
        names = [c["tool"] for c in corpus]
        L.append("")
        L.append("Malicious samples detected (unsafe level), by extension:")
        L.append("")
        L.append("| extension | samples | " + " | ".join(names) + " |")
        L.append("|---|---:|" + "---:|" * len(names))
        for ext, group in sorted(exts.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            cells = [str(sum(1 for s in group if s["tools"].get(n, {}).get("verdict", "").startswith("UNSAFE")))
                     for n in names]
            L.append(f"| {ext} | {len(group)} | " + " | ".join(cells) + " |")
        ml = next((c for c in corpus if c["tool"] == "mlsecops"), None)
        if ml:
            L.append("")
            L.append(f"mlsecops emitted every expected rule on {ml['rules_hit']}/{ml['rules_expected']} "
                     f"samples that list rules.")
            bad = []
            for rel, s in sorted(per_sample.items()):
                tv = s["tools"].get("mlsecops")
                if not tv:
                    continue
                v = tv["verdict"]
                if s["kind"] == "malicious" and not v.startswith("UNSAFE"):
                    bad.append(f"- missed `{rel}`: {v} {tv['note']}")
                elif s["kind"] == "benign" and (v.startswith("UNSAFE") or v.startswith("warn")):
                    bad.append(f"- false positive `{rel}`: {v} {tv['note']}")
                elif s["kind"] == "malformed" and (v == "clean" or v.startswith(("crash", "timeout"))):
                    bad.append(f"- malformed not handled `{rel}`: {v}")
                elif s["rules"] and not set(s["rules"]).issubset(tv["rules"]):
                    missing = sorted(set(s["rules"]) - set(tv["rules"]))
                    bad.append(f"- expected rule(s) not emitted `{rel}`: {', '.join(missing)}")
            if bad:
                L.append("")
                L.append("mlsecops disagreements with expected.json:")
                L.append("")
                L.extend(bad[:60])
                if len(bad) > 60:
                    L.append(f"- … {len(bad) - 60} more in results.json")
    L.append("")
    return "\n".join(L)


def main() -> int:
    ap = argparse.ArgumentParser(description="mlsecops scan vs peers")
    ap.add_argument("--inputs", required=True, help="directory written by make_inputs.py")
    ap.add_argument("--corpus", help="tests/corpus directory (with expected.json)")
    ap.add_argument("--mlsecops", help="path to the mlsecops binary")
    ap.add_argument("--out", required=True, help="where results.md / results.json go")
    ap.add_argument("--bindir", default=str(Path(sys.executable).parent),
                    help="bin/ of the venv holding the peers (default: this python's)")
    ap.add_argument("--quick", action="store_true", help="1 run per large input, 5 start-up runs")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--startup-runs", type=int)
    ap.add_argument("--timeout", type=float, default=float(os.environ.get("MLSECOPS_BENCH_TIMEOUT", 600)))
    ap.add_argument("--corpus-timeout", type=float, default=120.0)
    ap.add_argument("--tools", help="comma-separated subset of tools to run")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: large,startup,corpus")
    args = ap.parse_args()
    args.runs = args.runs or (1 if args.quick else 3)
    args.startup_runs = args.startup_runs or (5 if args.quick else 20)
    os.makedirs(args.out, exist_ok=True)
    skip = {s for s in args.skip.split(",") if s}

    tools = make_tools(Path(args.bindir), args.mlsecops)
    if args.tools:
        wanted = set(args.tools.split(","))
        tools = [t for t in tools if t.name in wanted]
    for t in tools:
        if not t.available():
            log(f"{t.name}: {t.unavailable_reason}")
        else:
            log(f"{t.name}: {t.version}")

    inputs_dir = Path(args.inputs).resolve()
    large_inputs = []
    for name in ("checkpoint.pt", "raw.pkl", "dense.pkl"):
        p = inputs_dir / name
        if p.is_file():
            large_inputs.append((name, str(p), p.stat().st_size))
        else:
            log(f"input {p} missing: skipped")
    tiny = inputs_dir / "tiny.pkl"

    meta = {
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "quick": args.quick, "runs": args.runs, "startup_runs": args.startup_runs,
        "timeout": args.timeout, "corpus_timeout": args.corpus_timeout,
        "cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
    }
    bench = Bench(args)
    try:
        large = []
        if "large" not in skip:
            log("== large inputs")
            large = bench_large(bench, tools, large_inputs, args.runs)
        startup = []
        if "startup" not in skip and tiny.is_file():
            log("== start-up")
            startup = bench_startup(bench, tools, str(tiny), args.startup_runs)
        corpus, per_sample, corpus_note = [], {}, "corpus part skipped (--skip corpus)"
        if "corpus" not in skip:
            samples, corpus_note = load_corpus(Path(args.corpus).resolve() if args.corpus else None)
            if corpus_note and not samples:
                log(corpus_note)
            if samples:
                log(f"== corpus: {len(samples)} samples")
                corpus, per_sample = bench_corpus(bench, tools, samples)
    finally:
        bench.cleanup()

    md_text = render(meta, tools, large, startup, corpus, per_sample, corpus_note)
    print(md_text)
    (Path(args.out) / "results.md").write_text(md_text)
    (Path(args.out) / "results.json").write_text(json.dumps({
        "meta": meta,
        "tools": [{"name": t.name, "version": t.version, "unavailable": t.unavailable_reason} for t in tools],
        "large": large, "startup": startup, "corpus": corpus, "per_sample": per_sample,
    }, indent=2))
    log(f"results written to {Path(args.out) / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
