"""Memory: inputs cached across runs by content key, the reference and scale memory-mapped
by the worker, the output check in chunks with the whole-array result, peak RSS shown."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from suite.analysis import summary
from suite.measure import check, inputs, worker
from suite.measure.inputs import InputStore, reference_paths
from suite.workloads import WORKLOADS
from tests.conftest import ROOT

GELU = WORKLOADS["gelu"]
PARAMS = GELU.params["smoke"][0]


def entry_files(d) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_inputs_are_reused_across_runs_by_content_key(tmp_path, monkeypatch):
    path, sha = InputStore(tmp_path, seed=0).path(GELU, PARAMS)
    ref_path, scale_path = reference_paths(path)
    assert path.suffix == ".npz" and ref_path.is_file() and scale_path.is_file()
    with np.load(path) as z:
        assert not [k for k in z.files if k.startswith("_")]  # inputs only
    assert inputs.inputs_sha256({k: np.load(path)[k] for k in np.load(path).files}) == sha

    def regenerate(*a):
        raise AssertionError("inputs regenerated although cached")

    monkeypatch.setattr(inputs, "make_inputs", regenerate)
    assert InputStore(tmp_path, seed=0).path(GELU, PARAMS) == (path, sha)  # a later run


def test_another_seed_or_changed_code_makes_a_new_entry_and_prune_removes_stale_ones(
        tmp_path, monkeypatch):
    path, _ = InputStore(tmp_path, seed=0).path(GELU, PARAMS)
    other_seed, _ = InputStore(tmp_path, seed=1).path(GELU, PARAMS)
    assert other_seed != path and path.exists()
    assert inputs.prune(tmp_path) == []  # everything current
    stray = tmp_path / f".{path.name}.x1y2.tmp"  # a writer that crashed
    stray.write_bytes(b"half")
    legacy = tmp_path / "gelu-0439e9d4d2bf59c7e7b58e0e.npz"  # the layout before 2
    legacy.write_bytes(b"old")
    monkeypatch.setattr(inputs, "code_hash", lambda w: "f" * 64)
    changed, _ = InputStore(tmp_path, seed=0).path(GELU, PARAMS)
    assert changed != path and path.exists()  # a running run may still read the old one
    removed = inputs.prune(tmp_path)
    assert {*removed} == {path, *reference_paths(path), path.with_suffix(".json"), other_seed,
                          *reference_paths(other_seed), other_seed.with_suffix(".json"),
                          stray, legacy}
    assert entry_files(tmp_path) == sorted(
        f.name for f in (changed, *reference_paths(changed), changed.with_suffix(".json")))


def test_code_hash_covers_the_workload_module_and_shared_code(tmp_path, monkeypatch):
    before = inputs.code_hash(GELU)
    assert inputs.code_hash(WORKLOADS["matmul"]) != before
    shared = tmp_path / "workloads"
    shared.mkdir()
    for name in inputs.SHARED_CODE:
        (shared / name).write_text((inputs.PACKAGE / name).read_text() + "\n# changed\n")
    monkeypatch.setattr(inputs, "PACKAGE", shared)
    assert inputs.code_hash(GELU) != before


def test_a_damaged_entry_is_regenerated(tmp_path):
    path, sha = InputStore(tmp_path, seed=0).path(GELU, PARAMS)
    ref_path, _ = reference_paths(path)
    ref_path.write_bytes(ref_path.read_bytes()[:100])  # truncated (a crash, a full disk)
    again, sha2 = InputStore(tmp_path, seed=0).path(GELU, PARAMS)
    assert (again, sha2) == (path, sha)
    assert np.load(ref_path).shape == (PARAMS["n"],)


def test_concurrent_writers_of_one_entry_do_not_collide(tmp_path):
    results, errors = [], []

    def write():
        try:
            results.append(InputStore(tmp_path, seed=0).path(GELU, PARAMS))
        except Exception as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    assert not [n for n in entry_files(tmp_path) if n.endswith(".tmp")]
    meta = json.loads(results[0][0].with_suffix(".json").read_text())
    assert meta["inputs_sha256"] == results[0][1]


def test_the_worker_maps_the_stored_reference_and_scale(tmp_path):
    path, _ = InputStore(tmp_path, seed=0).path(GELU, PARAMS)
    job = {"workload": "gelu", "params": PARAMS, "flavor": "numpy", "threads": 1,
           "inputs": str(path), "mojo_cache": str(tmp_path)}
    cell = worker.Cell(job)
    ref, scale = cell.expected()
    assert isinstance(ref, np.memmap) and isinstance(scale, np.memmap)
    assert ref.dtype == np.float64 and not ref.flags.writeable
    res = worker.run_job({**job, "mode": "measure", "loops": 1, "warmups": 1, "values": 2,
                          "result": str(tmp_path / "r.json")})
    assert res["status"] == "ok" and res["checks"] == 3
    assert res["peak_rss_bytes"] > 0 and len(res["values_cpu_ns"]) == 2


def whole_array_check(out: Any, ref: np.ndarray, scale: np.ndarray, tol: float) -> dict:
    """The check as it was before it ran in chunks (every array at once)."""
    rec: dict[str, Any] = {"ok": False, "tolerance": float(tol), "max_error": None,
                           "max_abs_error": None, "metric": "max |out-ref| / scale"}
    try:
        arr = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        rec["message"] = f"output is not numeric: {exc}"
        return rec
    if arr.shape != ref.shape:
        rec["message"] = f"output shape {arr.shape} != reference shape {ref.shape}"
        return rec
    nan_out, nan_ref = np.isnan(arr), np.isnan(ref)
    if not np.array_equal(nan_out, nan_ref):
        bad = int(np.count_nonzero(nan_out != nan_ref))
        rec["message"] = f"NaN pattern differs from the reference at {bad} element(s)"
        return rec
    inf_ref = np.isinf(ref)
    if not np.array_equal(np.isinf(arr), inf_ref) or not np.array_equal(arr[inf_ref],
                                                                        ref[inf_ref]):
        rec["message"] = "infinities differ from the reference"
        return rec
    fin = ~(nan_ref | inf_ref)
    if fin.any():
        diff = np.abs(arr[fin] - ref[fin])
        sc = np.asarray(np.broadcast_to(scale, ref.shape))[fin]
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(diff == 0, 0.0, diff / np.maximum(sc, np.finfo(np.float64).tiny))
        rel = np.where(np.isnan(rel), np.inf, rel)
        rec["max_abs_error"] = float(diff.max())
        rec["max_error"] = float(min(rel.max(), np.finfo(np.float64).max))
    else:
        rec["max_abs_error"] = rec["max_error"] = 0.0
    rec["ok"] = bool(rec["max_error"] <= tol)
    if not rec["ok"]:
        rec["message"] = (f"max scaled error {rec['max_error']:.3g} exceeds tolerance "
                          f"{tol:.3g}")
    return rec


SPECIAL = st.sampled_from([0.0, 1.0, -1.0, 1e-300, np.nan, np.inf, -np.inf])


@st.composite
def check_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
    ref = draw(hnp.arrays(np.float64, shape, elements=st.one_of(
        st.floats(-1e6, 1e6), SPECIAL)))
    noise = draw(hnp.arrays(np.float64, shape, elements=st.floats(-1e-3, 1e-3)))
    out = (ref + noise).astype(draw(st.sampled_from([np.float32, np.float64])))
    if out.size and draw(st.booleans()):  # plant a special value somewhere
        out.reshape(-1)[draw(st.integers(0, out.size - 1))] = draw(SPECIAL)
    scale_shape = draw(st.sampled_from([shape, ()]))
    scale = draw(hnp.arrays(np.float64, scale_shape, elements=st.floats(0, 10)))
    return out, ref, scale, draw(st.sampled_from([1e-6, 1e-4, 1e-2]))


@settings(max_examples=400, deadline=None)
@given(case=check_cases(), chunk=st.integers(1, 40))
def test_the_chunked_check_gives_the_whole_array_result(case, chunk):
    out, ref, scale, tol = case
    with mock.patch.object(check, "CHUNK_ELEMENTS", chunk):
        assert check.check_output(out, ref, scale, tol) == whole_array_check(out, ref, scale,
                                                                             tol)


def test_the_chunked_check_takes_memory_maps_and_bad_outputs(tmp_path):
    ref = np.linspace(-1, 1, 300).reshape(3, 10, 10)
    np.save(tmp_path / "r.npy", ref)
    mapped = np.load(tmp_path / "r.npy", mmap_mode="r")
    scale = np.ones_like(ref)
    assert check.check_output(ref.astype(np.float32), mapped, scale, 1e-6)["ok"]
    assert "not numeric" in check.check_output([["a"]], mapped, scale, 1e-6)["message"]
    assert "shape" in check.check_output(ref[:2], mapped, scale, 1e-6)["message"]


def test_the_summary_shows_each_cells_peak_memory():
    cell = {"id": "gelu[n=1]/numpy/threads=1", "status": "ok", "warnings": [],
            "stats": {"median": 1e6, "ci95": [0.9e6, 1.1e6]},
            "memory": {"peak_rss_bytes": 2_310_000_000, "per_process": [2_310_000_000]}}
    doc = {"runtime": {"id": "cpython-3.12"}, "host": {}, "cells": [cell]}
    text = summary.table([doc])
    assert "1 ms ±10% 2.3 GB" in text and "peak resident memory" in text
    cell["stats"].update(center=2e6, ci95=[1.8e6, 2.2e6])  # 1.2.0: the process-level center
    assert "2 ms ±10% 2.3 GB" in summary.table([doc])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux /proc only")
def test_a_small_worker_started_by_a_big_parent_reports_its_own_peak():
    """ru_maxrss survives fork + exec on Linux: a worker forked from a 600 MB orchestrator
    would report 600 MB. The worker's figure is its own (VmHWM), the old one is not."""
    big = np.ones(75_000_000)  # 600 MB touched in this (the parent) process
    code = ("import resource; from suite.measure.worker import peak_rss_bytes; "
            "print(peak_rss_bytes(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    ours, inherited = int(out[0]), int(out[1])
    assert big.nbytes <= inherited  # the carried-over figure the worker must not report
    assert 0 < ours < 300_000_000, ours
