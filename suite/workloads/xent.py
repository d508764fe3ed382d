"""A custom loss: softmax cross-entropy over a batch of logits.

loss[i] = logsumexp(logits[i]) - logits[i, label[i]], computed stably (row max
subtracted). The output is the per-sample loss vector, which checks more than its mean.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Flavor, Inputs, Params, Workload, eps


def make_inputs(p: Params, rng: np.random.Generator) -> Inputs:
    b, c = p["batch"], p["classes"]
    return {
        "logits": (4.0 * rng.standard_normal((b, c))).astype(p["dtype"]),
        "labels": rng.integers(0, c, size=b, dtype=np.int64),
    }


def _xent(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    m = logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(logits - m).sum(axis=1)) + m[:, 0]
    return lse - logits[np.arange(len(labels)), labels]


def reference(i: Inputs, p: Params) -> np.ndarray:
    return _xent(i["logits"].astype(np.float64), i["labels"])


def error_scale(i: Inputs, p: Params, ref: np.ndarray) -> np.ndarray:
    return np.abs(ref) + np.abs(i["logits"].astype(np.float64)).max(axis=1) + 1.0


def tolerance(p: Params) -> float:
    return (4 * p["classes"] + 16) * eps(p["dtype"])


def xent_pure(logits: list, labels: list, threads: int = 1) -> list:
    exp, log = math.exp, math.log
    out = []
    for row, label in zip(logits, labels):
        m = max(row)
        s = 0.0
        for v in row:
            s += exp(v - m)
        out.append(log(s) + m - row[label])
    return out


def xent_numpy(logits: np.ndarray, labels: np.ndarray, threads: int = 1) -> np.ndarray:
    return _xent(logits, labels)


WORKLOAD = Workload(
    name="xent",
    summary="softmax cross-entropy, per-sample loss over a batch of float32 logits",
    params={
        "smoke": [{"batch": 64, "classes": 100, "dtype": "float32"}],
        "quick": [{"batch": 1024, "classes": 1000, "dtype": "float32"}],
        "full": [{"batch": 4096, "classes": 1000, "dtype": "float32"}],
    },
    make_inputs=make_inputs,
    reference=reference,
    error_scale=error_scale,
    tolerance=tolerance,
    flavors={
        "pure": Flavor("pure", xent_pure,
                       prepare=lambda i, p: (i["logits"].tolist(), i["labels"].tolist())),
        "numpy": Flavor("numpy", xent_numpy,
                        prepare=lambda i, p: (i["logits"], i["labels"]), threaded=True),
    },
    work=lambda p: float(p["batch"] * p["classes"]),
    flops=None,
)
