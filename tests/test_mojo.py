"""Property tests for the Mojo kernels (suite/flavors/mojo.py + mojo/*.mojo).

Every Mojo flavor of every workload is compared with a float64 NumPy reference over
random shapes (including 1, 7, 63, 65, 129, tall/skinny and wide), both dtypes where
the workload has two, large and tiny magnitudes, and nan/inf. The bounds are the
documented ones: matmul |out-ref| <= K eps (|A| @ |B|) (+ a tiny absolute term),
conv2d the same with K = C*KH*KW; gelu, xent and linreg use their workload's own bound
(`workload_bound`: tolerance x error_scale, derived in suite/workloads/<name>.py), and
linreg's output is [w, b, loss per epoch]. The extension is built once per session into
$SUITE_CACHE_DIR/mojo (default <repo>/.cache/mojo). No timing assertions here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite.flavors import mojo as mk
from suite.workloads import get as get_workload

FLAVORS = ("mojo-naive", "mojo-simd", "mojo")
DTYPES = (np.float32, np.float64)
EDGE_SIZES = (1, 2, 7, 15, 16, 17, 63, 64, 65, 129)

SETTINGS = settings(max_examples=25, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="session")
def kernels(mojo_kernels):
    return mojo_kernels


def sizes(lo: int = 1, hi: int = 140) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(EDGE_SIZES), st.integers(lo, hi))


def eps(dtype) -> float:
    return float(np.finfo(dtype).eps)


def assert_close(out, ref, bound, what):
    """|out - ref| <= bound elementwise; nan where ref is nan; equal where ref is inf."""
    out = np.asarray(out, dtype=np.float64)
    assert out.shape == ref.shape, f"{what}: shape {out.shape} != {ref.shape}"
    ref_nan = np.isnan(ref)
    np.testing.assert_array_equal(np.isnan(out), ref_nan, err_msg=f"{what}: nan pattern")
    ref_inf = np.isinf(ref)
    np.testing.assert_array_equal(out[ref_inf], ref[ref_inf], err_msg=f"{what}: infinities")
    ok = ~(ref_nan | ref_inf)
    err = np.abs(out[ok] - ref[ok])
    b = np.broadcast_to(bound, ref.shape)[ok]
    if err.size and not np.all(err <= b):
        i = int(np.argmax(err - b))
        raise AssertionError(f"{what}: |out-ref| = {err[i]:.3e} > bound {b[i]:.3e} "
                             f"(worst of {err.size}; ref {ref[ok][i]:.6e})")


def workload_bound(name, inputs, params, ref):
    """The workload's documented bound on |out - ref|: tolerance x error_scale."""
    w = get_workload(name)
    return w.tolerance(params) * w.error_scale(inputs, params, ref)


def bitwise_equal(a, b) -> bool:
    return np.array_equal(a, b, equal_nan=True)


# ---------------------------------------------------------------------------- matmul

SCALES = {np.float32: (1e-12, 1.0, 1e12), np.float64: (1e-100, 1.0, 1e100)}


