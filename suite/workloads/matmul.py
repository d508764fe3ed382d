"""Dense matrix multiplication C = A @ B (the article's 1024 and 2048 matmuls).

`pure` uses the i-k-j loop order: the innermost loop walks one row of B and one row of C
contiguously (`c_row[j] += a_ik * b_row[j]`), which is the order a careful Python
programmer writes and the fastest order for lists of lists. Pure Python always computes
in double precision; the dtype only sets the inputs' precision and the tolerance.

Error bound (worst case, Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed.,
eq. 3.13): a dot product of length K in any order, with or without FMA, satisfies
|fl(A@B) - A@B| <= gamma_K |A| @ |B| elementwise, gamma_K = K u / (1 - K u) ~ K u. The
scale is |A| @ |B|, the tolerance K eps = 2 K u: the flavor's bound plus the float64
reference's own (the same bound in float64 units). A skipped row, column or k, a
transposed operand or float16 accumulation is off by ~|a b| or ~2^-11 of the scale, far
outside for every K the profiles use (tests/test_mutants.py).
"""

from __future__ import annotations

import numpy as np

from suite.workloads.base import Flavor, Inputs, Params, Workload, eps


def make_inputs(p: Params, rng: np.random.Generator) -> Inputs:
    m, k, n = p["n"], p.get("k", p["n"]), p.get("m", p["n"])
    return {
        "a": rng.standard_normal((m, k)).astype(p["dtype"]),
        "b": rng.standard_normal((k, n)).astype(p["dtype"]),
    }


def reference(i: Inputs, p: Params) -> np.ndarray:
    return i["a"].astype(np.float64) @ i["b"].astype(np.float64)


def error_scale(i: Inputs, p: Params, ref: np.ndarray) -> np.ndarray:
    return np.abs(i["a"].astype(np.float64)) @ np.abs(i["b"].astype(np.float64))


def tolerance(p: Params) -> float:
    return p.get("k", p["n"]) * eps(p["dtype"])


def matmul_pure(a: list, b: list, threads: int = 1) -> list:
    n_cols = len(b[0])
    c = []
    for a_row in a:
        c_row = [0.0] * n_cols
        for a_ik, b_row in zip(a_row, b):
            for j in range(n_cols):
                c_row[j] += a_ik * b_row[j]
        c.append(c_row)
    return c


def matmul_numpy(a: np.ndarray, b: np.ndarray, threads: int = 1) -> np.ndarray:
    return a @ b


def _lists(i: Inputs, p: Params) -> tuple:
    return i["a"].tolist(), i["b"].tolist()


def _arrays(i: Inputs, p: Params) -> tuple:
    return i["a"], i["b"]


def _probe(p: Params) -> Params | None:
    return {**p, "n": 64} if p["n"] > 64 else None


WORKLOAD = Workload(
    name="matmul",
    summary="C = A @ B, square n x n, float32 and float64",
    params={
        "smoke": [{"n": 48, "dtype": "float32"}, {"n": 48, "dtype": "float64"}],
        "quick": [
            {"n": n, "dtype": d} for n in (128, 1024) for d in ("float32", "float64")
        ],
        "full": [{"n": n, "dtype": d} for n in (1024, 2048) for d in ("float32", "float64")],
        "reference": [{"n": n, "dtype": d} for n in (1024, 2048) for d in ("float32", "float64")],
    },
    make_inputs=make_inputs,
    reference=reference,
    error_scale=error_scale,
    tolerance=tolerance,
    flavors={
        "pure": Flavor("pure", matmul_pure, prepare=_lists),
        "numpy": Flavor("numpy", matmul_numpy, prepare=_arrays, threaded=True),
    },
    work=lambda p: float(p["n"]) * p.get("k", p["n"]) * p.get("m", p["n"]),
    flops=lambda p: 2.0 * p["n"] * p.get("k", p["n"]) * p.get("m", p["n"]),
    probe=_probe,
)
