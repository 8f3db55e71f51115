#!/usr/bin/env python3
"""
Reference values for mixhead's metrics (src/train/metrics.ts) from scikit-learn, written once to
test/fixtures/sklearn-metrics.json so that tests compare against them without needing Python.

Definitions followed (scikit-learn 1.2):
- accuracy: accuracy_score(y, argmax(probs)) (argmax keeps the lowest index among ties);
- top-k: top_k_accuracy_score(y, probs, k=min(5, K), labels=range(K)) (ties: the higher class
  index ranks first);
- micro/macro F1: f1_score(Y, probs >= threshold, average=..., zero_division=0), averaged over all
  labels (a class with no positive and no prediction counts as F1 0);
- AP per class: average_precision_score(Y[:, c], probs[:, c]) (tied scores are one threshold; a
  class with no positive gets 0); mAP: their mean over all classes.
- NLL: log_loss(y, probs, eps=1e-7, labels=range(K)) on row-normalised cases (log_loss renormalises
  rows); multi-label: log_loss over the flattened (target, probability) pairs, labels [0, 1];
- per-class precision/recall/F1: precision_recall_fscore_support(y, argmax, labels=range(K),
  zero_division=0); balanced_accuracy_score(y, argmax); confusion_matrix(y, argmax, labels=range(K));
- Brier: scikit-learn 1.2's brier_score_loss is binary. Multi-label: brier_score_loss over the
  flattened pairs (= the mean over labels). Single-label: the original multi-class definition
  (Brier 1950), mean_i sum_k (p_ik - y_ik)^2, in float64 numpy; for K = 2 it is twice
  brier_score_loss(y == 1, p[:, 1]), which the "two classes" case checks.

Scores are multiples of 1/20 or 1/8 rounded to float32 first, so ties survive the trip to float32.

Run: /usr/bin/python3 scripts/sklearn-reference.py > test/fixtures/sklearn-metrics.json
"""
import json
import re
import warnings

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score, brier_score_loss,
                             confusion_matrix, f1_score, log_loss, precision_recall_fscore_support,
                             top_k_accuracy_score)

warnings.simplefilter("ignore")
rng = np.random.default_rng(20261125)


def f32(a):
    return np.asarray(a, dtype=np.float32)


def single(name, probs, labels):
    probs = f32(probs)
    n, k = probs.shape
    assert k > 2  # top_k_accuracy_score takes a 1-d score for two classes
    labels = np.asarray(labels)
    p64 = probs.astype(np.float64)
    return {
        "name": name,
        "k": k,
        "probs": [float(v) for v in probs.ravel()],
        "labels": [int(v) for v in labels],
        "accuracy": float(accuracy_score(labels, p64.argmax(axis=1))),
        "topK": min(5, k),
        "top5": float(top_k_accuracy_score(labels, p64, k=min(5, k), labels=list(range(k)))),
        **diagnostics(p64, labels),
    }


def diagnostics(p64, labels):
    n, k = p64.shape
    pred = p64.argmax(axis=1)
    prec, rec, f1, support = precision_recall_fscore_support(labels, pred, labels=list(range(k)), zero_division=0)
    out = {
        "precision": [float(v) for v in prec],
        "recall": [float(v) for v in rec],
        "f1": [float(v) for v in f1],
        "macroF1": float(f1_score(labels, pred, labels=list(range(k)), average="macro", zero_division=0)),
        "balancedAccuracy": float(balanced_accuracy_score(labels, pred)),
        "confusion": confusion_matrix(labels, pred, labels=list(range(k))).tolist(),
    }
    if np.allclose(p64.sum(axis=1), 1, atol=1e-5):
        onehot = np.eye(k)[labels]
        out["nll"] = float(log_loss(labels, p64, eps=1e-7, labels=list(range(k))))
        out["brier"] = float(np.mean(np.sum((p64 - onehot) ** 2, axis=1)))
        if k == 2:
            out["brierBinaryTimes2"] = 2 * float(brier_score_loss(labels == 1, p64[:, 1]))
    return out


