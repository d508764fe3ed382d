"""The worker: runs one cell in a fresh process inside the runtime under test.

    python -m suite.measure.worker JOB.json

The job names the workload, parameters, flavor, thread count, inputs file and what to do:
`probe` (the fastest of three calls), `calibrate` (find the loop count that makes one
sample at least `min_time_ns` long, pyperf-style doubling), or `measure` (warm-ups then
samples). Every output (the last call of every warm-up and sample) is checked against the
float64 reference; a wrong output fails the cell. The result JSON goes to `job["result"]`.

Next to each sample's wall time the worker records its CPU time (user + system of the whole
process, every thread: `time.process_time_ns`), and per process the 1-minute load average
before the warm-ups and after the last sample, and its peak resident set size
(`VmHWM` of /proc/self/status: the high-water mark of this program's own memory, which
starts afresh at exec; `ru_maxrss` would carry over the parent's peak from before the
fork, which on Linux survives exec). The reference and error scale are memory-mapped from
the orchestrator's `.npy` files for each check and unmapped after it, so a process holds
their pages only while it checks (see `suite.measure.inputs`).

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
import resource
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

from suite import flavors
from suite.measure import environment
from suite.measure.check import check_output
from suite.measure.inputs import reference_paths
from suite.workloads import get as get_workload


class OutputMismatch(Exception):
    """A flavor returned a wrong answer."""

    def __init__(self, check: dict) -> None:
        super().__init__(check.get("message", "output does not match the reference"))
        self.check = check


def load_inputs(path: str) -> dict[str, np.ndarray]:
    """The inputs (and `_reference`/`_scale` if a file of the older layout carries them)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


Expected = Callable[[], tuple[np.ndarray, np.ndarray]]


def mapped_expected(ref_path: Path, scale_path: Path) -> Expected:
    """The stored reference and scale, memory-mapped afresh for each check: the mapping (and
    the pages the check touched) is dropped when the check's arrays go out of scope."""
    def load() -> tuple[np.ndarray, np.ndarray]:
        return (np.load(ref_path, mmap_mode="r", allow_pickle=False),
                np.load(scale_path, mmap_mode="r", allow_pickle=False))
    return load