@st.composite
def matmul_case(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(st.sampled_from(["any", "tall", "wide", "inner"]))
    m, k, n = draw(sizes()), draw(sizes()), draw(sizes())
    if shape == "tall":
        m, n = draw(st.integers(150, 400)), draw(st.integers(1, 8))
    elif shape == "wide":
        m, n = draw(st.integers(1, 8)), draw(st.integers(150, 400))
    elif shape == "inner":
        m, n, k = draw(st.integers(1, 9)), draw(st.integers(1, 9)), draw(st.integers(500, 1100))
    sa, sb = draw(st.sampled_from(SCALES[dtype])), draw(st.sampled_from(SCALES[dtype]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((m, k)) * sa).astype(dtype)
    b = (rng.standard_normal((k, n)) * sb).astype(dtype)
    return a, b


def matmul_ref(a, b):
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(all="ignore"):
        ref = a64 @ b64
        scale = np.abs(a64) @ np.abs(b64)
    k = a.shape[1]
    return ref, k * eps(a.dtype) * scale + np.finfo(a.dtype).tiny


@SETTINGS
@given(case=matmul_case())
def test_matmul_matches_reference(kernels, case):
    a, b = case
    ref, bound = matmul_ref(a, b)
    for fl in FLAVORS:
        if fl == "mojo-naive" and a.shape[0] * a.shape[1] * b.shape[1] > 3e6:
            continue
        out = mk.FLAVORS["matmul"][fl](a, b, threads=1)
        assert out.dtype == a.dtype and out.flags.c_contiguous
        assert_close(out, ref, bound, f"matmul {fl} {a.dtype} {a.shape}x{b.shape}")


@SETTINGS
@given(case=matmul_case(), special=st.sampled_from([np.nan, np.inf, -np.inf]),
       where=st.sampled_from(["a", "b"]), pos=st.integers(0, 10**6))
def test_matmul_nan_inf_propagate(kernels, case, special, where, pos):
    a, b = case
    a, b = a.copy(), b.copy()
    t = a if where == "a" else b
    t.flat[pos % t.size] = special
    ref, bound = matmul_ref(a, b)
    for fl in FLAVORS:
        if fl == "mojo-naive" and a.shape[0] * a.shape[1] * b.shape[1] > 3e6:
            continue
        out = mk.FLAVORS["matmul"][fl](a, b, threads=1)
        assert_close(out, ref, bound, f"matmul {fl} with {special} in {where}")


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dtype=st.sampled_from(DTYPES), m=sizes(1, 400), k=sizes(1, 700), n=sizes(1, 400),
       seed=st.integers(0, 2**32 - 1))
def test_matmul_threads_bitwise_equal(kernels, dtype, m, k, n, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    f = mk.FLAVORS["matmul"]["mojo"]
    assert bitwise_equal(f(a, b, threads=1), f(a, b, threads=2))


def test_matmul_large_blocks(kernels):
    """Sizes spanning several KC/MC/NC cache blocks and ragged edges."""
    rng = np.random.default_rng(7)
    for dtype, (m, k, n) in [(np.float32, (301, 1100, 4200)), (np.float64, (200, 700, 530))]:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        ref, bound = matmul_ref(a, b)
        for t in (1, 2):
            assert_close(mk.FLAVORS["matmul"]["mojo"](a, b, threads=t), ref, bound,
                         f"matmul mojo {dtype} threads={t}")


# ---------------------------------------------------------------------------- conv2d


@st.composite
def conv_case(draw):
    n = draw(st.integers(1, 3))
    c = draw(st.integers(1, 4))
    h = draw(st.one_of(st.sampled_from((1, 2, 7, 16, 17, 33)), st.integers(1, 40)))
    w = draw(st.one_of(st.sampled_from((1, 7, 15, 16, 17, 63, 65, 113, 129)), st.integers(1, 140)))
    f = draw(st.one_of(st.sampled_from((1, 3, 4, 5, 8, 13)), st.integers(1, 20)))
    ks = draw(st.sampled_from((1, 3, 3, 3, 5)))
    scale = draw(st.sampled_from((1e-15, 1.0, 1e15)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = (rng.standard_normal((n, c, h, w)) * scale).astype(np.float32)
    wt = rng.standard_normal((f, c, ks, ks)).astype(np.float32)
    bias = (rng.standard_normal(f) * scale).astype(np.float32)
    return x, wt, bias


def conv_ref(x, w, bias):
    k = w.shape[-1]
    p = (k - 1) // 2

    def conv(xx, ww):
        xp = np.pad(xx, ((0, 0), (0, 0), (p, p), (p, p)))
        win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))
        return np.einsum("nchwij,fcij->nfhw", win, ww)

    x64, w64, b64 = x.astype(np.float64), w.astype(np.float64), bias.astype(np.float64)
    with np.errstate(all="ignore"):
        ref = conv(x64, w64) + b64[None, :, None, None]
        scale = conv(np.abs(x64), np.abs(w64)) + np.abs(b64)[None, :, None, None]
    kk = w.shape[1] * k * k + 1
    return ref, kk * eps(np.float32) * scale + np.finfo(np.float32).tiny


@SETTINGS
@given(case=conv_case())
def test_conv2d_matches_reference(kernels, case):
    x, w, bias = case
    ref, bound = conv_ref(x, w, bias)
    for fl in FLAVORS:
        out = mk.FLAVORS["conv2d"][fl](x, w, bias, threads=1)
        assert out.dtype == np.float32 and out.shape == ref.shape
        assert_close(out, ref, bound, f"conv2d {fl} x{x.shape} w{w.shape}")


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=conv_case(), special=st.sampled_from([np.nan, np.inf, -np.inf]),
       pos=st.integers(0, 10**6))
def test_conv2d_nan_inf_and_threads(kernels, case, special, pos):
    x, w, bias = case
    x = x.copy()
    x.flat[pos % x.size] = special
    ref, bound = conv_ref(x, w, bias)
    for fl in FLAVORS:
        assert_close(mk.FLAVORS["conv2d"][fl](x, w, bias, threads=1), ref, bound,
                     f"conv2d {fl} with {special}")
    f = mk.FLAVORS["conv2d"]["mojo"]
    assert bitwise_equal(f(x, w, bias, threads=1), f(x, w, bias, threads=2))


def test_conv2d_filter_wider_than_image(kernels):
    rng = np.random.default_rng(9)
    for (h, w_, ks) in [(1, 1, 5), (2, 3, 7), (1, 17, 35), (3, 2, 33)]:
        x = rng.standard_normal((2, 2, h, w_)).astype(np.float32)
        w = rng.standard_normal((3, 2, ks, ks)).astype(np.float32)
        bias = rng.standard_normal(3).astype(np.float32)
        ref, bound = conv_ref(x, w, bias)
        for fl in FLAVORS:
            assert_close(mk.FLAVORS["conv2d"][fl](x, w, bias, threads=2), ref, bound,
                         f"conv2d {fl} {x.shape} k={ks}")


def test_conv2d_article_shape_slice(kernels):
    """The benchmark's filter bank on a 2-image slice of the 224x224 input."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
    w = (rng.standard_normal((64, 3, 3, 3)) / np.sqrt(27)).astype(np.float32)
    bias = rng.standard_normal(64).astype(np.float32)
    ref, bound = conv_ref(x, w, bias)
    for t in (1, 2):
        assert_close(mk.FLAVORS["conv2d"]["mojo"](x, w, bias, threads=t), ref, bound,
                     f"conv2d mojo threads={t}")
    assert_close(mk.FLAVORS["conv2d"]["mojo-simd"](x, w, bias, threads=1), ref, bound,
                 "conv2d mojo-simd")


def test_conv2d_streaming_output(kernels):
    """An output of >= 64 MB takes the non-temporal store path (5x64x224x224 floats)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 3, 224, 224)).astype(np.float32)
    w = (rng.standard_normal((64, 3, 3, 3)) / np.sqrt(27)).astype(np.float32)
    bias = rng.standard_normal(64).astype(np.float32)
    ref, bound = conv_ref(x, w, bias)
    for t in (1, 2):
        assert_close(mk.FLAVORS["conv2d"]["mojo"](x, w, bias, threads=t), ref, bound,
                     f"conv2d mojo streaming threads={t}")


