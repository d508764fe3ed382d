"""The worker: runs one cell in a fresh process inside the runtime under test.

    python -m suite.worker JOB.json

The job names the workload, parameters, flavor, thread count, inputs file and what to do:
`probe` (the fastest of three calls), `calibrate` (find the loop count that makes one
sample at least `min_time_ns` long, pyperf-style doubling), or `measure` (warm-ups then
samples). Every output (the last call of every warm-up and sample) is checked against the
float64 reference; a wrong output fails the cell. The result JSON goes to `job["result"]`.

Warm-ups are either the profile's fixed count or, for runtimes with a JIT (`warmup =
"steady"` in the runtimes file), as many as it takes for the timings to stop falling: see
`steady_warmups`. Flavors compiled ahead of the call (Numba) are compiled once before
anything is timed, and that compile time is reported apart (`compile_ns`).
Imports: standard library, NumPy, and the suite's workload modules only (plus Numba or the
Mojo extension for their flavors).
"""

from __future__ import annotations

import json
import os
import statistics
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
        self.compile_ns: int | None = None
        if self.flavor.compile is not None:
            t0 = time.perf_counter_ns()
            self.flavor.compile(self.args)
            self.compile_ns = time.perf_counter_ns() - t0

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


# The steady-state rule for JIT warm-up: compare the median of the last WINDOW warm-ups with
# the median of the WINDOW before them; the timings are steady once the newer window is no
# more than GAIN faster. A JIT that is still compiling shows as a falling series; noise
# alone does not keep it going, because medians of 3 rarely move 5% in one direction.
STEADY_WINDOW = 3
STEADY_GAIN = 0.05
STEADY_MAX = 60  # warm-ups per process at most; then the cell is flagged `not-steady`
STEADY_RULE = {"window": STEADY_WINDOW, "gain": STEADY_GAIN, "max_warmups": STEADY_MAX}


def is_steady(times: list[int], window: int = STEADY_WINDOW, gain: float = STEADY_GAIN) -> bool:
    """Whether the last `window` timings are no more than `gain` faster than the ones before."""
    if len(times) < 2 * window:
        return False
    before = statistics.median(times[-2 * window:-window])
    last = statistics.median(times[-window:])
    return last >= (1.0 - gain) * before


def steady_warmups(sample, minimum: int, loops: int, limit_ns: int,
                   maximum: int = STEADY_MAX) -> tuple[list[int], bool]:
    """Warm up until `is_steady`: at least `minimum` warm-ups, at most `maximum` or until they
    have taken `limit_ns`. `sample()` times `loops` calls and returns ns per call. Returns
    the warm-up timings and whether they got steady."""
    times: list[int] = []
    spent = 0
    while True:
        times.append(sample())
        spent += times[-1] * loops
        if len(times) >= minimum and is_steady(times):
            return times, True
        if len(times) >= maximum or spent >= limit_ns:
            return times, False


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
            if job.get("warmup") == "steady":
                result["warmups"], result["steady"] = steady_warmups(
                    lambda: cell.sample(loops), job["warmups"], loops,
                    limit_ns=int(job["steady_limit_s"] * 1e9))
            else:
                result["warmups"] = [cell.sample(loops) for _ in range(job["warmups"])]
            result["values"] = [cell.sample(loops) for _ in range(job["values"])]
        else:
            raise ValueError(f"unknown worker mode {mode!r}")
        result["check"] = cell.last_check
        if cell.compile_ns is not None:
            result["compile_ns"] = cell.compile_ns
    except OutputMismatch as exc:
        result.update(status="failed", error=f"wrong output: {exc}", check=exc.check)
    except Exception as exc:
        tb = traceback.format_exc().strip().splitlines()
        result.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                      traceback=tb[-12:])
    result["runtime"] = environment.runtime_facts()
    if "numba" in sys.modules:
        from . import numba_kernels

        result["runtime"]["numba"] = numba_kernels.facts()
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
