"""Two runs at once and signals, with real processes: a second run into the same results
directory waits for the first (or refuses with --no-wait, naming the holder's pid), both
documents are valid and complete; SIGTERM does what Ctrl-C does (documents marked
interrupted, the worker in flight killed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from suite import documents
from suite.runtimes import locks
from tests.conftest import ROOT

SMOKE_GELU = ("run", "--backend", "native", "--profile", "smoke", "-w", "gelu", "-f", "numpy")


@pytest.fixture
def cache(tmp_path) -> Path:
    """A cache of the test's own (its lock, inputs and work files) that shares the project's
    runtime virtualenvs (locked on their own: shared while a run uses them), so that no
    venv is built here and runs elsewhere on the machine do not hold these up."""
    c = tmp_path / "cache"
    c.mkdir()
    (ROOT / ".cache" / "venvs").mkdir(parents=True, exist_ok=True)
    (c / "venvs").symlink_to(ROOT / ".cache" / "venvs")
    return c


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "suite", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(predicate, what: str, limit_s: float = 300) -> None:
    """Poll until `predicate()` (a bound on a hang, not a timing assertion)."""
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def read_until(proc: subprocess.Popen, marker: str) -> str:
    """stderr lines of `proc` up to and including the first that contains `marker`."""
    seen = ""
    while marker not in seen:
        line = proc.stderr.readline()
        if not line:
            pytest.fail(f"exited ({proc.wait()}) before printing {marker!r}:\n{seen[-3000:]}")
        seen += line
    return seen


def test_two_runs_into_one_results_dir_queue_and_lose_nothing(tmp_path, cache,
                                                              native_runtime):
    out = tmp_path / "results"
    args = (*SMOKE_GELU, "-r", native_runtime, "-o", str(out), "--cache", str(cache))
    # This test holds the results directory while two runs start: both must wait, naming
    # this pid; released, they take turns (one waits for the other) and both complete.
    with locks.hold(locks.directory_lock(out), "test"):
        runs = [start(*args), start(*args)]
        logs = [read_until(p, "waiting:") for p in runs]
        assert not any(out.rglob("*.json")), "a run started while the directory was locked"
    for log in logs:
        assert f"results directory {out} is in use by pid {os.getpid()}" in log, log
    for p in runs:
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err[-3000:]
    paths = sorted(out.rglob("*.json"))
    assert len(paths) == 2
    # Timestamps have 1 s resolution: a fast run can start and finish within the second
    # the other starts in, so ties on `started` are broken by `finished`.
    docs = sorted((documents.load(p) for p in paths),
                  key=lambda d: (d["run"]["started"], d["run"]["finished"]))
    assert docs[0]["run"]["id"] != docs[1]["run"]["id"]
    assert docs[0]["run"]["finished"] <= docs[1]["run"]["started"], "the runs overlapped"
    for doc in docs:  # both valid (loaded), complete, and no cell lost
        assert doc["run"]["complete"] is True
        assert [c["id"] for c in doc["cells"]] == [c["id"] for c in docs[0]["cells"]]
        for c in doc["cells"]:
            assert c["status"] == "ok"
            assert len(c["samples"]) == c["planned_processes"] * doc["run"]["settings"]["values"]


def test_no_wait_refuses_naming_the_holder(tmp_path, cache, native_runtime):
    out = tmp_path / "results"
    with locks.hold(locks.directory_lock(out), "test"):
        proc = subprocess.run([sys.executable, "-m", "suite", *SMOKE_GELU, "-r", native_runtime,
                               "-o", str(out), "--cache", str(cache), "--no-wait"],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2
    assert f"results directory {out} is in use by pid {os.getpid()}" in proc.stderr, proc.stderr
    assert not list(out.rglob("*.json"))


def test_sigterm_marks_the_document_interrupted_and_kills_the_worker(tmp_path, cache,
                                                                     native_runtime):
    out = tmp_path / "results"
    proc = start("run", "--backend", "native", "--profile", "smoke", "-r", native_runtime,
                 "-w", "matmul", "-f", "pure", "-o", str(out), "--cache", str(cache))
    # After the first progress line, workers keep starting: SIGTERM lands during a run.
    first_line = ""
    while not first_line.startswith("["):
        first_line = proc.stderr.readline()
        assert first_line or proc.poll() is None, "the run ended before any progress"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err[-3000:]
    assert "terminated (SIGTERM)" in err
    (path,) = out.rglob("*.json")
    doc = documents.load(path)
    assert doc["run"]["complete"] is False
    assert "SIGTERM" in doc["run"]["interrupted"]
    work = cache / "work" / doc["run"]["id"]
    assert not workers_running(work), "a worker outlived its run"


def workers_running(work: Path) -> list[int]:
    """Pids of worker processes whose job file lies in `work`."""
    found = []
    for d in Path("/proc").iterdir():
        try:
            cmd = (d / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "suite.measure.worker" in cmd and str(work) in cmd:
            found.append(int(d.name))
    return found


def test_sigterm_kills_the_worker_in_flight(tmp_path):
    """A run whose worker never ends: SIGTERM to the run kills that worker, and the document
    says why the run stopped."""
    pid_file = tmp_path / "worker.pid"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from suite import runtimes
        from suite.measure import profiles, runner
        from suite.runtimes.native import run_process

        SLEEPER = ("import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
                   "time.sleep(600)")

        class Sleepy:
            kind = "native"
            def prepare(self, rt):
                return {{"kind": "native"}}
            def run_worker(self, rt, job, env, timeout):
                return run_process([sys.executable, "-c", SLEEPER], {{}}, job["result"], 900)

        rt = runtimes.load()["cpython-3.12"]
        r = runner.Run([rt], Sleepy(), profiles.get("smoke"), Path(sys.argv[1]),
                       Path(sys.argv[2]), workloads=["gelu"], flavors=["pure"])
        sys.exit(r.execute())
    """))
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "results"),
                             str(tmp_path / "cache")], cwd=ROOT, env={
                                 **os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: pid_file.exists() and pid_file.read_text(), "the worker to start")
    worker_pid = int(pid_file.read_text())
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert not Path(f"/proc/{worker_pid}").exists(), "the worker in flight was not killed"
    (path,) = (tmp_path / "results").rglob("*.json")
    doc = json.loads(path.read_text())
    assert doc["run"]["complete"] is False and "SIGTERM" in doc["run"]["interrupted"]