# ---------------------------------------------------------------------------- gelu


def gelu_ref(x):
    xd = x.astype(np.float64)
    with np.errstate(all="ignore"):
        return 0.5 * xd * (1 + np.tanh(np.sqrt(2 / np.pi) * (xd + 0.044715 * xd**3)))


@st.composite
def gelu_case(draw):
    dtype = draw(st.sampled_from(DTYPES))
    n = draw(st.one_of(st.sampled_from((*EDGE_SIZES, 100003)), st.integers(1, 5000)))
    scale = draw(st.sampled_from((1e-30, 1e-3, 1.0, 3.0, 30.0, 1e20)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = (rng.standard_normal(n) * scale).astype(dtype)
    if draw(st.booleans()):
        specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype)
        idx = rng.integers(0, n, size=min(n, 5))
        x[idx] = specials[: len(idx)]
    return x


@SETTINGS
@given(x=gelu_case())
def test_gelu_matches_reference(kernels, x):
    ref = gelu_ref(x)
    bound = workload_bound("gelu", {"x": x}, {"dtype": x.dtype.name}, ref)
    outs = {}
    for fl in FLAVORS:
        for t in (1, 2):
            out = mk.FLAVORS["gelu"][fl](x, threads=t)
            assert out.dtype == x.dtype
            assert_close(out, ref, bound, f"gelu {fl} {x.dtype} n={x.size} threads={t}")
            outs[fl, t] = out
    assert bitwise_equal(outs["mojo", 1], outs["mojo", 2])


# ---------------------------------------------------------------------------- xent


def xent_ref(logits, labels):
    """logsumexp - logit[label], as (m - logit[label]) + log(sum(exp(l - m))).

    Same value as the workload's reference, but ordered so that large logits do not
    cancel (log(sum) + m - logit rounds at the size of m: ~200 ulp of float64 error for
    float64 logits near 1e3), and in long double so it is a reference for float64 too.
    """
    lg = logits.astype(np.longdouble)
    with np.errstate(all="ignore"):
        m = lg.max(axis=1, keepdims=True)
        lse = np.log(np.exp(lg - m).sum(axis=1))
        out = (m[:, 0] - lg[np.arange(len(labels)), labels]) + lse
    return out.astype(np.float64)


@st.composite
def xent_case(draw):
    dtype = draw(st.sampled_from(DTYPES))
    b = draw(st.one_of(st.sampled_from(EDGE_SIZES), st.integers(1, 300)))
    c = draw(st.one_of(st.sampled_from((*EDGE_SIZES, 1000)), st.integers(1, 1200)))
    scale = draw(st.sampled_from((1e-6, 1.0, 10.0, 1e3, 1e30)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    logits = (rng.standard_normal((b, c)) * scale).astype(dtype)
    labels = rng.integers(0, c, size=b).astype(np.int64)
    if draw(st.booleans()):
        for special in (np.nan, np.inf, -np.inf):
            logits.flat[rng.integers(0, logits.size)] = special
        if b > 1:
            logits[rng.integers(0, b)] = -np.inf  # a row of -inf only
    return logits, labels


@SETTINGS
@given(case=xent_case())
def test_xent_matches_reference(kernels, case):
    logits, labels = case
    ref = xent_ref(logits, labels)
    bound = workload_bound("xent", {"logits": logits, "labels": labels},
                           {"dtype": logits.dtype.name}, ref)
    outs = {}
    for fl in FLAVORS:
        for t in (1, 2):
            out = mk.FLAVORS["xent"][fl](logits, labels, threads=t)
            assert out.dtype == logits.dtype
            assert_close(out, ref, bound, f"xent {fl} {logits.dtype} {logits.shape} threads={t}")
            outs[fl, t] = out
    assert bitwise_equal(outs["mojo", 1], outs["mojo", 2])


def test_xent_large_parallel(kernels):
    rng = np.random.default_rng(5)
    for dtype in DTYPES:
        logits = (rng.standard_normal((4096, 1000)) * 3).astype(dtype)
        labels = rng.integers(0, 1000, 4096)
        ref = xent_ref(logits, labels)
        bound = workload_bound("xent", {"logits": logits, "labels": labels},
                               {"dtype": np.dtype(dtype).name}, ref)
        f = mk.FLAVORS["xent"]["mojo"]
        o1, o2 = f(logits, labels, threads=1), f(logits, labels, threads=2)
        assert_close(o1, ref, bound, f"xent mojo {dtype}")
        assert bitwise_equal(o1, o2)


# ---------------------------------------------------------------------------- linreg


def linreg_ref(X, y, w0, b0, lr, epochs):
    """The workload's float64 reference [w, b, loss per epoch] and its documented bound."""
    inputs = {"x": X, "y": y, "w0": w0, "b0": np.array([b0], X.dtype)}
    params = {"lr": lr, "epochs": epochs, "dtype": X.dtype.name}
    ref = get_workload("linreg").reference(inputs, params)
    return ref, workload_bound("linreg", inputs, params, ref)


@st.composite
def linreg_case(draw):
    nb = draw(st.integers(1, 30))
    batch = draw(st.one_of(st.sampled_from(EDGE_SIZES), st.integers(1, 100)))
    dim = draw(st.one_of(st.sampled_from((1, 2, 7, 10, 16, 17, 33)), st.integers(1, 40)))
    epochs = draw(st.integers(0, 4))
    scale = draw(st.sampled_from((1e-3, 1.0, 10.0)))
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = (rng.standard_normal((nb, batch, dim)) * scale).astype(dtype)
    w_true = rng.standard_normal(dim)
    y = (X.astype(np.float64) @ w_true + 0.5 + 0.1 * rng.standard_normal((nb, batch)))
    y = y.astype(dtype)
    w0 = rng.standard_normal(dim).astype(dtype)
    # a step size that keeps SGD stable for this data: lr * 2 * max eigenvalue < 1
    lr = 0.2 / (2.0 * (dim + 1) * scale**2 + 1.0)
    return X, y, w0, float(dtype(rng.standard_normal())), lr, epochs


@SETTINGS
@given(case=linreg_case())
def test_linreg_matches_reference(kernels, case):
    X, y, w0, b0, lr, epochs = case
    ref, bound = linreg_ref(X, y, w0, b0, lr, epochs)
    for fl in FLAVORS:
        for t in (1, 2):
            out = mk.FLAVORS["linreg"][fl](X, y, w0, b0, lr, epochs, threads=t)
            assert out.dtype == X.dtype and out.shape == (X.shape[2] + 1 + epochs,)
            assert_close(out, ref, bound, f"linreg {fl} {X.dtype} {X.shape} e={epochs}")
    assert np.array_equal(w0, w0.copy())  # input not modified


def test_linreg_article_size(kernels):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((100, 64, 10)).astype(np.float32)
    y = (X @ rng.standard_normal(10).astype(np.float32) + 0.3).astype(np.float32)
    w0 = np.zeros(10, np.float32)
    ref, bound = linreg_ref(X, y, w0, 0.0, 0.01, 5)
    for fl in FLAVORS:
        out = mk.FLAVORS["linreg"][fl](X, y, w0, 0.0, 0.01, 5, threads=2)
        assert_close(out, ref, bound, f"linreg {fl}")


# ---------------------------------------------------------------------------- bad input

F32 = np.float32


def _good_args(workload):
    rng = np.random.default_rng(0)
    if workload == "matmul":
        return [rng.standard_normal((4, 5)).astype(F32), rng.standard_normal((5, 3)).astype(F32)]
    if workload == "conv2d":
        return [rng.standard_normal((1, 2, 5, 6)).astype(F32),
                rng.standard_normal((3, 2, 3, 3)).astype(F32), np.zeros(3, F32)]
    if workload == "gelu":
        return [rng.standard_normal(10).astype(F32)]
    if workload == "xent":
        return [rng.standard_normal((4, 6)).astype(F32), np.array([0, 5, 2, 1], np.int64)]
    if workload == "linreg":
        return [rng.standard_normal((3, 4, 2)).astype(F32), np.zeros((3, 4), F32),
                np.zeros(2, F32), 0.0, 0.01, 2]
    raise AssertionError(workload)


ARRAY_SLOTS = {"matmul": (0, 1), "conv2d": (0, 1, 2), "gelu": (0,), "xent": (0, 1),
               "linreg": (0, 1, 2)}
WORKLOADS = tuple(ARRAY_SLOTS)


def _call(workload, flavor, args, threads=1):
    return mk.FLAVORS[workload][flavor](*args, threads=threads)


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("workload", WORKLOADS)
def test_good_args_work(kernels, workload, flavor):
    _call(workload, flavor, _good_args(workload))


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("workload", WORKLOADS)
def test_bad_dtype(kernels, workload, flavor):
    for slot in ARRAY_SLOTS[workload]:
        args = _good_args(workload)
        bad = np.int32 if args[slot].dtype != np.int32 else np.float32
        args[slot] = args[slot].astype(bad)
        with pytest.raises(TypeError, match="dtype"):
            _call(workload, flavor, args)


@pytest.mark.parametrize("workload", WORKLOADS)
def test_not_an_array(kernels, workload):
    for slot in ARRAY_SLOTS[workload]:
        args = _good_args(workload)
        args[slot] = args[slot].tolist()
        with pytest.raises(TypeError, match=r"numpy\.ndarray"):
            _call(workload, "mojo", args)


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("workload", WORKLOADS)
def test_non_contiguous(kernels, workload, flavor):
    for slot in ARRAY_SLOTS[workload]:
        args = _good_args(workload)
        a = args[slot]
        big = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), a.dtype)
        big[..., ::2] = a
        args[slot] = big[..., ::2]
        assert not args[slot].flags.c_contiguous
        with pytest.raises(ValueError, match="C-contiguous"):
            _call(workload, flavor, args)


@pytest.mark.parametrize("workload", WORKLOADS)
def test_wrong_ndim(kernels, workload):
    for slot in ARRAY_SLOTS[workload]:
        args = _good_args(workload)
        args[slot] = args[slot][None]
        with pytest.raises(ValueError, match="-D"):
            _call(workload, "mojo", args)


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("workload", WORKLOADS)
def test_empty(kernels, workload, flavor):
    for slot in ARRAY_SLOTS[workload]:
        args = _good_args(workload)
        shape = list(args[slot].shape)
        shape[-1] = 0
        args[slot] = np.zeros(shape, args[slot].dtype)
        with pytest.raises(ValueError):
            _call(workload, flavor, args)


BAD_SHAPES = {
    "matmul": [(1, np.zeros((6, 3), F32))],
    "conv2d": [(1, np.zeros((3, 4, 3, 3), F32)),   # channels
               (1, np.zeros((3, 2, 3, 5), F32)),   # not square
               (1, np.zeros((3, 2, 2, 2), F32)),   # even
               (2, np.zeros(4, F32))],             # bias length
    "gelu": [],
    "xent": [(1, np.zeros(3, np.int64))],
    "linreg": [(1, np.zeros((3, 5), F32)), (1, np.zeros((2, 4), F32)), (2, np.zeros(3, F32))],
}


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("workload", WORKLOADS)
def test_mismatched_shapes(kernels, workload, flavor):
    for slot, value in BAD_SHAPES[workload]:
        args = _good_args(workload)
        args[slot] = value
        with pytest.raises(ValueError, match=r"shape|square|must have"):
            _call(workload, flavor, args)


def test_mixed_dtypes_matmul(kernels):
    a, b = _good_args("matmul")
    with pytest.raises(TypeError, match="same dtype"):
        mk.FLAVORS["matmul"]["mojo"](a, b.astype(np.float64), threads=1)


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("bad", [-1, 6, 100])
def test_labels_out_of_range(kernels, flavor, bad):
    logits, labels = _good_args("xent")
    labels = labels.copy()
    labels[2] = bad
    with pytest.raises(ValueError, match=r"labels must be in \[0, 6\)"):
        mk.FLAVORS["xent"][flavor](logits, labels, threads=1)


@pytest.mark.parametrize("workload", WORKLOADS)
def test_bad_threads(kernels, workload):
    with pytest.raises(ValueError, match="threads"):
        _call(workload, "mojo", _good_args(workload), threads=0)
    with pytest.raises(TypeError, match="threads"):
        _call(workload, "mojo", _good_args(workload), threads="2")


def test_linreg_bad_scalars(kernels):
    X, y, w0, b0, lr, epochs = _good_args("linreg")
    with pytest.raises(ValueError, match="epochs"):
        mk.FLAVORS["linreg"]["mojo"](X, y, w0, b0, lr, -1, threads=1)
    with pytest.raises(TypeError, match="lr"):
        mk.FLAVORS["linreg"]["mojo"](X, y, w0, b0, "fast", epochs, threads=1)
    with pytest.raises(TypeError, match="epochs"):
        mk.FLAVORS["linreg"]["mojo"](X, y, w0, b0, lr, 2.5, threads=1)


def test_read_only_inputs_accepted(kernels):
    a, b = _good_args("matmul")
    a.flags.writeable = False
    b.flags.writeable = False
    np.testing.assert_allclose(mk.FLAVORS["matmul"]["mojo"](a, b, threads=1), a @ b,
                               rtol=1e-5, atol=1e-6)


def test_direct_extension_calls_raise_not_crash(kernels):
    """The raw module (no Python wrapper) raises on bad input instead of crashing."""
    with pytest.raises(Exception, match=r"numpy\.ndarray"):
        kernels.matmul([[1.0]], [[1.0]], 1)
    with pytest.raises(Exception, match="C-contiguous"):
        kernels.gelu(np.zeros(10, F32)[::2], 1)
    with pytest.raises(Exception, match="labels"):
        kernels.xent(np.zeros((2, 3), F32), np.array([0, 3]), 1)
    with pytest.raises(Exception, match=r"."):  # Mojo raises a plain Exception
        kernels.conv2d(None, None, None, 1)
    with pytest.raises(Exception, match=r"."):
        kernels.matmul(np.zeros((2, 2), F32))  # missing arguments


# ---------------------------------------------------------------------------- facts


def test_build_is_cached_and_info(kernels, tmp_path):
    r = mk.build(mk.default_cache_dir())
    assert r["cached"] and r["seconds"] == 0.0
    assert r["mojo_version"] == "1.2.0" and r["max_version"] == "26.7.0"
    assert len(r["source_sha256"]) == 64
    info = mk.info(mk.default_cache_dir())
    assert info["mojo_version"] == "1.2.0" and info["max_version"] == "26.7.0"
    assert info["simd_width_f32"] >= 4 and info["simd_width_f64"] * 2 == info["simd_width_f32"]
    assert isinstance(info["target_cpu"], str) and info["target_cpu"]


def test_build_failure_reports_stderr(kernels, tmp_path, monkeypatch):
    bad = tmp_path / "mojo"
    bad.mkdir()
    (bad / "suite_kernels.mojo").write_text("def broken(:\n")
    monkeypatch.setattr(mk, "SOURCES_DIR", bad)
    with pytest.raises(RuntimeError, match="mojo build failed"):
        mk.build(tmp_path / "cache")


def test_peak_gflops(kernels):
    g1 = mk.peak_gflops(mk.default_cache_dir(), 1, "float32")
    g64 = mk.peak_gflops(mk.default_cache_dir(), 1, "float64")
    assert g1 > 1.0 and g64 > 0.5
    with pytest.raises(ValueError):
        mk.peak_gflops(mk.default_cache_dir(), 1, "float16")


def test_loading_the_extension_leaves_child_processes_alone(kernels):
    """Mojo's runtime set-up setenv()s PYTHONEXECUTABLE & co. at the C level; load() undoes
    it, or every child Python would run with the Mojo venv's site-packages."""
    import subprocess
    import sys

    kernels.gelu(np.zeros(4, F32), 1)
    out = subprocess.run([sys.executable, "-c", "import os, sys; print(sys.prefix); "
                          "print(os.environ.get('PYTHONEXECUTABLE'))"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == [sys.prefix, "None"]


# ---------------------------------------------------------------------------- mojo-hybrid

HYBRID = mk.FLAVORS["linreg"]["mojo-hybrid"]


def hybrid_ref(X, y, w0, b0, lr, epochs):
    """The workload's own float64 reference: [w, b, loss per epoch]."""
    from suite.workloads import get as get_workload

    inputs = {"x": X, "y": y, "w0": w0, "b0": np.array([b0], X.dtype)}
    return get_workload("linreg").reference(inputs, {"lr": lr, "epochs": epochs})


@st.composite
def hybrid_case(draw):
    X, y, w0, b0, lr, epochs = draw(linreg_case())
    dtype = draw(st.sampled_from(DTYPES))
    return X.astype(dtype), y.astype(dtype), w0.astype(dtype), b0, lr, epochs


def test_hybrid_calls_mojo_once_per_batch(kernels, monkeypatch):
    # Guards the shared SGD loop (workloads.linreg.sgd): the hybrid's forward pass must be
    # the extension's, one call per batch and epoch, not NumPy's `xb @ w + b`.
    rng = np.random.default_rng(0)
    X, y, w0 = (rng.standard_normal(s) for s in ((4, 8, 3), (4, 8), 3))
    b0, lr, epochs = 0.0, 0.01, 2
    real, calls = mk._kernels(), []

    class Counting:
        def __getattr__(self, name):
            return getattr(real, name)

        def linreg_forward(self, *args):
            calls.append(1)
            return real.linreg_forward(*args)

    monkeypatch.setattr(mk, "_kernels", lambda: Counting())
    HYBRID(X, y, w0, b0, lr, epochs, threads=1)
    assert len(calls) == X.shape[0] * epochs


@SETTINGS
@given(case=hybrid_case())
def test_hybrid_matches_reference(kernels, case):
    X, y, w0, b0, lr, epochs = case
    ref = hybrid_ref(X, y, w0, b0, lr, epochs)
    out = HYBRID(X, y, w0, b0, lr, epochs, threads=1)
    assert out.dtype == X.dtype and out.shape == (X.shape[2] + 1 + epochs,)
    assert_close(out, ref, 1e-3 * (np.abs(ref) + 1), f"linreg mojo-hybrid {X.dtype} {X.shape}")
    assert bitwise_equal(out, HYBRID(X, y, w0, b0, lr, epochs, threads=2))  # threads ignored


@SETTINGS
@given(case=hybrid_case(), special=st.sampled_from([np.nan, np.inf, -np.inf]),
       pos=st.integers(0, 10**6))
def test_hybrid_nan_inf_as_reference(kernels, case, special, pos):
    X, y, w0, b0, lr, epochs = case
    X = X.copy()
    X.flat[pos % X.size] = special
    with np.errstate(all="ignore"):
        ref = hybrid_ref(X, y, w0, b0, lr, max(epochs, 1))
        out = HYBRID(X, y, w0, b0, lr, max(epochs, 1), threads=1)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref), err_msg="nan pattern")


@SETTINGS
@given(dtype=st.sampled_from(DTYPES), rows=sizes(), dim=sizes(1, 40),
       seed=st.integers(0, 2**32 - 1), b=st.floats(-10, 10))
def test_linreg_forward_matches_reference(kernels, dtype, rows, dim, seed, b):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, dim)).astype(dtype)
    w = rng.standard_normal(dim).astype(dtype)
    X64, w64 = X.astype(np.float64), w.astype(np.float64)
    ref = X64 @ w64 + float(dtype(b))
    bound = (dim + 1) * eps(dtype) * (np.abs(X64) @ np.abs(w64) + abs(b))
    out = kernels.linreg_forward(X, w, dtype(b))
    assert out.dtype == dtype
    assert_close(out, ref, bound, f"linreg_forward {dtype} {X.shape}")


