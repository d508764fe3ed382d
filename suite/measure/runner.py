"""Execution: run the planned cells' worker processes through a backend in the scheduled
order, and keep one validated result document per runtime up to date on disk.

Order of work (so that runtimes are compared within one run, interleaved): see
`suite.measure.schedule`. Per cell: an optional probe at a smaller size (budget check), then
one calibration process that fixes the loop count, then `processes` measuring processes.
After every worker process the runtime's document is rewritten atomically, so Ctrl-C,
SIGTERM (a cancelled CI job) or a crashed worker loses at most the process in flight.

Locks (`suite.runtimes.locks`): one run at a time per results directory (a second run waits
for the first, or with `wait=False` refuses, naming the holder's pid). Runs hold their cache
shared: several may use it at once, while removing stale inputs takes it exclusive (and is
skipped while any run uses the cache). A virtualenv is locked on its own (shared while
used, exclusive while built: `suite.runtimes.native`). `python -m suite run` takes these
locks before it sets up runtimes; `execute` takes them again (a no-op there) for callers
that did not.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from suite import documents
from suite.measure import environment, noise, stats, worker
from suite.measure.inputs import InputStore
from suite.measure.inputs import prune as prune_inputs
from suite.measure.plan import PROBED_FLAVORS, Cell, plan
from suite.measure.profiles import Profile
from suite.measure.schedule import Costs, Progress, fmt_s, order, process_cost_s
from suite.measure.stats import fmt_ns
from suite.runtimes import Runtime, locks
from suite.runtimes.backend import Backend, Unavailable, worker_env
from suite.workloads import Params, canonical

ROOT = Path(__file__).resolve().parents[2]
INPUTS = "inputs"  # the cache's directory of shared inputs (suite.measure.inputs)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_run_id() -> str:
    """The start time (UTC, to the second) and a random suffix: unique even for two runs
    started in the same second."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job, `kill`): handled exactly like Ctrl-C."""


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside the block SIGTERM raises `Terminated`, so it unwinds like Ctrl-C: the worker in
    flight is killed, its container removed, the documents are saved as interrupted. A
    second SIGTERM during that clean-up is ignored. (Signals reach the main thread only;
    elsewhere this does nothing.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def results_lock(out_dir: Path, wait: bool = True, log: Callable[[str], None] = print):
    """The results directory's lock: one run at a time writes into it."""
    return locks.hold(locks.directory_lock(Path(out_dir)), f"the results directory {out_dir}",
                      wait, log)


def cache_lock(cache_dir: Path, shared: bool, wait: bool = True,
               log: Callable[[str], None] = print):
    """The cache's lock: shared by running runs, exclusive while it is set up."""
    return locks.hold(locks.directory_lock(Path(cache_dir)), f"the cache {cache_dir}", wait,
                      log, shared=shared)


def prune_stale_inputs(cache_dir: Path) -> list[Path]:
    """Remove the inputs other code made, if no run uses the cache now (else: next time).
    Call before taking the cache's shared lock."""
    try:
        with cache_lock(cache_dir, shared=False, wait=False):
            return prune_inputs(cache_dir / INPUTS)
    except locks.Busy:
        return []


@contextmanager
def deferred_sigterm() -> Iterator[None]:
    """SIGTERM is held back inside the block and delivered when it ends."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


class Run:
    """One invocation of the suite over several runtimes."""

    def __init__(self, runtimes: list[Runtime], backend: Backend, profile: Profile,
                 out_dir: Path, cache_dir: Path, seed: int = 0,
                 workloads: list[str] | None = None, flavors: list[str] | None = None,
                 command: str = "", log: Callable[[str], None] = print,
                 backend_records: dict[str, dict] | None = None, wait: bool = True) -> None:
        """`wait`: when another run holds the results directory or the cache, wait for it
        (True) or refuse with `locks.Busy` (False)."""
        self.backend, self.profile, self.seed, self.log = backend, profile, seed, log
        self.out_dir, self.cache_dir, self.wait = out_dir, cache_dir, wait
        self.host = environment.host_facts()
        # The runtimes' architecture (an arm64 image under QEMU on an amd64 host: arm64).
        arches = {r["arch"] for r in (backend_records or {}).values() if r.get("arch")}
        self.arch = arches.pop() if len(arches) == 1 else documents.arch_name(self.host["arch"])
        self.run_id = new_run_id()
        self.started = now()
        self.command = command
        self.suite = documents.suite_info()
        self.inputs = InputStore(cache_dir / INPUTS, seed)
        self.work = cache_dir / "work" / self.run_id
        records = backend_records or {}
        self.runtime_extra = {rid: r.get("runtime_extra", {}) for rid, r in records.items()}
        for r in records.values():  # e.g. the machine's FMA peak measured by the Mojo runtime
            self.host.update(r.get("host_extra", {}))
        self.runtimes: list[Runtime] = []
        self.backend_info: dict[str, dict] = {}
        self.runtime_info: dict[str, dict] = {}
        self.paths: dict[str, Path] = {}
        self.failed_runtimes: dict[str, str] = {}
        for rt in runtimes:
            self.runtimes.append(rt)
            self.backend_info[rt.id] = {k: v for k, v in records.get(rt.id, {}).items()
                                        if k not in ("runtime_extra", "host_extra")
                                        } or {"kind": backend.kind}
            self.paths[rt.id] = out_dir / self.arch / rt.id / f"{self.run_id}.json"
        self.cells = plan(self.runtimes, profile, workloads, flavors, os.cpu_count() or 1)
        self.interrupted: str | None = None
        self.jobs = 0
        self.costs = Costs(profile.processes)

    # -- documents ---------------------------------------------------------------------
    def document(self, rt: Runtime, complete: bool) -> dict:
        info = dict(self.runtime_info.get(rt.id) or {})
        info.setdefault("implementation", "unknown")
        info.setdefault("version", "unknown")
        info.setdefault("jit", {"built": False, "enabled": None, "method": "not measured"})
        info["jit"] = {**info["jit"], "expected": rt.jit}
        info.update(id=rt.id, kind=rt.kind)
        emulated = bool(self.backend_info.get(rt.id, {}).get("emulated", False))
        settings = {**self.profile.settings(),
                    "thresholds": {**stats.THRESHOLDS, **noise.THRESHOLDS},
                    "steady_rule": worker.STEADY_RULE}
        return {
            "schema_version": documents.SCHEMA_VERSION,
            "suite": self.suite,
            "run": {"id": self.run_id, "profile": self.profile.name, "started": self.started,
                    "updated": now(), "finished": now() if complete else None,
                    "complete": complete, "interrupted": self.interrupted, "seed": self.seed,
                    "command": self.command, "settings": settings},
            "host": {**self.host, "emulated": emulated},
            "runtime": info,
            "backend": {k: v for k, v in self.backend_info.get(rt.id, {"kind": "native"}).items()
                        if k != "emulated"},
            "cells": [c.as_json(self.profile.processes) for c in self.cells if c.runtime is rt],
        }

    def save(self, rt: Runtime, complete: bool = False) -> None:
        documents.write_atomic(self.paths[rt.id], self.document(rt, complete))

    # -- workers -----------------------------------------------------------------------
    def job(self, cell: Cell, mode: str, params: Params | None = None, **extra) -> dict:
        params = params or cell.params
        inputs, sha = self.inputs.path(cell.workload, params)
        if params is cell.params:
            cell.record["inputs_sha256"] = sha
        self.jobs += 1
        n = self.jobs
        return {"workload": cell.workload.name, "params": params, "flavor": cell.flavor,
                "threads": cell.threads, "mode": mode, "inputs": str(inputs),
                "result": str(self.work / f"{n:06d}-{cell.runtime.id}.result.json"),
                "mojo_cache": str(self.cache_dir / "mojo"),
                "min_time_ns": self.profile.min_time_ns, "max_loops": self.profile.max_loops,
                **extra}

    def call(self, cell: Cell, job: dict) -> dict:
        """Run one worker process; its result, with `wall_s` (what it took from here)."""
        env = worker_env(cell.runtime, cell.threads)
        t0 = time.monotonic()
        res = self.backend.run_worker(cell.runtime, job, env, self.profile.timeout_s)
        res["wall_s"] = time.monotonic() - t0
        if job["mode"] != "probe" and res.get("peak_rss_bytes"):
            mem = cell.record.setdefault("memory", {"peak_rss_bytes": 0, "per_process": []})
            mem["per_process"].append(res["peak_rss_bytes"])
            mem["peak_rss_bytes"] = max(mem["per_process"])
        facts = res.get("runtime")
        if facts:
            self.check_jit(cell.runtime, facts)
            if cell.runtime.id not in self.runtime_info:
                extra = self.runtime_extra.get(cell.runtime.id, {})
                self.runtime_info[cell.runtime.id] = {**facts, **extra}
            info = self.runtime_info[cell.runtime.id]
            if facts.get("numba") and (info.get("numba") or {}).get("threading_layer") is None:
                info["numba"] = facts["numba"]  # the first numba cell that ran in parallel
            for key, value in facts.items():  # a family's facts (torch, jax) from its first cell
                info.setdefault(key, value)
            if facts.get("blas_threads") is not None:
                cell.record["blas_threads"] = facts["blas_threads"]
        return res

    def check_jit(self, rt: Runtime, facts: dict) -> None:
        """Fail the runtime when the JIT state the worker measured is not the one the
        runtimes file promises. `active` False (3.14+: enabled, yet a hot loop never reached
        JIT code) counts as off; None means it was not measured."""
        jit = facts.get("jit", {})
        on = (bool(jit.get("built")) and jit.get("enabled") is True
              and jit.get("active") is not False)
        if rt.kind in ("cpython", "pypy") and on != rt.jit:
            msg = (f"JIT state mismatch in {rt.id}: the runtimes file expects the JIT "
                   f"{'enabled' if rt.jit else 'disabled'}, the worker measured built="
                   f"{jit.get('built')} enabled={jit.get('enabled')}"
                   + (f" active={jit['active']}" if "active" in jit else "")
                   + f" ({jit.get('method')})")
            self.failed_runtimes[rt.id] = msg
            raise JitMismatch(msg)

    # -- phases ------------------------------------------------------------------------
    def calibrate(self, cell: Cell) -> None:
        w, p = cell.workload, self.profile
        cell.status = "running"
        probe = w.probe(cell.params) if cell.flavor in PROBED_FLAVORS else None
        if probe is not None:
            res = self.call(cell, self.job(cell, "probe", params=probe))
            if res["status"] != "ok":
                return cell.fail(f"probe at {canonical(probe)}: {res.get('error')}", res)
            per_call = res["first_call_ns"] * w.work(cell.params) / w.work(probe)
            calls = 1 + p.processes * (p.warmups + p.values)
            est = per_call * calls / 1e9
            if est > p.budget_s:
                return self.skip(cell, est, per_call,
                                 f"extrapolated from {canonical(probe)} by work ratio",
                                 probe_params=probe, probe_ns=res["first_call_ns"])
        res = self.call(cell, self.job(cell, "calibrate"))
        ok = res["status"] == "ok"
        self.costs.calibrated(self.key(cell), res["wall_s"], process_cost_s(
            res, res["wall_s"], p.warmups + p.values) if ok else None)
        if not ok:
            return cell.fail(res.get("error", "calibration failed"), res)
        cell.loops = res["loops"]
        if "compile_ns" in res:
            cell.record["compile_ns"] = [res["compile_ns"]]
        if "compile_cached" in res:
            cell.record["compile_cached"] = [res["compile_cached"]]
        cell.record["first_call_ns"] = res["first_call_ns"]
        cell.record["calibration"] = res["warmups"]
        cell.record["check"] = res["check"]
        per_call = res["warmups"][-1]
        est = per_call * cell.loops * p.processes * (p.warmups + p.values) / 1e9
        if est > p.budget_s and probe is not None:
            # The probe's extrapolation by work ratio can miss (a kernel that fits the cache
            # at the probe size and not at full size): the calibration measured the real call.
            return self.skip(cell, est, per_call,
                             "from the calibration process's calls at full size")
        if est > p.budget_s:
            cell.record.setdefault("warnings_extra", []).append({
                "code": "over-budget", "value": est, "threshold": p.budget_s,
                "message": f"estimated {fmt_s(est)} for the cell, over the {p.budget_s:g}s "
                           f"budget; measured anyway (a probe size is not defined)"})
        return None

    def skip(self, cell: Cell, est: float, per_call: float, how: str, **extra) -> None:
        """Record `cell` as skipped over the budget: `est` seconds for the cell, `per_call` ns."""
        p = self.profile
        cell.status = "skipped"
        cell.record["skip"] = {
            "reason": f"estimated {fmt_s(est)} for the cell exceeds the {p.name} profile's "
                      f"budget of {p.budget_s:g}s per cell; {how}",
            "estimate_s": est, "estimate_call_ns": per_call, **extra, "budget_s": p.budget_s}

    def measure(self, cell: Cell) -> None:
        p = self.profile
        res = self.call(cell, self.job(cell, "measure", loops=cell.loops,
                                       warmups=p.warmups, values=p.values,
                                       warmup=cell.runtime.warmup,
                                       steady_limit_s=p.steady_limit_s))
        self.costs.measured(self.key(cell), res["wall_s"])
        if res["status"] != "ok":
            return cell.fail(res.get("error", "measurement failed"), res)
        cell.processes += 1
        cell.warmups += res["warmups"]
        wu = cell.record.setdefault("warmup", {"rule": cell.runtime.warmup, "counts": []})
        wu["counts"].append(len(res["warmups"]))
        if "steady" in res:
            wu.setdefault("steady", []).append(res["steady"])
        if "compile_ns" in res:
            cell.record.setdefault("compile_ns", []).append(res["compile_ns"])
        if "compile_cached" in res:
            cell.record.setdefault("compile_cached", []).append(res["compile_cached"])
        cell.samples += res["values"]
        cell.process_samples.append(list(res["values"]))  # the unit of replication
        if "values_cpu_ns" in res:
            noise.add_process(cell.record.setdefault("noise", noise.empty()), cell.samples,
                              res["values_cpu_ns"], res.get("load_avg", [None, None]),
                              cell.threads)
        old = cell.record.get("check") or {}
        if (res["check"].get("max_error") or 0) >= (old.get("max_error") or 0):
            cell.record["check"] = res["check"]
        return None

    @staticmethod
    def key(cell: Cell) -> str:
        return f"{cell.runtime.id} {cell.id}"

    def eta_s(self) -> float:
        """Seconds left: each remaining process at its cell's calibrated cost."""
        left = self.profile.processes
        todo = [(self.key(c), c.status == "running", left - c.processes)
                for c in self.cells if c.status in ("pending", "running")
                and c.runtime.id not in self.failed_runtimes]
        return self.costs.remaining_s(todo)

    def execute(self) -> int:
        """Run everything; returns the exit status (0 ok, 1 failures, 130 interrupted by
        Ctrl-C, 143 terminated by SIGTERM). Raises locks.Busy when another run holds the
        results directory or the cache and `wait` is False."""
        with sigterm_as_interrupt(), results_lock(self.out_dir, self.wait, self.log), \
                cache_lock(self.cache_dir, True, self.wait, self.log):
            self.started = now()  # after any wait for another run
            self.work.mkdir(parents=True, exist_ok=True)
            return self._execute()

    def _execute(self) -> int:
        p = self.profile
        prog = Progress(len(self.cells) * (1 + p.processes))
        stopped = 0
        try:
            for rt in self.runtimes:
                self.save(rt)
            for phase, cell in order(self.cells, p.processes):
                if phase == "calibrate":
                    self.step(cell, self.calibrate, "calibrated", prog)
                else:
                    self.step(cell, self.measure, phase, prog)
            for cell in self.cells:
                if cell.status == "running":
                    cell.status = "ok"
        except Terminated:
            self.interrupted, stopped = "terminated by SIGTERM (e.g. a cancelled CI job)", 143
            self.log("\nterminated (SIGTERM): keeping every finished cell")
        except KeyboardInterrupt:
            self.interrupted, stopped = "interrupted by the user (Ctrl-C)", 130
            self.log("\ninterrupted: keeping every finished cell")
        with deferred_sigterm():  # the last word in each document is never cut short
            for rt in self.runtimes:
                self.save(rt, complete=self.interrupted is None)
        if stopped:
            return stopped
        bad = [c for c in self.cells if c.status == "failed"]
        return 1 if bad or self.failed_runtimes else 0

    def step(self, cell: Cell, action: Callable[[Cell], None], label: str,
             prog: Progress) -> None:
        """One worker process for `cell`, then progress and the document rewritten."""
        if cell.runtime.id in self.failed_runtimes:
            return
        try:
            action(cell)
        except JitMismatch as exc:
            self.abort_runtime(cell.runtime, str(exc))
            return
        prog.step(f"{cell.runtime.id:<16} {cell.id} {label}: {self.describe(cell)}",
                  self.eta_s())
        self.save(cell.runtime)

    def abort_runtime(self, rt: Runtime, msg: str) -> None:
        self.log(f"error: {msg}")
        for c in self.cells:
            if c.runtime is rt and c.status in ("pending", "running"):
                c.fail(msg)
        self.save(rt)

    def describe(self, cell: Cell) -> str:
        if cell.status == "failed":
            return f"FAILED: {cell.record.get('error')}"
        if cell.status == "skipped":
            return f"skipped (estimate {fmt_s(cell.record['skip']['estimate_s'])})"
        if cell.samples:
            return f"median {fmt_ns(stats.summarize(cell.samples)['median'])}"
        return f"{cell.loops} loop(s) of {fmt_ns(cell.record['calibration'][-1])}"


class JitMismatch(Exception):
    """The worker measured a JIT state other than the runtimes file promises."""


def prepare_runtimes(backend: Backend, runtimes: list[Runtime], log=print
                     ) -> tuple[list[Runtime], dict[str, dict], dict[str, str]]:
    """Set up each runtime; those that cannot be had here are returned with the reason."""
    ready, info, missing = [], {}, {}
    for rt in runtimes:
        try:
            info[rt.id] = backend.prepare(rt)
            ready.append(rt)
        except Unavailable as exc:
            missing[rt.id] = str(exc)
            log(f"unavailable: {rt.id}: {exc}")
    return ready, info, missing
