"""The article's linear-regression training loop: plain SGD on mean squared error.

Setup from the article's code: input_dim 10, batch 64, lr 0.01, true weights 1..10,
noise 0.1, 5 epochs x 100 batches. The batches are drawn once from the seed (an epoch is
one pass over the same 100 batches), so only training is timed. The output is the final
weights followed by the bias; the float64 reference must land near the true weights.
"""

from __future__ import annotations

import numpy as np

from .base import Flavor, Inputs, Params, Workload, eps


def make_inputs(p: Params, rng: np.random.Generator) -> Inputs:
    nb, bs, dim = p["batches"], p["batch"], p["dim"]
    x = rng.standard_normal((nb, bs, dim)).astype(p["dtype"])
    true_w = np.arange(1, dim + 1, dtype=np.float64)
    y = x.astype(np.float64) @ true_w + 0.1 * rng.standard_normal((nb, bs))
    return {
        "x": x,
        "y": y.astype(p["dtype"]),
        "w0": rng.standard_normal(dim).astype(p["dtype"]),
        "b0": np.zeros(1, dtype=p["dtype"]),
    }


def _sgd_numpy(x, y, w0, b0, lr, epochs):
    w = w0.copy()
    b = w.dtype.type(b0)
    scale = w.dtype.type(2.0 / x.shape[1])
    lr = w.dtype.type(lr)
    for _ in range(epochs):
        for xb, yb in zip(x, y):
            g = (xb @ w + b - yb) * scale
            w -= lr * (g @ xb)
            b -= lr * g.sum()
    return np.concatenate([w, np.array([b], dtype=w.dtype)])


def reference(i: Inputs, p: Params) -> np.ndarray:
    f = {k: v.astype(np.float64) for k, v in i.items()}
    return _sgd_numpy(f["x"], f["y"], f["w0"], float(f["b0"][0]), p["lr"], p["epochs"])


def error_scale(i: Inputs, p: Params, ref: np.ndarray) -> np.ndarray:
    return np.abs(ref) + 1.0


def tolerance(p: Params) -> float:
    # SGD is contractive, so rounding errors do not grow without bound; measured float32
    # drift after 500 steps is ~1e-6 relative. 2**13 ulps leaves room for FMA contraction.
    return 8192 * eps(p["dtype"])


def validate_reference(i: Inputs, p: Params, ref: np.ndarray) -> str | None:
    if p["epochs"] * p["batches"] < 400:
        return None  # too few steps to have converged: nothing to assert
    err = np.max(np.abs(ref[:-1] - np.arange(1, p["dim"] + 1)))
    return None if err < 0.05 else f"SGD did not converge: max |w - w_true| = {err:.3g}"


def linreg_pure(x: list, y: list, w0: list, b0: float, lr: float, epochs: int,
                threads: int = 1) -> list:
    w = list(w0)
    b = b0
    dim = len(w)
    for _ in range(epochs):
        for xb, yb in zip(x, y):
            scale = 2.0 / len(xb)
            grad_w = [0.0] * dim
            grad_b = 0.0
            for row, target in zip(xb, yb):
                pred = b
                for j in range(dim):
                    pred += row[j] * w[j]
                g = (pred - target) * scale
                grad_b += g
                for j in range(dim):
                    grad_w[j] += g * row[j]
            for j in range(dim):
                w[j] -= lr * grad_w[j]
            b -= lr * grad_b
    return [*w, b]


def linreg_numpy(x, y, w0, b0, lr, epochs, threads: int = 1) -> np.ndarray:
    return _sgd_numpy(x, y, w0, b0, lr, epochs)


def _lists(i: Inputs, p: Params) -> tuple:
    return (i["x"].tolist(), i["y"].tolist(), i["w0"].tolist(), float(i["b0"][0]),
            p["lr"], p["epochs"])


def _arrays(i: Inputs, p: Params) -> tuple:
    return i["x"], i["y"], i["w0"], float(i["b0"][0]), p["lr"], p["epochs"]


ARTICLE = {"dim": 10, "batch": 64, "batches": 100, "epochs": 5, "lr": 0.01, "dtype": "float32"}

WORKLOAD = Workload(
    name="linreg",
    summary="SGD linear regression, 10 features, batch 64, 5 epochs x 100 batches",
    params={
        "smoke": [{**ARTICLE, "batches": 10, "epochs": 1}],
        "quick": [ARTICLE],
        "full": [ARTICLE],
    },
    make_inputs=make_inputs,
    reference=reference,
    error_scale=error_scale,
    tolerance=tolerance,
    flavors={
        "pure": Flavor("pure", linreg_pure, prepare=_lists),
        "numpy": Flavor("numpy", linreg_numpy, prepare=_arrays, threaded=True),
    },
    work=lambda p: float(p["epochs"] * p["batches"] * p["batch"] * p["dim"]),
    flops=lambda p: 4.0 * p["epochs"] * p["batches"] * p["batch"] * p["dim"],
    validate_reference=validate_reference,
    parallel_loops=False,  # SGD: each step needs the previous weights
)
