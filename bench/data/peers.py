#!/usr/bin/env python3
"""Run the peer tools and `mlsecops data check` on the ground-truth cases of
crates/mlsecops-data/tests/cases and print precision / recall / F1 / seconds.

    python peers.py --cases DIR [--families label,backdoor,...] [--ours BIN]

Peers, and why each is set up the way it is:
  label     cleanlab 2.9 find_label_issues on 5-fold cross-validated pred_probs
            (StandardScaler + LogisticRegression, RBF SVC, MLP(128); every filter_by) and Datalab(label);
            then the mean F1 over 5 seeds for us and each configuration (also an
            unscaled RBF SVC, the strongest on digits); BENCH_SWEEP=0 skips it
  backdoor  the same cleanlab configurations, and IBM ART 1.20
            SpectralSignatureDefense / ActivationDefence on the hidden layer of a
            scikit-learn MLP (a thin wrapper exposes its activations to ART)
  outlier   IsolationForest, LocalOutlierFactor (scikit-learn), Datalab(outlier)
  duplicate pandas.duplicated (exact / conflicting), Datalab(near_duplicate)
  pii       Presidio analyzer (pattern recognizers; no-op NLP engine, no spaCy
            model) and detect-secrets 1.5 (default plugins)
  schema, diff  ours only (no peer in the comparison set)

Setup notes:
- ART's poison detectors read `classifier.get_activations(x, layer)` and
  `layer_names`/`nb_classes`, nothing else; its Keras/PyTorch wrappers need
  tensorflow or torch (the default torch wheel from PyPI pulls ~2.5 GB of CUDA
  libraries), so `MLPActivations` exposes the ReLU hidden layer of a fitted
  scikit-learn MLPClassifier(128) instead: the same penultimate-layer input the
  defences were designed for.
- Presidio's default AnalyzerEngine loads spaCy's en_core_web_lg, which is not
  on PyPI; `NoOpNlpEngine` (shipped by presidio-analyzer) runs every predefined
  recognizer that needs no NER, i.e. all the pattern/validator recognizers for
  the entities compared here. Context words are not used (no tokens), so scores
  are the patterns' base scores. Only entity types that map to our rules are
  requested, which can only help Presidio's precision.
- detect-secrets runs as `detect-secrets scan FILE` does (scan_file generator,
  default plugins and filters); reported line numbers are mapped back to CSV
  rows. Keyword/entropy hits count as finding the AWS secret on their row.
- Timings are wall-clock on this machine and include model fitting (the
  cross-validation for cleanlab, the MLP for ART).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

# small inputs: one BLAS/OpenMP thread each is fastest and stops oversubscription
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SEED = 0
FAMILY_PREFIX = {
    "label": ("DATA-LABEL-",),
    "backdoor": ("DATA-BACKDOOR-",),
    "outlier": ("DATA-OUTLIER-",),
    "duplicate": ("DATA-DUPLICATE-",),
    "pii": ("DATA-PII-", "DATA-SECRET-"),
    "schema": ("DATA-SCHEMA-",),
    "diff": ("DATA-DIFF-",),
}


# --------------------------------------------------------------------------
# case loading and scoring


class Case:
    def __init__(self, d: Path):
        self.dir = d
        self.truth = json.loads((d / "truth.json").read_text())
        self.name = self.truth["case"]
        self.family = self.truth["family"]
        self.path = d / self.truth["file"]
        if self.path.suffix == ".parquet":
            self.df = pd.read_parquet(self.path)
        else:
            self.df = pd.read_csv(self.path, keep_default_na=False, dtype=str) \
                if self.family in ("schema", "pii") else pd.read_csv(self.path)
        self.n = len(self.df)
        self.positives = set(self.truth["positives"])
        self.label = self.truth.get("label")
        self.id = self.truth.get("id")
        feats = self.truth.get("features")
        if feats is None and self.family not in ("schema", "pii", "diff"):
            feats = [c for c in self.df.columns if c not in (self.label, self.id)
                     and pd.api.types.is_numeric_dtype(self.df[c])]
        self.features = feats

    def xy(self):
        x = self.df[self.features].to_numpy(dtype=np.float64)
        y_raw = self.df[self.label].to_numpy()
        classes, y = np.unique(y_raw, return_inverse=True)
        return x, y, classes


def prf(flagged, positives, n):
    flagged, positives = set(flagged), set(positives)
    tp = len(flagged & positives)
    if not positives:
        return {"fpr": len(flagged) / n, "flagged": len(flagged)}
    p = tp / len(flagged) if flagged else 0.0
    r = tp / len(positives)
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "flagged": len(flagged)}


class Table:
    def __init__(self, case: Case, extra: str = ""):
        self.case = case
        self.rows = []
        self.extra = extra

    def add(self, tool, flagged, secs, note=""):
        m = prf(flagged, self.case.positives, self.case.n)
        self.rows.append((tool, m, secs, note))
        return m

    def na(self, tool, why):
        self.rows.append((tool, None, None, why))

    def print(self):
        c = self.case
        print(f"### {c.name}  ({c.family}; {c.n} rows, {len(c.positives)} positives; "
              f"floors {json.dumps(c.truth.get('floors'))}){self.extra}")
        print()
        if c.positives:
            print("| tool | precision | recall | F1 | flagged | seconds | note |")
            print("|---|---:|---:|---:|---:|---:|---|")
        else:
            print("| tool | false-positive rate | flagged | seconds | note |")
            print("|---|---:|---:|---:|---|")
        for tool, m, secs, note in self.rows:
            if m is None:
                cells = ["n/a"] * (4 if c.positives else 2)
                print(f"| {tool} | " + " | ".join(cells) + f" | n/a | {note} |")
            elif c.positives:
                print(f"| {tool} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
                      f"{m['flagged']} | {secs:.2f} | {note} |")
            else:
                print(f"| {tool} | {m['fpr']:.4f} | {m['flagged']} | {secs:.2f} | {note} |")
        print()
        sys.stdout.flush()

    def results(self):
        return [{"case": self.case.name, "tool": t, "metrics": m, "seconds": s, "note": n}
                for t, m, s, n in self.rows]


# --------------------------------------------------------------------------
# ours


def run_ours(bin_path, case: Case, args):
    """Returns (findings, seconds) or (None, reason)."""
    if not bin_path or not Path(bin_path).is_file():
        return None, "binary not built"
    cmd = [bin_path, *args]
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except Exception as e:  # noqa: BLE001
        return None, f"failed: {e}"
    secs = time.perf_counter() - t
    try:
        doc = json.loads(p.stdout)
        findings = doc["findings"] if isinstance(doc, dict) else doc
    except Exception:  # noqa: BLE001
        err = (p.stderr.strip().splitlines() or ["no output"])[-1][:80]
        return None, f"exit {p.returncode}: {err}"
    return (findings, secs), None


# Which of our checks each family exercises (the others are skipped so the
# time column is the time of that check, as for the peers).
OUR_CHECKS = {"label": "labels", "backdoor": "backdoor", "outlier": "outliers",
              "duplicate": "duplicates", "pii": "secrets", "schema": None}


def ours_args(case: Case, bin_path=None):
    t = case.truth
    if case.family == "diff":
        return ["data", "diff", str(case.dir / t["base"]), str(case.path), "--key", case.id,
                "--format", "json"]
    a = ["data", "check", str(case.path), "--id", case.id, "--format", "json",
         "--fail-on", "critical"]
    if case.label:
        a += ["--label", case.label]
    keep = OUR_CHECKS.get(case.family)
    skip = [c for c in ("secrets", "duplicates", "outliers", "labels", "backdoor") if c != keep]
    a += ["--skip", *skip]
    if case.family == "schema":
        # The contract is profiled from the trusted version first (not timed).
        contract = case.dir / "contract.toml"
        if bin_path and Path(bin_path).is_file():
            subprocess.run([bin_path, "data", "profile", str(case.dir / t["trusted"]),
                            "--id", case.id, "-o", str(contract), "-q"], check=False)
        a += ["--contract", str(contract)]
    for col in t.get("text") or []:
        a += ["--text", col]
    return a


def add_ours(tab: Table, bin_path, family=None, by_rule_out=None):
    case = tab.case
    if case.family == "diff":
        tab.na("mlsecops", "reports per column and per key, not per row: see tests/it/cases.rs")
        return None
    res, why = run_ours(bin_path, case, ours_args(case, bin_path))
    if res is None:
        tab.na("mlsecops", why)
        return None
    findings, secs = res
    prefixes = FAMILY_PREFIX[family or case.family]
    flagged, by_rule = set(), {}
    for f in findings:
        rule = f.get("rule", "")
        row = (f.get("location") or {}).get("row")
        if row is None or not rule.startswith(prefixes):
            continue
        flagged.add(int(row))
        by_rule.setdefault(rule, set()).add(int(row))
    tab.add("**mlsecops**", flagged, secs)
    if by_rule_out is not None:
        by_rule_out["mlsecops"] = by_rule
    return by_rule


def per_rule_table(case: Case, tools: dict):
    """tools: name -> {rule: set(rows)}; prints recall per rule (and FP rows)."""
    truth = case.truth["positives_by_rule"]
    names = list(tools)
    print(f"Per-rule recall on {case.name} (found / planted):")
    print()
    print("| rule | planted | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for rule, rows in truth.items():
        cells = []
        for nm in names:
            got = tools[nm].get(rule)
            cells.append("—" if got is None else f"{len(set(rows) & got)}")
        print(f"| {rule} | {len(rows)} | " + " | ".join(cells) + " |")
    print()


# --------------------------------------------------------------------------
# label noise / backdoor: cleanlab


def cv_pred_probs(model_name, x, y, seed=SEED):
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    if model_name == "LogReg":
        from sklearn.linear_model import LogisticRegression
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    elif model_name == "SVC":
        from sklearn.svm import SVC
        clf = make_pipeline(StandardScaler(), SVC(probability=True, random_state=seed))
    elif model_name == "SVC-unscaled":
        from sklearn.svm import SVC
        clf = SVC(probability=True, random_state=seed)
    elif model_name == "MLP":
        from sklearn.neural_network import MLPClassifier
        clf = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(128,), max_iter=300,
                                                            random_state=seed))
    else:
        raise KeyError(model_name)
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    t = time.perf_counter()
    pp = cross_val_predict(clf, x, y, cv=cv, method="predict_proba")
    return pp, time.perf_counter() - t


FILTERS = ["prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"]


def cleanlab_rows(tab: Table, x, y, filters=FILTERS, models=("LogReg", "SVC", "MLP")):
    from cleanlab.filter import find_label_issues
    best = None
    for model in models:
        pp, t_cv = cv_pred_probs(model, x, y)
        for fb in filters:
            t = time.perf_counter()
            issues = find_label_issues(labels=y, pred_probs=pp, filter_by=fb)
            secs = t_cv + time.perf_counter() - t
            m = tab.add(f"cleanlab find_label_issues ({model}, {fb})", np.flatnonzero(issues), secs,
                        "default filter" if fb == "prune_by_noise_rate" else "")
            if "f1" in m and (best is None or m["f1"] > best):
                best = m["f1"]
        t = time.perf_counter()
        flagged = datalab_issues(pd.DataFrame({"y": y}), "y", {"label": {}}, pred_probs=pp)["label"]
        tab.add(f"cleanlab Datalab label ({model})", flagged, t_cv + time.perf_counter() - t)
    return best


def datalab_issues(df, label, issue_types, pred_probs=None, features=None):
    from cleanlab import Datalab
    lab = Datalab(data=df, label_name=label, verbosity=0)
    lab.find_issues(pred_probs=pred_probs, features=features, issue_types=issue_types)
    out = {}
    for k in issue_types:
        col = f"is_{k}_issue"
        out[k] = np.flatnonzero(lab.issues[col].to_numpy())
    out["_lab"] = lab
    return out


SWEEP_SEEDS = range(5)
SWEEP_MODELS = ("LogReg", "SVC", "SVC-unscaled", "MLP")
SWEEP_FILTERS = ("prune_by_noise_rate", "prune_by_class", "both")


def seed_sweep(case: Case, ours, x, y):
    """F1 over several fold/model seeds for us and every cleanlab
    configuration: one split can move F1 by ±0.02, more than the gaps
    between the tools, so the comparison is on the mean."""
    from cleanlab.filter import find_label_issues
    f1s = {}
    for seed in SWEEP_SEEDS:
        res, _ = run_ours(ours, case, ours_args(case, ours) + ["--seed", str(seed)])
        if res is not None:
            flagged = {int(f["location"]["row"]) for f in res[0]
                       if f.get("rule", "").startswith(FAMILY_PREFIX["label"])
                       and (f.get("location") or {}).get("row") is not None}
            f1s.setdefault("**mlsecops**", []).append(prf(flagged, case.positives, case.n)["f1"])
        for model in SWEEP_MODELS:
            pp, _ = cv_pred_probs(model, x, y, seed)
            for fb in SWEEP_FILTERS:
                issues = np.flatnonzero(find_label_issues(labels=y, pred_probs=pp, filter_by=fb))
                f1s.setdefault(f"cleanlab ({model}, {fb})", []).append(
                    prf(issues, case.positives, case.n)["f1"])
    print(f"#### {case.name}: F1 over seeds {list(SWEEP_SEEDS)} (folds and model seeds)")
    print()
    print("| tool | mean F1 | min | max |")
    print("|---|---:|---:|---:|")
    for tool, v in sorted(f1s.items(), key=lambda kv: -np.mean(kv[1])):
        print(f"| {tool} | {np.mean(v):.3f} | {min(v):.3f} | {max(v):.3f} |")
    print()
    return {k: float(np.mean(v)) for k, v in f1s.items()}


def section_label(case: Case, ours):
    tab = Table(case)
    x, y, _ = case.xy()
    add_ours(tab, ours)
    cleanlab_rows(tab, x, y)
    tab.print()
    if os.environ.get("BENCH_SWEEP", "1") != "0":
        seed_sweep(case, ours, x, y)
    return tab


# --------------------------------------------------------------------------
# backdoor: ART


class MLPActivations:
    """Duck-typed ART classifier over a fitted sklearn MLPClassifier: exposes the
    hidden layers' ReLU activations the way ART's Keras/PyTorch wrappers do, which
    is all SpectralSignatureDefense and ActivationDefence read from a classifier."""

    def __init__(self, mlp, scaler, nb_classes):
        self.mlp, self.scaler, self.nb_classes = mlp, scaler, nb_classes
        self.layer_names = [f"hidden_{i}" for i in range(len(mlp.coefs_) - 1)]
        self.channels_first = False
        self.clip_values = None

    def get_activations(self, x, layer, batch_size=128, framework=False):
        a = self.scaler.transform(x)
        for i in range(int(layer) + 1):
            a = np.maximum(a @ self.mlp.coefs_[i] + self.mlp.intercepts_[i], 0.0)
        return a

    def predict(self, x, batch_size=128, **_):
        return self.mlp.predict_proba(self.scaler.transform(x))

    def fit(self, x, y, **_):
        self.mlp.fit(self.scaler.transform(x), np.argmax(y, axis=1))


def art_rows(tab: Table, x, y):
    from art.defences.detector.poison import ActivationDefence, SpectralSignatureDefense
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    k = int(y.max()) + 1
    t = time.perf_counter()
    sc = StandardScaler().fit(x)
    mlp = MLPClassifier(hidden_layer_sizes=(128,), max_iter=300, random_state=SEED).fit(sc.transform(x), y)
    t_fit = time.perf_counter() - t
    clf = MLPActivations(mlp, sc, k)
    onehot = np.eye(k)[y]
    for epp in (0.33, 0.05):
        t = time.perf_counter()
        d = SpectralSignatureDefense(clf, x, onehot, expected_pp_poison=epp, batch_size=512,
                                     eps_multiplier=1.5)
        _, clean = d.detect_poison()
        secs = t_fit + time.perf_counter() - t
        tab.add(f"ART SpectralSignatureDefense (expected_pp_poison={epp})",
                np.flatnonzero(np.asarray(clean) == 0), secs,
                "ART default" if epp == 0.33 else "told ~the true rate")
    for analysis in ("smaller", "relative-size", "distance", "silhouette-scores"):
        t = time.perf_counter()
        np.random.seed(SEED)
        d = ActivationDefence(clf, x, onehot)
        d.clusterer.random_state = SEED
        name = f"ART ActivationDefence (PCA 10, 2 clusters, {analysis})"
        try:
            _, clean = d.detect_poison(nb_clusters=2, nb_dims=10, reduce="PCA", cluster_analysis=analysis)
        except Exception as e:  # noqa: BLE001  (ART 1.20.1 bug in relative-size analysis)
            tab.na(name, f"ART raised {type(e).__name__}: {str(e)[:60]}")
            continue
        secs = t_fit + time.perf_counter() - t
        tab.add(name,
                np.flatnonzero(np.asarray(clean) == 0), secs,
                "ART default" if analysis == "smaller" else "")


def section_backdoor(case: Case, ours):
    tab = Table(case)
    x, y, _ = case.xy()
    add_ours(tab, ours)
    cleanlab_rows(tab, x, y, filters=["prune_by_noise_rate", "both"], models=("LogReg", "SVC", "MLP"))
    art_rows(tab, x, y)
    tab.print()
    return tab


# --------------------------------------------------------------------------
# outliers


def section_outlier(case: Case, ours):
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import LocalOutlierFactor
    from sklearn.preprocessing import StandardScaler
    tab = Table(case)
    x, y, _ = case.xy()
    add_ours(tab, ours)
    rate = len(case.positives) / case.n
    for cont, note in (("auto", "default"), (rate, "told the true rate")):
        t = time.perf_counter()
        f = IsolationForest(random_state=SEED, contamination=cont).fit(x)
        tab.add(f"sklearn IsolationForest (contamination={cont if cont == 'auto' else round(cont, 3)})",
                np.flatnonzero(f.predict(x) == -1), time.perf_counter() - t, note)
    for cont, note in (("auto", "default"), (rate, "told the true rate")):
        t = time.perf_counter()
        xs = StandardScaler().fit_transform(x)
        p = LocalOutlierFactor(n_neighbors=20, contamination=cont).fit_predict(xs)
        tab.add(f"sklearn LocalOutlierFactor (k=20, contamination={cont if cont == 'auto' else round(cont, 3)})",
                np.flatnonzero(p == -1), time.perf_counter() - t, note + ", standardized")
    t = time.perf_counter()
    xs = StandardScaler().fit_transform(x)
    r = datalab_issues(case.df[[case.label]].copy(), case.label, {"outlier": {}}, features=xs)
    tab.add("cleanlab Datalab outlier (features, standardized)", r["outlier"], time.perf_counter() - t)
    tab.print()
    return tab


# --------------------------------------------------------------------------
# duplicates


def section_duplicate(case: Case, ours):
    tab = Table(case)
    x, y, _ = case.xy()
    by_tool = {}
    add_ours(tab, ours, by_rule_out=by_tool)
    df = case.df
    t = time.perf_counter()
    exact = df.duplicated(subset=case.features + [case.label], keep="first").to_numpy()
    feat_dup = df.duplicated(subset=case.features, keep="first").to_numpy()
    conflict = feat_dup & ~exact
    secs = time.perf_counter() - t
    tab.add("pandas duplicated (features+label, keep=first)", np.flatnonzero(exact), secs,
            "exact only")
    tab.add("pandas duplicated (features, keep=first)", np.flatnonzero(feat_dup), secs,
            "exact + conflicting")
    by_tool["pandas"] = {"DATA-DUPLICATE-EXACT": set(np.flatnonzero(exact)),
                         "DATA-DUPLICATE-CONFLICT": set(np.flatnonzero(conflict))}
    from sklearn.preprocessing import StandardScaler
    t = time.perf_counter()
    xs = StandardScaler().fit_transform(x)
    r = datalab_issues(df[[case.label]].copy(), case.label, {"near_duplicate": {}}, features=xs)
    secs = time.perf_counter() - t
    flagged = r["near_duplicate"]
    tab.add("cleanlab Datalab near_duplicate (as reported)", flagged, secs,
            "flags every member of a set")
    sets = r["_lab"].get_issues("near_duplicate")["near_duplicate_sets"]
    later = [i for i in flagged if any(j < i for j in sets.iloc[i])]
    tab.add("cleanlab Datalab near_duplicate (later member of each set)", later, secs,
            "post-processed to match the truth's convention")
    dl_later = set(later)
    by_tool["Datalab (later member)"] = {k: dl_later for k in case.truth["positives_by_rule"]}
    tab.print()
    per_rule_table(case, by_tool)
    return tab


# --------------------------------------------------------------------------
# PII and secrets

PRESIDIO_MAP = {
    "EMAIL_ADDRESS": "DATA-PII-EMAIL", "CREDIT_CARD": "DATA-PII-CREDIT-CARD",
    "IBAN_CODE": "DATA-PII-IBAN", "PHONE_NUMBER": "DATA-PII-PHONE",
    "IP_ADDRESS": "DATA-PII-IP-ADDRESS", "US_SSN": "DATA-PII-NATIONAL-ID",
}
DS_MAP = {
    "AWS Access Key": "DATA-SECRET-AWS-ACCESS-KEY", "GitHub Token": "DATA-SECRET-GITHUB-TOKEN",
    "Slack Token": "DATA-SECRET-SLACK-TOKEN", "Stripe Access Key": "DATA-SECRET-STRIPE-KEY",
    "JSON Web Token": "DATA-SECRET-JWT", "Private Key": "DATA-SECRET-PRIVATE-KEY",
    # generic detectors: counted as finding the AWS secret key when on its row
    "Secret Keyword": "DATA-SECRET-AWS-SECRET-KEY",
    "Base64 High Entropy String": "DATA-SECRET-AWS-SECRET-KEY",
    "Hex High Entropy String": "DATA-SECRET-AWS-SECRET-KEY",
}


def presidio_scan(texts, threshold):
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    eng = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    by_rule = {}
    for i, txt in enumerate(texts):
        for r in eng.analyze(text=txt, language="en", entities=list(PRESIDIO_MAP),
                             score_threshold=threshold):
            by_rule.setdefault(PRESIDIO_MAP[r.entity_type], set()).add(i)
    return by_rule


def detect_secrets_scan(path: Path):
    """`detect-secrets scan FILE` as a user would run it (default plugins and
    filters), each reported line mapped back to its CSV row."""
    import csv
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings
    line_to_row, row = {}, 0
    with open(path, newline="", encoding="utf-8") as f:
        rd = csv.reader(f)
        next(rd)
        start = rd.line_num + 1
        for _ in rd:
            for ln in range(start, rd.line_num + 1):
                line_to_row[ln] = row
            row += 1
            start = rd.line_num + 1
    by_rule = {}
    with default_settings():
        # the scan_file generator, not SecretsCollection: the collection keeps one
        # entry per distinct secret value per file, and some detectors report only
        # a fixed prefix as the value (e.g. "ghp", "BEGIN RSA PRIVATE KEY")
        for s in scan_file(str(path)):
            rule = DS_MAP.get(s.type, "DATA-SECRET-OTHER:" + s.type)
            by_rule.setdefault(rule, set()).add(line_to_row[s.line_number])
    return by_rule


def section_pii(case: Case, ours):
    texts = [str(v) for v in case.df[case.truth["text"][0]].tolist()]
    pii_pos = set().union(*[set(v) for k, v in case.truth["positives_by_rule"].items()
                            if k.startswith("DATA-PII-")])
    sec_pos = case.positives - pii_pos
    tools = {}
    tab = Table(case)
    ours_by_rule = add_ours(tab, ours)
    if ours_by_rule is not None:
        tools["mlsecops"] = ours_by_rule
    pres = {}
    for thr in (0.0, 0.5):
        t = time.perf_counter()
        pres[thr] = presidio_scan(texts, thr)
        pres[thr]["_secs"] = time.perf_counter() - t
    t = time.perf_counter()
    ds = detect_secrets_scan(case.path)
    ds_secs = time.perf_counter() - t
    union = lambda d: set().union(*[v for k, v in d.items() if not k.startswith("_")])  # noqa: E731
    for thr in (0.0, 0.5):
        tab.add(f"Presidio {thr:.1f} + detect-secrets (all rows)", union(pres[thr]) | union(ds),
                pres[thr]["_secs"] + ds_secs, "threshold 0 = Presidio default" if thr == 0 else "")
    tab.print()
    # split views: each tool against the half it covers
    sub = Table(case, " — split by tool")
    sub.case = type("C", (), {})()
    sub.case.__dict__.update(case.__dict__)
    sub.case.positives = pii_pos
    sub.case.name = "pii (PII rules only: EMAIL, CREDIT-CARD, IBAN, PHONE, IP-ADDRESS, NATIONAL-ID)"
    if ours_by_rule is not None:
        sub.add("**mlsecops** (DATA-PII-*)", union({k: v for k, v in ours_by_rule.items()
                                                   if k.startswith("DATA-PII-")}), 0.0)
    for thr in (0.0, 0.5):
        sub.add(f"Presidio (patterns, score >= {thr})", union(pres[thr]), pres[thr]["_secs"])
    sub.print()
    sub2 = Table(case)
    sub2.case = type("C", (), {})()
    sub2.case.__dict__.update(case.__dict__)
    sub2.case.positives = sec_pos
    sub2.case.name = "pii (secret rules only: AWS, GitHub, Slack, Stripe, JWT, private key)"
    if ours_by_rule is not None:
        sub2.add("**mlsecops** (DATA-SECRET-*)", union({k: v for k, v in ours_by_rule.items()
                                                       if k.startswith("DATA-SECRET-")}), 0.0)
    sub2.add("detect-secrets 1.5 (default plugins)", union(ds), ds_secs)
    sub2.add("detect-secrets 1.5 (named detectors only)",
             union({k: v for k, v in ds.items() if k in set(DS_MAP.values()) and
                    k != "DATA-SECRET-AWS-SECRET-KEY"}), ds_secs, "no keyword/entropy plugins")
    sub2.print()
    tools["Presidio (0.0)"] = {k: v for k, v in pres[0.0].items() if not k.startswith("_")}
    tools["detect-secrets"] = ds
    per_rule_table(case, tools)
    # decoys that were flagged
    decoys = case.truth.get("decoys", {})
    print("Decoy rows flagged (must be 0):")
    print()
    print("| decoy kind | rows | " + " | ".join(tools) + " |")
    print("|---|---:|" + "---:|" * len(tools))
    for kind, rows in decoys.items():
        cells = [str(len(set(rows) & union(v))) for v in tools.values()]
        print(f"| {kind} | {len(rows)} | " + " | ".join(cells) + " |")
    other = {k: v for k, v in ds.items() if k.startswith("DATA-SECRET-OTHER")}
    if other:
        print()
        print("detect-secrets hits from other plugins: " +
              ", ".join(f"{k.split(':', 1)[1]}={len(v)}" for k, v in other.items()))
    print()
    return tab


# --------------------------------------------------------------------------
# ours only


def section_ours_only(case: Case, ours):
    tab = Table(case, " — no peer in the comparison set")
    by_tool = {}
    add_ours(tab, ours, by_rule_out=by_tool)
    tab.print()
    if "positives_by_rule" in case.truth and by_tool:
        per_rule_table(case, by_tool)
    return tab


SECTIONS = {"label": section_label, "backdoor": section_backdoor, "outlier": section_outlier,
            "duplicate": section_duplicate, "pii": section_pii, "schema": section_ours_only,
            "diff": section_ours_only}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=Path, required=True)
    ap.add_argument("--families", default=",".join(SECTIONS))
    ap.add_argument("--ours", default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write all results as JSON")
    a = ap.parse_args()
    fams = [f.strip() for f in a.families.replace(" ", ",").split(",") if f.strip()]
    results = []
    for fam in fams:
        print(f"## {fam}")
        print()
        for d in sorted(p for p in a.cases.iterdir() if (p / "truth.json").is_file()):
            case = Case(d)
            if case.family != fam:
                continue
            tab = SECTIONS[fam](case, a.ours)
            results += tab.results()
    if a.json:
        a.json.write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
