"""The worker: runs one cell in a fresh process inside the runtime under test.

    python -m suite.worker JOB.json

The job names the workload, parameters, flavor, thread count, inputs file and what to do:
`probe` (the fastest of three calls), `calibrate` (find the loop count that makes one
sample at least `min_time_ns` long, pyperf-style doubling), or `measure` (warm-ups then
samples). Every
output (the last call of every warm-up and sample) is checked against the float64
reference; a wrong output fails the cell. The result JSON goes to `job["result"]`.
Imports: standard library, NumPy, and the suite's workload modules only.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from . import environment
from .check import check_output
from .workloads import flavor as get_flavor
from .workloads import get as get_workload


class OutputMismatch(Exception):
    """A flavor returned a wrong answer."""

    def __init__(self, check: dict) -> None:
        super().__init__(check.get("message", "output does not match the reference"))
        self.check = check


def load_inputs(path: str) -> dict[str, np.ndarray]:
    """Inputs, plus `_reference`/`_scale` when the orchestrator stored them."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


class Cell:
    """A prepared cell: inputs, reference, tolerance and the timed callable."""

    def __init__(self, job: dict) -> None:
        self.workload = get_workload(job["workload"])
        self.params = job["params"]
        self.threads = int(job["threads"])
        if job["flavor"].startswith("mojo"):
            from . import mojo_kernels

            mojo_kernels.load(Path(job["mojo_cache"]))
        self.flavor = get_flavor(self.workload, job["flavor"])
        stored = load_inputs(job["inputs"])
        inputs = {k: v for k, v in stored.items() if not k.startswith("_")}
        self.ref = stored.get("_reference")
        if self.ref is None:
            self.ref = self.workload.reference(inputs, self.params)
        problem = self.workload.validate_reference(inputs, self.params, self.ref)
        if problem:
            raise RuntimeError(f"reference check failed: {problem}")
        self.scale = stored.get("_scale")
        if self.scale is None:
            self.scale = self.workload.error_scale(inputs, self.params, self.ref)
        self.tol = self.workload.tolerance(self.params)
        self.args = self.flavor.prepare(inputs, self.params) if self.flavor.prepare else ()
        self.last_check: dict | None = None

    def check(self, out: object) -> None:
        arr = self.flavor.finish(out, self.params) if self.flavor.finish else out
        rec = check_output(arr, self.ref, self.scale, self.tol)
        if (self.last_check is None or (rec["max_error"] or 0) > (self.last_check["max_error"] or 0)
                or not rec["ok"]):
            self.last_check = rec
        if not rec["ok"]:
            raise OutputMismatch(rec)

    def sample(self, loops: int) -> int:
        """Time `loops` calls; return nanoseconds per call. The output is checked after."""
        run, args, threads = self.flavor.run, self.args, self.threads
        out = None
        t0 = time.perf_counter_ns()
        for _ in range(loops):
            out = run(*args, threads=threads)
        t1 = time.perf_counter_ns()
        self.check(out)
        return max(1, (t1 - t0) // loops)


def run_job(job: dict) -> dict:
    result: dict = {"status": "ok"}
    t_start = time.perf_counter_ns()
    try:
        cell = Cell(job)
        result["setup_ns"] = time.perf_counter_ns() - t_start
        mode = job["mode"]
        if mode == "probe":
            # The fastest of three calls: a first call (thread pools, page faults) would
            # inflate an extrapolation by the work ratio by orders of magnitude.
            result["first_call_ns"] = min(cell.sample(1) for _ in range(3))
        elif mode == "calibrate":
            first = cell.sample(1)
            result["first_call_ns"] = first
            warmups = [first]
            loops = 1
            while loops * warmups[-1] < job["min_time_ns"] and loops < job["max_loops"]:
                loops = min(loops * 2, job["max_loops"])
                warmups.append(cell.sample(loops))
            result["loops"] = loops
            result["warmups"] = warmups
        elif mode == "measure":
            loops = int(job["loops"])
            result["loops"] = loops
            result["warmups"] = [cell.sample(loops) for _ in range(job["warmups"])]
            result["values"] = [cell.sample(loops) for _ in range(job["values"])]
        else:
            raise ValueError(f"unknown worker mode {mode!r}")
        result["check"] = cell.last_check
    except OutputMismatch as exc:
        result.update(status="failed", error=f"wrong output: {exc}", check=exc.check)
    except Exception as exc:
        tb = traceback.format_exc().strip().splitlines()
        result.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                      traceback=tb[-12:])
    result["runtime"] = environment.runtime_facts()
    result["pid"] = os.getpid()
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m suite.worker JOB.json", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[0]).read_text())
    result = run_job(job)
    tmp = Path(job["result"] + ".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(job["result"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
