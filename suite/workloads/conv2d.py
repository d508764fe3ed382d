"""2-D convolution forward pass (the article's 32x3x224x224 input).

The article does not give the filter bank. We use VGG's first layer: 64 filters of 3x3,
stride 1, zero padding 1 ("same"), plus a bias, NCHW layout, float32. That is
2 * 32 * 64 * 3 * 9 * 224 * 224 = 5.55 GFLOP per forward pass.

`numpy` pads once, takes a sliding-window view and contracts it with `einsum` (BLAS when
NumPy's optimizer chooses a GEMM). `pure` runs the direct six-deep loop; at the full size it
would take minutes, so the harness measures a smaller size and records an estimate.

Error bound (worst case): each output is a dot product of length K = C * k * k plus the
bias, so, as for matmul, |y^ - y| <= gamma_(K+1) (conv(|x|, |w|) + |bias|) with
gamma_n ~ n u, in any summation order. The scale is conv(|x|, |w|) + |bias|, the
tolerance (K + 1) eps = 2 (K + 1) u: the flavor's bound plus the float64 reference's own.
Zero padding 0 instead of 1, a window off by one, a flipped kernel, a dropped bias or
float16 accumulation are all off by a sizeable fraction of the scale (tests/test_mutants.py).
"""

from __future__ import annotations

import numpy as np

from suite.workloads.base import Flavor, Inputs, Params, Workload, eps


def make_inputs(p: Params, rng: np.random.Generator) -> Inputs:
    n, c, h, f, k = p["batch"], p["channels"], p["size"], p["filters"], p["kernel"]
    return {
        "x": rng.standard_normal((n, c, h, h)).astype(p["dtype"]),
        "w": (rng.standard_normal((f, c, k, k)) / np.sqrt(c * k * k)).astype(p["dtype"]),
        "bias": rng.standard_normal(f).astype(p["dtype"]),
    }


def _conv(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    k = w.shape[-1]
    pad = (k - 1) // 2
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))
    y = np.einsum("nchwij,fcij->nfhw", win, w, optimize=True)
    y += bias[None, :, None, None]
    return y


def _conv64(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """float64 convolution one image at a time (bounded memory for the 32-image batch)."""
    w, bias = w.astype(np.float64), bias.astype(np.float64)
    return np.concatenate([_conv(x[n:n + 1].astype(np.float64), w, bias)
                           for n in range(x.shape[0])])


def reference(i: Inputs, p: Params) -> np.ndarray:
    return _conv64(i["x"], i["w"], i["bias"])


def error_scale(i: Inputs, p: Params, ref: np.ndarray) -> np.ndarray:
    return _conv64(np.abs(i["x"]), np.abs(i["w"]), np.abs(i["bias"]))


def tolerance(p: Params) -> float:
    return (p["channels"] * p["kernel"] ** 2 + 1) * eps(p["dtype"])


def conv2d_pure(x: list, w: list, bias: list, threads: int = 1) -> list:
    k = len(w[0][0])
    pad = (k - 1) // 2
    h, wd = len(x[0][0]), len(x[0][0][0])
    out = []
    for img in x:
        planes = []
        for filt, b in zip(w, bias):
            plane = [[b] * wd for _ in range(h)]
            for chan, kern in zip(img, filt):
                for di in range(k):
                    for dj in range(k):
                        coef = kern[di][dj]
                        off_j = dj - pad
                        j_lo, j_hi = max(0, -off_j), min(wd, wd - off_j)
                        for i in range(max(0, pad - di), min(h, h + pad - di)):
                            src = chan[i + di - pad]
                            dst = plane[i]
                            for j in range(j_lo, j_hi):
                                dst[j] += coef * src[j + off_j]
            planes.append(plane)
        out.append(planes)
    return out


def conv2d_numpy(x: np.ndarray, w: np.ndarray, bias: np.ndarray, threads: int = 1) -> np.ndarray:
    return _conv(x, w, bias)


def _lists(i: Inputs, p: Params) -> tuple:
    return i["x"].tolist(), i["w"].tolist(), i["bias"].tolist()


def _arrays(i: Inputs, p: Params) -> tuple:
    return i["x"], i["w"], i["bias"]


def _flops(p: Params) -> float:
    return 2.0 * p["batch"] * p["filters"] * p["channels"] * p["kernel"] ** 2 * p["size"] ** 2


def _probe(p: Params) -> Params | None:
    small = {**p, "batch": 1, "size": 32}
    return small if _flops(small) < _flops(p) else None


ARTICLE = {"batch": 32, "channels": 3, "size": 224, "filters": 64, "kernel": 3,
           "dtype": "float32"}
SMALL = {**ARTICLE, "batch": 2, "size": 32, "filters": 16}

WORKLOAD = Workload(
    name="conv2d",
    summary="conv2d forward, NCHW 32x3x224x224, 64 filters 3x3, stride 1, pad 1",
    params={
        "smoke": [{**ARTICLE, "batch": 1, "size": 12, "filters": 4}],
        "quick": [SMALL, ARTICLE],
        "full": [SMALL, ARTICLE],
        "reference": [ARTICLE],
    },
    make_inputs=make_inputs,
    reference=reference,
    error_scale=error_scale,
    tolerance=tolerance,
    flavors={
        "pure": Flavor("pure", conv2d_pure, prepare=_lists),
        "numpy": Flavor("numpy", conv2d_numpy, prepare=_arrays, threaded=True),
    },
    work=_flops,
    flops=_flops,
    probe=_probe,
)
