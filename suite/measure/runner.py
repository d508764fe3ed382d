"""The orchestrator: plan cells, run fresh worker processes interleaved across runtimes,
summarise, and keep one validated result document per runtime up to date on disk.

Order of work (so that runtimes are compared within one run, interleaved):
  1. per cell: an optional probe at a smaller size (budget check), then one calibration
     process that fixes the loop count;
  2. `processes` rounds; in each round every cell gets one measuring process, and the
     runtimes take turns cell by cell.
After every worker process the runtime's document is rewritten atomically, so Ctrl-C or a
crashed worker loses at most the process in flight.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from . import environment, results, stats, worker
from .backends import Backend, Unavailable, worker_env
from .profiles import Profile
from .runtimes import Runtime
from .stats import fmt_ns
from .workloads import WORKLOADS, Params, Workload, canonical, flavor_names, make_inputs, threaded

ROOT = Path(__file__).resolve().parent.parent


# Flavors whose full-size call can take minutes get a budget probe at a smaller size.
# BLAS-backed and tuned flavors finish a full-size call in well under a second, where a
# tiny probe would measure start-up latency rather than throughput and overestimate.
PROBED_FLAVORS = frozenset({"pure", "mojo-naive", "mojo-simd"})


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def cell_id(workload: str, params: Params, flavor: str, threads: int) -> str:
    return f"{workload}[{canonical(params)}]/{flavor}/threads={threads}"


@dataclass
class Cell:
    """One (workload, params, flavor, threads) in one runtime, and what is known so far."""

    runtime: Runtime
    workload: Workload
    params: Params
    flavor: str
    threads: int
    status: str = "pending"  # pending -> running -> ok | failed | skipped
    loops: int = 0
    record: dict = field(default_factory=dict)
    warmups: list[int] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)
    processes: int = 0

    @property
    def id(self) -> str:
        return cell_id(self.workload.name, self.params, self.flavor, self.threads)

    def fail(self, error: str, result: dict | None = None) -> None:
        self.status = "failed"
        self.record["error"] = error
        if result:
            for k in ("check", "traceback"):
                if result.get(k):
                    self.record[k] = result[k]

    def as_json(self, planned: int) -> dict:
        w = self.workload
        doc: dict = {"id": self.id, "workload": w.name, "params": self.params,
                     "flavor": self.flavor, "threads": self.threads,
                     "planned_processes": planned, "processes": self.processes}
        doc.update({k: v for k, v in self.record.items() if k != "stats"})
        status = self.status if self.status in ("failed", "skipped") else "ok"
        flops = w.flops(self.params) if w.flops else None
        doc["flops"] = flops
        if self.loops:
            doc["loops"] = self.loops
        doc["warmups"] = self.warmups
        doc["samples"] = self.samples
        warnings = list(self.record.get("warnings_extra", []))
        doc.pop("warnings_extra", None)
        if status == "ok" and not self.samples:
            status = "failed"
            doc.setdefault("error", "interrupted before any sample was taken")
        if status == "ok":
            st = stats.summarize(self.samples)
            doc["stats"] = st
            doc["gflops"] = flops / st["median"] if flops else None
            warnings += stats.warnings_for(st, self.loops)
            steady = self.record.get("warmup", {}).get("steady", [])
            if not all(steady):
                warnings.append({"code": "not-steady", "value": steady.count(False),
                                 "threshold": 0,
                                 "message": f"{steady.count(False)} of {len(steady)} processes "
                                            "ended their warm-up before the timings were "
                                            "steady (the warm-up limit was reached)"})
            if self.processes < planned:
                warnings.append({"code": "incomplete", "value": self.processes,
                                 "threshold": planned,
                                 "message": f"{self.processes} of {planned} processes ran"})
        doc["status"] = status
        doc["warnings"] = warnings
        return doc


class InputStore:
    """Seeded inputs written once as .npz bytes that every runtime loads, together with the
    one float64 reference (`_reference`) and error scale (`_scale`) they are checked against,
    computed here once rather than in every worker."""

    def __init__(self, directory: Path, seed: int) -> None:
        self.dir = directory
        self.seed = seed
        self.sha: dict[str, str] = {}

    def path(self, w: Workload, params: Params) -> tuple[Path, str]:
        key = f"{w.name}[{canonical(params)}]seed={self.seed}"
        name = hashlib.sha256(key.encode()).hexdigest()[:24]
        path = self.dir / f"{w.name}-{name}.npz"
        if key not in self.sha:
            arrays = make_inputs(w, params, self.seed)
            h = hashlib.sha256()
            for k in sorted(arrays):
                a = np.ascontiguousarray(arrays[k])
                h.update(f"{k}:{a.dtype.str}:{a.shape};".encode())
                h.update(a.tobytes())
            self.dir.mkdir(parents=True, exist_ok=True)
            ref = w.reference(arrays, params)
            scale = w.error_scale(arrays, params, ref)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, **arrays, _reference=ref, _scale=scale)
            os.replace(tmp, path)
            self.sha[key] = h.hexdigest()
        return path, self.sha[key]


def plan(runtimes: list[Runtime], profile: Profile, workloads: list[str] | None,
         flavors: list[str] | None, all_threads: int) -> list[Cell]:
    """Every cell to run, cell-major (so runtimes interleave), filtered by name."""
    names = workloads or list(WORKLOADS)
    cells = []
    for name in names:
        w = WORKLOADS[name]
        for params in w.params[profile.name]:
            for fl in flavor_names(w):
                if flavors and fl not in flavors:
                    continue
                for threads in sorted({1, all_threads}) if threaded(w, fl) else [1]:
                    for rt in runtimes:
                        if fl in rt.flavors:
                            cells.append(Cell(rt, w, params, fl, threads))
    return cells


class Progress:
    """`[n/m] what ... ETA` lines on stderr."""

    def __init__(self, total: int, out=sys.stderr) -> None:
        self.total, self.done, self.t0, self.out = total, 0, time.monotonic(), out

    def step(self, what: str) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.t0
        eta = elapsed / self.done * (self.total - self.done)
        print(f"[{self.done:>4}/{self.total}] {what}  (elapsed {fmt_s(elapsed)}, "
              f"ETA {fmt_s(eta)})", file=self.out, flush=True)


def fmt_s(s: float) -> str:
    return f"{s:.0f}s" if s < 120 else f"{s / 60:.1f}min"


class Run:
    """One invocation of the suite over several runtimes."""

    def __init__(self, runtimes: list[Runtime], backend: Backend, profile: Profile,
                 out_dir: Path, cache_dir: Path, seed: int = 0,
                 workloads: list[str] | None = None, flavors: list[str] | None = None,
                 command: str = "", log: Callable[[str], None] = print,
                 backend_records: dict[str, dict] | None = None) -> None:
        self.backend, self.profile, self.seed, self.log = backend, profile, seed, log
        self.cache_dir = cache_dir
        self.host = environment.host_facts()
        # The runtimes' architecture (an arm64 image under QEMU on an amd64 host: arm64).
        arches = {r["arch"] for r in (backend_records or {}).values() if r.get("arch")}
        self.arch = arches.pop() if len(arches) == 1 else results.arch_name(self.host["arch"])
        self.run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.started = now()
        self.command = command
        self.suite = results.suite_info()
        self.inputs = InputStore(cache_dir / "inputs", seed)
        self.work = cache_dir / "work" / self.run_id
        self.work.mkdir(parents=True, exist_ok=True)
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

    # -- documents ---------------------------------------------------------------------
    def document(self, rt: Runtime, complete: bool) -> dict:
        info = dict(self.runtime_info.get(rt.id) or {})
        info.setdefault("implementation", "unknown")
        info.setdefault("version", "unknown")
        info.setdefault("jit", {"built": False, "enabled": None, "method": "not measured"})
        info["jit"] = {**info["jit"], "expected": rt.jit}
        info.update(id=rt.id, kind=rt.kind)
        emulated = bool(self.backend_info.get(rt.id, {}).get("emulated", False))
        settings = {**self.profile.settings(), "thresholds": stats.THRESHOLDS,
                    "steady_rule": worker.STEADY_RULE}
        return {
            "schema_version": results.SCHEMA_VERSION,
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
        results.write_atomic(self.paths[rt.id], self.document(rt, complete))

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
        env = worker_env(cell.runtime, cell.threads)
        res = self.backend.run_worker(cell.runtime, job, env, self.profile.timeout_s)
        facts = res.get("runtime")
        if facts:
            self.check_jit(cell.runtime, facts)
            if cell.runtime.id not in self.runtime_info:
                extra = self.runtime_extra.get(cell.runtime.id, {})
                self.runtime_info[cell.runtime.id] = {**facts, **extra}
            info = self.runtime_info[cell.runtime.id]
            if facts.get("numba") and (info.get("numba") or {}).get("threading_layer") is None:
                info["numba"] = facts["numba"]  # the first numba cell that ran in parallel
            if facts.get("blas_threads") is not None:
                cell.record["blas_threads"] = facts["blas_threads"]
        return res

    def check_jit(self, rt: Runtime, facts: dict) -> None:
        jit = facts.get("jit", {})
        on = bool(jit.get("built")) and jit.get("enabled") is True
        if rt.kind in ("cpython", "pypy") and on != rt.jit:
            msg = (f"JIT state mismatch in {rt.id}: the runtimes file expects the JIT "
                   f"{'enabled' if rt.jit else 'disabled'}, the worker measured built="
                   f"{jit.get('built')} enabled={jit.get('enabled')} ({jit.get('method')})")
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
                cell.status = "skipped"
                cell.record["skip"] = {
                    "reason": f"estimated {fmt_s(est)} for the cell exceeds the "
                              f"{self.profile.name} profile's budget of {p.budget_s:g}s per "
                              f"cell; extrapolated from {canonical(probe)} by work ratio",
                    "estimate_s": est, "estimate_call_ns": per_call, "probe_params": probe,
                    "probe_ns": res["first_call_ns"], "budget_s": p.budget_s}
                return None
        res = self.call(cell, self.job(cell, "calibrate"))
        if res["status"] != "ok":
            return cell.fail(res.get("error", "calibration failed"), res)
        cell.loops = res["loops"]
        if "compile_ns" in res:
            cell.record["compile_ns"] = [res["compile_ns"]]
        cell.record["first_call_ns"] = res["first_call_ns"]
        cell.record["calibration"] = res["warmups"]
        cell.record["check"] = res["check"]
        est = res["warmups"][-1] * cell.loops * p.processes * (p.warmups + p.values) / 1e9
        if est > p.budget_s:
            cell.record.setdefault("warnings_extra", []).append({
                "code": "over-budget", "value": est, "threshold": p.budget_s,
                "message": f"estimated {fmt_s(est)} for the cell, over the {p.budget_s:g}s "
                           f"budget; measured anyway (a probe size is not defined)"})
        return None

    def measure(self, cell: Cell) -> None:
        p = self.profile
        res = self.call(cell, self.job(cell, "measure", loops=cell.loops,
                                       warmups=p.warmups, values=p.values,
                                       warmup=cell.runtime.warmup,
                                       steady_limit_s=p.steady_limit_s))
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
        cell.samples += res["values"]
        old = cell.record.get("check") or {}
        if (res["check"].get("max_error") or 0) >= (old.get("max_error") or 0):
            cell.record["check"] = res["check"]
        return None

    def execute(self) -> int:
        """Run everything; returns the exit status (0 ok, 1 failures, 130 interrupted)."""
        p = self.profile
        for rt in self.runtimes:
            self.save(rt)
        live = list(self.cells)
        prog = Progress(len(live) * (1 + p.processes))
        try:
            for cell in live:
                self.step(cell, self.calibrate, "calibrated", prog)
            for r in range(p.processes):
                for cell in live:
                    if cell.status == "running":
                        self.step(cell, self.measure, f"process {r + 1}/{p.processes}", prog)
            for cell in live:
                if cell.status == "running":
                    cell.status = "ok"
        except KeyboardInterrupt:
            self.interrupted = "interrupted by the user (Ctrl-C)"
            self.log("\ninterrupted: keeping every finished cell")
        for rt in self.runtimes:
            self.save(rt, complete=self.interrupted is None)
        if self.interrupted:
            return 130
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
        prog.step(f"{cell.runtime.id:<16} {cell.id} {label}: {self.describe(cell)}")
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
