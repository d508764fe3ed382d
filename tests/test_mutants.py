"""The output check catches kernels that do less (or other) work, and passes the real ones.

Per workload, plausible wrong kernels ("mutants": fewer epochs or batches, a learning rate
off by 20%, a skipped row, column or class, a transposed operand, wrong padding, an exp
or tanh with 1e-3 relative error, float16 accumulation, a dropped bias) must all be
rejected by the very check the worker applies (`suite.measure.check.check_output` with
the workload's reference, error scale and tolerance), on both dtypes and several seeds.
Every real flavor, including the Mojo ones, must pass that check on the Hypothesis shapes
of tests/test_workloads.py. Last, `python -m suite check` does the same from the command
line, for an output made by anyone.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import flavors
from suite.workloads import WORKLOADS, Inputs, Params, canonical, make_inputs
from tests.conftest import suite_cmd
from tests.test_workloads import (
    SPECIAL_CASES,
    SPECIAL_VALUES,
    assert_special_values_propagate,
    check,
    random_case,
    run_flavor,
)

Mutant = Callable[[Inputs, Params], np.ndarray]
F16 = np.float16
SEEDS = (0, 1, 2)


def f32_for_f64(run: Callable[[Inputs, Params], np.ndarray]) -> Mutant:
    """The same kernel computing in float32 although the cell is float64 (less work)."""
    def mutant(i: Inputs, p: Params) -> np.ndarray:
        low = {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in i.items()}
        return run(low, {**p, "dtype": "float32"}).astype(np.float64)
    return mutant


# ------------------------------------------------------------------------------ matmul

def matmul_f16_accumulation(i: Inputs, p: Params) -> np.ndarray:
    a, b = i["a"], i["b"]
    acc = np.zeros((a.shape[0], b.shape[1]), F16)
    for k in range(a.shape[1]):  # products in the dtype, the running sum in float16
        acc = (acc + np.outer(a[:, k], b[k]).astype(F16)).astype(F16)
    return acc.astype(p["dtype"])


def matmul_zeroed(rows: slice, cols: slice) -> Mutant:
    def mutant(i: Inputs, p: Params) -> np.ndarray:
        c = i["a"] @ i["b"]
        c[rows, cols] = 0
        return c
    return mutant


MATMUL: dict[str, Mutant] = {
    "last row of C skipped": matmul_zeroed(slice(-1, None), slice(None)),
    "last column of C skipped": matmul_zeroed(slice(None), slice(-1, None)),
    "last k skipped": lambda i, p: i["a"][:, :-1] @ i["b"][:-1],
    "A transposed": lambda i, p: i["a"].T @ i["b"],
    "B transposed": lambda i, p: i["a"] @ i["b"].T,
    "float16 accumulation": matmul_f16_accumulation,
    "float32 arithmetic": f32_for_f64(lambda i, p: i["a"] @ i["b"]),
}


# ------------------------------------------------------------------------------ linreg

def sgd(i: Inputs, p: Params, *, epochs: int | None = None, skip_batches: int = 0,
        lr_factor: float = 1.0, rows: slice = slice(None), frozen_feature: bool = False,
        bias: bool = True, dtype: str | None = None, last_batch_loss: bool = False,
        repeat_last_loss: bool = False) -> np.ndarray:
    """The numpy flavor's SGD with one thing changed (the keyword given)."""
    dt = np.dtype(dtype or p["dtype"])
    t = dt.type
    x, y = i["x"].astype(dt), i["y"].astype(dt)
    w, b = i["w0"].astype(dt), t(i["b0"][0])
    scale, lr = t(2.0 / x.shape[1]), t(p["lr"] * lr_factor)
    batches = [(xb[rows], yb[rows]) for xb, yb in zip(x, y)][skip_batches:]
    used = len(batches[0][1])  # samples per batch this kernel uses
    losses = []
    for _ in range(p["epochs"] if epochs is None else epochs):
        total = t(0)
        for xb, yb in batches:
            r = (xb @ w + b - yb).astype(dt)
            total = t(r @ r) if last_batch_loss else t(total + r @ r)
            g = r * scale
            step = (lr * (g @ xb)).astype(dt)
            if frozen_feature:
                step[-1] = 0
            w = (w - step).astype(dt)
            if bias:
                b = t(b - lr * g.sum())
        losses.append(total / t(used if last_batch_loss else len(batches) * used))
    if repeat_last_loss:  # keeps the output's shape
        losses += losses[-1:] * (p["epochs"] - len(losses))
    return np.concatenate([w, [b], losses]).astype(p["dtype"])


