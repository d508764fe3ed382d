"""The `numba` flavor: each workload's `pure` loops under `@numba.njit`.

The loop nests are the `pure` flavor's (same order, same arithmetic), written over NumPy
arrays instead of lists, since that is what Numba compiles. They compute in the input's
dtype, as a Numba user's code would. Loops whose iterations are independent use `prange`
(`parallel=True`) and run on the cell's thread count (`numba.set_num_threads`); the SGD
loop of `linreg` is sequential and stays on one thread.

Compilation is timed apart from the samples: the worker calls `compile_for(...)` once
(`Dispatcher.compile` for the argument types) before anything is timed and records it as
the cell's `compile_ns`. Nothing is cached on disk (`cache=False`), so every worker process
compiles afresh. Numba is imported only by the worker of a `numba` cell.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numba import prange

from suite.workloads import Flavor, Workload

GELU_C = math.sqrt(2.0 / math.pi)
jit = numba.njit(cache=False)
pjit = numba.njit(cache=False, parallel=True)


@pjit
def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n, k_dim = a.shape
    m = b.shape[1]
    c = np.zeros((n, m), dtype=a.dtype)
    for i in prange(n):  # i-k-j, as `pure`: the inner loop walks rows of B and C
        for k in range(k_dim):
            a_ik = a[i, k]
            for j in range(m):
                c[i, j] += a_ik * b[k, j]
    return c


@jit
def linreg(x: np.ndarray, y: np.ndarray, w0: np.ndarray, b0: float, lr: float,
           epochs: int) -> np.ndarray:
    dt = x.dtype.type
    w = w0.copy()
    b = dt(b0)
    lr_t = dt(lr)
    n_batches, batch, dim = x.shape
    scale = dt(2.0 / batch)
    n = dt(n_batches * batch)
    grad_w = np.empty(dim, dtype=x.dtype)
    out = np.empty(dim + 1 + epochs, dtype=x.dtype)  # weights, bias, loss per epoch
    for e in range(epochs):
        total = dt(0)
        for nb in range(n_batches):
            grad_w[:] = 0
            grad_b = sq = dt(0)
            for r in range(batch):
                pred = b
                for j in range(dim):
                    pred += x[nb, r, j] * w[j]
                res = pred - y[nb, r]
                sq += res * res
                g = res * scale
                grad_b += g
                for j in range(dim):
                    grad_w[j] += g * x[nb, r, j]
            for j in range(dim):
                w[j] -= lr_t * grad_w[j]
            b -= lr_t * grad_b
            total += sq
        out[dim + 1 + e] = total / n
    out[:dim] = w
    out[dim] = b
    return out


@pjit
def conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    n_img, chans, h, wd = x.shape
    n_filt, _, k, _ = w.shape
    pad = (k - 1) // 2
    out = np.empty((n_img, n_filt, h, wd), dtype=x.dtype)
    for t in prange(n_img * n_filt):  # one output plane per task, as `pure` builds them
        n, f = t // n_filt, t % n_filt
        out[n, f, :, :] = bias[f]
        for c in range(chans):
            for di in range(k):
                for dj in range(k):
                    coef = w[f, c, di, dj]
                    off_j = dj - pad
                    j_lo, j_hi = max(0, -off_j), min(wd, wd - off_j)
                    for i in range(max(0, pad - di), min(h, h + pad - di)):
                        src = i + di - pad
                        for j in range(j_lo, j_hi):
                            out[n, f, i, j] += coef * x[n, c, src, j + off_j]
    return out


@pjit
def gelu(x: np.ndarray) -> np.ndarray:
    dt = x.dtype.type
    half, one, c, k3 = dt(0.5), dt(1.0), dt(GELU_C), dt(0.044715)
    out = np.empty_like(x)
    for i in prange(x.shape[0]):
        v = x[i]
        out[i] = half * v * (one + math.tanh(c * (v + k3 * v * v * v)))
    return out


@pjit
def xent(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    rows, cols = logits.shape
    out = np.empty(rows, dtype=logits.dtype)
    for r in prange(rows):
        m = logits[r, 0]
        for j in range(1, cols):
            m = max(m, logits[r, j])
        s = logits.dtype.type(0)
        for j in range(cols):
            s += math.exp(logits[r, j] - m)
        out[r] = math.log(s) + m - logits[r, labels[r]]
    return out


KERNELS: dict[str, Any] = {"matmul": matmul, "linreg": linreg, "conv2d": conv2d,
                           "gelu": gelu, "xent": xent}


def is_parallel(workload: str) -> bool:
    return bool(KERNELS[workload].targetoptions.get("parallel"))


def runner(workload: str) -> Callable[..., Any]:
    """The timed call for `workload`: set the thread count, call the compiled kernel."""
    kernel = KERNELS[workload]
    parallel = is_parallel(workload)
    current = [0]  # the thread count last set: only a change calls into Numba

    def run(*args: Any, threads: int = 1) -> Any:
        if parallel and threads != current[0]:
            numba.set_num_threads(threads)
            current[0] = threads
        return kernel(*args)

    return run


def compile_for(workload: str, args: tuple) -> None:
    """Compile `workload`'s kernel for these arguments' types (the worker times this)."""
    kernel = KERNELS[workload]
    kernel.compile(tuple(numba.typeof(a) for a in args))


def facts() -> dict:
    """Numba's version and threading layer (known once a parallel kernel has run)."""
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel region has run yet
        layer = None
    return {"version": numba.__version__, "threading_layer": layer,
            "max_threads": numba.config.NUMBA_NUM_THREADS}


def flavor(w: Workload, name: str) -> Flavor:
    """The `numba` flavor of `w`: its kernel, with compilation ahead of timing."""
    return Flavor(name, runner(w.name), prepare=w.flavors["numpy"].prepare,
                  threaded=w.parallel_loops, compile=lambda args: compile_for(w.name, args))
