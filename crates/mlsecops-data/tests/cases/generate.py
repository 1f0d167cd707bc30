#!/usr/bin/env python3
"""Ground-truth test cases for `mlsecops data check`.

Deterministic (fixed seeds). Uses only the data sets bundled inside
scikit-learn (digits, wine, breast_cancer): nothing is downloaded. Every
planted secret is synthetic: random characters of the right alphabet and
length, never a real key.

    python generate.py                    # (re)write every case next to this file
    python generate.py --out DIR          # write the cases somewhere else
    python generate.py --scale 1000000 --out /tmp/scale.parquet
                                          # the 1M x 16 benchmark table (not committed)

Needs numpy, scikit-learn and pyarrow (pyarrow only for the Parquet files).
See README.md for the truth.json schema.
"""
from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import os
import string
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine

HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------
# helpers


def write_csv(path: Path, header: list[str], rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])


def fmt(v) -> str:
    """Stable text for a float: shortest repr that round-trips."""
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return str(v)


def write_parquet(path: Path, columns: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path, compression="zstd", row_group_size=64 * 1024)


def write_truth(d: Path, truth: dict) -> None:
    for k in ("positives",):
        truth[k] = sorted(int(i) for i in truth[k])
    if "positives_by_rule" in truth:
        truth["positives_by_rule"] = {
            k: sorted(int(i) for i in v) for k, v in truth["positives_by_rule"].items()
        }
    with open(d / "truth.json", "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1, sort_keys=False)
        f.write("\n")


def case_dir(out: Path, name: str) -> Path:
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    for p in d.iterdir():
        p.unlink()
    return d


def digits():
    d = load_digits()
    return d.data.astype(np.int64), d.target.astype(np.int64)


def digits_header():
    return ["id"] + [f"p{i}" for i in range(64)] + ["label"]


def write_digits(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    write_csv(path, digits_header(), ([i, *x[i].tolist(), int(y[i])] for i in range(len(y))))


def wine():
    w = load_wine()
    names = [n.replace("/", "_") for n in w.feature_names]
    return w.data.astype(np.float64), w.target.astype(np.int64), names


def cancer():
    b = load_breast_cancer()
    names = [n.replace(" ", "_") for n in b.feature_names]
    labels = np.array(b.target_names)[b.target]  # "malignant" / "benign"
    return b.data.astype(np.float64), labels, names


# --------------------------------------------------------------------------
# label noise


def case_label_random(out: Path) -> None:
    rng = np.random.default_rng(101)
    x, y = digits()
    n = len(y)
    flip = rng.choice(n, size=int(round(0.10 * n)), replace=False)
    y2 = y.copy()
    for i in flip:
        y2[i] = rng.choice([c for c in range(10) if c != y[i]])
    d = case_dir(out, "label-random-10")
    write_digits(d / "data.csv", x, y2)
    write_truth(d, {
        "case": "label-random-10", "file": "data.csv", "label": "label", "id": "id",
        "features": None, "text": [], "family": "label",
        "positives": flip.tolist(),
        "floors": {"precision": 0.85, "recall": 0.85},
        "notes": "sklearn digits (1797 x 64, pixel values 0-16); 10% of rows (180) get a "
                 "label drawn uniformly from the 9 other classes. positives = flipped rows.",
    })


def case_label_targeted(out: Path) -> None:
    rng = np.random.default_rng(102)
    x, y = digits()
    ones = np.flatnonzero(y == 1)
    flip = rng.choice(ones, size=int(round(0.30 * len(ones))), replace=False)
    y2 = y.copy()
    y2[flip] = 7
    d = case_dir(out, "label-targeted")
    write_digits(d / "data.csv", x, y2)
    write_truth(d, {
        "case": "label-targeted", "file": "data.csv", "label": "label", "id": "id",
        "features": None, "text": [], "family": "label",
        "positives": flip.tolist(),
        "floors": {"precision": 0.8, "recall": 0.6},
        "notes": "sklearn digits; 30% of class 1 (55 of 182 rows) relabelled 7 "
                 "(systematic, class-conditional noise). positives = relabelled rows. The "
                 "best cleanlab configuration reaches P 0.92 / R 0.64 here (SVC pred_probs).",
    })


# --------------------------------------------------------------------------
# backdoor

TRIGGER = [0, 7, 56, 63]  # the four corner pixels


def case_backdoor(out: Path) -> None:
    rng = np.random.default_rng(103)
    x, y = digits()
    others = np.flatnonzero(y != 0)
    poison = rng.choice(others, size=60, replace=False)
    x2, y2 = x.copy(), y.copy()
    x2[np.ix_(poison, TRIGGER)] = 16
    y2[poison] = 0
    d = case_dir(out, "backdoor-digits")
    write_digits(d / "data.csv", x2, y2)
    write_truth(d, {
        "case": "backdoor-digits", "file": "data.csv", "label": "label", "id": "id",
        "features": None, "text": [], "family": "backdoor",
        "positives": poison.tolist(),
        "floors": {"precision": 0.8, "recall": 0.8},
        "target_label": 0,
        "trigger": {"columns": [f"p{i}" for i in TRIGGER], "value": 16},
        "notes": "sklearn digits; 60 rows of classes 1-9 (3.3%) get the 4 corner pixels "
                 "p0,p7,p56,p63 set to 16 (a BadNets-style patch) and are relabelled 0. "
                 "A model trained on the file learns the trigger, so cross-validated label "
                 "noise detectors see these rows as consistent. positives = poisoned rows.",
    })


def case_backdoor_clean(out: Path) -> None:
    x, y = digits()
    d = case_dir(out, "backdoor-clean")
    write_digits(d / "data.csv", x, y)
    write_truth(d, {
        "case": "backdoor-clean", "file": "data.csv", "label": "label", "id": "id",
        "features": None, "text": [], "family": "backdoor",
        "positives": [],
        "floors": {"max_false_positive_rate": 0.01},
        "notes": "unmodified sklearn digits: no poison. A backdoor detector must flag at most "
                 "1% of rows (18) with a DATA-BACKDOOR-* rule; precision/recall are undefined.",
    })


# --------------------------------------------------------------------------
# outliers


def case_outlier_scattered(out: Path) -> None:
    rng = np.random.default_rng(104)
    x, labels, names = cancer()
    n, k = x.shape
    m = int(round(0.03 * n))
    rows = rng.choice(n, size=m, replace=False)
    lo, hi = x.min(0), x.max(0)
    span = hi - lo
    x2 = x.copy()
    for i in rows:
        # uniform over a box 5x the data's range per feature, resampled until the
        # point is at least 3 ranges outside the data box in some feature
        while True:
            p = rng.uniform(lo - 2 * span, hi + 2 * span)
            if np.max(np.maximum(lo - p, p - hi) / span) > 1.0:
                break
        x2[i] = p
    x2 = np.abs(x2)  # keep the physical quantities non-negative
    d = case_dir(out, "outlier-scattered")
    header = ["id"] + names + ["diagnosis"]
    write_csv(d / "data.csv", header,
              ([i, *[fmt(v) for v in x2[i]], labels[i]] for i in range(n)))
    write_truth(d, {
        "case": "outlier-scattered", "file": "data.csv", "label": "diagnosis", "id": "id",
        "features": None, "text": [], "family": "outlier",
        "positives": rows.tolist(),
        "floors": {"precision": 0.85, "recall": 0.85},
        "notes": "sklearn breast_cancer (569 x 30, label as text malignant/benign); 17 rows "
                 "(3%) have all features replaced by independent uniform draws over a box 5x the "
                 "per-feature data range (absolute value taken), each at least one range "
                 "outside the data in some feature. positives = replaced rows.",
    })


def case_outlier_clustered(out: Path) -> None:
    rng = np.random.default_rng(105)
    x, labels, names = cancer()
    n, k = x.shape
    m = int(round(0.03 * n))
    rows = rng.choice(n, size=m, replace=False)
    mu, sd = x.mean(0), x.std(0)
    sign = rng.choice([-1.0, 1.0], size=k)
    center = mu + sign * 4.0 * sd
    x2 = x.copy()
    x2[rows] = center + rng.normal(0, 0.05, size=(m, k)) * sd
    x2 = np.abs(x2)
    d = case_dir(out, "outlier-clustered")
    cols = {"id": np.arange(n, dtype=np.int64)}
    for j, nm in enumerate(names):
        cols[nm] = x2[:, j]
    cols["diagnosis"] = labels.astype(object)
    write_parquet(d / "data.parquet", cols)
    write_truth(d, {
        "case": "outlier-clustered", "file": "data.parquet", "label": "diagnosis", "id": "id",
        "features": None, "text": [], "family": "outlier",
        "positives": rows.tolist(),
        "floors": {"precision": 0.85, "recall": 0.85},
        "notes": "sklearn breast_cancer as Parquet (zstd); 17 rows (3%) replaced by a tight "
                 "blob: centre = mean + 4 sd with a random sign per feature, spread 0.05 sd "
                 "(absolute value taken). A k-NN detector with k < 17 sees the blob as dense; "
                 "positives = blob rows.",
    })


# --------------------------------------------------------------------------
# duplicates


def case_duplicates(out: Path) -> None:
    rng = np.random.default_rng(106)
    x, y, names = wine()
    n, k = x.shape
    sd = x.std(0)
    src = rng.choice(n, size=36, replace=False)
    kinds = ["DATA-DUPLICATE-EXACT"] * 12 + ["DATA-DUPLICATE-NEAR"] * 12 + ["DATA-DUPLICATE-CONFLICT"] * 12
    rows = [(int(i), x[i].copy(), int(y[i]), None, None) for i in range(n)]
    # copies: inserted at a random position after their original
    for s, kind in zip(src, kinds):
        feats = x[s].copy()
        lab = int(y[s])
        if kind == "DATA-DUPLICATE-NEAR":
            feats = feats + rng.normal(0, 1e-3, size=k) * sd
            feats = np.round(feats, 6)
            assert not np.array_equal(feats, x[s])
        elif kind == "DATA-DUPLICATE-CONFLICT":
            lab = int(rng.choice([c for c in range(3) if c != lab]))
        pos_orig = next(j for j, r in enumerate(rows) if r[0] == s and r[3] is None)
        at = int(rng.integers(pos_orig + 1, len(rows) + 1))
        rows.insert(at, (None, feats, lab, kind, int(s)))
    out_rows, by_rule, groups = [], {k_: [] for k_ in sorted(set(kinds))}, {k_: [] for k_ in sorted(set(kinds))}
    next_id = 1000
    id_of_orig_row = {}
    for r_i, (orig_id, feats, lab, kind, s) in enumerate(rows):
        if kind is None:
            rid = orig_id
            id_of_orig_row[orig_id] = r_i
        else:
            rid = next_id
            next_id += 1
            by_rule[kind].append(r_i)
            groups[kind].append([id_of_orig_row[s], r_i])
        out_rows.append([rid, *[fmt(v) for v in feats], lab])
    d = case_dir(out, "duplicates")
    write_csv(d / "data.csv", ["id"] + names + ["class"], out_rows)
    positives = sorted(set().union(*map(set, by_rule.values())))
    write_truth(d, {
        "case": "duplicates", "file": "data.csv", "label": "class", "id": "id",
        "features": None, "text": [], "family": "duplicate",
        "positives": positives,
        "positives_by_rule": by_rule,
        "pairs_by_rule": groups,
        "floors": {"precision": 1.0, "recall": 1.0},
        "notes": "sklearn wine (178 x 13) plus 36 copies of distinct rows, each inserted at a "
                 "random position AFTER its original and given a fresh id (1000+): 12 exact "
                 "(features and label equal), 12 near (features + N(0, 1e-3 sd) noise, rounded "
                 "to 6 decimals, same label), 12 conflicting (identical features, different "
                 "label). positives = the copies, i.e. the later row of each pair; the id "
                 "column is not part of the comparison. pairs_by_rule gives [original_row, "
                 "copy_row] for tests that accept either member. Wine itself has no duplicates.",
    })


# --------------------------------------------------------------------------
# schema / contract

REGIONS = ["north", "south", "east", "west", "central"]


def case_schema(out: Path) -> None:
    rng = np.random.default_rng(107)
    x, y, names = wine()
    n = len(y)
    keep = ["alcohol", "malic_acid", "magnesium", "color_intensity", "proline"]
    idx = [names.index(c) for c in keep]
    region = rng.choice(REGIONS, size=n)
    base = np.datetime64("2019-01-01")
    dates = [str(base + np.timedelta64(int(t), "D")) for t in rng.integers(0, 1500, size=n)]
    batch = ["%08x-%04x-4%03x-%04x-%012x" % (rng.integers(0, 2**32), rng.integers(0, 2**16),
             rng.integers(0, 2**12), 0x8000 | rng.integers(0, 2**14), rng.integers(0, 2**48))
             for _ in range(n)]
    header = ["id", "region", "harvest_date", "batch_uuid"] + keep + ["cultivar"]
    table = []
    for i in range(n):
        vals = [fmt(v) for v in x[i, idx]]
        vals[2] = str(int(x[i, idx[2]]))  # magnesium is integral
        vals[4] = str(int(x[i, idx[4]]))  # proline is integral
        table.append([str(1000 + i), str(region[i]), dates[i], batch[i], *vals, f"class_{y[i]}"])
    d = case_dir(out, "schema")
    write_csv(d / "trusted.csv", header, table)

    broken = [r.copy() for r in table]
    rows = rng.permutation(n)
    take = iter(rows.tolist())
    by_rule: dict[str, list[int]] = {}
    cells: dict[str, list[dict]] = {}

    def plant(rule, col, value):
        r = next(take)
        c = header.index(col)
        broken[r][c] = value
        by_rule.setdefault(rule, []).append(r)
        cells.setdefault(rule, []).append({"row": r, "column": col, "value": value})

    for v in ["abc", "12,5", "thirteen", "n/a?"]:
        plant("DATA-SCHEMA-WRONG-TYPE", "alcohol", v)
    for v in ["1O4", "high"]:
        plant("DATA-SCHEMA-WRONG-TYPE", "magnesium", v)
    for col in ["alcohol", "magnesium", "region", "harvest_date", "cultivar", "proline"]:
        plant("DATA-SCHEMA-NULL", col, "")
    for col, v in [("alcohol", "99.0"), ("alcohol", "-3.5"), ("magnesium", "1620"),
                   ("proline", "0"), ("color_intensity", "250.0"), ("malic_acid", "-0.4")]:
        plant("DATA-SCHEMA-OUT-OF-RANGE", col, v)
    for col, v in [("region", "atlantis"), ("region", "North "), ("region", "nrth"),
                   ("cultivar", "class_3"), ("cultivar", "class_9")]:
        plant("DATA-SCHEMA-BAD-CATEGORY", col, v)
    for col, v in [("harvest_date", "03/15/2021"), ("harvest_date", "2021-13-40"),
                   ("harvest_date", "yesterday"), ("batch_uuid", "not-a-uuid"),
                   ("batch_uuid", "1234")]:
        plant("DATA-SCHEMA-FORMAT", col, v)
    # duplicate keys: a later row reuses the id of an earlier row
    for _ in range(5):
        r = next(take)
        earlier = int(rng.integers(0, r)) if r > 0 else None
        if earlier is None:
            r, earlier = next(take), 0
        broken[r][0] = broken[earlier][0]
        by_rule.setdefault("DATA-SCHEMA-DUPLICATE-KEY", []).append(r)
        cells.setdefault("DATA-SCHEMA-DUPLICATE-KEY", []).append(
            {"row": r, "column": "id", "value": broken[r][0], "first_row": earlier})
    write_csv(d / "broken.csv", header, broken)
    positives = sorted(set().union(*map(set, by_rule.values())))
    write_truth(d, {
        "case": "schema", "file": "broken.csv", "trusted": "trusted.csv",
        "label": "cultivar", "id": "id", "features": None, "text": [], "family": "schema",
        "positives": positives,
        "positives_by_rule": by_rule,
        "cells": cells,
        "contract": {
            "id": {"type": "int", "unique": True, "nullable": False},
            "region": {"type": "category", "values": REGIONS, "nullable": False},
            "harvest_date": {"type": "string", "format": "date", "nullable": False},
            "batch_uuid": {"type": "string", "format": "uuid", "nullable": False},
            **{c: {"type": "float" if c not in ("magnesium", "proline") else "int",
                   "nullable": False,
                   "min": float(x[:, names.index(c)].min()),
                   "max": float(x[:, names.index(c)].max())} for c in keep},
            "cultivar": {"type": "category", "values": ["class_0", "class_1", "class_2"],
                         "nullable": False},
        },
        "floors": {"precision": 1.0, "recall": 1.0},
        "notes": "trusted.csv: 178 wine rows with an integer key, a 5-value region category, "
                 "an ISO date, a UUID, 5 numeric columns and a 3-value label. broken.csv: the "
                 "same rows with exactly one violation planted in each of 33 distinct rows "
                 "(cells lists row, column, value). The contract is the one a tool should infer "
                 "from trusted.csv (min/max = trusted range; violations are far outside it). "
                 "DUPLICATE-KEY positives are the later rows; a WRONG-TYPE cell makes the whole "
                 "column text in a naive CSV reader, which is the point. Run: "
                 "`mlsecops data contract infer trusted.csv` then check broken.csv against it.",
    })


# --------------------------------------------------------------------------
# PII and secrets

FIRST = ["Anna", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
         "Kira", "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sami", "Tara"]
LAST = ["Meyer", "Okafor", "Rossi", "Novak", "Silva", "Tanaka", "Dubois", "Kowalski", "Berg",
        "Larsen", "Moreau", "Haddad", "Ivanova", "Fischer", "Lopez", "Walsh"]
PRODUCTS = ["the dashboard", "the mobile app", "the billing page", "the export job",
            "the API", "the admin console", "the sync agent", "the report builder"]
PROBLEMS = ["won't load", "is very slow today", "keeps logging me out", "shows a blank page",
            "throws an error when I click save", "times out", "crashes on start",
            "shows the wrong totals"]
CLEAN = [
    "Hi, {p} {pr} since this morning. Can you take a look?",
    "Hello support, {p} {pr}. Thanks, {f}",
    "{f} here: {p} {pr} for everyone on my team.",
    "Is there a known outage? {p} {pr}.",
    "Thanks for the quick fix yesterday, everything works again.",
    "Could you add dark mode to {p}? It would help a lot.",
    "How do I change the currency shown in {p}?",
    "Please close this ticket, {f} solved it for us.",
    "We would like to upgrade our plan, who should {f} talk to?",
    "After the update {p} {pr}. We tried clearing the cache.",
    "Can I get an invoice copy for last month?",
    "The new layout of {p} is great, thank you!",
    "{p} {pr} only in Firefox, Chrome is fine.",
    "Our admin {f} {l} left the company, please transfer ownership.",
    "Where can I find the audit log in {p}?",
]
DOMAINS = ["example.com", "example.org", "mailhost.net", "acme-corp.io", "post.example.de"]
ALNUM = string.ascii_letters + string.digits
B32 = string.ascii_uppercase + "234567"
B64 = string.ascii_letters + string.digits + "+/"
B64URL = string.ascii_letters + string.digits + "-_"
HEX = "0123456789abcdef"


def rstr(rng, alphabet, n):
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), size=n))