def test_hybrid_bad_input(kernels):
    X, y, w0, b0, lr, epochs = _good_args("linreg")
    bad = [
        ((X.tolist(), y, w0, b0, lr, epochs), TypeError, r"X must be a numpy\.ndarray"),
        ((X[0], y, w0, b0, lr, epochs), ValueError, "X must be 3-D"),
        ((X, y[:2], w0, b0, lr, epochs), ValueError, r"y must have shape \(batches, batch\)"),
        ((X, y, w0[:1], b0, lr, epochs), ValueError, r"w must have shape \(dim,\)"),
        ((X, y, w0.astype(np.float64), b0, lr, epochs), TypeError, "w must have dtype float32"),
        ((X.astype(np.int32), y, w0, b0, lr, epochs), TypeError, "X must have dtype float32"),
        ((X[:, :, ::2], y, w0[:1], b0, lr, epochs), ValueError, "C-contiguous"),
    ]
    for args, exc, match in bad:
        with pytest.raises(exc, match=match):
            HYBRID(*args, threads=1)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        HYBRID(X, y, w0, b0, lr, epochs, threads=0)
    with pytest.raises(TypeError, match="threads must be an int"):
        HYBRID(X, y, w0, b0, lr, epochs, threads="2")


def test_call_ns(kernels):
    """One no-op call into the extension costs something, and far less than a second."""
    assert kernels.noop(7) == 7
    assert 1.0 < mk.call_ns(mk.default_cache_dir(), calls=1000, repeats=3) < 1e9


