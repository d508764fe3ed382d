"""Runs INSIDE PyPy: the `pure` and `numpy` flavors of every workload agree with the float64
reference on random shapes, values and seeds (Hypothesis, the strategies of
tests/test_workloads.py), NaN/inf propagate as in the reference, and JIT-compiled `pure`
code (after many calls) still gives the right answer.

tests/test_pypy.py starts it in the pypy-3.11 image plus pytest and Hypothesis
(docker/pypy-test.Dockerfile), with the project mounted read-only:

    python3 -m pytest -p no:cacheprovider tests/pypy_agreement.py

It has no `test_` prefix so that the host's `pytest` run (CPython) does not collect it;
run under anything but PyPy it fails on purpose.
"""

from __future__ import annotations

import platform
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite.workloads import WORKLOADS, make_inputs
from tests.test_workloads import (
    PARAMS,
    SPECIAL_CASES,
    SPECIAL_VALUES,
    assert_special_values_propagate,
    check,
    random_case,
    run_flavor,
)

FLAVORS = ("pure", "numpy")  # what runtimes.toml gives pypy-3.11


def test_this_is_pypy_with_its_jit():
    assert platform.python_implementation() == "PyPy", sys.version
    assert sys.version_info[:2] == (3, 11), sys.version
    import pypyjit  # noqa: F401  (only JIT builds have it)

    from suite.measure import environment

    assert environment.jit_state()["enabled"] is True


def test_every_workload_has_a_strategy():
    assert set(WORKLOADS) <= set(PARAMS), set(WORKLOADS) - set(PARAMS)


@pytest.mark.parametrize("name", list(WORKLOADS))
@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_flavors_agree_with_reference(name, data, seed):
    w, params, inputs = random_case(name, data, seed)
    for fl in FLAVORS:
        out = run_flavor(w, fl, inputs, params)
        rec = check(w, params, inputs, out)
        assert rec["ok"], (fl, params, rec)


@SPECIAL_CASES
@SPECIAL_VALUES
def test_special_values_propagate_like_the_reference(name, key, position, value):
    assert_special_values_propagate(FLAVORS, name, key, position, value)


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_hot_pure_code_stays_right(name):
    """The timed calls run JIT-compiled code: after many calls the answer is unchanged."""
    w = WORKLOADS[name]
    params = dict(w.params["smoke"][0])
    inputs = make_inputs(w, params, 7)
    fl = w.flavors["pure"]
    args = fl.prepare(inputs, params)
    first = None
    for _ in range(40):
        out = fl.run(*args, threads=1)
        arr = np.asarray(fl.finish(out, params) if fl.finish else out, dtype=np.float64)
        first = arr if first is None else first
    rec = check(w, params, inputs, arr)
    assert rec["ok"], rec
    assert np.array_equal(arr, first)  # the same inputs give the same bits, hot or cold
