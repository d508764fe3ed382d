"""The orchestrator: documents written as it goes, failures recorded (never as times),
budget skips with estimates, interruption keeping finished cells, JIT state enforced."""

from __future__ import annotations

import json
from dataclasses import replace

from suite import profiles, results, runner
from suite.workloads import WORKLOADS

from .conftest import InProcessBackend

SMOKE = profiles.get("smoke")


def make_run(tmp_path, rt, backend, profile=SMOKE, **kw):
    return runner.Run([rt], backend, profile, tmp_path / "results", tmp_path / "cache", **kw)


def only_doc(tmp_path) -> dict:
    docs = sorted((tmp_path / "results").rglob("*.json"))
    assert len(docs) == 1
    return results.load(docs[0])


def test_complete_run_writes_a_valid_document(tmp_path, fake_runtime):
    r = make_run(tmp_path, fake_runtime, InProcessBackend(), workloads=["matmul", "xent"])
    assert r.execute() == 0
    doc = only_doc(tmp_path)
    assert doc["run"]["complete"] is True
    ids = {c["id"] for c in doc["cells"]}
    assert "matmul[dtype=float32,n=48]/pure/threads=1" in ids
    for c in doc["cells"]:
        assert c["status"] == "ok"
        assert len(c["samples"]) == SMOKE.processes * SMOKE.values
        assert len(c["warmups"]) == SMOKE.processes * SMOKE.warmups
        assert c["check"]["ok"] and c["inputs_sha256"]
        assert c["stats"]["ci95"][0] <= c["stats"]["median"] <= c["stats"]["ci95"][1]
    # numpy runs at 1 thread and at all threads; pure at 1 only.
    threads = {(c["flavor"], c["threads"]) for c in doc["cells"]}
    assert ("pure", 1) in threads and ("numpy", 1) in threads


def test_wrong_output_is_a_failed_cell_not_a_time(tmp_path, fake_runtime, monkeypatch):
    w = WORKLOADS["gelu"]
    good = w.flavors["numpy"]
    bad = replace(good, run=lambda x, threads=1: good.run(x) * 1.01)
    monkeypatch.setitem(w.flavors, "numpy", bad)
    r = make_run(tmp_path, fake_runtime, InProcessBackend(), workloads=["gelu"])
    assert r.execute() == 1
    doc = only_doc(tmp_path)
    cells = {c["flavor"]: c for c in doc["cells"]}
    assert cells["numpy"]["status"] == "failed"
    assert "wrong output" in cells["numpy"]["error"]
    assert "stats" not in cells["numpy"] and not cells["numpy"]["samples"]
    assert cells["pure"]["status"] == "ok"


def test_over_budget_cell_is_skipped_with_an_estimate(tmp_path, fake_runtime):
    tiny = replace(profiles.get("quick"), processes=1, values=1, warmups=0, budget_s=0.05)
    r = make_run(tmp_path, fake_runtime, InProcessBackend(), profile=tiny,
                 workloads=["matmul"], flavors=["pure"])
    r.cells = [c for c in r.cells if c.params["n"] == 1024]
    r.execute()
    doc = only_doc(tmp_path)
    cells = [c for c in doc["cells"] if c["params"]["n"] == 1024]
    assert len(cells) == 2  # float32 and float64
    for cell in cells:
        assert cell["status"] == "skipped"
        assert cell["skip"]["estimate_s"] > 0.05
        assert cell["skip"]["probe_params"]["n"] == 64
        assert "budget" in cell["skip"]["reason"]


def test_interrupt_keeps_finished_cells(tmp_path, fake_runtime):
    backend = InProcessBackend(interrupt_after=12)
    r = make_run(tmp_path, fake_runtime, backend, workloads=["matmul", "gelu"])
    assert r.execute() == 130
    doc = only_doc(tmp_path)
    assert doc["run"]["complete"] is False
    assert "interrupted" in doc["run"]["interrupted"]
    assert doc["cells"], "calibrated cells must be kept"


def test_crashed_worker_fails_the_cell_and_keeps_the_rest(tmp_path, fake_runtime):
    r = make_run(tmp_path, fake_runtime, InProcessBackend(fail_after=9),
                 workloads=["matmul"])
    assert r.execute() == 1
    doc = only_doc(tmp_path)
    statuses = [c["status"] for c in doc["cells"]]
    assert "failed" in statuses
    failed = [c for c in doc["cells"] if c["status"] == "failed"]
    assert all("exited with code" in c["error"] for c in failed)
    # Cells whose first processes finished before the crash keep their samples.
    kept = [c for c in doc["cells"] if c["samples"]]
    assert kept or len(failed) == len(doc["cells"])


def test_jit_state_mismatch_fails_loudly(tmp_path, fake_runtime, capsys):
    jit_rt = replace(fake_runtime, id="cpython-3.13-jit", jit=True)
    r = make_run(tmp_path, jit_rt, InProcessBackend(), workloads=["gelu"])
    assert r.execute() == 1
    doc = only_doc(tmp_path)
    assert all(c["status"] == "failed" for c in doc["cells"])
    assert "JIT state mismatch" in doc["cells"][0]["error"]
    assert "JIT state mismatch" in capsys.readouterr().out


def test_pypy_without_its_jit_fails_loudly(tmp_path, fake_runtime):
    # The runtimes file says PyPy's JIT is on; a worker that measures it off (here: this
    # CPython, which has no pypyjit) must fail the runtime, not publish.
    pypy = replace(fake_runtime, id="pypy-3.11", kind="pypy", jit=True, flavors=("pure",))
    r = make_run(tmp_path, pypy, InProcessBackend(), workloads=["gelu"])
    assert r.execute() == 1
    cells = only_doc(tmp_path)["cells"]
    assert cells and all("JIT state mismatch in pypy-3.11" in c["error"] for c in cells)


def test_document_is_valid_after_every_step(tmp_path, fake_runtime, monkeypatch):
    seen = []
    orig = results.write_atomic

    def spy(path, doc):
        orig(path, doc)
        seen.append(json.loads(path.read_text()))

    monkeypatch.setattr(results, "write_atomic", spy)
    r = make_run(tmp_path, fake_runtime, InProcessBackend(), workloads=["xent"])
    r.execute()
    assert len(seen) > 3
    for doc in seen:
        assert results.violations(doc) == []
    assert seen[0]["run"]["complete"] is False and seen[-1]["run"]["complete"] is True