LINREG: dict[str, Mutant] = {
    "one epoch fewer": lambda i, p: sgd(i, p, epochs=p["epochs"] - 1),
    "one epoch fewer, last loss repeated": lambda i, p: sgd(
        i, p, epochs=p["epochs"] - 1, repeat_last_loss=True),
    "a tenth of the batches skipped (10 of 100)": lambda i, p: sgd(
        i, p, skip_batches=p["batches"] // 10),
    "one batch of every epoch skipped": lambda i, p: sgd(i, p, skip_batches=1),
    "lr 20% high": lambda i, p: sgd(i, p, lr_factor=1.2),
    "lr 20% low": lambda i, p: sgd(i, p, lr_factor=0.8),
    "last row of every batch skipped": lambda i, p: sgd(i, p, rows=slice(None, -1)),
    "last feature never trained": lambda i, p: sgd(i, p, frozen_feature=True),
    "bias dropped": lambda i, p: sgd(i, p, bias=False),
    "float16 arithmetic": lambda i, p: sgd(i, p, dtype="float16"),
    "loss of the epoch's last batch only": lambda i, p: sgd(i, p, last_batch_loss=True),
    "float32 arithmetic": f32_for_f64(lambda i, p: sgd(i, p)),
}


# ------------------------------------------------------------------------------ conv2d

def conv(x: np.ndarray, w: np.ndarray, bias: np.ndarray, pad: tuple[int, int] | None = None,
         acc: type | None = None) -> np.ndarray:
    """Zero-padded stride-1 convolution (cross-correlation) with `pad` = (before, after)
    rows/columns; `acc` accumulates the k*k*C taps one by one in that dtype."""
    k = w.shape[-1]
    lo, hi = pad if pad is not None else ((k - 1) // 2, (k - 1) // 2)
    xp = np.pad(x, ((0, 0), (0, 0), (lo, hi), (lo, hi)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))
    if acc is None:
        return np.einsum("nchwij,fcij->nfhw", win, w) + bias[None, :, None, None]
    out = np.broadcast_to(bias[None, :, None, None].astype(acc),
                          (x.shape[0], w.shape[0], *win.shape[2:4])).copy()
    for c in range(w.shape[1]):
        for di in range(k):
            for dj in range(k):
                tap = np.einsum("nhw,f->nfhw", win[:, c, :, :, di, dj], w[:, c, di, dj])
                out = (out + tap.astype(acc)).astype(acc)
    return out


def conv_valid_only(i: Inputs, p: Params) -> np.ndarray:
    """Padding 0: the interior is right, the border keeps the bias."""
    x, w, bias = i["x"], i["w"], i["bias"]
    out = np.broadcast_to(bias[None, :, None, None], (x.shape[0], w.shape[0], *x.shape[2:]))
    out = out.astype(x.dtype)
    r = (w.shape[-1] - 1) // 2
    out[:, :, r:x.shape[2] - r, r:x.shape[3] - r] = conv(x, w, bias, pad=(0, 0))
    return out


def conv_last_column_skipped(i: Inputs, p: Params) -> np.ndarray:
    out = conv(i["x"], i["w"], i["bias"])
    out[..., -1] = i["bias"][None, :, None]
    return out


CONV2D: dict[str, Mutant] = {
    "padding 0 (border left at the bias)": conv_valid_only,
    "window off by one": lambda i, p: conv(i["x"], i["w"], i["bias"], pad=(0, 2)),
    "kernel flipped": lambda i, p: conv(i["x"], i["w"][..., ::-1, ::-1], i["bias"]),
    "kernel transposed": lambda i, p: conv(i["x"], i["w"].swapaxes(-1, -2), i["bias"]),
    "last input channel skipped": lambda i, p: conv(i["x"][:, :-1], i["w"][:, :-1],
                                                    i["bias"]),
    "last output column skipped": conv_last_column_skipped,
    "bias dropped": lambda i, p: conv(i["x"], i["w"], 0 * i["bias"]),
    "float16 accumulation": lambda i, p: conv(i["x"], i["w"], i["bias"], acc=F16),
    "float32 arithmetic": f32_for_f64(lambda i, p: conv(i["x"], i["w"], i["bias"])),
}


# ------------------------------------------------------------------------------ gelu

GELU_C = math.sqrt(2 / math.pi)


def gelu(x: np.ndarray, tanh: Callable = np.tanh, cubic: float = 0.044715) -> np.ndarray:
    t = x.dtype.type
    return t(0.5) * x * (1 + tanh(t(GELU_C) * (x + t(cubic) * x * x * x)))


def approx(f: Callable, rel: float = 1e-3) -> Callable:
    """`f` with a relative error of up to `rel` that oscillates with the argument, as a
    short polynomial approximation's does."""
    return lambda z: f(z) * (1 + z.dtype.type(rel) * np.cos(8 * z))


def gelu_erf(i: Inputs, p: Params) -> np.ndarray:
    x = i["x"].astype(np.float64)
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def gelu_tail_skipped(i: Inputs, p: Params) -> np.ndarray:
    """An 8-wide loop without its remainder loop: the last 7 elements left at 0 (one
    alone may be ~0 anyway: gelu(-8) is)."""
    out = gelu(i["x"])
    out[-7:] = 0
    return out


GELU: dict[str, Mutant] = {
    "tanh with 1e-3 relative error": lambda i, p: gelu(i["x"], tanh=approx(np.tanh)),
    "cubic term dropped": lambda i, p: gelu(i["x"], cubic=0.0),
    "exact (erf) GELU instead of the tanh form": gelu_erf,
    "float16 arithmetic": lambda i, p: gelu(i["x"].astype(F16)),
    "last 7 elements skipped": gelu_tail_skipped,
    "float32 arithmetic": f32_for_f64(lambda i, p: gelu(i["x"])),
}


# ------------------------------------------------------------------------------ xent

def xent(logits: np.ndarray, labels: np.ndarray, exp: Callable = np.exp,
         acc: type | None = None, classes: slice = slice(None)) -> np.ndarray:
    m = logits.max(axis=1, keepdims=True)
    e = exp(logits[:, classes] - m)
    if acc is None:
        s = e.sum(axis=1)
    else:  # the sum over classes runs in `acc`, one term at a time
        s = np.zeros(len(e), acc)
        for j in range(e.shape[1]):
            s = (s + e[:, j].astype(acc)).astype(acc)
    return np.log(s.astype(logits.dtype)) + m[:, 0] - logits[np.arange(len(labels)), labels]


def xent_row_skipped(i: Inputs, p: Params) -> np.ndarray:
    out = xent(i["logits"], i["labels"])
    out[-1] = 0
    return out


XENT: dict[str, Mutant] = {
    "exp with 1e-3 relative error": lambda i, p: xent(i["logits"], i["labels"],
                                                      exp=approx(np.exp)),
    "last class skipped": lambda i, p: xent(i["logits"], i["labels"], classes=slice(0, -1)),
    "last row skipped": xent_row_skipped,
    "label off by one": lambda i, p: xent(i["logits"], (i["labels"] + 1) % p["classes"]),
    "float16 accumulation": lambda i, p: xent(i["logits"], i["labels"], acc=F16),
    "float32 arithmetic": f32_for_f64(lambda i, p: xent(i["logits"], i["labels"])),
}

MUTANTS: dict[str, dict[str, Mutant]] = {
    "matmul": MATMUL, "linreg": LINREG, "conv2d": CONV2D, "gelu": GELU, "xent": XENT}

# The mutants run at the smoke and quick profiles' sizes up to MAX_WORK (matmul 128,
# conv2d's 2x3x32x32 case, all of linreg, gelu and xent), both dtypes.
MAX_WORK = 5e6


def mutant_params(name: str) -> list[Params]:
    w = WORKLOADS[name]
    sizes = {canonical({**p, "dtype": ""}): p for p in (*w.params["smoke"], *w.params["quick"])
             if w.work(p) <= MAX_WORK}
    return [{**p, "dtype": d} for p in sizes.values() for d in ("float32", "float64")]




def applies(mutant: str, p: Params) -> bool:
    """Whether `mutant` is wrong at all at `p` (float32 arithmetic is right for float32,
    one epoch fewer with the last loss repeated needs two epochs)."""
    if mutant == "float32 arithmetic":
        return p["dtype"] == "float64"
    return mutant != "one epoch fewer, last loss repeated" or p["epochs"] >= 2


CASES = [pytest.param(name, mutant, p, id=f"{name}-{mutant}-{canonical(p)}")
         for name, mutants in MUTANTS.items() for mutant in mutants
         for p in mutant_params(name) if applies(mutant, p)]


def test_every_workload_has_mutants():
    assert set(MUTANTS) == set(WORKLOADS)


@pytest.mark.parametrize("name,mutant,p", CASES)
def test_mutant_is_rejected(name, mutant, p):
    w = WORKLOADS[name]
    for seed in SEEDS:
        i = make_inputs(w, p, seed)
        with np.errstate(all="ignore"):
            out = MUTANTS[name][mutant](i, p)
        rec = check(w, p, i, out)
        assert not rec["ok"], (f"{name} mutant {mutant!r} passed the check at {p}, seed "
                               f"{seed}: {rec}")


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_the_numpy_flavor_passes_where_the_mutants_fail(name):
    """The control: the mutants' sizes, dtypes and seeds are fine for a right kernel."""
    w = WORKLOADS[name]
    for p in mutant_params(name):
        for seed in SEEDS:
            i = make_inputs(w, p, seed)
            rec = check(w, p, i, run_flavor(w, "numpy", i, p))
            assert rec["ok"], (name, p, seed, rec)


# ------------------------------------------------------------------------------ real flavors

MOJO = tuple(n for n in flavors.MOJO_FLAVORS)
CPU = ("pure", "numpy", flavors.NUMBA)  # the other real flavors
# Mojo kernels exist for these dtypes only (conv2d's, like its profiles, are float32).
MOJO_DTYPES = {"conv2d": ("float32",)}




def mojo_flavors(name: str) -> list[str]:
    return [f for f in flavors.names(WORKLOADS[name]) if f in MOJO]


@pytest.mark.parametrize("name", list(WORKLOADS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_mojo_flavors_pass_the_check(mojo_kernels, name, data, seed):
    """pure and numpy: tests/test_workloads.py; numba: tests/test_numba.py (same check)."""
    w, params, inputs = random_case(name, data, seed)
    if params["dtype"] not in MOJO_DTYPES.get(name, ("float32", "float64")):
        params = {**params, "dtype": "float32"}
        inputs = make_inputs(w, params, seed)
    for fl in mojo_flavors(name):
        rec = check(w, params, inputs, run_flavor(w, fl, inputs, params))
        assert rec["ok"], (fl, params, rec)


def assert_flavors_pass_at_the_mutant_sizes(name: str, names: list[str]) -> None:
    """Flavors `names` pass the check where the mutants fail (`pure` at smoke sizes only:
    the quick ones take minutes of plain Python)."""
    w = WORKLOADS[name]
    for p in mutant_params(name):
        i = make_inputs(w, p, 0)
        smoke = any(canonical({**q, "dtype": p["dtype"]}) == canonical(p)
                    for q in w.params["smoke"])
        for fl in names:
            if (fl == "pure" and not smoke) or (
                    fl in MOJO and p["dtype"] not in MOJO_DTYPES.get(name, (p["dtype"],))):
                continue
            rec = check(w, p, i, run_flavor(w, fl, i, p))
            assert rec["ok"], (fl, p, rec)


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_cpu_flavors_pass_at_the_mutant_sizes(name):
    assert_flavors_pass_at_the_mutant_sizes(name, list(CPU))


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_mojo_flavors_pass_at_the_mutant_sizes(mojo_kernels, name):
    assert_flavors_pass_at_the_mutant_sizes(name, mojo_flavors(name))


@SPECIAL_CASES
@SPECIAL_VALUES
def test_mojo_special_values_propagate_like_the_reference(mojo_kernels, name, key, position,
                                                         value):
    assert_special_values_propagate(mojo_flavors(name), name, key, position, value)


# ------------------------------------------------------------------------------ suite check

def test_check_command_end_to_end(tmp_path):
    """exec saves inputs and a right output: ok (0); a mutant's output: wrong (1)."""
    inputs, out, bad = tmp_path / "in.npz", tmp_path / "out.npy", tmp_path / "bad.npy"
    proc = suite_cmd("exec", "linreg", "--flavor", "numpy", "--param", "epochs=3",
                     "--output", str(out), "--save-inputs", str(inputs))
    assert proc.returncode == 0, proc.stderr
    proc = suite_cmd("check", "linreg", "--inputs", str(inputs), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "verdict                  ok" in proc.stdout and "tolerance" in proc.stdout

    w = WORKLOADS["linreg"]
    with np.load(inputs) as z:
        i = {k: z[k] for k in z.files if not k.startswith("_")}
    p = {**w.params["smoke"][0], "epochs": 3}
    np.save(bad, LINREG["one batch of every epoch skipped"](i, p))
    proc = suite_cmd("check", "linreg", "--inputs", str(inputs), "--output", str(bad))
    assert proc.returncode == 1, proc.stderr
    assert "WRONG: max scaled error" in proc.stdout
    assert re.search(r"at (w\[\d\]|b|loss\[\d\]) ", proc.stdout), proc.stdout  # named

    proc = suite_cmd("check", "linreg", "--inputs", str(inputs), "--output", str(bad), "--json")
    rec = json.loads(proc.stdout)
    assert proc.returncode == 1 and rec["check"]["ok"] is False
    assert rec["check"]["max_error"] > rec["check"]["tolerance"]


def test_check_command_with_generated_inputs(tmp_path):
    """Without --inputs the seeded generator's inputs (any implementation can make them)."""
    w = WORKLOADS["matmul"]
    p = {"n": 9, "dtype": "float64"}
    out = tmp_path / "c.npy"
    i = make_inputs(w, p, 5)
    np.save(out, i["a"] @ i["b"])
    args = ("check", "matmul", "--param", "n=9", "--param", "dtype=float64", "--output", str(out))
    assert suite_cmd(*args, "--seed", "5").returncode == 0
    proc = suite_cmd(*args, "--seed", "6")
    assert proc.returncode == 1 and "WRONG" in proc.stdout


@pytest.mark.parametrize("case,expect", [
    ("missing output", "cannot read output"),
    ("missing inputs", "cannot read inputs"),
    ("wrong shape", "outputs shape (14,): [w (10), b (1), loss (3)]"),
    ("wrong dtype", "has dtype int64"),
    ("npz as output", "is an .npz archive"),
    ("unknown param", "linreg has no parameter 'eta'"),
    ("param not as stored", "holds inputs for linreg["),
    ("inputs of another workload", "has no array 'x'"),
    ("inputs of another size", "x is (10, 64, 10) float32, but"),
    ("unknown workload", "unknown workload 'linreq'"),
    ("bad dtype", "--param dtype=float16: expected float32 or float64"),
])
def test_check_command_bad_input(tmp_path, case, expect):
    inputs, out = tmp_path / "in.npz", tmp_path / "out.npy"
    assert suite_cmd("exec", "linreg", "--flavor", "numpy", "--param", "epochs=3",
                     "--output", str(out), "--save-inputs", str(inputs)).returncode == 0
    other = tmp_path / "other.npz"
    right = ["linreg", "--inputs", str(inputs), "--output", str(out)]
    args = {
        "missing output": ["linreg", "--inputs", str(inputs), "--output", str(tmp_path / "x")],
        "missing inputs": ["linreg", "--inputs", str(tmp_path / "no.npz"), "--output", str(out)],
        "wrong shape": right,
        "wrong dtype": right,
        "npz as output": ["linreg", "--inputs", str(inputs), "--output", str(inputs)],
        "unknown param": [*right, "--param", "eta=3"],
        "param not as stored": [*right, "--param", "epochs=5"],
        "inputs of another workload": ["linreg", "--inputs", str(other), "--output", str(out)],
        "inputs of another size": ["linreg", "--param", "batches=3", "--param", "epochs=3",
                                   "--inputs", str(other), "--output", str(out)],
        "unknown workload": ["linreq", "--output", str(out)],
        "bad dtype": ["linreg", "--param", "dtype=float16", "--output", str(out)],
    }[case]
    if case == "wrong shape":
        np.save(out, np.load(out)[:-1])
    elif case == "wrong dtype":
        np.save(out, np.load(out).astype(np.int64))
    elif case == "inputs of another workload":
        np.savez(other, a=np.zeros((2, 2)))
    elif case == "inputs of another size":
        w = WORKLOADS["linreg"]
        np.savez(other, **make_inputs(w, w.params["smoke"][0], 0))
    proc = suite_cmd("check", *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert expect in proc.stderr, proc.stderr
