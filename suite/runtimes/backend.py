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
