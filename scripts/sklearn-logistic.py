#!/usr/bin/env python3
"""
Reference fits for the logistic-regression floor (src/train/floors.ts) from scikit-learn, written once
to test/fixtures/sklearn-logistic.json so the test needs no Python.

LogisticRegression(C) minimises ½‖W‖² + C·Σᵢ CEᵢ (intercept not penalised with lbfgs); dividing by C·N
gives floors.ts's mean CE + (λ/2)‖W‖² with λ = 1/(C·N). Single-label: multinomial; multi-label: one
binary fit per label (the floor's per-label sigmoid).

Run: /usr/bin/python3 scripts/sklearn-logistic.py
"""
import json

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

rng = np.random.default_rng(5)
out = {}
X = rng.normal(size=(60, 5))
W = rng.normal(size=(5, 3))
y = (X @ W + rng.normal(size=(60, 3))).argmax(1)
m = LogisticRegression(C=1.0, multi_class="multinomial", solver="lbfgs", tol=1e-12, max_iter=10000).fit(X, y)
Xq = rng.normal(size=(10, 5))
out["single"] = {"x": X.ravel().tolist(), "y": y.tolist(), "d": 5, "k": 3, "C": 1.0, "query": Xq.ravel().tolist(),
                 "probs": m.predict_proba(Xq).ravel().tolist(), "coef": m.coef_.T.ravel().tolist(), "intercept": m.intercept_.tolist()}
Y = (X @ rng.normal(size=(5, 2)) + rng.normal(size=(60, 2)) > 0).astype(int)
probs, coefs, ints = [], [], []
for c in range(2):
    mm = LogisticRegression(C=0.5, solver="lbfgs", tol=1e-12, max_iter=10000).fit(X, Y[:, c])
    probs.append(mm.predict_proba(Xq)[:, 1])
    coefs.append(mm.coef_[0])
    ints.append(mm.intercept_[0])
out["multi"] = {"x": X.ravel().tolist(), "targets": Y.ravel().tolist(), "d": 5, "k": 2, "C": 0.5, "query": Xq.ravel().tolist(),
                "probs": np.stack(probs, 1).ravel().tolist(), "coef": np.stack(coefs, 1).ravel().tolist(), "intercept": ints}
out["sklearn"] = sklearn.__version__
with open("test/fixtures/sklearn-logistic.json", "w") as f:
    json.dump(out, f)
