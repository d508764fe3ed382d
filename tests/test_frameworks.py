"""The `torch`, `torch-compile` and `jax` flavors: they agree with the float64 reference over
random shapes, dtypes and values at 1 thread and at all cores, NaN/inf land where the
reference has them, compile time is apart from the samples, the thread count asked for is
the one that runs, and the document records the frameworks' facts.

JAX's thread count is fixed when its backend starts, once per process: this process starts
it on 1 thread (SUITE_TEST_JAX_THREADS, default 1), and one test runs the JAX agreement test
again in a child process on all cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import flavors, runtimes
from suite.analysis.report import model
from suite.flavors import jax as jax_flavor
from suite.flavors import torch as torch_flavor
from suite.measure import profiles
from suite.runtimes.backend import worker_env
from suite.workloads import WORKLOADS, make_inputs
from tests.conftest import ROOT, InProcessBackend
from tests.test_runner import make_run, only_doc

from .test_workloads import (
    SPECIAL_CASES,
    SPECIAL_VALUES,
    assert_special_values_propagate,
    check,
    random_case,
)

CORES = os.cpu_count() or 1
JAX_THREADS = int(os.environ.get("SUITE_TEST_JAX_THREADS", "1"))
FRAMEWORKS = ("torch", "torch-compile", "jax")
REQS = ROOT / "suite" / "requirements"


@pytest.fixture(scope="module", autouse=True)
def jax_backend() -> int:
    return jax_flavor.start_backend(JAX_THREADS)


def run_at(w, name, inputs, params, threads):
    """What the worker does: prepare, compile (timed apart there), call, finish."""
    if name == "torch-compile":
        torch._dynamo.reset()  # fresh compile per case: the recompile limit never falls back
    fl = flavors.get(w, name)
    args = fl.prepare(inputs, params)
    if fl.compile:
        fl.compile(args)
    return np.asarray(fl.finish(fl.run(*args, threads=threads), params), dtype=np.float64)


def assert_agrees(name, wname, data, seed, threads):
    w, params, inputs = random_case(wname, data, seed)
    rec = check(w, params, inputs, run_at(w, name, inputs, params, threads))
    assert rec["ok"], (name, threads, params, rec)


@pytest.mark.parametrize("wname", list(WORKLOADS))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**32 - 1), threads=st.sampled_from([1, CORES]))
def test_torch_agrees_with_reference(wname, data, seed, threads):
    assert_agrees("torch", wname, data, seed, threads)


@pytest.mark.parametrize("wname", list(WORKLOADS))
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**32 - 1), threads=st.sampled_from([1, CORES]))
def test_torch_compile_agrees_with_reference(wname, data, seed, threads):
    assert_agrees("torch-compile", wname, data, seed, threads)


@pytest.mark.parametrize("wname", list(WORKLOADS))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_jax_agrees_with_reference(wname, data, seed):
    assert jax_flavor.start_backend() == JAX_THREADS
    assert_agrees("jax", wname, data, seed, JAX_THREADS)


def test_jax_agrees_on_the_other_thread_count():
    other = CORES if JAX_THREADS == 1 else 1
    env = {**os.environ, "SUITE_TEST_JAX_THREADS": str(other), "OMP_NUM_THREADS": str(other)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           __file__, "-k", "test_jax_agrees_with_reference"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"{len(WORKLOADS)} passed" in proc.stdout


@SPECIAL_CASES
@SPECIAL_VALUES
def test_special_values_propagate_like_the_reference(name, key, position, value):
    torch._dynamo.reset()
    assert_special_values_propagate(FRAMEWORKS, name, key, position, value)


@pytest.mark.parametrize("name", FRAMEWORKS)
@pytest.mark.parametrize("wname", ["gelu", "linreg"])
def test_a_wrong_answer_from_the_framework_is_caught(name, wname, monkeypatch):
    # The same check that passes above fails when the framework computes something else:
    # gelu without the tanh approximation, SGD with a 2% larger learning rate.
    w = WORKLOADS[wname]
    params = dict(w.params["smoke"][0])
    inputs = make_inputs(w, params, 0)
    if wname == "gelu":
        mod = torch_flavor if name != "jax" else jax_flavor
        exact = (lambda x: torch.nn.functional.gelu(x)) if mod is torch_flavor else (
            lambda x: jax_flavor.jax.nn.gelu(x, approximate=False))
        monkeypatch.setitem(mod.KERNELS, "gelu", exact)
        bad = params
    else:
        bad = {**params, "lr": params["lr"] * 1.02}
    torch._dynamo.reset()
    fl = flavors.get(w, name)
    args = fl.prepare(inputs, bad)
    threads = JAX_THREADS if name == "jax" else 1
    out = fl.finish(fl.run(*args, threads=threads), params)
    assert not check(w, params, inputs, np.asarray(out, dtype=np.float64))["ok"]


# -- threads -------------------------------------------------------------------------------

def busy_threads(call, min_ticks: int = 100, max_calls: int = 500) -> list[int]:
    """CPU ticks each thread of this process spent in calls of `call`, busiest first, calling
    until the busiest thread has `min_ticks` (1 s of CPU at 100 Hz: a clock tick is 10 ms, so
    a short run cannot tell a worker thread from a dispatcher's stray tick). From /proc: CPU
    time per thread, not wall time, so a loaded machine does not change it."""
    def ticks() -> dict[str, int]:
        out = {}
        for tid in os.listdir("/proc/self/task"):
            try:
                stat = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[tid] = int(stat[11]) + int(stat[12])  # utime + stime
        return out

    before = ticks()
    for _ in range(max_calls):
        call()
        after = ticks()
        spent = sorted((t - before.get(k, 0) for k, t in after.items()), reverse=True)
        if spent[0] >= min_ticks:
            break
    return spent


def matmul_call(name: str, threads: int):
    w = WORKLOADS["matmul"]
    params = {"n": 768, "dtype": "float64"}
    fl = flavors.get(w, name)
    args = fl.prepare(make_inputs(w, params, 0), params)
    if fl.compile:
        fl.compile(args)
    fl.run(*args, threads=threads)
    return lambda: fl.run(*args, threads=threads)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")
@pytest.mark.parametrize("name", ["torch", "jax"])
def test_one_thread_means_one_busy_thread(name):
    # XLA ignores OMP_NUM_THREADS and, with only the Eigen flags, still ran on 4 busy
    # threads here: NPROC=1 is what makes it one (suite/flavors/jax.py).
    if name == "jax" and JAX_THREADS != 1:
        pytest.skip("this process's JAX backend runs on all cores")
    ticks = busy_threads(matmul_call(name, 1))
    assert ticks[0] > 0 and all(t <= ticks[0] // 10 for t in ticks[1:]), ticks


@pytest.mark.skipif(not os.path.isdir("/proc/self/task") or CORES < 2,
                    reason="needs Linux's /proc and 2 cores")
def test_the_busy_thread_check_can_fail():
    ticks = busy_threads(matmul_call("torch", CORES))  # all cores: several busy threads
    assert not all(t <= ticks[0] // 10 for t in ticks[1:]), ticks


def test_torch_takes_the_cells_thread_count():
    for threads in (1, CORES, 1):
        torch_flavor.set_threads(threads)
        assert torch.get_num_threads() == threads


def test_jax_refuses_a_thread_count_it_cannot_run():
    with pytest.raises(RuntimeError, match="cannot run on"):
        jax_flavor.start_backend(CORES + 1)


# -- the worker, the runner and the document -----------------------------------------------

def run_worker(tmp_path, name: str, threads: int) -> dict:
    """One real worker process, as the native backend starts it (whitelisted environment)."""
    w = WORKLOADS["gelu"]
    params = w.params["smoke"][0]
    inputs = tmp_path / "in.npz"
    np.savez(inputs, **make_inputs(w, params, 0))
    result = tmp_path / f"{name}-{threads}.json"
    job = {"workload": "gelu", "params": params, "flavor": name, "threads": threads,
           "mode": "measure", "inputs": str(inputs), "loops": 1, "warmups": 1, "values": 2,
           "result": str(result), "mojo_cache": str(tmp_path)}
    job_path = tmp_path / f"{name}-{threads}.job.json"
    job_path.write_text(json.dumps(job))
    rt = runtimes.load()["cpython-3.13-frameworks"]
    env = {**worker_env(rt, threads), "PYTHONPATH": str(ROOT), "PATH": os.environ["PATH"]}
    proc = subprocess.run([sys.executable, "-m", "suite.measure.worker", str(job_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(result.read_text())


@pytest.mark.parametrize("threads", sorted({1, CORES}))
@pytest.mark.parametrize("name", FRAMEWORKS)
def test_worker_runs_the_framework_and_records_it(tmp_path, name, threads):
    res = run_worker(tmp_path, name, threads)
    assert res["status"] == "ok", res
    assert len(res["values"]) == 2 and res["check"]["ok"]
    assert ("compile_ns" in res) == (name != "torch")  # eager torch compiles nothing
    if name == "jax":
        facts = res["runtime"]["jax"]
        assert facts["version"] == jax_flavor.jax.__version__ and facts["x64"] is True
        assert facts["env_by_threads"]["1"]["NPROC"] == "1"
    else:
        facts = res["runtime"]["torch"]
        assert facts["version"] == torch.__version__ and facts["parallel_backend"]
        assert (facts["inductor_cache"] is not None) == (name == "torch-compile")


class FamilyFactsOnlyFromTheirWorkers(InProcessBackend):
    """In one process every imported toolchain reports facts; a real worker only its own."""

    def run_worker(self, rt, job, env, timeout):
        res = super().run_worker(rt, job, env, timeout)
        if job["flavor"] not in torch_flavor.NAMES:
            res.get("runtime", {}).pop("torch", None)
        return res


def test_a_torch_compile_cell_records_compile_times_and_torch_facts(tmp_path, fake_runtime):
    rt = replace(fake_runtime, flavors=("numpy", "torch-compile"))
    r = make_run(tmp_path, rt, FamilyFactsOnlyFromTheirWorkers(), workloads=["xent"])
    assert r.execute() == 0
    doc = only_doc(tmp_path)
    smoke = profiles.get("smoke")
    cells = [c for c in doc["cells"] if c["flavor"] == "torch-compile"]
    assert {c["threads"] for c in cells} == {1, CORES}
    for c in cells:
        assert c["status"] == "ok" and len(c["compile_ns"]) == 1 + smoke.processes
    # the numpy cells ran first and reported no torch facts: the first torch cell's count
    assert doc["runtime"]["torch"]["version"] == torch.__version__


# -- where they run --------------------------------------------------------------------------

def test_frameworks_have_pinned_requirement_files_and_constraints():
    pins = {line.split("==")[0].lower() for line in (REQS / "constraints.txt").read_text()
            .splitlines() if "==" in line}
    for family in ("torch", "jax"):
        lines = [ln.split("#")[0].strip() for ln in (REQS / f"{family}.txt").read_text()
                 .splitlines()]
        reqs = [ln for ln in lines if ln]
        assert reqs and all("==" in r for r in reqs), reqs
        assert {r.split("==")[0].lower() for r in reqs} <= pins


def test_frameworks_run_in_their_own_runtime_only():
    # The frameworks' time is spent in compiled code, where the CPython JIT changes nothing;
    # the x86_64 torch wheel is the CUDA build (README): one runtime carries them, so the
    # other runtimes' venvs and images stay small.
    for rt in runtimes.load().values():
        has = {f for f in FRAMEWORKS if f in rt.flavors}
        reqs = set(runtimes.requirement_files(rt))
        if rt.id == "cpython-3.13-frameworks":
            assert has == set(FRAMEWORKS) and {"torch.txt", "jax.txt"} <= reqs
        else:
            assert not has and not reqs & {"torch.txt", "jax.txt"}, rt.id


def test_flavor_order_lists_the_frameworks_after_numba():
    order = flavors.ORDER
    assert order.index("numba") < order.index("torch") < order.index("torch-compile") \
        < order.index("jax")


def test_report_gives_the_frameworks_their_own_fastest_option_columns():
    rt = SimpleNamespace(info={"kind": "cpython", "jit": {"built": False}})
    assert [model.family(rt, f) for f in FRAMEWORKS] == ["PyTorch", "PyTorch", "JAX"]
    assert {"PyTorch", "JAX"} <= set(model.FAMILIES)


def test_every_flavor_has_its_own_option_and_only_pure_is_the_interpreter():
    """The reference set's README once showed MAX graph times in the "CPython" column: every
    flavor the suite knows maps to its library's column, only `pure` to the interpreter."""
    from suite import flavors

    rt = SimpleNamespace(info={"kind": "cpython", "jit": {"built": False}})
    assert model.family(rt, "max") == "MAX" and "MAX" in model.FAMILIES
    for name in flavors.ORDER:
        fam = model.family(rt, name)
        assert fam in model.FAMILIES, name
        assert (fam == "CPython") == (name == "pure"), name
    assert model.family(rt, "unknown-flavor") is None
