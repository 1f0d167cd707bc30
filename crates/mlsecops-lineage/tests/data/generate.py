#!/usr/bin/env python3
"""Writes the lineage import samples under tests/data/pipeline/.

One small ML pipeline, recorded twice: as OpenLineage run events
(openlineage.jsonl) and as a DVC project (dvc.lock, data/raw.csv.dvc).

    data/raw.csv --clean--> data/clean.csv --train_a--> models/a.pt --+
                                          \\--train_b--> models/b.pt   |
                  data/clean.csv + models/a.pt --finetune--> models/ft.pt

plus, in OpenLineage only, a failed run (train_c -> models/c.pt) that an
import must skip. The "models" are placeholder text, not model files. Run
from anywhere; the output is deterministic.
"""
import hashlib
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent / "pipeline"

FILES = {
    "data/raw.csv": "id,age,income,label\n1,34,52000,0\n2,,61000,1\n3,45,48000,0\n4,29,,1\n5,52,75000,1\n",
    "data/clean.csv": "id,age,income,label\n1,34,52000,0\n3,45,48000,0\n5,52,75000,1\n",
    "models/a.pt": "placeholder weights for model a (not a real model)\n",
    "models/b.pt": "placeholder weights for model b (not a real model)\n",
    "models/ft.pt": "placeholder weights for model ft, fine-tuned from a (not a real model)\n",
    "src/clean.py": "import sys\n# drops rows with missing values\n",
    "src/train.py": "import sys\n# trains a model\n",
    "src/finetune.py": "import sys\n# fine-tunes a base model\n",
    "params.yaml": "clean:\n  drop_na: true\ntrain_a:\n  lr: 0.001\n  epochs: 10\ntrain_b:\n  lr: 0.01\n  epochs: 5\nfinetune:\n  lr: 0.0001\n  epochs: 2\n",
}

COMMIT = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def md5(path):
    return hashlib.md5(FILES[path].encode()).hexdigest()


def size(path):
    return len(FILES[path].encode())


def entry(path, indent):
    pad = " " * indent
    return (
        f"{pad}- path: {path}\n"
        f"{pad}  hash: md5\n"
        f"{pad}  md5: {md5(path)}\n"
        f"{pad}  size: {size(path)}\n"
    )


STAGES = [
    ("clean", "python src/clean.py data/raw.csv data/clean.csv",
     ["data/raw.csv", "src/clean.py"], {"clean.drop_na": "true"}, ["data/clean.csv"]),
    ("train_a", "python src/train.py --data data/clean.csv --arch a --out models/a.pt",
     ["data/clean.csv", "src/train.py"], {"train_a.epochs": "10", "train_a.lr": "0.001"}, ["models/a.pt"]),
    ("train_b", "python src/train.py --data data/clean.csv --arch b --out models/b.pt",
     ["data/clean.csv", "src/train.py"], {"train_b.epochs": "5", "train_b.lr": "0.01"}, ["models/b.pt"]),
    # ruamel.yaml (what DVC writes with) folds long plain scalars at 80 columns.
    ("finetune", "python src/finetune.py --base models/a.pt --data data/clean.csv --out\n      models/ft.pt --epochs 2",
     ["data/clean.csv", "models/a.pt", "src/finetune.py"], {"finetune.epochs": "2", "finetune.lr": "0.0001"},
     ["models/ft.pt"]),
]


def dvc_lock():
    out = "schema: '2.0'\nstages:\n"
    for name, cmd, deps, params, outs in STAGES:
        out += f"  {name}:\n    cmd: {cmd}\n    deps:\n"
        out += "".join(entry(d, 4) for d in deps)
        out += "    params:\n      params.yaml:\n"
        out += "".join(f"        {k}: {v}\n" for k, v in params.items())
        out += "    outs:\n" + "".join(entry(o, 4) for o in outs)
    return out


def raw_dvc():
    p = "data/raw.csv"
    return f"outs:\n- md5: {md5(p)}\n  size: {size(p)}\n  hash: md5\n  path: raw.csv\n"


