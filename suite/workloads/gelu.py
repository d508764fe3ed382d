"""A custom activation: tanh-approximated GELU over a vector.

    gelu(x) = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x**3)))

The kind of element-wise Python loop the article's tips say the JIT helps.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Flavor, Inputs, Params, Workload, eps

C = math.sqrt(2.0 / math.pi)


def make_inputs(p: Params, rng: np.random.Generator) -> Inputs:
    return {"x": (3.0 * rng.standard_normal(p["n"])).astype(p["dtype"])}


def _gelu(x: np.ndarray) -> np.ndarray:
    # x * x * x, not x ** 3: NumPy's float32 power is ~60x slower than two multiplies.
    t = x.dtype.type
    return t(0.5) * x * (1 + np.tanh(t(C) * (x + t(0.044715) * (x * x * x))))


def reference(i: Inputs, p: Params) -> np.ndarray:
    return _gelu(i["x"].astype(np.float64))


def error_scale(i: Inputs, p: Params, ref: np.ndarray) -> np.ndarray:
    return np.abs(i["x"].astype(np.float64)) + 1.0


def tolerance(p: Params) -> float:
    return 64 * eps(p["dtype"])


def gelu_pure(x: list, threads: int = 1) -> list:
    tanh = math.tanh
    return [0.5 * v * (1.0 + tanh(C * (v + 0.044715 * v * v * v))) for v in x]


def gelu_numpy(x: np.ndarray, threads: int = 1) -> np.ndarray:
    return _gelu(x)


WORKLOAD = Workload(
    name="gelu",
    summary="tanh-approximated GELU over a float32 vector",
    params={
        "smoke": [{"n": 20_000, "dtype": "float32"}],
        "quick": [{"n": 1_000_000, "dtype": "float32"}],
        "full": [{"n": 1_000_000, "dtype": "float32"}],
    },
    make_inputs=make_inputs,
    reference=reference,
    error_scale=error_scale,
    tolerance=tolerance,
    flavors={
        "pure": Flavor("pure", gelu_pure, prepare=lambda i, p: (i["x"].tolist(),)),
        "numpy": Flavor("numpy", gelu_numpy, prepare=lambda i, p: (i["x"],), threaded=True),
    },
    work=lambda p: float(p["n"]),
    flops=None,
)