def multi(name, probs, targets, threshold=0.5):
    probs = f32(probs)
    targets = np.asarray(targets, dtype=np.int64)
    n, k = probs.shape
    p64 = probs.astype(np.float64)
    pred = (p64 >= threshold).astype(np.int64)
    aps = []
    for c in range(k):
        if targets[:, c].sum() == 0:
            ap = 0.0  # scikit-learn: "No positive class found in y_true": recall undefined, AP 0
            # confirm the library says the same:
            ap_lib = float(average_precision_score(targets[:, c], p64[:, c]))
            assert abs(ap_lib) == 0.0 or np.isnan(ap_lib), ap_lib
        else:
            ap = float(average_precision_score(targets[:, c], p64[:, c]))
        aps.append(ap)
    return {
        "name": name,
        "k": k,
        "threshold": threshold,
        "probs": [float(v) for v in probs.ravel()],
        "targets": [int(v) for v in targets.ravel()],
        "microF1": float(f1_score(targets, pred, average="micro", zero_division=0)),
        "macroF1": float(f1_score(targets, pred, average="macro", zero_division=0)),
        "perClassF1": [float(v) for v in f1_score(targets, pred, average=None, zero_division=0)],
        "ap": aps,
        "mAP": float(np.mean(aps)),
        "nll": float(log_loss(targets.ravel(), p64.ravel(), eps=1e-7, labels=[0, 1])),
        "brier": float(brier_score_loss(targets.ravel(), p64.ravel(), pos_label=1)),
    }


def softmax_rows(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


singles = []
# Ties everywhere: scores on a coarse grid (not normalised: argmax/top-k only need the order).
s = rng.integers(0, 4, size=(40, 7)) / 8
singles.append(single("ties on a coarse grid, 7 classes", s, rng.integers(0, 7, size=40)))
# The true class tied with others at the top-5 boundary.
row = np.array([0.5, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.125])
singles.append(single("true class tied at the top-5 boundary", np.stack([row] * 8), np.arange(8)))
# All correct / all wrong.
z = rng.normal(size=(30, 4))
y = z.argmax(axis=1)
singles.append(single("all correct", softmax_rows(z), y))
singles.append(single("all wrong", softmax_rows(z), (y + 1) % 4))
# A plain random case with 12 classes.
z = rng.normal(size=(60, 12))
singles.append(single("random, 12 classes", softmax_rows(z), rng.integers(0, 12, size=60)))
# Fewer classes than 5 (top-k = K: everything counts).
singles.append(single("3 classes", softmax_rows(rng.normal(size=(10, 3))), rng.integers(0, 3, size=10)))

multis = []
t = (rng.random((50, 6)) < 0.3).astype(int)
t[:, 4] = 0  # a class with no positive
p = rng.integers(0, 21, size=(50, 6)) / 20  # ties
multis.append(multi("ties and an empty class", p, t))
t = (rng.random((30, 5)) < 0.4).astype(int)
t[0, :] = 1
multis.append(multi("all correct", np.where(t == 1, 0.875, 0.125), t))
multis.append(multi("all wrong", np.where(t == 1, 0.125, 0.875), t))
t = np.zeros((20, 4), dtype=int)
multis.append(multi("no positives at all, nothing predicted", np.full((20, 4), 0.25), t))
t = (rng.random((80, 8)) < 0.25).astype(int)
p = 1 / (1 + np.exp(-(2.5 * (t - 0.5) + rng.normal(size=(80, 8)))))
multis.append(multi("random, threshold 0.5", p, t))
multis.append(multi("random, threshold 0.3", p, t, threshold=0.3))
t = (rng.random((40, 5)) < 0.3).astype(int)
p = np.full((40, 5), 0.5)
p[:20] = 0.75
multis.append(multi("one big tie per half", p, t))

# Cases added for the calibration and per-class diagnostics (drawn after the cases above, so their
# values are unchanged): two classes (Brier against brier_score_loss), a class never predicted and a
# class absent from the targets (zero_division, balanced accuracy over present classes).
binary_z = rng.normal(size=(25, 2))
binaries = [{"name": "two classes", "k": 2, "probs": [float(v) for v in f32(softmax_rows(binary_z)).ravel()], "labels": [int(v) for v in rng.integers(0, 2, size=25)]}]
binaries[0].update(diagnostics(f32(binaries[0]["probs"]).astype(np.float64).reshape(25, 2), np.asarray(binaries[0]["labels"])))
z = rng.normal(size=(30, 5))
z[:, 3] -= 10  # class 3 is never predicted
y = rng.integers(0, 4, size=30)  # class 4 never occurs
singles_extra = [single("a class never predicted, a class absent", softmax_rows(z), y)]

out = json.dumps({"sklearn": sklearn.__version__, "single": singles + singles_extra, "binary": binaries, "multi": multis}, indent=1)
# One case per block, each list on one line.
print(re.sub(r"\[[^\[\]{}]*\]", lambda m: re.sub(r"\s+", "", m.group(0)).replace(",", ", "), out))
