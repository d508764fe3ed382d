"""The `max` flavor (suite/flavors/max.py): MAX graphs built and run from Python on the CPU.

Every workload's graph agrees with the float64 reference within the workload's own
tolerance over random shapes (symbolic dimensions: one compiled model serves them all),
NaN/inf land where the reference has them, bad input gets a clear error, compiled models
are cached across processes, and the thread count asked for is the one MAX runs on.

A graph costs minutes to compile on a busy machine, so the tests use only the graphs the
benchmark profiles need (matmul float32/float64, conv2d float32 3x3, gelu, xent and the
linreg step in float32), compiled once into the Mojo cache dir and read back from there.
MAX's CPU runtime takes its thread count once per process (from the CPU affinity): this
process runs on all cores (SUITE_TEST_MAX_THREADS, default all), and one test reruns the
agreement tests in a child process pinned to 1 thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import flavors
from suite.flavors import mojo as mk
from suite.workloads import WORKLOADS, make_inputs
from tests.conftest import ROOT

from .test_workloads import PARAMS, SPECIAL_CASES, SPECIAL_VALUES, check

CORES = len(os.sched_getaffinity(0))
MAX_THREADS = int(os.environ.get("SUITE_TEST_MAX_THREADS", str(CORES)))
GRAPHS = {("matmul", "float32"), ("matmul", "float64"), ("conv2d", "float32"),
          ("gelu", "float32"), ("xent", "float32"), ("linreg", "float32")}
NAMES = sorted({n for n, _ in GRAPHS})


def max_site_packages() -> str | None:
    """The Mojo runtime venv's site-packages (where `max` is installed), found from the
    `mojo` compiler on PATH as test_mojo.py finds it; None if there is none."""
    try:
        venv = Path(mk.mojo_binary()).resolve().parent.parent
    except RuntimeError:
        return None
    found = sorted(venv.glob("lib/python3*/site-packages"))
    return str(found[0]) if found else None


@pytest.fixture(scope="module")
def mx():
    """The max flavor module, with MAX imported from the Mojo runtime's venv (appended to
    sys.path: this interpreter's own packages come first)."""
    site = max_site_packages()
    if site and site not in sys.path:
        sys.path.append(site)
    try:
        import max  # noqa: F401

        from suite.flavors import max as max_flavor
    except ImportError as e:
        if os.environ.get("SUITE_REQUIRE_MOJO"):
            raise
        pytest.skip(f"MAX is not installed (the Mojo runtime's venv has it): {e}")
    max_flavor.setup(mk.default_cache_dir())
    return max_flavor


def bench_graph(name: str, p: dict) -> bool:
    """Whether params `p` of workload `name` run one of the benchmark's graphs."""
    return (name, p["dtype"]) in GRAPHS and p.get("kernel", 3) == 3


def run_max(name: str, inputs: dict, params: dict, threads: int = MAX_THREADS) -> np.ndarray:
    """What the worker does: prepare, compile (timed apart there), call."""
    w = WORKLOADS[name]
    fl = flavors.get(w, "max")
    args = fl.prepare(inputs, params)
    info = fl.compile(args)
    assert set(info) == {"cached", "graph"}
    return np.asarray(fl.run(*args, threads=threads), dtype=np.float64)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_max_agrees_with_reference(mx, name, data, seed):
    params = data.draw(PARAMS[name].filter(lambda p: bench_graph(name, p)))
    w = WORKLOADS[name]
    inputs = make_inputs(w, params, seed)
    rec = check(w, params, inputs, run_max(name, inputs, params))
    assert rec["ok"], (name, params, rec)


def test_max_agrees_on_one_thread_in_a_pinned_process(mx):
    """MAX's runtime is sized once per process: rerun the agreement tests pinned to 1."""
    if MAX_THREADS == 1:
        pytest.skip("this process already runs MAX on 1 thread")
    env = {**os.environ, "SUITE_TEST_MAX_THREADS": "1", "OMP_NUM_THREADS": "1"}  # as a worker
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           __file__, "-k", "agrees_with_reference or pinned_to"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"{len(NAMES) + 1} passed" in proc.stdout, proc.stdout[-2000:]


def test_the_process_is_pinned_to_the_threads_asked_for(mx):
    """After a call, this process runs on MAX_THREADS CPUs; another count raises."""
    a = np.ones((3, 4), np.float32)
    np.testing.assert_array_equal(mx.matmul(a, a.T.copy(), threads=MAX_THREADS), a @ a.T)
    assert len(os.sched_getaffinity(0)) == min(MAX_THREADS, CORES)
    # every thread, MAX's own workers included (sched_setaffinity(0) pins only the caller)
    for tid in os.listdir("/proc/self/task"):
        try:
            assert len(os.sched_getaffinity(int(tid))) == min(MAX_THREADS, CORES), tid
        except ProcessLookupError:
            pass
    other = 2 if MAX_THREADS == 1 else 1
    with pytest.raises(RuntimeError, match=f"already runs on {MAX_THREADS} thread"):
        mx.matmul(a, a.T.copy(), threads=other)


@SPECIAL_CASES
@SPECIAL_VALUES
def test_special_values_propagate_like_the_reference(mx, name, key, position, value):
    w = WORKLOADS[name]
    params = dict(w.params["smoke"][0])
    assert bench_graph(name, params)
    inputs = make_inputs(w, params, 3)
    inputs[key] = inputs[key].copy()
    inputs[key][position] = value
    rec = check(w, params, inputs, run_max(name, inputs, params))
    assert rec["ok"], (name, value, rec)


