"""A custom loss: softmax cross-entropy over a batch of logits.

loss[i] = logsumexp(logits[i]) - logits[i, label[i]], computed stably (row max
subtracted). The output is the per-sample loss vector, which checks more than its mean.

Error bound (first order, worst case, per row of C logits l with max m; u = eps/2), the
shifted log-sum-exp analysis of Blanchard, Higham & Higham (IMA J. Numer. Anal. 41(4),
2021) extended by the final subtraction. d_j = l_j - m is rounded (u |d_j|), and exp
turns that into a relative error |d_j| u of e_j = exp(d_j), on top of its own EXP_ULPS u.
The sum s of C positive terms, in any order, adds at most (C - 1) u relative. log(s) turns
the relative error of s into an absolute one and adds LOG_ULPS u |log s|; the two
additions with m and l_label add 2 u (|log s| + |m| + |l_label|). So, with p = softmax(l),

    |loss - loss^| <= u ((C - 1) + EXP_ULPS + sum_j p_j |l_j - m|
                         + (LOG_ULPS + 2) |log s| + 2 |m| + 2 |l_label|).

`error_scale` is the bracket; the tolerance is eps = 2u (the flavor's bound plus the
float64 reference's own). An exp with 1e-3 relative error moves log(s) by up to 1e-3,
~1.7e4 u in float32, against ~1e3 u allowed for C = 1000. The (C - 1) is the worst case of
recursive summation; measured errors are below 0.7 of the whole bound for every flavor.
"""

from __future__ import annotations

import math

import numpy as np

from suite.workloads.base import Flavor, Inputs, Params, Workload, eps


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


EXP_ULPS = LOG_ULPS = 8.0  # units of u: above every exp/log the flavors use (<= 1-4 u)


def error_scale(i: Inputs, p: Params, ref: np.ndarray) -> np.ndarray:
    """The bound above in units of u, per row (inf for rows that are not finite: the
    check compares those by their NaN/inf pattern only)."""
    lg = i["logits"].astype(np.float64)
    rows, classes = lg.shape
    with np.errstate(all="ignore"):
        m = lg.max(axis=1, keepdims=True)
        d = np.abs(lg - m)
        e = np.exp(-d)
        s = e.sum(axis=1)
        spread = np.sum(np.where(e > 0, e * d, 0.0), axis=1) / s  # sum_j p_j |l_j - m|
        label = np.abs(lg[np.arange(rows), i["labels"]])
        scale = (classes - 1 + EXP_ULPS + spread + (LOG_ULPS + 2) * np.abs(np.log(s))
                 + 2 * np.abs(m[:, 0]) + 2 * label)
    return np.where(np.isfinite(scale), scale, np.inf)


def tolerance(p: Params) -> float:
    return eps(p["dtype"])


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
        "reference": [{"batch": 1024, "classes": 1000, "dtype": "float32"}],
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
