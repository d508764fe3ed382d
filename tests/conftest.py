"""Shared fixtures: the project root, an in-process backend, and one real smoke run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from suite import runtimes
from suite.measure import worker
from suite.runtimes import Runtime

ROOT = Path(__file__).resolve().parent.parent


def suite_cmd(*args: str, **kw) -> subprocess.CompletedProcess:
    """Run `python -m suite ...` from the project root with this interpreter."""
    return subprocess.run([sys.executable, "-m", "suite", *args], cwd=ROOT,
                          capture_output=True, text=True, **kw)


def available_runtimes() -> list[str]:
    out = suite_cmd("list", "--ids", "--available", check=True).stdout.split()
    return [r for r in out if r.startswith("cpython")]


@pytest.fixture(scope="session")
def native_runtime() -> str:
    avail = available_runtimes()
    assert avail, ("no CPython runtime of docker/runtimes.toml is installed natively; "
                   "the tests need one (pyenv 3.12/3.13 on these machines)")
    return avail[0]


class InProcessBackend:
    """Runs worker jobs in this process: fast runner tests without interpreters."""

    kind = "native"

    def __init__(self, fail_after: int | None = None, interrupt_after: int | None = None):
        self.calls = 0
        self.fail_after = fail_after
        self.interrupt_after = interrupt_after

    def prepare(self, rt: Runtime) -> dict:
        return {"kind": "native", "engine": None, "image": None, "digest": None, "venv": None}

    def run_worker(self, rt: Runtime, job: dict, env: dict, timeout: float) -> dict:
        self.calls += 1
        if self.interrupt_after is not None and self.calls > self.interrupt_after:
            raise KeyboardInterrupt
        if self.fail_after is not None and self.calls > self.fail_after:
            return {"status": "failed", "error": "worker exited with code -9 and no result"}
        return json.loads(json.dumps(worker.run_job(job)))


@pytest.fixture
def fake_runtime() -> Runtime:
    base = runtimes.load()["cpython-3.12"]
    return Runtime(id="cpython-3.12", kind="cpython", python=base.python, jit=False,
                   flavors=("pure", "numpy"), env={})


@pytest.fixture(scope="session")
def smoke_doc(tmp_path_factory, native_runtime) -> Path:
    """A real result document from `python -m suite run` on the smoke profile."""
    out = tmp_path_factory.mktemp("smoke-results")
    proc = suite_cmd("run", "-r", native_runtime, "-p", "smoke", "-o", str(out),
                     env={**os.environ, "SUITE_CACHE_DIR": str(ROOT / ".cache")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    docs = sorted(out.rglob("*.json"))
    assert len(docs) == 1, docs
    return docs[0]


@pytest.fixture(scope="session")
def mojo_kernels():
    """The built Mojo extension; skipped without the toolchain unless SUITE_REQUIRE_MOJO
    (which `make test` sets, so there the Mojo tests always run)."""
    from suite.flavors import mojo as mk

    try:
        mk.mojo_binary()
    except RuntimeError as e:
        if os.environ.get("SUITE_REQUIRE_MOJO"):
            raise
        pytest.skip(f"Mojo toolchain not installed: {e}")
    return mk.load(mk.default_cache_dir())
