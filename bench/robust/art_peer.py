#!/usr/bin/env python3
"""IBM's Adversarial Robustness Toolbox (ART) on the ONNX fixtures of
mlsecops-model, case by case, for `bench/robust/run.sh`.

Every model's predictions come from onnxruntime on the exact ONNX file
mlsecops attacks. PGD needs loss gradients, and ART has no scikit-learn MLP
wrapper (and torch is not installable here), so the MLP, the CNN and the
logistic regression are re-implemented in numpy from the ONNX initializers
(forward checked against onnxruntime to 1e-5) and given to ART through its
LossGradientsMixin. Queries are counted by wrapping the prediction function.

    python art_peer.py --models DIR --samples 100 --out art.jsonl [--cases pgd:mlp,...]

Prints one JSON object per case (and writes them as JSON lines):
model, attack, norm, eps, samples, clean_accuracy, robust_accuracy,
success_rate (initially right samples flipped within eps), mean_queries,
seconds (the attack's generate call only).
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

warnings.filterwarnings("ignore")

from art.attacks.evasion import HopSkipJump, ProjectedGradientDescent, SquareAttack  # noqa: E402
from art.estimators.classification import BlackBoxClassifier, BlackBoxClassifierNeuralNetwork  # noqa: E402
from art.estimators.estimator import LossGradientsMixin  # noqa: E402

# The cases: (attack, model). Budgets are shared with run.sh.
CASES = [
    ("pgd", "mlp"), ("pgd", "cnn"), ("pgd", "logreg"),
    ("square", "mlp"), ("square", "rf"), ("square", "cnn"),
    ("hsj", "mlp"), ("hsj", "rf"), ("hsj", "cnn"),
    ("hsj-default", "mlp"), ("hsj-default", "rf"), ("hsj-default", "cnn"),
]
PGD = dict(eps=0.1, eps_step=0.01, max_iter=40)
SQUARE = dict(eps=0.1, max_queries=1000, p_init=0.8)
HSJ = dict(eps=1.0, max_iter=10, max_eval=1000, init_eval=100, init_size=100)
# ART's own defaults for HopSkipJump (the converged comparison).
HSJ_DEFAULT = dict(eps=1.0, max_iter=50, max_eval=10000, init_eval=100, init_size=100)


def load_test(models: Path, n: int):
    rows = np.loadtxt(models / "test.csv", delimiter=",", skiprows=1, dtype=np.float32)
    return rows[:n, :64], rows[:n, 64].astype(np.int64)


class Counted:
    """onnxruntime predictions on rows of 64 values, counting rows."""

    def __init__(self, path: Path, image: bool):
        self.sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.inp = self.sess.get_inputs()[0].name
        self.image = image
        self.queries = 0

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
        self.queries += len(x)
        feed = x.reshape(-1, 1, 8, 8) if self.image else x
        out = self.sess.run(None, {self.inp: feed})
        names = [o.name for o in self.sess.get_outputs()]
        return out[names.index("probabilities")]


def weights(path: Path):
    m = onnx.load(str(path))
    w = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}
    for node in m.graph.node:
        if node.op_type == "LinearClassifier":
            a = {x.name: x for x in node.attribute}
            c = np.array(a["coefficients"].floats, dtype=np.float64).reshape(10, -1)
            w["coef"], w["intercept"] = c, np.array(a["intercepts"].floats, dtype=np.float64)
    return w


def softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def numpy_model(name: str, w):
    """Returns (proba, grad) over rows of 64 values; grad of -log p[y] (y one-hot)."""
    if name == "logreg":
        def proba(x):
            return softmax(x @ w["coef"].T + w["intercept"])

        def grad(x, y):
            return (proba(x) - y) @ w["coef"]
        return proba, grad
    if name == "mlp":
        w1, b1 = w["coefficient"], w["intercepts"].reshape(-1)
        w2, b2 = w["coefficient1"], w["intercepts1"].reshape(-1)

        def fwd(x):
            a = x @ w1 + b1
            h = np.maximum(a, 0)
            return a, softmax(h @ w2 + b2)

        def grad(x, y):
            a, p = fwd(x)
            return (((p - y) @ w2.T) * (a > 0)) @ w1.T
        return (lambda x: fwd(x)[1]), grad
    if name == "cnn":
        k1 = w["W1"].reshape(8, 9)
        b1, w2, b2 = w["B1"], w["W2"], w["B2"]

        def cols_of(x):
            xp = np.pad(x.reshape(-1, 8, 8), ((0, 0), (1, 1), (1, 1)))
            return np.stack([xp[:, i:i + 8, j:j + 8] for i in range(3) for j in range(3)], 1)

        def fwd(x):
            c = np.einsum("nkhw,ok->nohw", cols_of(x), k1) + b1[None, :, None, None]
            r = np.maximum(c, 0)
            rr = r.reshape(len(x), 8, 4, 2, 4, 2)
            m = rr.max((3, 5))
            return c, rr, m, softmax(m.reshape(len(x), -1) @ w2 + b2)

        def grad(x, y):
            c, rr, m, p = fwd(x)
            gm = ((p - y) @ w2.T).reshape(m.shape)
            mask = rr == m[:, :, :, None, :, None]
            # One maximum per window takes the gradient (the first, as onnxruntime's).
            first = np.cumsum(mask.reshape(len(x), 8, 4, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5)
                              .reshape(len(x), 8, 4, 4, 4), -1)
            keep = ((first == 1) & mask.transpose(0, 1, 2, 4, 3, 5).reshape(len(x), 8, 4, 4, 4))
            keep = keep.reshape(len(x), 8, 4, 4, 2, 2).transpose(0, 1, 2, 4, 3, 5)
            gr = (keep * gm[:, :, :, None, :, None]).reshape(c.shape) * (c > 0)
            gcols = np.einsum("nohw,ok->nkhw", gr, k1)
            gxp = np.zeros((len(x), 10, 10))
            for k, (i, j) in enumerate((i, j) for i in range(3) for j in range(3)):
                gxp[:, i:i + 8, j:j + 8] += gcols[:, k]
            return gxp[:, 1:9, 1:9].reshape(len(x), 64)
        return (lambda x: fwd(x)[3]), grad
    raise ValueError(name)


class GradientClassifier(LossGradientsMixin, BlackBoxClassifierNeuralNetwork):
    """A black-box classifier that also returns loss gradients (numpy)."""

    def __init__(self, predict, grad):
        super().__init__(predict, input_shape=(64,), nb_classes=10, clip_values=(0.0, 1.0))
        self._grad = grad
        self.gradient_calls = 0

    def loss_gradient(self, x, y, **kwargs):
        self.gradient_calls += len(x)
        x = np.asarray(x, dtype=np.float64).reshape(len(x), 64)
        return self._grad(x, y).astype(np.float32)


def run_case(attack: str, name: str, models: Path, x, y):
    path = models / f"{name}.onnx"
    image = name == "cnn"
    model = Counted(path, image)
    clean_pred = model(x).argmax(1)
    correct = clean_pred == y
    model.queries = 0
    onehot = np.eye(10, dtype=np.float32)[y]
    if attack == "pgd":
        proba, grad = numpy_model(name, weights(path))
        gap = np.abs(proba(x.astype(np.float64)) - model(x)).max()
        assert gap < 1e-5, f"{name}: numpy forward differs from onnxruntime by {gap}"
        model.queries = 0
        clf = GradientClassifier(model, grad)
        atk = ProjectedGradientDescent(clf, norm=np.inf, eps=PGD["eps"], eps_step=PGD["eps_step"],
                                       max_iter=PGD["max_iter"], num_random_init=0, batch_size=128,
                                       verbose=False)
        eps, norm = PGD["eps"], "linf"
    elif attack == "square":
        # ART's Square Attack wants image-shaped inputs: every model sees
        # the 64 values as a 1×8×8 image (mlsecops runs with --layout 1,8,8).
        clf = BlackBoxClassifierNeuralNetwork(lambda z: model(z.reshape(len(z), 64)), input_shape=(1, 8, 8),
                                              nb_classes=10, clip_values=(0.0, 1.0), channels_first=True)
        atk = SquareAttack(clf, norm=np.inf, eps=SQUARE["eps"], max_iter=SQUARE["max_queries"] - 2,
                           p_init=SQUARE["p_init"], nb_restarts=1, batch_size=128, verbose=False)
        eps, norm = SQUARE["eps"], "linf"
    else:
        cfg = HSJ_DEFAULT if attack == "hsj-default" else HSJ
        clf = BlackBoxClassifier(model, input_shape=(64,), nb_classes=10, clip_values=(0.0, 1.0))
        atk = HopSkipJump(clf, targeted=False, norm=2, max_iter=cfg["max_iter"], max_eval=cfg["max_eval"],
                          init_eval=cfg["init_eval"], init_size=cfg["init_size"], batch_size=128, verbose=False)
        eps, norm = cfg["eps"], "l2"
    xin = x.reshape(-1, 1, 8, 8) if attack == "square" else x
    model.queries = 0
    start = time.perf_counter()
    adv = atk.generate(x=xin, y=onehot)
    seconds = time.perf_counter() - start
    queries = model.queries + (clf.gradient_calls if attack == "pgd" else 0)
    adv = np.asarray(adv, dtype=np.float32).reshape(len(x), 64)
    pred = model(adv).argmax(1)
    dist = np.abs(adv - x).max(1) if norm == "linf" else np.sqrt(((adv - x) ** 2).sum(1))
    inside = dist <= eps * (1 + 1e-5) + 1e-6
    flipped = correct & (pred != y) & inside
    n_correct = int(correct.sum())
    return {
        "model": name,
        "attack": attack,
        "norm": norm,
        "eps": eps,
        "samples": int(len(x)),
        "clean_accuracy": float(correct.mean()),
        "robust_accuracy": float((correct & ~flipped).mean()),
        "success_rate": float(flipped.sum() / max(n_correct, 1)),
        "mean_queries": float(queries / max(n_correct, 1)),
        "seconds": seconds,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=Path, required=True)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--cases", default="", help="comma list of attack:model (default: all)")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    np.random.seed(0)
    x, y = load_test(a.models, a.samples)
    cases = [tuple(c.split(":")) for c in a.cases.split(",") if c] or CASES
    with a.out.open("w") as f:
        for attack, name in cases:
            r = run_case(attack, name, a.models, x, y)
            print(json.dumps(r), flush=True)
            f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
