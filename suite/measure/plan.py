"""Planning: which cells to run (workload x params x flavor x threads x runtime), and the
record of one cell as it fills in (samples, warm-ups, checks) and as it goes into the
document."""

from __future__ import annotations

from dataclasses import dataclass, field

from suite import flavors
from suite.measure import noise, stats
from suite.measure.profiles import Profile
from suite.runtimes import Runtime
from suite.workloads import WORKLOADS, Params, Workload, canonical

# Flavors whose full-size call can take minutes get a budget probe at a smaller size.
# BLAS-backed and tuned flavors finish a full-size call in well under a second, where a
# tiny probe would measure start-up latency rather than throughput and overestimate.
PROBED_FLAVORS = frozenset({"pure", "mojo-naive", "mojo-simd"})


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
    process_samples: list[list[int]] = field(default_factory=list)  # samples per process
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
        doc["process_samples"] = self.process_samples
        warnings = list(self.record.get("warnings_extra", []))
        doc.pop("warnings_extra", None)
        if status == "ok" and not self.samples:
            status = "failed"
            doc.setdefault("error", "interrupted before any sample was taken")
        if status == "ok":
            st = stats.summarize(self.samples, self.process_samples, key=self.id)
            doc["stats"] = st
            doc["gflops"] = flops / st["center"] if flops else None
            warnings += stats.warnings_for(st, self.loops)
            warnings += noise.warnings_for(self.record.get("noise"))
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


def plan(runtimes: list[Runtime], profile: Profile, workloads: list[str] | None,
         only: list[str] | None, all_threads: int) -> list[Cell]:
    """Every cell to run, cell-major (so runtimes interleave), filtered by name."""
    names = workloads or list(WORKLOADS)
    cells = []
    for name in names:
        w = WORKLOADS[name]
        for params in w.params[profile.name]:
            for fl in flavors.names(w):
                if only and fl not in only:
                    continue
                for threads in sorted({1, all_threads}) if flavors.threaded(w, fl) else [1]:
                    for rt in runtimes:
                        if fl in rt.flavors:
                            cells.append(Cell(rt, w, params, fl, threads))
    return cells
