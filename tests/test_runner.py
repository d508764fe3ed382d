"""The orchestrator: documents written as it goes, failures recorded (never as times),
budget skips with estimates, interruption keeping finished cells, JIT state enforced."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import stat
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import replace

import pytest

from suite import documents
from suite.measure import noise, profiles, runner, schedule
from suite.runtimes import locks
from suite.workloads import WORKLOADS
from tests.conftest import InProcessBackend

SMOKE = profiles.get("smoke")


def make_run(tmp_path, rt, backend, profile=SMOKE, **kw):
    return runner.Run([rt], backend, profile, tmp_path / "results", tmp_path / "cache", **kw)


def only_doc(tmp_path) -> dict:
    docs = sorted((tmp_path / "results").rglob("*.json"))
    assert len(docs) == 1
    return documents.load(docs[0])


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
        assert c["stats"]["ci95"][0] <= c["stats"]["center"] <= c["stats"]["ci95"][1]
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


def test_a_probe_that_underestimates_is_caught_by_the_calibration(tmp_path, fake_runtime,
                                                                  monkeypatch):
    """A kernel can fit the cache at the probe size and not at full size (mojo-simd matmul
    2048 took 16x its extrapolation): a probed cell whose calibration, at full size, is over
    the budget is skipped with that measured estimate; an unprobed one is measured anyway."""
    w = WORKLOADS["matmul"]
    monkeypatch.setitem(WORKLOADS, "matmul", replace(
        w, work=lambda p: 1e-9 if p["n"] == 128 else 1.0))  # the probe says ~free
    tiny = replace(profiles.get("quick"), processes=1, values=1, warmups=0, budget_s=1e-4)
    r = make_run(tmp_path, fake_runtime, InProcessBackend(), profile=tiny,
                 workloads=["matmul"], flavors=["pure", "numpy"])
    r.cells = [c for c in r.cells if c.params["n"] == 128 and c.threads == 1]
    r.execute()
    cells = {c["flavor"]: c for c in only_doc(tmp_path)["cells"]
             if c["params"]["dtype"] == "float64"}
    pure, numpy = cells["pure"], cells["numpy"]
    assert pure["status"] == "skipped" and not pure["samples"]
    assert "calibration" in pure["skip"]["reason"] and "probe_params" not in pure["skip"]
    assert pure["skip"]["estimate_call_ns"] == pure["calibration"][-1]
    assert pure["skip"]["estimate_s"] > 1e-4 and pure["check"]["ok"]
    assert numpy["status"] == "ok" and numpy["samples"]
    assert any(x["code"] == "over-budget" for x in numpy["warnings"])


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


@pytest.mark.parametrize("active, fails", [(True, False), (None, False), (False, True)])
def test_a_jit_enabled_but_never_active_is_a_mismatch(tmp_path, fake_runtime, active, fails):
    jit_rt = replace(fake_runtime, id="cpython-3.15-jit", jit=True)
    r = make_run(tmp_path, jit_rt, InProcessBackend(), workloads=["gelu"])
    jit = {"built": True, "enabled": True, "method": "sys._jit"}
    if active is not None:
        jit["active"] = active
    if fails:
        with pytest.raises(runner.JitMismatch, match="active=False"):
            r.check_jit(jit_rt, {"jit": jit})
    else:
        r.check_jit(jit_rt, {"jit": jit})


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
    orig = documents.write_atomic

    def spy(path, doc):
        orig(path, doc)
        seen.append(json.loads(path.read_text()))

    monkeypatch.setattr(documents, "write_atomic", spy)
    r = make_run(tmp_path, fake_runtime, InProcessBackend(), workloads=["xent"])
    r.execute()
    assert len(seen) > 3
    for doc in seen:
        assert documents.violations(doc) == []
    assert seen[0]["run"]["complete"] is False and seen[-1]["run"]["complete"] is True


# -- noise you can see ------------------------------------------------------------------

def test_cpu_time_load_and_peak_memory_are_recorded(tmp_path, fake_runtime):
    r = make_run(tmp_path, fake_runtime, InProcessBackend(), workloads=["gelu"])
    assert r.execute() == 0
    doc = only_doc(tmp_path)
    thresholds = doc["run"]["settings"]["thresholds"]
    assert thresholds["preempted_wall_over_cpu"] == noise.PREEMPTED_WALL_OVER_CPU
    assert thresholds["max_preempted_share"] == noise.MAX_PREEMPTED_SHARE
    for c in doc["cells"]:
        nz = c["noise"]
        assert len(nz["sample_cpu_ns"]) == len(c["samples"])  # one per sample, in order
        assert len(nz["load_avg"]) == c["processes"] == SMOKE.processes
        assert all(len(pair) == 2 for pair in nz["load_avg"])
        assert nz["cpu_wall_ratio"] == sum(nz["sample_cpu_ns"]) / sum(c["samples"])
        assert (nz["preempted"] is None) == (c["threads"] > 1)
        mem = c["memory"]
        assert len(mem["per_process"]) == 1 + c["processes"]  # calibration, then measuring
        assert mem["peak_rss_bytes"] == max(mem["per_process"]) > 10_000_000


def sleeping_gelu(monkeypatch) -> None:
    """gelu/numpy that sleeps 3 ms per call (wall time without CPU time), then answers."""
    w = WORKLOADS["gelu"]
    good = w.flavors["numpy"]

    def run(x, threads=1):
        time.sleep(0.003)
        return good.run(x)

    monkeypatch.setitem(w.flavors, "numpy", replace(good, run=run))


def test_a_sample_that_waits_is_counted_preempted(tmp_path, fake_runtime, monkeypatch):
    # The worker's CPU time must be the process's, not the wall clock: a call that sleeps
    # spends wall time without CPU time, like a call whose core was taken by another process.
    sleeping_gelu(monkeypatch)
    r = make_run(tmp_path, fake_runtime, InProcessBackend(), workloads=["gelu"],
                 flavors=["numpy"])
    assert r.execute() == 0
    for c in only_doc(tmp_path)["cells"]:
        nz = c["noise"]
        assert nz["cpu_wall_ratio"] < 1 / (1 + noise.PREEMPTED_WALL_OVER_CPU)
        if c["threads"] == 1:
            assert nz["preempted"] == len(c["samples"])
            assert "preempted" in {w["code"] for w in c["warnings"]}
        else:  # several threads: the ratio is recorded, nothing is counted
            assert nz["preempted"] is None
            assert "preempted" not in {w["code"] for w in c["warnings"]}


def test_preempted_threshold_and_warning_threshold():
    assert not noise.is_preempted(105, 100) and noise.is_preempted(106, 100)
    nz = noise.empty()
    noise.add_process(nz, [100] * 9 + [200], [100] * 10, [0.5, 0.7], threads=1)
    assert nz["preempted"] == 1 and nz["load_avg"] == [[0.5, 0.7]]
    assert noise.warnings_for(nz) == []  # 1 of 10 = the threshold, not above it
    noise.add_process(nz, [100] * 9 + [200] + [300] * 10, [100] * 10, [0.7, 0.9], threads=1)
    (warning,) = noise.warnings_for(nz)
    assert warning["code"] == "preempted" and warning["value"] == 11 / 20
    with pytest.raises(ValueError, match="CPU times for"):
        noise.add_process(noise.empty(), [1, 2], [1], [None, None], threads=1)


# -- run ids, locks, signals, atomic writes -------------------------------------------------

def test_run_ids_are_unique_within_one_second(tmp_path, fake_runtime):
    ids = {make_run(tmp_path, fake_runtime, InProcessBackend()).run_id for _ in range(20)}
    assert len(ids) == 20
    pattern = documents.schema()["properties"]["run"]["properties"]["id"]["pattern"]
    assert all(re.fullmatch(pattern, i) for i in ids)


@contextmanager
def held_by_another_thread(path, shared=False):
    """Hold the lock at `path` from a helper thread (a thread's own locks are re-entrant)."""
    holding, release = threading.Event(), threading.Event()

    def hold():
        with locks.hold(path, "test", shared=shared):
            holding.set()
            release.wait(600)

    t = threading.Thread(target=hold)
    t.start()
    holding.wait(600)
    try:
        yield release
    finally:
        release.set()
        t.join()


@pytest.mark.parametrize("locked", ["results", "cache"])
def test_a_run_refuses_a_locked_directory_naming_the_holder(tmp_path, fake_runtime, locked):
    r = make_run(tmp_path, fake_runtime, InProcessBackend(), workloads=["gelu"], wait=False)
    with held_by_another_thread(locks.directory_lock(tmp_path / locked)):
        with pytest.raises(locks.Busy, match=rf"the {locked}.* is in use by pid {os.getpid()}"):
            r.execute()
    assert not list((tmp_path / "results").rglob("*.json"))


def test_a_run_waits_for_the_holder_then_runs(tmp_path, fake_runtime):
    logged = []
    with held_by_another_thread(locks.directory_lock(tmp_path / "results")) as release:
        def log(msg):
            logged.append(msg)
            if msg.startswith("waiting:"):
                release.set()

        r = make_run(tmp_path, fake_runtime, InProcessBackend(), workloads=["gelu"], log=log)
        assert r.execute() == 0
    assert any(f"in use by pid {os.getpid()}" in m for m in logged)
    assert only_doc(tmp_path)["run"]["complete"] is True


def test_runs_share_their_cache(tmp_path, fake_runtime):
    """Another run using the cache (a shared holder) does not hold this one up; setting up
    the cache (exclusive) would."""
    cache_lock = locks.directory_lock(tmp_path / "cache")
    ready, release = threading.Event(), threading.Event()

    def other_run():
        with locks.hold(cache_lock, "cache", shared=True):
            ready.set()
            release.wait(600)

    t = threading.Thread(target=other_run)
    t.start()
    ready.wait(600)
    try:
        r = make_run(tmp_path, fake_runtime, InProcessBackend(), workloads=["gelu"],
                     flavors=["numpy"], wait=False)
        assert r.execute() == 0
        with pytest.raises(locks.Busy, match="in use by pid"):
            with runner.cache_lock(tmp_path / "cache", shared=False, wait=False):
                pass
    finally:
        release.set()
        t.join()


def test_a_thread_may_take_its_own_lock_again(tmp_path):
    path = tmp_path / "x.lock"
    with locks.hold(path, "x"), locks.hold(path, "x", wait=False, shared=True):
        pass
    with locks.hold(path, "x", shared=True), pytest.raises(RuntimeError, match="upgraded"):
        with locks.hold(path, "x"):
            pass


def test_stale_inputs_are_pruned_only_when_no_run_uses_the_cache(tmp_path):
    stale = tmp_path / "cache" / runner.INPUTS / "gelu-0439e9d4d2bf59c7e7b58e0e.npz"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old layout")
    with held_by_another_thread(locks.directory_lock(tmp_path / "cache"), shared=True):
        assert runner.prune_stale_inputs(tmp_path / "cache") == []
    assert stale.exists()
    assert runner.prune_stale_inputs(tmp_path / "cache") == [stale]


def test_one_directory_as_results_and_cache_is_locked_once(tmp_path, fake_runtime):
    r = runner.Run([fake_runtime], InProcessBackend(), SMOKE, tmp_path, tmp_path,
                   workloads=["gelu"], flavors=["numpy"])
    assert r.execute() == 0  # no deadlock on its own lock


def test_venv_creation_holds_the_venv_lock(tmp_path, monkeypatch, native_runtime):
    from suite import runtimes
    from suite.runtimes.native import NativeBackend

    seen = []

    def build(self, rt, it, venv, key, reqs, pins):
        fd = os.open(venv.with_name(f"{rt.id}.lock"), os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        seen.append(rt.id)
        venv.mkdir(parents=True)
        (venv / ".suite-venv").write_text(key)
        return venv

    monkeypatch.setattr(NativeBackend, "_build_venv", build)
    backend = NativeBackend(tmp_path)
    backend.venv(runtimes.load()[native_runtime])
    assert seen == [native_runtime]


def test_a_venv_in_use_is_rebuilt_only_after_its_users_leave(tmp_path, monkeypatch,
                                                            native_runtime):
    from suite import runtimes
    from suite.runtimes.native import NativeBackend

    def build(self, rt, it, venv, key, reqs, pins):
        venv.mkdir(parents=True, exist_ok=True)
        (venv / ".suite-venv").write_text(key)
        built.append(rt.id)
        return venv

    built, logged = [], []
    monkeypatch.setattr(NativeBackend, "_build_venv", build)
    rt = runtimes.load()[native_runtime]
    backend = NativeBackend(tmp_path)
    lock = tmp_path / "venvs" / f"{rt.id}.lock"
    with held_by_another_thread(lock, shared=True) as release:  # another run uses the venv
        def log(msg):
            logged.append(msg)
            if msg.startswith("waiting:"):
                assert not built  # not rebuilt while in use
                release.set()

        backend.log = log
        assert backend.venv(rt) == tmp_path / "venvs" / rt.id
    assert built == [rt.id] and any("the virtualenv" in m for m in logged)
    fd = os.open(lock, os.O_RDWR)  # this backend now uses it: nobody may rebuild it
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    backend.in_use.close()


def test_write_atomic_fsyncs_the_file_and_its_directory(tmp_path, monkeypatch, fake_runtime):
    make_run(tmp_path, fake_runtime, InProcessBackend(), workloads=["gelu"],
             flavors=["numpy"]).execute()
    doc = only_doc(tmp_path)
    synced = []
    real = os.fsync

    def spy(fd):
        synced.append(stat.S_IFMT(os.fstat(fd).st_mode))
        real(fd)

    monkeypatch.setattr(documents.os, "fsync", spy)
    documents.write_atomic(tmp_path / "d" / "x.json", doc)
    assert synced == [stat.S_IFREG, stat.S_IFDIR]
    assert documents.load(tmp_path / "d" / "x.json") == doc


def test_an_interrupted_container_is_removed(monkeypatch, tmp_path):
    from suite.runtimes import container

    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        if len(calls) == 1:
            raise KeyboardInterrupt  # Ctrl-C or SIGTERM while the container runs
        return subprocess.CompletedProcess(cmd, 0, "", "")

    class Engine:
        name = "podman"

        def cmd(self, *args):
            return ["podman", *args]

    monkeypatch.setattr(container.subprocess, "run", fake_run)
    with pytest.raises(KeyboardInterrupt):
        container.run_container(Engine(), ["podman", "run"], "bench-1", tmp_path / "r", 60)
    assert calls[1] == ["podman", "rm", "-f", "bench-1"]


def test_sigterm_inside_a_run_is_an_interrupt():
    with pytest.raises(runner.Terminated), runner.sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises first
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


# -- ETA ------------------------------------------------------------------------------------

def test_process_cost_adds_startup_setup_samples_and_checks():
    calibration = {"elapsed_ns": 2_000_000_000, "setup_ns": 500_000_000, "loops": 4,
                   "warmups": [40_000_000, 10_000_000], "check_ns": 300_000_000, "checks": 3}
    # start-up 0.5 s + set-up 0.5 s + 5 x (4 x 10 ms + 0.1 s check)
    assert schedule.process_cost_s(calibration, 2.5, samples=5) == pytest.approx(1.7)


def test_eta_sums_each_remaining_process_at_its_cells_cost():
    costs = schedule.Costs(processes=3)
    costs.calibrated("cheap", 1.0, estimate_s=1.0)
    costs.calibrated("dear", 3.0, estimate_s=100.0)
    for _ in range(3):
        costs.measured("cheap", 1.0)
    # the average so far (1 s per process) would say 3 s; the dear cell's own cost says 300 s
    assert costs.remaining_s([("dear", True, 3)]) == pytest.approx(300.0)
    costs.measured("dear", 150.0)  # processes run 1.5x... and 1.0x: scale (3 + 150) / 103
    assert costs.scale == pytest.approx(153 / 103)
    assert costs.remaining_s([("dear", True, 2)]) == pytest.approx(2 * 100 * 153 / 103)
    # not calibrated yet: one calibration (mean so far) + processes at the mean estimate
    assert costs.remaining_s([("new", False, 3)]) == pytest.approx(
        2.0 + 3 * 50.5 * 153 / 103)
    assert costs.remaining_s([]) == 0.0


def test_run_eta_counts_only_what_is_left(tmp_path, fake_runtime):
    r = make_run(tmp_path, fake_runtime, InProcessBackend(), workloads=["gelu"])
    a, b, c = r.cells
    r.costs.calibrated(r.key(a), 1.0, 10.0)
    r.costs.calibrated(r.key(b), 1.0, 1.0)
    a.status, b.status, c.status = "running", "running", "failed"
    b.processes = SMOKE.processes
    assert r.eta_s() == pytest.approx(10.0 * SMOKE.processes)