def peak_rss_bytes() -> int:
    """This program's peak resident set size so far: VmHWM where /proc has it (Linux; it is
    reset at exec), else ru_maxrss (KiB on Linux, bytes on macOS), which on Linux includes
    the forking parent's peak: a small worker started by a big orchestrator looked big."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def load_average() -> float | None:
    """The 1-minute load average of the machine (None where the OS has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


class Cell:
    """A prepared cell: inputs, reference, tolerance and the timed callable."""

    def __init__(self, job: dict) -> None:
        self.workload = get_workload(job["workload"])
        self.params = job["params"]
        self.threads = int(job["threads"])
        flavors.setup(job["flavor"], Path(job["mojo_cache"]))
        self.flavor = flavors.get(self.workload, job["flavor"])
        stored = load_inputs(job["inputs"])
        inputs = {k: v for k, v in stored.items() if not k.startswith("_")}
        self.expected = self.find_expected(job["inputs"], inputs, stored)
        ref, _ = self.expected()
        problem = self.workload.validate_reference(inputs, self.params, ref)
        del ref, stored
        if problem:
            raise RuntimeError(f"reference check failed: {problem}")
        self.tol = self.workload.tolerance(self.params)
        self.check_ns = 0
        self.checks = 0
        self.args = self.flavor.prepare(inputs, self.params) if self.flavor.prepare else ()
        self.last_check: dict | None = None
        self.compile_ns: int | None = None
        self.compile_cached: bool | None = None
        if self.flavor.compile is not None:
            t0 = time.perf_counter_ns()
            info = self.flavor.compile(self.args)
            self.compile_ns = time.perf_counter_ns() - t0
            if isinstance(info, dict) and "cached" in info:  # e.g. MAX's compiled-model cache
                self.compile_cached = bool(info["cached"])

    def find_expected(self, inputs_path: str, inputs: dict[str, np.ndarray],
                      stored: dict[str, np.ndarray]) -> Expected:
        """Where the reference and scale come from: the orchestrator's .npy files, arrays
        stored in the inputs file, or computed here (inputs from `suite exec`, tests)."""
        ref_path, scale_path = reference_paths(Path(inputs_path))
        if ref_path.is_file() and scale_path.is_file():
            return mapped_expected(ref_path, scale_path)
        ref = stored.get("_reference")
        if ref is None:
            ref = self.workload.reference(inputs, self.params)
        scale = stored.get("_scale")
        if scale is None:
            scale = self.workload.error_scale(inputs, self.params, ref)
        return lambda: (ref, scale)

    def check(self, out: object) -> None:
        t0 = time.perf_counter_ns()
        arr = self.flavor.finish(out, self.params) if self.flavor.finish else out
        ref, scale = self.expected()
        rec = check_output(arr, ref, scale, self.tol)
        del ref, scale, arr
        self.check_ns += time.perf_counter_ns() - t0
        self.checks += 1
        if (self.last_check is None or (rec["max_error"] or 0) > (self.last_check["max_error"] or 0)
                or not rec["ok"]):
            self.last_check = rec
        if not rec["ok"]:
            raise OutputMismatch(rec)

    def timed(self, loops: int) -> tuple[int, int]:
        """Time `loops` calls; return (wall, CPU) nanoseconds per call, CPU being user +
        system time of this process (all its threads). The output is checked after."""
        run, args, threads = self.flavor.run, self.args, self.threads
        out = None
        c0 = time.process_time_ns()
        t0 = time.perf_counter_ns()
        for _ in range(loops):
            out = run(*args, threads=threads)
        t1 = time.perf_counter_ns()
        c1 = time.process_time_ns()
        self.check(out)
        return max(1, (t1 - t0) // loops), (c1 - c0) // loops

    def sample(self, loops: int) -> int:
        """Time `loops` calls; return wall nanoseconds per call (output checked after)."""
        return self.timed(loops)[0]


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
            load_before = load_average()
            if job.get("warmup") == "steady":
                result["warmups"], result["steady"] = steady_warmups(
                    lambda: cell.sample(loops), job["warmups"], loops,
                    limit_ns=int(job["steady_limit_s"] * 1e9))
            else:
                result["warmups"] = [cell.sample(loops) for _ in range(job["warmups"])]
            timings = [cell.timed(loops) for _ in range(job["values"])]
            result["load_avg"] = [load_before, load_average()]
            result["values"] = [wall for wall, _ in timings]
            result["values_cpu_ns"] = [cpu for _, cpu in timings]
        else:
            raise ValueError(f"unknown worker mode {mode!r}")
        result["check"] = cell.last_check
        result["check_ns"], result["checks"] = cell.check_ns, cell.checks
        if cell.compile_ns is not None:
            result["compile_ns"] = cell.compile_ns
        if cell.compile_cached is not None:
            result["compile_cached"] = cell.compile_cached
    except OutputMismatch as exc:
        result.update(status="failed", error=f"wrong output: {exc}", check=exc.check)
    except Exception as exc:
        tb = traceback.format_exc().strip().splitlines()
        result.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                      traceback=tb[-12:])
    result["elapsed_ns"] = time.perf_counter_ns() - t_start
    result["peak_rss_bytes"] = peak_rss_bytes()
    result["runtime"] = {**environment.runtime_facts(), **flavors.facts()}
    result["pid"] = os.getpid()
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m suite.measure.worker JOB.json", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[0]).read_text())
    result = run_job(job)
    tmp = Path(f"{job['result']}.{os.getpid()}.tmp")  # unique: never shared with another writer
    tmp.write_text(json.dumps(result))
    tmp.replace(job["result"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