# ---------------------------------------------------------------------------- mojo-lib

CORES = len(os.sched_getaffinity(0))


@pytest.fixture(scope="module")
def lib(kernels):
    """Modular's linalg/nn kernels behind lib_kernels (built once into the Mojo cache)."""
    from suite.flavors import mojo_lib

    mojo_lib.load(mk.default_cache_dir())
    return mojo_lib


@SETTINGS
@given(case=matmul_case(), threads=st.sampled_from([1, CORES]))
def test_lib_matmul_matches_reference(lib, case, threads):
    a, b = case
    ref, bound = matmul_ref(a, b)
    out = lib.matmul(a, b, threads=threads)
    assert out.dtype == a.dtype and out.flags.c_contiguous
    assert_close(out, ref, bound, f"matmul mojo-lib {a.dtype} {a.shape}x{b.shape} t={threads}")


@SETTINGS
@given(case=matmul_case(), special=st.sampled_from([np.nan, np.inf, -np.inf]),
       where=st.sampled_from(["a", "b"]), pos=st.integers(0, 10**6))
def test_lib_matmul_nan_inf_propagate(lib, case, special, where, pos):
    a, b = (x.copy() for x in case)
    t = a if where == "a" else b
    t.flat[pos % t.size] = special
    ref, bound = matmul_ref(a, b)
    assert_close(lib.matmul(a, b, threads=CORES), ref, bound, f"mojo-lib with {special}")


