"""Every flavor agrees with the float64 reference (and so with each other) within the
documented tolerance, over random shapes, values and seeds; NaN/inf propagate as in the
reference; a wrong answer is caught."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import flavors
from suite.measure import profiles
from suite.measure.check import check_output
from suite.workloads import WORKLOADS, make_inputs

CPU_FLAVORS = ("pure", "numpy")
small = st.integers(min_value=1, max_value=9)

PARAMS = {
    "matmul": st.fixed_dictionaries({"n": st.integers(1, 24), "k": st.integers(1, 24),
                                     "m": st.integers(1, 24),
                                     "dtype": st.sampled_from(["float32", "float64"])}),
    "linreg": st.fixed_dictionaries({"dim": st.integers(1, 6), "batch": small,
                                     "batches": st.integers(1, 6), "epochs": st.integers(1, 2),
                                     "lr": st.sampled_from([0.01, 0.05]),
                                     "dtype": st.sampled_from(["float32", "float64"])}),
    "conv2d": st.fixed_dictionaries({"batch": st.integers(1, 2), "channels": st.integers(1, 3),
                                     "size": st.integers(1, 7), "filters": st.integers(1, 3),
                                     "kernel": st.sampled_from([1, 3, 5]),
                                     "dtype": st.sampled_from(["float32", "float64"])}),
    "gelu": st.fixed_dictionaries({"n": st.integers(1, 300),
                                   "dtype": st.sampled_from(["float32", "float64"])}),
    "xent": st.fixed_dictionaries({"batch": st.integers(1, 12), "classes": st.integers(1, 40),
                                   "dtype": st.sampled_from(["float32", "float64"])}),
}


def random_case(name, data, seed):
    """A Hypothesis-drawn case of workload `name`: (workload, params, seeded inputs)."""
    w = WORKLOADS[name]
    params = data.draw(PARAMS[name])
    return w, params, make_inputs(w, params, seed)


def run_flavor(w, name, inputs, params):
    fl = flavors.get(w, name)
    out = fl.run(*fl.prepare(inputs, params), threads=1)
    return np.asarray(fl.finish(out, params) if fl.finish else out, dtype=np.float64)


def check(w, params, inputs, out):
    ref = w.reference(inputs, params)
    return check_output(out, ref, w.error_scale(inputs, params, ref), w.tolerance(params))


@pytest.mark.parametrize("name", list(WORKLOADS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_flavors_agree_with_reference(name, data, seed):
    w, params, inputs = random_case(name, data, seed)
    outs = {}
    for fl in CPU_FLAVORS:
        outs[fl] = run_flavor(w, fl, inputs, params)
        rec = check(w, params, inputs, outs[fl])
        assert rec["ok"], (fl, params, rec)
    # Both within tol of the reference means within 2 * tol of each other.
    ref = w.reference(inputs, params)
    scale = w.error_scale(inputs, params, ref)
    assert check_output(outs["pure"], outs["numpy"], scale, 2 * w.tolerance(params))["ok"]


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_profile_params_have_inputs_and_flops(name):
    w = WORKLOADS[name]
    for profile in profiles.PROFILES:  # every profile's sizes are defined
        assert w.params[profile], f"{name} has no {profile} parameters"
        for p in w.params[profile]:
            assert w.work(p) > 0
            if w.flops:
                assert w.flops(p) > 0


def test_inputs_are_deterministic_per_seed():
    w = WORKLOADS["matmul"]
    p = {"n": 5, "dtype": "float32"}
    a, b, c = make_inputs(w, p, 1), make_inputs(w, p, 1), make_inputs(w, p, 2)
    assert np.array_equal(a["a"], b["a"]) and not np.array_equal(a["a"], c["a"])


def test_linreg_reference_converges_to_true_weights():
    w = WORKLOADS["linreg"]
    p = w.params["quick"][0]
    inputs = make_inputs(w, p, 0)
    ref = w.reference(inputs, p)
    assert w.validate_reference(inputs, p, ref) is None
    assert ref.shape == (p["dim"] + 1 + p["epochs"],)  # weights, bias, loss per epoch
    assert np.max(np.abs(ref[:p["dim"]] - np.arange(1, 11))) < 0.05
    losses = ref[p["dim"] + 1:]
    assert np.all(np.diff(losses) < 0)  # training: every epoch's loss is lower
    assert losses[-1] == pytest.approx(0.1**2, rel=0.2)  # down to the noise, 0.1^2


def test_linreg_losses_are_the_epochs_mean_squared_residuals():
    w = WORKLOADS["linreg"]
    p = {**w.params["smoke"][0], "epochs": 2}
    i = make_inputs(w, p, 1)
    ref = w.reference(i, p)
    x, y = i["x"].astype(np.float64), i["y"].astype(np.float64)
    # Epoch 1's first batch uses the initial weights: its residuals are known exactly.
    r0 = x[0] @ i["w0"].astype(np.float64) + float(i["b0"][0]) - y[0]
    one_batch = {**p, "batches": 1, "epochs": 1}
    first = w.reference({**i, "x": i["x"][:1], "y": i["y"][:1]}, one_batch)
    assert first[-1] == pytest.approx(np.mean(r0**2), rel=1e-12)
    assert ref[-2] > ref[-1] > 0


def test_conv2d_article_flops():
    w = WORKLOADS["conv2d"]
    full = next(p for p in w.params["full"] if p["size"] == 224)
    assert w.flops(full) == pytest.approx(5.55e9, rel=0.01)


# One NaN/inf planted in one input (workload, input, position) x value; every flavor's tests
# (here, tests/test_numba.py, tests/pypy_agreement.py) use these cases.
SPECIAL_CASES = pytest.mark.parametrize("name,key,position", [
    ("matmul", "a", (0, 1)), ("gelu", "x", (3,)), ("xent", "logits", (1, 2)),
    ("conv2d", "x", (0, 0, 1, 1)), ("linreg", "x", (0, 0, 0)),
])
SPECIAL_VALUES = pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])


def assert_special_values_propagate(flavors, name, key, position, value):
    """Each flavor's output has the NaN/inf where the reference has them, and agrees
    elsewhere."""
    w = WORKLOADS[name]
    params = dict(w.params["smoke"][0])
    inputs = make_inputs(w, params, 3)
    inputs[key] = inputs[key].copy()
    inputs[key][position] = value
    ref = w.reference(inputs, params)
    if np.isnan(value):
        assert np.isnan(ref).any(), "a NaN input must reach the reference output"
    for fl in flavors:
        rec = check(w, params, inputs, run_flavor(w, fl, inputs, params))
        assert rec["ok"], (fl, rec)


@SPECIAL_CASES
@SPECIAL_VALUES
def test_special_values_propagate_like_the_reference(name, key, position, value):
    assert_special_values_propagate(CPU_FLAVORS, name, key, position, value)


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_a_wrong_answer_is_caught(name):
    w = WORKLOADS[name]
    params = dict(w.params["smoke"][0])
    inputs = make_inputs(w, params, 0)
    out = run_flavor(w, "numpy", inputs, params)
    assert check(w, params, inputs, out)["ok"]
    bad = out.copy()
    bad.flat[bad.size // 2] += 1e-2 * (abs(bad.flat[bad.size // 2]) + 1)
    rec = check(w, params, inputs, bad)
    assert not rec["ok"] and "exceeds tolerance" in rec["message"]
    nan = out.copy()
    nan.flat[0] = np.nan
    assert "NaN" in check(w, params, inputs, nan)["message"]
    assert "shape" in check(w, params, inputs, out[:-1] if out.ndim else out)["message"] \
        or out.ndim == 0
