#!/usr/bin/env python3
"""Generates the ONNX test models of mlsecops-model and their reference
outputs, from scikit-learn's bundled digits (8x8 images, nothing downloaded).

    python generate.py [--out DIR]      (default: this directory)

Writes, all deterministic for the pinned versions in requirements.txt:
  logreg.onnx  LogisticRegression            (skl2onnx, zipmap off)
  mlp.onnx     MLPClassifier(32) relu        (skl2onnx, zipmap off)
  rf.onnx      RandomForestClassifier(20, depth 8): a tree ensemble
  cnn.onnx     Conv3x3(8) -> Relu -> MaxPool2 -> Flatten -> Gemm -> Softmax,
               input N x 1 x 8 x 8, built with onnx.helper; the convolution
               and the dense layer are trained here with numpy
  zipmap.onnx  the LogisticRegression with skl2onnx's default ZipMap output,
               an operator tract does not implement (the error test)
  test.csv     the held-out split: p0..p63 in [0, 1] and `label`
  train.csv    the training split, same columns
  reference.json  for each model: input name and shape, and onnxruntime's
               probabilities on the first 32 test rows (the agreement tests
               compare every backend with these within 1e-5)
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import to_onnx
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

SEED = 0
OPSET = {"": 17, "ai.onnx.ml": 3}


def sklearn_model(clf, x):
    m = to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}, target_opset=OPSET)
    m.producer_name = "mlsecops-fixture"
    return m


def cnn_model(x_train, y_train):
    """A small CNN trained by full-batch gradient descent in numpy."""
    rng = np.random.default_rng(SEED)
    n_f = 8
    w1 = rng.normal(0, 0.5, (n_f, 1, 3, 3)).astype(np.float32)
    b1 = np.zeros(n_f, np.float32)
    w2 = np.zeros((n_f * 16, 10), np.float32)
    b2 = np.zeros(10, np.float32)
    x = x_train.reshape(-1, 1, 8, 8)
    y1h = np.eye(10, dtype=np.float32)[y_train]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    # im2col: n x 9 x 8 x 8
    cols = np.stack([xp[:, 0, i:i + 8, j:j + 8] for i in range(3) for j in range(3)], 1)
    lr = 0.5
    for _ in range(400):
        c = np.einsum("nkhw,ok->nohw", cols, w1.reshape(n_f, 9)) + b1[None, :, None, None]
        r = np.maximum(c, 0)
        rr = r.reshape(len(x), n_f, 4, 2, 4, 2)
        p = rr.max((3, 5))
        f = p.reshape(len(x), -1)
        z = f @ w2 + b2
        z -= z.max(1, keepdims=True)
        e = np.exp(z)
        prob = e / e.sum(1, keepdims=True)
        g = (prob - y1h) / len(x)
        gw2 = f.T @ g
        gb2 = g.sum(0)
        gf = (g @ w2.T).reshape(p.shape)
        mask = (rr == p[:, :, :, None, :, None])
        gr = (mask * gf[:, :, :, None, :, None]).reshape(r.shape) * (c > 0)
        gw1 = np.einsum("nohw,nkhw->ok", gr, cols).reshape(w1.shape)
        gb1 = gr.sum((0, 2, 3))
        w2 -= lr * gw2
        b2 -= lr * gb2
        w1 -= 0.1 * lr * gw1.astype(np.float32)
        b1 -= 0.1 * lr * gb1.astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "W1", "B1"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["m"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["m"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "W2", "B2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    inits = [numpy_helper.from_array(a.astype(np.float32), n)
             for a, n in [(w1, "W1"), (b1, "B1"), (w2, "W2"), (b2, "B2")]]
    g = helper.make_graph(
        nodes, "small_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])],
        inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="mlsecops-fixture")
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    return m


def write_csv(path: Path, x, y):
    cols = [f"p{i}" for i in range(x.shape[1])]
    with path.open("w") as f:
        f.write(",".join(cols + ["label"]) + "\n")
        for row, label in zip(x, y):
            f.write(",".join(f"{v:.4f}" for v in row) + f",{label}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    d = load_digits()
    # Rounded as written to the CSVs, so Rust reads exactly these values.
    x = np.round(d.data / 16.0, 4).astype(np.float32)
    y = d.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=297, random_state=SEED, stratify=y)
    write_csv(a.out / "train.csv", x_tr, y_tr)
    write_csv(a.out / "test.csv", x_te, y_te)
    models = {
        "logreg": sklearn_model(LogisticRegression(max_iter=2000, C=1.0).fit(x_tr, y_tr), x_tr),
        "mlp": sklearn_model(MLPClassifier((32,), max_iter=600, random_state=SEED).fit(x_tr, y_tr), x_tr),
        "rf": sklearn_model(RandomForestClassifier(20, max_depth=8, random_state=SEED).fit(x_tr, y_tr), x_tr),
        "cnn": cnn_model(x_tr, y_tr),
    }
    lr = LogisticRegression(max_iter=200).fit(x_tr[:300], y_tr[:300])
    zm = to_onnx(lr, x_tr[:1], target_opset=OPSET)
    zm.producer_name = "mlsecops-fixture"
    (a.out / "zipmap.onnx").write_bytes(zm.SerializeToString())
    ref = {}
    probe = x_te[:32]
    for name, m in models.items():
        blob = m.SerializeToString()
        (a.out / f"{name}.onnx").write_bytes(blob)
        s = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
        inp = s.get_inputs()[0]
        xin = probe.reshape(-1, 1, 8, 8) if name == "cnn" else probe
        out = {o.name: v for o, v in zip(s.get_outputs(), s.run(None, {inp.name: xin}))}
        probs = out["probabilities"]
        full = s.run(None, {inp.name: x_te.reshape(-1, 1, 8, 8) if name == "cnn" else x_te})
        acc = float((dict(zip([o.name for o in s.get_outputs()], full))["probabilities"].argmax(1) == y_te).mean())
        ref[name] = {
            "input": inp.name,
            "shape": [-1, 1, 8, 8] if name == "cnn" else [-1, 64],
            "ops": sorted({f"{n.domain or 'ai.onnx'}/{n.op_type}" for n in m.graph.node}),
            "test_accuracy": acc,
            "probabilities": np.round(probs.astype(np.float64), 7).tolist(),
        }
        print(f"{name}: {len(blob)} bytes, test accuracy {acc:.3f}, ops {ref[name]['ops']}")
    (a.out / "reference.json").write_text(json.dumps(ref, indent=1) + "\n")


if __name__ == "__main__":
    main()