@SETTINGS
@given(case=conv_case(), special=st.sampled_from([None, np.nan, np.inf, -np.inf]),
       pos=st.integers(0, 10**6))
def test_lib_conv2d_matches_reference(lib, case, special, pos):
    x, w, bias = case
    if special is not None:
        x = x.copy()
        x.flat[pos % x.size] = special
    ref, bound = conv_ref(x, w, bias)
    out = lib.conv2d(x, w, bias, threads=lib.runtime_threads())
    assert out.dtype == np.float32 and out.shape == ref.shape
    assert_close(out, ref, bound, f"conv2d mojo-lib x{x.shape} w{w.shape} {special}")


def test_lib_threads_in_a_pinned_process(lib):
    """nn's conv runs on the Mojo runtime's workers, sized from the CPU affinity when the
    runtime starts: a process set up for 1 thread gets 1 worker, and the same answers."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 40, 40)).astype(np.float32)
    w = rng.standard_normal((16, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(16).astype(np.float32)
    a = rng.standard_normal((70, 90)).astype(np.float32)
    ref_c, bound_c = conv_ref(x, w, bias)
    ref_m, bound_m = matmul_ref(a, a.T.copy())
    code = (
        "import os, sys, numpy as np; from suite.flavors import mojo_lib, mojo as mk; "
        "mojo_lib.setup(mk.default_cache_dir()); "
        "d = dict(np.load(sys.argv[1])); "
        "assert mojo_lib.runtime_threads() == 1, mojo_lib.runtime_threads(); "
        "assert len(os.sched_getaffinity(0)) == 1; "
        "np.save(sys.argv[2], mojo_lib.conv2d(d['x'], d['w'], d['bias'], threads=1)); "
        "np.save(sys.argv[3], mojo_lib.matmul(d['a'], d['a'].T.copy(), threads=1)); "
        "ok = False\n"
        "try: mojo_lib.conv2d(d['x'], d['w'], d['bias'], threads=2)\n"
        "except RuntimeError as e: ok = 'worker thread' in str(e)\n"
        "assert ok")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.savez(tmp / "in.npz", x=x, w=w, bias=bias, a=a)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        proc = subprocess.run([sys.executable, "-c", code, str(tmp / "in.npz"),
                               str(tmp / "c.npy"), str(tmp / "m.npy")],
                              cwd=mk.SOURCES_DIR.parent, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert_close(np.load(tmp / "c.npy"), ref_c, bound_c, "conv2d mojo-lib 1 thread")
        assert_close(np.load(tmp / "m.npy"), ref_m, bound_m, "matmul mojo-lib 1 thread")


LIB_WORKLOADS = ("matmul", "conv2d")


@pytest.mark.parametrize("workload", LIB_WORKLOADS)
def test_lib_bad_input(lib, workload):
    def call(args, threads=CORES):
        return lib.RUNNERS[workload](*args, threads=threads)

    call(_good_args(workload))
    for slot in ARRAY_SLOTS[workload]:
        args = _good_args(workload)
        args[slot] = args[slot].astype(np.int32)
        with pytest.raises(TypeError, match="dtype"):
            call(args)
        args = _good_args(workload)
        args[slot] = args[slot].tolist()
        with pytest.raises(TypeError, match=r"numpy\.ndarray"):
            call(args)
        args = _good_args(workload)
        big = np.zeros((*args[slot].shape[:-1], 2 * args[slot].shape[-1]), F32)
        args[slot] = big[..., ::2]
        with pytest.raises(ValueError, match="C-contiguous"):
            call(args)
        args = _good_args(workload)
        args[slot] = np.zeros((*args[slot].shape[:-1], 0), F32)
        with pytest.raises(ValueError, match="empty"):
            call(args)
    for slot, value in BAD_SHAPES[workload]:
        args = _good_args(workload)
        args[slot] = value
        with pytest.raises(ValueError, match=r"shape|square|must have"):
            call(args)
    with pytest.raises(ValueError, match="threads"):
        call(_good_args(workload), threads=0)
    with pytest.raises(TypeError, match="threads"):
        call(_good_args(workload), threads="2")


def test_lib_build_is_cached_and_separate(lib):
    """lib_kernels is built from its own sources: editing suite_kernels' kernels does not
    rebuild it (minutes), and the other way round."""
    r = mk.build(mk.default_cache_dir(), module="lib_kernels")
    assert r["cached"] and r["path"].endswith("lib_kernels.so")
    names = {p.name for p in mk.sources("lib_kernels")}
    assert names == {"lib_kernels.mojo", "common.mojo"}
    assert "lib_kernels.mojo" not in {p.name for p in mk.sources()}
    assert "matmul.mojo" in {p.name for p in mk.sources()}
