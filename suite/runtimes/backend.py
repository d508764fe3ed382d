"""Backends run worker processes inside a runtime: `native` (a local interpreter with its
own virtualenv) or `container` (a Docker or Podman image)."""

from __future__ import annotations

import os
from typing import Protocol

from suite.runtimes import Runtime


class Unavailable(Exception):
    """A runtime this backend cannot provide here; the message says why."""


class Backend(Protocol):
    kind: str

    def prepare(self, runtime: Runtime) -> dict:
        """Make the runtime ready (venv, image); return the document's `backend` record."""

    def run_worker(self, runtime: Runtime, job: dict, env: dict[str, str],
                   timeout: float) -> dict:
        """Run `python -m suite.measure.worker` on `job`; return its result (or a failed result)."""


THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
               "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def worker_env(runtime: Runtime, threads: int) -> dict[str, str]:
    """The only variables a worker gets (like pyperf's whitelist): thread counts, the
    runtime's own (PYTHON_JIT...), locale. Anything else in the caller's environment,
    PYTHON_JIT included, is dropped so it cannot leak into a measurement."""
    env = {"LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
    env.update({v: str(threads) for v in THREAD_VARS})
    env.update(runtime.env)
    for passthrough in ("HOME", "TMPDIR", "MODULAR_HOME", "MODULAR_CACHE_DIR"):
        if passthrough in os.environ:
            env.setdefault(passthrough, os.environ[passthrough])
    return env


class PerRuntime:
    """One run over two backends: the runtimes in `native` on `native_backend`, the rest on
    `other` (the reference set's cpython-3.12, whose source tarball cannot be fetched here,
    beside the container runtimes). Each document's `backend` record says which one ran it."""

    kind = "mixed"

    def __init__(self, other: Backend, native_backend: Backend, native: set[str]) -> None:
        self.other, self.native_backend, self.native = other, native_backend, set(native)

    def available(self, known: dict[str, Runtime]) -> list[str]:
        other = self.other.available(known)  # type: ignore[attr-defined]
        return other + sorted(self.native - set(other))

    def pick(self, runtime: Runtime) -> Backend:
        return self.native_backend if runtime.id in self.native else self.other

    def prepare(self, runtime: Runtime) -> dict:
        return self.pick(runtime).prepare(runtime)

    def run_worker(self, runtime: Runtime, job: dict, env: dict[str, str],
                   timeout: float) -> dict:
        return self.pick(runtime).run_worker(runtime, job, env, timeout)
