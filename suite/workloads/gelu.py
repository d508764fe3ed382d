"""A custom activation: tanh-approximated GELU over a vector.

    gelu(x) = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x**3)))

The kind of element-wise Python loop the article's tips say the JIT helps.

Error bound (first order, worst case; u = eps/2 of the dtype). Every flavor computes
z = c (x + k x^3), t = tanh(z), out = 0.5 x (1 + t) (or h + h t with h = 0.5 x). z takes
5 roundings plus the rounding of the constants c and k, all relative to |z| (x and k x^3
have the same sign): |dz| <= 7 u |z|. tanh adds its own error, at most TANH_ULPS u |t|,
and passes dz on with its derivative: sech^2(z) |dz|. 1 + t and the product add 2 u
|1 + t| relative to 0.5 |x|. So

    |out - gelu(x)| <= u * 0.5 |x| (7 |z| sech^2(z) + TANH_ULPS |t| + 2 |1 + t|),

`error_scale` is the right-hand side without u; the tolerance is eps = 2u: the flavor's
bound plus the float64 reference's own (the same bound in float64 units). A tanh with
1e-3 relative error is ~1e4 u off: far outside. TANH_ULPS is measured: NumPy's and
glibc's tanh need <= 1 u, Mojo 1.2's std.math.tanh 4.3 u (float32) and 2.5 u (float64).
"""

from __future__ import annotations

import math

import numpy as np

from suite.workloads.base import Flavor, Inputs, Params, Workload, eps

C = math.sqrt(2.0 / math.pi)


def make_inputs(p: Params, rng: np.random.Generator) -> Inputs:
    return {"x": (3.0 * rng.standard_normal(p["n"])).astype(p["dtype"])}


def _gelu(x: np.ndarray) -> np.ndarray:
    # x * x * x, not x ** 3: NumPy's float32 power is ~60x slower than two multiplies.
    t = x.dtype.type
    return t(0.5) * x * (1 + np.tanh(t(C) * (x + t(0.044715) * (x * x * x))))


def reference(i: Inputs, p: Params) -> np.ndarray:
    return _gelu(i["x"].astype(np.float64))


TANH_ULPS = 8.0  # units of u: twice the worst tanh measured (see above)


def error_scale(i: Inputs, p: Params, ref: np.ndarray) -> np.ndarray:
    """The bound above in units of u (0 where x is not finite: the check skips those)."""
    x = i["x"].astype(np.float64)
    with np.errstate(all="ignore"):
        z = C * (x + 0.044715 * (x * x * x))
        t = np.tanh(z)
        propagated = np.where(np.abs(z) < 40, 7 * np.abs(z) / np.cosh(z) ** 2, 0.0)
        scale = 0.5 * np.abs(x) * (propagated + TANH_ULPS * np.abs(t) + 2 * np.abs(1 + t))
    return np.where(np.isfinite(scale), scale, 0.0)


def tolerance(p: Params) -> float:
    return eps(p["dtype"])


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
        "reference": [{"n": 1_000_000, "dtype": "float32"}],
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