def test_compiled_models_are_cached_across_processes(mx, tmp_path):
    """A second process reads the model the first exported instead of compiling it."""
    w = WORKLOADS["gelu"]
    params = dict(w.params["smoke"][0])
    run_max("gelu", make_inputs(w, params, 0), params)  # exported to the cache (if new)
    code = (f"import sys; sys.path.append({max_site_packages()!r}); "
            "import json; from suite.flavors import max as m, mojo as mk; "
            "import numpy as np; m.setup(mk.default_cache_dir()); "
            "print(json.dumps(m.compile_for('gelu', (np.ones(5, np.float32),), 1)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip().splitlines()[-1]
    info = json.loads(out)
    assert info["cached"] is True and info["graph"].startswith("gelu-float32-")
    assert (mx.cache_dir() / f"{info['graph']}.mef").is_file()


def test_graph_keys_name_the_version_and_cpu(mx):
    """The benchmark's graphs, keyed so a MEF is only reused by the same MAX on the same
    kind of CPU."""
    specs = mx.graph_specs()
    assert {s.name for s in specs.values()} == {
        "matmul-float32", "matmul-float64", "conv2d-float32-k3", "gelu-float32",
        "xent-float32", "linreg_step-float32"}
    for key, spec in specs.items():
        assert key == f"{spec.name}-{spec.ir_sha}-max{mx.max_version()}-{mx.cpu_fingerprint()}"


def test_a_changed_graph_gets_a_new_key(mx):
    """The key digests the graph's IR: editing a graph never reuses its old compiled model."""
    exact = mx.GraphSpec("gelu-float32", lambda: _exact_gelu(mx))
    assert exact.key() != mx.spec_for("gelu", (np.ones(3, np.float32),)).key()


def _exact_gelu(mx):
    from max.graph import Graph, ops

    g = Graph("gelu_float32", input_types=[mx._tensor("float32", ("n",))])
    with g:
        g.output(ops.gelu(g.inputs[0], approximate="none"))
    return g


F32 = np.float32


@pytest.mark.parametrize("call, exc, match", [
    (lambda m: m.matmul([[1.0]], np.ones((1, 1), F32)), TypeError, r"a must be a numpy\.ndarray"),
    (lambda m: m.matmul(np.ones((2, 3), F32), np.ones((2, 3), F32)), ValueError, r"\(m, k\)"),
    (lambda m: m.matmul(np.ones((2, 3), F32), np.ones((3, 2))), TypeError, "dtype float32"),
    (lambda m: m.matmul(np.ones((2, 3), np.int32), np.ones((3, 2), np.int32)), TypeError,
     "float32 or float64"),
    (lambda m: m.matmul(np.ones((2, 6), F32)[:, ::2], np.ones((3, 2), F32)), ValueError,
     "C-contiguous"),
    (lambda m: m.matmul(np.ones((0, 3), F32), np.ones((3, 2), F32)), ValueError, "empty"),
    (lambda m: m.gelu(np.ones((2, 2), F32)), ValueError, "1-D"),
    (lambda m: m.xent(np.ones((2, 3), F32), np.array([0, 3])), ValueError, r"\[0, 3\)"),
    (lambda m: m.xent(np.ones((2, 3), F32), np.array([0, 1], np.int32)), TypeError, "int64"),
    (lambda m: m.conv2d(np.ones((1, 2, 4, 4), F32), np.ones((3, 1, 3, 3), F32),
                        np.ones(3, F32)), ValueError, "do not match"),
    (lambda m: m.conv2d(np.ones((1, 2, 4, 4), F32), np.ones((3, 2, 2, 2), F32),
                        np.ones(3, F32)), ValueError, "odd size"),
    (lambda m: m.linreg(np.ones((2, 3, 4), F32), np.ones((2, 2), F32), np.ones(4, F32),
                        0.0, 0.1, 1), ValueError, "y .batches, batch."),
    (lambda m: m.gelu(np.ones(3, F32), threads=0), ValueError, "threads must be >= 1"),
    (lambda m: m.gelu(np.ones(3, F32), threads="2"), TypeError, "threads must be an int"),
])
def test_bad_input_is_refused_clearly(mx, call, exc, match):
    with pytest.raises(exc, match=match):
        call(mx)


def test_the_worker_times_the_compile_apart_and_records_the_cache(mx, tmp_path):
    """A real worker in the Mojo runtime's venv: compile_ns and compile_cached (the model
    comes from the cache these tests filled), samples checked, runtime.max facts."""
    w = WORKLOADS["gelu"]
    params = w.params["smoke"][0]
    np.savez(tmp_path / "in.npz", **make_inputs(w, params, 0))
    job = {"workload": "gelu", "params": params, "flavor": "max", "threads": 1,
           "mode": "measure", "inputs": str(tmp_path / "in.npz"), "loops": 1,
           "warmups": 1, "values": 2, "result": str(tmp_path / "r.json"),
           "mojo_cache": str(mk.default_cache_dir())}
    (tmp_path / "job.json").write_text(json.dumps(job))
    python = Path(mk.mojo_binary()).parent / "python"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(python), "-m", "suite.measure.worker", str(tmp_path / "job.json")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["status"] == "ok", res
    assert res["compile_ns"] > 0 and res["compile_cached"] is True
    assert len(res["values"]) == 2 and res["check"]["ok"]
    assert res["runtime"]["max"]["version"] == mx.max_version()
