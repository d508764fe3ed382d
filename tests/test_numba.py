"""The `numba` flavor: the `pure` loops under numba.njit agree with the float64 reference
over random shapes and values, at any thread count; compile time is measured apart from the
samples; JIT runtimes warm up until steady, and the document says how it went."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import flavors, runtimes
from suite.flavors import numba as numba_kernels
from suite.measure import profiles, worker
from suite.measure.check import check_output
from suite.workloads import WORKLOADS, make_inputs
from tests.conftest import InProcessBackend
from tests.test_runner import make_run, only_doc

from .test_workloads import (
    SPECIAL_CASES,
    SPECIAL_VALUES,
    assert_special_values_propagate,
    check,
    random_case,
    run_flavor,
)


def run_at(w, inputs, params, threads):
    fl = flavors.get(w, "numba")
    return np.asarray(fl.run(*fl.prepare(inputs, params), threads=threads))


@pytest.mark.parametrize("name", list(WORKLOADS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_numba_agrees_with_reference_and_pure(name, data, seed):
    w, params, inputs = random_case(name, data, seed)
    out = run_flavor(w, "numba", inputs, params)
    rec = check(w, params, inputs, out)
    assert rec["ok"], (params, rec)
    ref = w.reference(inputs, params)
    pure = run_flavor(w, "pure", inputs, params)
    scale = w.error_scale(inputs, params, ref)
    assert check_output(out, pure, scale, 2 * w.tolerance(params))["ok"]


@pytest.mark.parametrize("name", list(WORKLOADS))
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_thread_count_does_not_change_the_result(name, data, seed):
    # prange splits independent outer iterations only: every element sees the same
    # operations in the same order, so 1 and 2 threads give identical bits.
    w, params, inputs = random_case(name, data, seed)
    one, two = run_at(w, inputs, params, 1), run_at(w, inputs, params, 2)
    assert one.tobytes() == two.tobytes()


@SPECIAL_CASES
@SPECIAL_VALUES
def test_special_values_propagate_like_the_reference(name, key, position, value):
    assert_special_values_propagate(("numba",), name, key, position, value)


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_parallel_kernels_match_the_workload_facts(name):
    # The runner plans threads from the workload (without importing Numba); the kernel's
    # decorator must say the same.
    w = WORKLOADS[name]
    assert numba_kernels.is_parallel(name) == w.parallel_loops == flavors.threaded(w, "numba")


def test_numba_is_in_every_cpython_runtime_and_nowhere_else():
    # every CPython runtime that runs the pure loops also runs them under Numba
    # (cpython-3.13-frameworks runs only NumPy and the frameworks)
    for rt in runtimes.load().values():
        assert ("numba" in rt.flavors) == (rt.kind == "cpython" and "pure" in rt.flavors), rt.id
    assert any("numba" not in rt.flavors for rt in runtimes.load().values() if rt.kind == "cpython")


def test_worker_times_compilation_apart_from_samples(tmp_path):
    w = WORKLOADS["gelu"]
    params = w.params["smoke"][0]
    inputs = tmp_path / "in.npz"
    np.savez(inputs, **make_inputs(w, params, 0))
    job = {"workload": "gelu", "params": params, "flavor": "numba", "threads": 1,
           "mode": "measure", "inputs": str(inputs), "loops": 1, "warmups": 1, "values": 2,
           "result": str(tmp_path / "r.json"), "mojo_cache": str(tmp_path)}
    res = worker.run_job(job)
    assert res["status"] == "ok", res
    assert res["compile_ns"] > 0 and len(res["values"]) == 2
    assert res["runtime"]["numba"]["version"] == numba_kernels.numba.__version__


def test_a_numba_cell_records_compile_times_and_numba_facts(tmp_path, fake_runtime):
    rt = replace(fake_runtime, flavors=("numba",))
    r = make_run(tmp_path, rt, InProcessBackend(), workloads=["xent"])
    assert r.execute() == 0
    doc = only_doc(tmp_path)
    smoke = profiles.get("smoke")
    for c in doc["cells"]:
        assert c["flavor"] == "numba" and c["status"] == "ok"
        # one compile per worker process: calibration plus each measuring process
        assert len(c["compile_ns"]) == 1 + smoke.processes
    assert {c["threads"] for c in doc["cells"]} == {1, os.cpu_count()}
    assert doc["runtime"]["numba"]["threading_layer"]


# -- warm-up until steady (JIT runtimes) --------------------------------------------------

def test_is_steady_needs_two_windows_and_no_further_gain():
    assert not worker.is_steady([100] * 5)
    assert worker.is_steady([100] * 6)
    assert not worker.is_steady([200, 190, 180, 150, 120, 100])  # still falling
    assert worker.is_steady([200, 100, 100, 101, 99, 100, 100][-6:])
    assert worker.is_steady([100, 90, 110, 96, 104, 100])  # noise without a trend


def test_steady_warmups_stop_when_the_jit_has_settled():
    series = iter([900, 600, 300, 200, 120, 100, 100, 101, 99, 100, 100, 100, 100])
    times, steady = worker.steady_warmups(lambda: next(series), minimum=1, loops=1,
                                          limit_ns=10**12)
    assert steady and times[:5] == [900, 600, 300, 200, 120]
    assert worker.is_steady(times) and len(times) < 13


def test_steady_warmups_give_up_at_the_limits():
    falling = iter(int(10**9 * 0.9**i) for i in range(100))  # 10% faster every time
    times, steady = worker.steady_warmups(lambda: next(falling), minimum=1, loops=1,
                                          limit_ns=10**12, maximum=20)
    assert not steady and len(times) == 20
    times, steady = worker.steady_warmups(lambda: 10**6, minimum=1, loops=10,
                                          limit_ns=3 * 10**7)
    assert not steady and len(times) == 3  # 3 warm-ups x 10 loops x 1 ms = the limit


def test_steady_runtime_records_warmups_and_flags_unsteady_ones(tmp_path, fake_runtime,
                                                               monkeypatch):
    rt = replace(fake_runtime, warmup="steady")
    r = make_run(tmp_path / "a", rt, InProcessBackend(), workloads=["gelu"], flavors=["pure"])
    assert r.execute() == 0
    doc = only_doc(tmp_path / "a")
    assert doc["run"]["settings"]["steady_rule"] == worker.STEADY_RULE
    (cell,) = doc["cells"]
    wu = cell["warmup"]
    assert wu["rule"] == "steady" and len(wu["counts"]) == profiles.get("smoke").processes
    assert sum(wu["counts"]) == len(cell["warmups"])
    assert all(n >= 2 * worker.STEADY_WINDOW for n in wu["counts"]) or not all(wu["steady"])

    monkeypatch.setattr(worker, "is_steady", lambda times, *a, **k: False)
    monkeypatch.setattr(worker.steady_warmups, "__defaults__", (4,))
    r = make_run(tmp_path / "b", rt, InProcessBackend(), workloads=["gelu"], flavors=["pure"])
    assert r.execute() == 0
    (cell,) = only_doc(tmp_path / "b")["cells"]
    assert cell["warmup"]["steady"] == [False] * profiles.get("smoke").processes
    assert any(wn["code"] == "not-steady" for wn in cell["warnings"])


def test_fixed_runtime_keeps_the_profile_warmup_count(tmp_path, fake_runtime):
    r = make_run(tmp_path, fake_runtime, InProcessBackend(), workloads=["gelu"],
                 flavors=["pure"])
    assert r.execute() == 0
    (cell,) = only_doc(tmp_path)["cells"]
    smoke = profiles.get("smoke")
    assert cell["warmup"] == {"rule": "fixed", "counts": [smoke.warmups] * smoke.processes}


def test_jit_runtimes_warm_up_until_steady():
    for rt in runtimes.load().values():
        assert (rt.warmup == "steady") == rt.jit, rt.id


def test_bad_warmup_in_the_runtimes_file_is_named(tmp_path):
    f = tmp_path / "runtimes.toml"
    f.write_text('["x"]\nkind = "cpython"\npython = "3.12"\njit = false\nflavors = []\n'
                 'env = {}\nwarmup = "forever"\n')
    with pytest.raises(ValueError, match=r"runtime 'x'.*warmup must be one of"):
        runtimes.load(f)