def ds(path, facets=None):
    d = {"namespace": "file", "name": path}
    if facets:
        d["facets"] = facets
    return d


PRODUCER = "https://github.com/mlsecops/mlsecops/tests/data/generate.py"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def facet(schema, **fields):
    if schema.startswith("https://"):
        url = schema  # a custom facet
    else:
        url = f"https://openlineage.io/spec/facets/1-0-0/{schema}.json"
    return {"_producer": PRODUCER, "_schemaURL": url, **fields}


def model_type():
    return {"datasetType": facet("DatasetTypeDatasetFacet", datasetType="MODEL")}


CSV_SCHEMA = {"schema": facet("SchemaDatasetFacet", fields=[
    {"name": "id", "type": "integer"}, {"name": "age", "type": "integer"},
    {"name": "income", "type": "integer"}, {"name": "label", "type": "integer"}])}

RUNS = [
    # (runId, job, minute, inputs, outputs, hyperparameters, final state)
    ("01930f6e-0000-7000-8000-00000000c1ea", "clean", 0,
     [ds("data/raw.csv", CSV_SCHEMA)], [ds("data/clean.csv", CSV_SCHEMA)], {"drop_na": True}, "COMPLETE"),
    ("01930f6e-0000-7000-8000-0000000000a1", "train_a", 10,
     [ds("data/clean.csv")], [ds("models/a.pt", model_type())], {"lr": 0.001, "epochs": 10}, "COMPLETE"),
    ("01930f6e-0000-7000-8000-0000000000b1", "train_b", 20,
     [ds("data/clean.csv")], [ds("models/b.pt")], {"lr": 0.01, "epochs": 5}, "COMPLETE"),
    ("01930f6e-0000-7000-8000-0000000000c1", "train_c", 25,
     [ds("data/clean.csv")], [ds("models/c.pt")], {"lr": 10.0, "epochs": 1}, "FAIL"),
    ("01930f6e-0000-7000-8000-0000000000f1", "finetune", 30,
     [ds("models/a.pt", model_type()), ds("data/clean.csv")], [ds("models/ft.pt", model_type())],
     {"lr": 0.0001, "epochs": 2}, "COMPLETE"),
]


def event(run_id, job, time, state, inputs, outputs, params):
    run_facets = {
        "processing_engine": facet("ProcessingEngineRunFacet", name="python", version="3.12.4",
                                   openlineageAdapterVersion="1.24.2"),
        "hyperparameters": facet("https://github.com/mlsecops/mlsecops/schemas/HyperparametersRunFacet.json", **params),
    }
    if state == "FAIL":
        run_facets["errorMessage"] = facet("ErrorMessageRunFacet", message="loss diverged", programmingLanguage="python")
    return {
        "eventType": state,
        "eventTime": time,
        "run": {"runId": run_id, "facets": run_facets},
        "job": {"namespace": "mlsecops-demo", "name": job, "facets": {
            "sourceCodeLocation": facet("SourceCodeLocationJobFacet", type="git",
                                        url="https://git.example.com/ml/pipeline", version=COMMIT),
        }},
        "inputs": inputs,
        "outputs": outputs,
        "producer": PRODUCER,
        "schemaURL": SCHEMA,
    }


def openlineage():
    lines = []
    for run_id, job, minute, inputs, outputs, params, final in RUNS:
        start = f"2025-01-15T09:{minute:02d}:00.000Z"
        end = f"2025-01-15T09:{minute + 4:02d}:30.000Z"
        # START names the inputs only; the outputs arrive with the end event.
        lines.append(event(run_id, job, start, "START", inputs, [], params))
        lines.append(event(run_id, job, end, final, inputs, outputs if final == "COMPLETE" else [], params))
    return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)


def main():
    for path, text in FILES.items():
        (ROOT / path).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / path).write_text(text)
    (ROOT / "dvc.lock").write_text(dvc_lock())
    (ROOT / "data/raw.csv.dvc").write_text(raw_dvc())
    (ROOT / "openlineage.jsonl").write_text(openlineage())


if __name__ == "__main__":
    main()