def luhn_check_digit(body: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def luhn_ok(num: str) -> bool:
    return luhn_check_digit(num[:-1]) == int(num[-1])


def group_card(num: str, rng) -> str:
    style = rng.integers(0, 3)
    if style == 0 or len(num) != 16:
        return num
    sep = " " if style == 1 else "-"
    return sep.join(num[i:i + 4] for i in range(0, 16, 4))


def card(rng, valid=True) -> str:
    prefix = str(rng.choice(["4", "51", "52", "53", "54", "55", "2221"]))
    body = prefix + rstr(rng, string.digits, 15 - len(prefix))
    cd = luhn_check_digit(body)
    if not valid:
        cd = (cd + int(rng.integers(1, 10))) % 10
    return group_card(body + str(cd), rng)


IBAN_BBAN = {"DE": lambda r: rstr(r, string.digits, 18),
             "GB": lambda r: rstr(r, string.ascii_uppercase, 4) + rstr(r, string.digits, 14),
             "NL": lambda r: rstr(r, string.ascii_uppercase, 4) + rstr(r, string.digits, 10),
             "FR": lambda r: rstr(r, string.digits, 23),
             "ES": lambda r: rstr(r, string.digits, 20)}


def iban_check(cc: str, bban: str) -> int:
    s = bban + cc + "00"
    num = "".join(str(int(ch, 36)) for ch in s)
    return 98 - int(num) % 97


def iban(rng, valid=True) -> str:
    cc = str(rng.choice(list(IBAN_BBAN)))
    bban = IBAN_BBAN[cc](rng)
    ck = iban_check(cc, bban)
    if not valid:
        ck = (ck - 2 + int(rng.integers(1, 96))) % 97 + 2
        if ck == iban_check(cc, bban):
            ck = ck + 1 if ck < 98 else 2
    s = f"{cc}{ck:02d}{bban}"
    if rng.integers(0, 2):
        s = " ".join(s[i:i + 4] for i in range(0, len(s), 4))
    return s


def phone(rng) -> str:
    kind = rng.integers(0, 4)
    if kind == 0:  # US/CA: NPA NXX XXXX, no N11, no 555
        npa = str(rng.choice(["212", "312", "415", "617", "646", "206", "303", "512"]))
        while True:
            nxx = str(rng.integers(2, 10)) + rstr(rng, string.digits, 2)
            if nxx[1:] != "11" and nxx != "555":
                break
        return f"+1{npa}{nxx}{rstr(rng, string.digits, 4)}"
    if kind == 1:  # UK mobile 078xx
        return f"+4478{rstr(rng, string.digits, 8)}"
    if kind == 2:  # DE mobile 015x/016x/017x
        return f"+49{rng.choice(['151', '160', '170', '176'])}{rstr(rng, string.digits, 8)}"
    # FR mobile 06 (063 has unallocated blocks)
    return f"+336{rng.choice(list('1245678'))}{rstr(rng, string.digits, 7)}"


def ipv4(rng) -> str:
    while True:
        a = int(rng.integers(1, 224))
        if a not in (10, 127, 0):
            break
    return ".".join([str(a)] + [str(int(v)) for v in rng.integers(0, 256, size=3)])


def ssn(rng, valid=True) -> str:
    if valid:
        while True:
            area = int(rng.integers(1, 900))
            if area != 666:
                break
        group = int(rng.integers(1, 100))
        serial = int(rng.integers(1, 10000))
        s = f"{area:03d}-{group:02d}-{serial:04d}"
        if len(set(s.replace("-", ""))) == 1 or s == "123-45-6789":
            return ssn(rng, True)
        return s
    bad = rng.integers(0, 3)
    if bad == 0:
        return f"000-{rng.integers(1, 100):02d}-{rng.integers(1, 10000):04d}"
    if bad == 1:
        return f"666-{rng.integers(1, 100):02d}-{rng.integers(1, 10000):04d}"
    return f"{rng.integers(1, 666):03d}-00-{rng.integers(1, 10000):04d}"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(rng) -> str:
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64url(json.dumps({"sub": str(int(rng.integers(10**6, 10**7))),
                              "name": str(rng.choice(FIRST)),
                              "iat": int(rng.integers(1.6e9, 1.75e9))},
                             separators=(",", ":")).encode())
    return f"{head}.{body}.{rstr(rng, B64URL, 43)}"


def pem(rng) -> str:
    kind = str(rng.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"]))
    lines = [rstr(rng, B64, 64) for _ in range(int(rng.integers(3, 6)))]
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----"


def public_pem(rng) -> str:
    kind = str(rng.choice(["PUBLIC KEY", "CERTIFICATE"]))
    lines = [rstr(rng, B64, 64) for _ in range(3)]
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----"


def uuid4(rng) -> str:
    h = rstr(rng, HEX, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(rng.integers(0, 4))]}{h[17:20]}-{h[20:]}"


def clean_msg(rng) -> str:
    t = str(rng.choice(CLEAN))
    return t.format(p=rng.choice(PRODUCTS), pr=rng.choice(PROBLEMS), f=rng.choice(FIRST),
                    l=rng.choice(LAST))


def planted_templates():
    """rule -> list of (template, generator) producing the sensitive value."""
    return {
        "DATA-PII-EMAIL": [
            "Please send the receipt to {v} instead of my old address.",
            "You can reach me at {v} any time.",
            "My login is {v} and {p} {pr}.",
        ],
        "DATA-PII-CREDIT-CARD": [
            "I was charged twice on my card {v}, please refund one.",
            "Card number {v} expired, how do I update it?",
            "Please use {v} for the renewal.",
        ],
        "DATA-PII-IBAN": [
            "Refund to my account {v} please.",
            "Our new bank details: IBAN {v}",
            "Wire went out from {v} yesterday.",
        ],
        "DATA-PII-PHONE": [
            "Call me back on {v} after 5pm.",
            "My phone number changed to {v}.",
            "Text {v} when the fix is live.",
        ],
        "DATA-PII-IP-ADDRESS": [
            "Our office IP is {v}, please allowlist it.",
            "Login attempts from {v} were blocked.",
            "The webhook comes from {v} and {p} {pr}.",
        ],
        "DATA-PII-NATIONAL-ID": [
            "For the tax form my SSN is {v}.",
            "Verification failed, SSN {v} was rejected.",
            "Employee record needs SSN {v} corrected.",
        ],
        "DATA-SECRET-GITHUB-TOKEN": [
            "CI fails with token {v}, can you check scopes?",
            "I pasted GITHUB_TOKEN={v} in the integration settings.",
        ],
        "DATA-SECRET-SLACK-TOKEN": [
            "Our bot uses {v} and stopped posting.",
            "SLACK_BOT_TOKEN={v} is what we configured.",
        ],
        "DATA-SECRET-STRIPE-KEY": [
            "Billing sync uses stripe key {v}, is that right?",
            "We set STRIPE_SECRET_KEY={v} in production.",
        ],
        "DATA-SECRET-JWT": [
            "The API returns 401 with Authorization: Bearer {v}",
            "Session token {v} is rejected after the update.",
        ],
        "DATA-SECRET-PRIVATE-KEY": [
            "Deploy fails, here is the key we use:\n{v}",
            "Is this key format supported?\n{v}\nThanks.",
        ],
    }


def secret_value(rule, rng) -> str:
    if rule == "DATA-PII-EMAIL":
        u = f"{rng.choice(FIRST).lower()}.{rng.choice(LAST).lower()}{rng.integers(1, 99)}"
        return f"{u}@{rng.choice(DOMAINS)}"
    if rule == "DATA-PII-CREDIT-CARD":
        return card(rng, True)
    if rule == "DATA-PII-IBAN":
        return iban(rng, True)
    if rule == "DATA-PII-PHONE":
        return phone(rng)
    if rule == "DATA-PII-IP-ADDRESS":
        return ipv4(rng)
    if rule == "DATA-PII-NATIONAL-ID":
        return ssn(rng, True)
    if rule == "DATA-SECRET-GITHUB-TOKEN":
        if rng.integers(0, 4) == 0:
            return f"github_pat_{rstr(rng, ALNUM, 22)}_{rstr(rng, ALNUM, 59)}"
        return f"ghp_{rstr(rng, ALNUM, 36)}"
    if rule == "DATA-SECRET-SLACK-TOKEN":
        return (f"xox{rng.choice(['b', 'p'])}-{rstr(rng, string.digits, 12)}-"
                f"{rstr(rng, string.digits, 13)}-{rstr(rng, ALNUM, 24)}")
    if rule == "DATA-SECRET-STRIPE-KEY":
        return f"{rng.choice(['sk', 'rk'])}_live_{rstr(rng, ALNUM, 24)}"
    if rule == "DATA-SECRET-JWT":
        return jwt(rng)
    if rule == "DATA-SECRET-PRIVATE-KEY":
        return pem(rng)
    raise KeyError(rule)


DECOYS = {
    "luhn-invalid-card": ("Tracking number {v} has not moved in a week.", lambda r: card(r, False)),
    "bad-iban": ("Is {v} the right format for an IBAN field?", lambda r: iban(r, False)),
    "order-number": ("Order ORD-{v} still shows as pending.",
                     lambda r: rstr(r, string.digits, 8)),
    "iso-date": ("Since {v} {p} {pr}.", lambda r: str(np.datetime64("2023-01-01")
                                                       + np.timedelta64(int(r.integers(0, 900)), "D"))),
    "version": ("After upgrading to v{v} {p} {pr}.",
                lambda r: f"{r.integers(1, 20)}.{r.integers(0, 40)}.{r.integers(0, 20)}"),
    "uuid": ("Request id {v} failed, please check the logs.", uuid4),
    "git-sha": ("The regression came with commit {v}.", lambda r: rstr(r, HEX, 40)),
    "short-github-prefix": ("Our repo label is ghp_{v} for the team.", lambda r: rstr(r, ALNUM, 10)),
    "short-aws-prefix": ("Asset tag AKIA{v} on the laptop.", lambda r: rstr(r, B32, 8)),
    "short-stripe-prefix": ("The coupon sk_live_{v} did not apply.", lambda r: rstr(r, ALNUM, 6)),
    "short-slack-prefix": ("Channel xoxb-{v} was archived.", lambda r: rstr(r, string.digits, 4)),
    "invalid-ssn": ("Form field shows {v}, is that a placeholder?", lambda r: ssn(r, False)),
    "public-key": ("Here is our public key for the webhook:\n{v}", public_pem),
    "jwt-header-only": ("Header looks like {v} in the debugger.",
                        lambda r: b64url(b'{"alg":"none"}')),
    "time-and-amount": ("We were billed 49.99 EUR at 14:05 on invoice 2024/0173.", lambda r: ""),
}


def case_pii(out: Path) -> None:
    rng = np.random.default_rng(108)
    n = 2000
    per_rule = 18
    tpl = planted_templates()
    slots: list[tuple[str, list[str], str]] = []  # (message, rules, decoy kind)
    for rule, templates in tpl.items():
        for _ in range(per_rule):
            v = secret_value(rule, rng)
            t = str(rng.choice(templates))
            msg = t.format(v=v, p=rng.choice(PRODUCTS), pr=rng.choice(PROBLEMS))
            slots.append((msg, [rule], ""))
    # AWS: key id with secret next to a key name, and key id alone
    for i in range(24):
        kid = "AKIA" + rstr(rng, B32, 16)
        if i < 16:
            sec = rstr(rng, B64, 40)
            form = i % 3
            if form == 0:
                msg = f"Backup job fails with aws_access_key_id={kid} aws_secret_access_key={sec}"
            elif form == 1:
                msg = f"Config was:\nAWS_ACCESS_KEY_ID: {kid}\nAWS_SECRET_ACCESS_KEY: {sec}"
            else:
                msg = f'Using key "{kid}" with secret_key = "{sec}" on the export job.'
            slots.append((msg, ["DATA-SECRET-AWS-ACCESS-KEY", "DATA-SECRET-AWS-SECRET-KEY"], ""))
        else:
            msg = f"IAM user with access key {kid} was disabled, why?"
            slots.append((msg, ["DATA-SECRET-AWS-ACCESS-KEY"], ""))
    n_decoy_each = 16
    for kind, (t, gen) in DECOYS.items():
        for _ in range(n_decoy_each):
            v = gen(rng)
            msg = t.format(v=v, p=rng.choice(PRODUCTS), pr=rng.choice(PROBLEMS))
            slots.append((msg, [], kind))
    while len(slots) < n:
        slots.append((clean_msg(rng), [], ""))
    order = rng.permutation(len(slots))
    slots = [slots[i] for i in order]
    by_rule: dict[str, list[int]] = {}
    decoys: dict[str, list[int]] = {}
    for r, (_, rules, kind) in enumerate(slots):
        for rule in rules:
            by_rule.setdefault(rule, []).append(r)
        if kind:
            decoys.setdefault(kind, []).append(r)
    channels = rng.choice(["email", "chat", "web", "phone"], size=len(slots))
    d = case_dir(out, "pii")
    write_csv(d / "data.csv", ["id", "channel", "message"],
              ([i, channels[i], slots[i][0]] for i in range(len(slots))))
    positives = sorted(set().union(*map(set, by_rule.values())))
    write_truth(d, {
        "case": "pii", "file": "data.csv", "label": None, "id": "id", "features": None,
        "text": ["message"], "family": "pii",
        "positives": positives,
        "positives_by_rule": dict(sorted(by_rule.items())),
        "decoys": dict(sorted(decoys.items())),
        "floors": {"precision": 1.0, "recall": 1.0},
        "notes": "2,000 synthetic support messages (templates + names, no real people). "
                 "18 rows per PII/secret rule with one planted value each, plus 16 rows with an "
                 "AWS key id AND a 40-char secret next to a key name, and 8 rows with a key id "
                 "alone. Every value is random with valid structure: Luhn-valid cards, "
                 "mod-97-valid IBANs, E.164 phones (US/UK/DE/FR mobile ranges), public IPv4, "
                 "SSNs in issued ranges, synthetic tokens of the documented alphabet and "
                 "length. decoys lists rows holding look-alikes that must NOT be flagged "
                 "(Luhn-invalid cards, bad IBAN check digits, order numbers, dates, versions, "
                 "UUIDs, git SHAs, short token prefixes, invalid SSNs, public keys, a bare JWT "
                 "header). Private keys and public keys span several lines inside one quoted "
                 "CSV cell. Row-level: a row counts as found for a rule when that rule is "
                 "reported on it; precision is over all rows flagged with any DATA-PII-*/"
                 "DATA-SECRET-* rule.",
    })


# --------------------------------------------------------------------------
# version diff


def case_diff(out: Path) -> None:
    rng = np.random.default_rng(109)
    x, y, names = wine()
    n = len(y)
    ids = np.arange(5000, 5000 + n)
    old_header = ["id"] + names + ["class"]
    old_rows = [[int(ids[i]), *x[i].tolist(), int(y[i])] for i in range(n)]
    d = case_dir(out, "diff")
    write_csv(d / "old.csv", old_header, ([r[0], *[fmt(v) for v in r[1:-1]], r[-1]] for r in old_rows))

    perm = rng.permutation(n)
    removed = sorted(perm[:8].tolist())
    modified = sorted(perm[8:20].tolist())
    relabelled = sorted(perm[20:29].tolist())
    shifted_col = "magnesium"
    dropped_col = "ash"
    added_col = "vintage"
    mag = names.index(shifted_col)
    new_names = [c for c in names if c != dropped_col]
    modified_cells: dict[int, list[str]] = {}
    new_rows = []
    for i in range(n):
        if i in removed:
            continue
        f = dict(zip(names, x[i].tolist()))
        lab = int(y[i])
        if i in modified:
            cols = sorted(rng.choice([c for c in new_names if c != shifted_col],
                                     size=int(rng.integers(1, 3)), replace=False).tolist())
            for c in cols:
                f[c] = round(f[c] * float(rng.choice([0.7, 1.3, 1.5])), 4)
            modified_cells[int(ids[i])] = cols
        if i in relabelled:
            lab = int(rng.choice([c for c in range(3) if c != lab]))
        f[shifted_col] = f[shifted_col] + 25.0
        new_rows.append([int(ids[i])] + [f[c] for c in new_names] + [lab, int(rng.integers(2015, 2022))])
    added_ids = []
    for j in range(10):
        s = int(rng.integers(0, n))
        f = x[s] * rng.normal(1.0, 0.03, size=x.shape[1])
        f[mag] += 25.0
        fd = dict(zip(names, f.tolist()))
        nid = 9000 + j
        added_ids.append(nid)
        at = int(rng.integers(0, len(new_rows) + 1))
        new_rows.insert(at, [nid] + [round(fd[c], 4) for c in new_names] + [int(y[s]), int(rng.integers(2015, 2022))])
    new_header = ["id"] + new_names + ["class", added_col]
    write_csv(d / "new.csv", new_header, ([r[0], *[fmt(v) for v in r[1:-2]], r[-2], r[-1]] for r in new_rows))
    new_pos = {r[0]: k for k, r in enumerate(new_rows)}
    old_pos = {int(ids[i]): i for i in range(n)}
    relabel_ids = [int(ids[i]) for i in relabelled]
    by_rule = {
        "DATA-DIFF-ADDED": [new_pos[i] for i in added_ids],
        "DATA-DIFF-MODIFIED": [new_pos[i] for i in modified_cells],
        "DATA-DIFF-RELABELLED": [new_pos[i] for i in relabel_ids],
    }
    positives = sorted(set().union(*map(set, by_rule.values())))
    write_truth(d, {
        "case": "diff", "file": "new.csv", "base": "old.csv", "label": "class", "id": "id",
        "features": None, "text": [], "family": "diff",
        "positives": positives,
        "positives_by_rule": by_rule,
        "removed_rows_in_base": {"DATA-DIFF-REMOVED": [old_pos[int(ids[i])] for i in removed]},
        "added_ids": added_ids,
        "removed_ids": [int(ids[i]) for i in removed],
        "modified_ids": {str(k): v for k, v in sorted(modified_cells.items())},
        "relabelled_ids": relabel_ids,
        "shifted_columns": {shifted_col: {"kind": "additive", "delta": 25.0}},
        "schema_changes": [{"kind": "removed", "column": dropped_col},
                           {"kind": "added", "column": added_col, "type": "int"}],
        "floors": {"precision": 1.0, "recall": 1.0},
        "notes": "old.csv = wine with ids 5000+. new.csv: 8 rows removed, 10 added (ids 9000+, "
                 "perturbed copies), 12 modified in 1-2 columns (x0.7/1.3/1.5), 9 relabelled, "
                 "column magnesium shifted +25 in EVERY row (a distribution shift: expected as a "
                 "column-level finding, so it is NOT counted in modified_ids), column ash "
                 "dropped and column vintage (int) added (schema changes; not counted as "
                 "modifications either). Row order differs (added rows inserted at random). "
                 "positives = rows of new.csv that are added, modified or relabelled; removed "
                 "rows are given as rows of old.csv. Rule names DATA-DIFF-* are provisional.",
    })


# --------------------------------------------------------------------------
# scale table (not committed)


def scale(n: int, path: Path, seed: int = 110) -> None:
    """n rows x 16 columns: id, f0..f13 (float64), label (5 classes as int).

    Plants 2% label flips, 0.5% outliers, 1% exact duplicates, 0.5% near
    duplicates; writes the positives beside the table as <path>.truth.json.
    """
    rng = np.random.default_rng(seed)
    k, c = 14, 5
    centers = rng.normal(0, 1.6, size=(c, k))
    y = rng.integers(0, c, size=n)
    x = centers[y] + rng.normal(0, 1.0, size=(n, k))
    m_out = n // 200
    out_rows = rng.choice(n, size=m_out, replace=False)
    x[out_rows] = rng.uniform(-12, 12, size=(m_out, k))
    m_flip = n // 50
    flip = rng.choice(np.setdiff1d(np.arange(n), out_rows), size=m_flip, replace=False)
    y_obs = y.copy()
    y_obs[flip] = (y[flip] + rng.integers(1, c, size=m_flip)) % c
    m_ex, m_near = n // 100, n // 200
    # duplicates: copy rows from the first half into the second half
    half = n // 2
    src = rng.choice(half, size=m_ex + m_near, replace=False)
    dst = half + rng.choice(n - half, size=m_ex + m_near, replace=False)
    x[dst] = x[src]
    y_obs[dst] = y_obs[src]
    x[dst[m_ex:]] += rng.normal(0, 1e-4, size=(m_near, k))
    cols = {"id": np.arange(n, dtype=np.int64)}
    for j in range(k):
        cols[f"f{j}"] = x[:, j]
    cols["label"] = y_obs.astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_parquet(path, cols)
    truth = {
        "rows": n, "columns": 16, "label": "label", "id": "id",
        "label_flips": sorted(set(flip.tolist()) - set(dst.tolist())),
        "outliers": sorted(set(out_rows.tolist()) - set(dst.tolist())),
        "exact_duplicates": sorted(dst[:m_ex].tolist()),
        "near_duplicates": sorted(dst[m_ex:].tolist()),
    }
    with open(str(path) + ".truth.json", "w") as f:
        json.dump(truth, f)


CASES = [case_label_random, case_label_targeted, case_backdoor, case_backdoor_clean,
         case_outlier_scattered, case_outlier_clustered, case_duplicates, case_schema,
         case_pii, case_diff]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None,
                    help="cases directory (default: beside this script), or with --scale the Parquet path")
    ap.add_argument("--scale", type=int, default=None, metavar="N",
                    help="write an N x 16 Parquet benchmark table to --out instead of the cases")
    a = ap.parse_args(argv)
    if a.scale is not None:
        if a.out is None:
            ap.error("--scale needs --out PATH.parquet")
        scale(a.scale, a.out)
        print(f"wrote {a.out} ({a.scale} rows x 16 columns)")
        return 0
    out = a.out or HERE
    out.mkdir(parents=True, exist_ok=True)
    for f in CASES:
        f(out)
    index = {}
    for d in sorted(p for p in out.iterdir() if (p / "truth.json").is_file()):
        t = json.loads((d / "truth.json").read_text())
        index[d.name] = {"family": t["family"], "file": t["file"], "positives": len(t["positives"])}
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    for name, v in index.items():
        print(f"{name:20s} {v['family']:10s} {v['file']:14s} positives={v['positives']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
