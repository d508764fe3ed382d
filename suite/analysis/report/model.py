"""What the report shows, computed once and rendered twice (HTML and Markdown).

Every number the two renderers print comes from here as a formatted string, so the HTML
and the Markdown always agree.

Speedup rule (also printed in the report): a cell is compared with the baseline runtime's
cell of the same id. A flavor the baseline does not have (the Mojo flavors) is compared
with the baseline's `numpy` cell of the same workload, parameters and thread count, and
with its `pure` cell of the same workload and parameters (pure Python runs on 1 thread).
Speedup = baseline time / this time (times per call: the geometric mean of each cell's
per-process medians; above 1: faster than the baseline), with the 95% CI of
`suite.analysis.compare` (over processes); "n.s." marks a speedup not shown to exceed the
threshold (5%), symmetric on the log scale: significant only when the whole CI lies beyond
1.05x faster or slower. Geometric means count n.s. cells as 1.0 (bench_runner's convention).

Speeds are compared only between cells of the same run (`run.id`): cells merged from
different runs are shown, but their speedups, JIT rows and "fastest" margins are withheld
unless `allow_cross_run`, and then labelled "cross-run".
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from suite import documents
from suite.analysis import compare
from suite.analysis.machines import Machine, RuntimeData
from suite.measure.stats import fmt_ns

THRESHOLD = compare.DEFAULT_THRESHOLD
DEFAULT_BASELINE = "cpython-3.12"
CROSS_RUN = " (cross-run)"  # the label of a comparison between two runs


def fmt_x(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}×"
    if x >= 10:
        return f"{x:.1f}×"
    if x >= 0.1:
        return f"{x:.2f}×"
    return f"{x:.2g}×"


def fmt_pct(x: float) -> str:
    return f"{x:.0%}" if x >= 0.01 else "<1%"


@dataclass
class Speedup:
    label: str  # "" (same cell), "vs numpy", "vs pure"
    ref_id: str
    ratio: float  # this time / baseline time
    ci: tuple[float, float]  # of the ratio
    verdict: str  # faster / slower / not significant / not comparable / no data
    cross_run: bool = False  # the two cells come from different runs

    @property
    def speedup(self) -> float:
        return 1.0 / self.ratio

    @property
    def speedup_ci(self) -> tuple[float, float]:
        return 1.0 / self.ci[1], 1.0 / self.ci[0]

    @property
    def significant(self) -> bool:
        return self.verdict in ("faster", "slower")

    def text(self) -> str:
        ns = "" if self.significant else " n.s."
        lab = f" {self.label}" if self.label else ""
        return f"{fmt_x(self.speedup)}{ns}{lab}{CROSS_RUN if self.cross_run else ''}"

    def ci_text(self) -> str:
        lo, hi = self.speedup_ci
        return f"{fmt_x(lo)}–{fmt_x(hi)}"


@dataclass
class Entry:
    runtime: str
    cell: dict | None
    speedups: list[Speedup] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)  # cross-run comparisons not drawn

    @property
    def status(self) -> str:
        return self.cell["status"] if self.cell else "missing"

    @property
    def warnings(self) -> list[dict]:
        return (self.cell or {}).get("warnings", [])

    def time_text(self) -> str:
        c = self.cell
        if c is None:
            return ""
        if c["status"] == "failed":
            return "FAILED"
        if c["status"] == "skipped":
            est = c.get("skip", {}).get("estimate_call_ns")
            return f"skipped (est. ~{fmt_ns(est)})" if est else "skipped"
        st = c["stats"]
        center = compare.center(c)
        half = (st["ci95"][1] - st["ci95"][0]) / 2 / center
        return f"{fmt_ns(center)} ±{fmt_pct(half)}"

    def ci_text(self) -> str:
        c = self.cell
        if not c or c["status"] != "ok":
            return ""
        st = c["stats"]
        lo, hi = st["ci95"]
        if st.get("ci_method") == "processes":
            procs = st.get("processes") or len(c.get("process_samples") or ())
            return (f"95% CI {fmt_ns(lo)}–{fmt_ns(hi)} over {procs} processes "
                    f"(n={st['n']} samples)")
        return (f"95% CI of the median {fmt_ns(lo)}–{fmt_ns(hi)}, n={st['n']} (pooled: "
                "between-process variation not accounted for)")

    def warn_text(self) -> str:
        return "; ".join(w["message"] for w in self.warnings)


def _ok(c: dict | None) -> bool:
    return bool(c) and c["status"] == "ok"


def references(base: RuntimeData | None, cell: dict) -> list[tuple[str, dict | None, str]]:
    """(label, baseline cell or None, ref id) per the speedup rule in the module docstring."""
    if base is None:
        return []
    if cell["id"] in base.cells:
        return [("", base.cells[cell["id"]], cell["id"])]
    flavors = {c["flavor"] for c in base.cells.values()}
    if cell["flavor"] in flavors:
        return []  # the baseline has the flavor but not this cell: nothing comparable
    stem = cell["id"].split("/")[0]
    out = []
    nid = f"{stem}/numpy/threads={cell['threads']}"
    pid = f"{stem}/pure/threads=1"
    out.append(("vs numpy", base.cells.get(nid), nid))
    out.append(("vs pure", base.cells.get(pid), pid))
    return out


def speedups(base: RuntimeData | None, cell: dict, run: str, allow_cross_run: bool
             ) -> tuple[list[Speedup], list[str]]:
    """(speedups of an ok cell of run `run` against the baseline, labels of the cross-run
    ones withheld)."""
    if base is None or not _ok(cell):
        return [], []
    out, withheld = [], []
    for label, ref, rid in references(base, cell):
        if not _ok(ref):
            continue
        cross = base.run_of(rid) != run
        if cross and not allow_cross_run:
            withheld.append(label or "vs baseline")
            continue
        r = compare.compare_cells(ref, cell, THRESHOLD)
        if r["ratio"] is None:
            continue
        out.append(Speedup(label, rid, r["ratio"], tuple(r["ci95"]), r["verdict"], cross))
    return out, withheld


@dataclass
class GeoRow:
    runtime: str
    against: str  # what the cells were compared with
    n: int
    speedup: float | None
    raw: float | None
    faster: int
    slower: int
    ns: int
    cross_run: int = 0  # how many of the n compare two runs

    def text(self) -> str:
        return fmt_x(self.speedup)


def geo_row(runtime: str, against: str, cells: list[dict]) -> GeoRow:
    """Geometric-mean speedup of compared cells ({"ratio", "verdict", "cross_run"})."""
    g = compare.summarize_group(cells)
    return GeoRow(runtime, against, g["n"], None if g["geomean"] is None else 1 / g["geomean"],
                  None if g["geomean_raw"] is None else 1 / g["geomean_raw"], g["faster"],
                  g["slower"], g["not_significant"],
                  sum(bool(c.get("cross_run")) for c in cells))


@dataclass
class Point:  # one dot of the relative-time chart
    runtime: str
    flavor: str
    workload: str
    cell_id: str
    ratio: float
    ci: tuple[float, float]
    significant: bool
    warned: bool
    cross_run: bool = False


@dataclass
class JitRow:
    cell_id: str
    off: str
    on: str
    speedup: Speedup
    off_text: str
    on_text: str


# "Which option is fastest": each single-thread cell belongs to one of these families.
FAMILIES = ("CPython", "CPython JIT", "PyPy", "Numba", "NumPy", "PyTorch", "JAX", "Mojo", "MAX")
LIBRARIES = {"numba": "Numba", "numpy": "NumPy", "torch": "PyTorch", "torch-compile": "PyTorch",
             "jax": "JAX", "max": "MAX"}


def family(rt: RuntimeData, flavor: str) -> str | None:
    """The option a user would pick: the flavor's library, Mojo for our Mojo kernels, or for
    `pure` loops the interpreter; None for a flavor the suite does not know (not ranked)."""
    if flavor.startswith("mojo"):
        return "Mojo"
    if flavor in LIBRARIES:
        return LIBRARIES[flavor]
    if flavor != "pure":
        return None
    if rt.info.get("kind") == "pypy":
        return "PyPy"
    jit = rt.info.get("jit") or {}
    return "CPython JIT" if jit.get("built") and jit.get("enabled") else "CPython"


@dataclass
class Fastest:
    """One workload configuration: the best single-thread cell of each family."""

    stem: str  # workload[params]
    best: dict[str, tuple[str, dict]]  # family -> (runtime, cell)
    runs: dict[str, str] = field(default_factory=dict)  # family -> run id of its cell

    def ranked(self) -> list[tuple[str, str, dict]]:
        return sorted(((f, r, c) for f, (r, c) in self.best.items()),
                      key=lambda x: compare.center(x[2]))

    def margin(self) -> float | None:
        """How many times faster the winner is than the runner-up family."""
        r = self.ranked()
        return compare.center(r[1][2]) / compare.center(r[0][2]) if len(r) > 1 else None

    def cross_run(self) -> bool:
        """The winner and the runner-up come from different runs."""
        r = self.ranked()
        return len(r) > 1 and self.runs.get(r[0][0]) != self.runs.get(r[1][0])


def fastest(m: Machine) -> list[Fastest]:
    """Per workload configuration, the fastest single-thread cell of every family."""
    out: dict[str, Fastest] = {}
    for rid, rt in sorted(m.runtimes.items()):
        for c in rt.cells.values():
            if not _ok(c) or c["threads"] != 1:
                continue
            stem = c["id"].split("/")[0]
            fam = family(rt, c["flavor"])
            if fam is None:
                continue
            row = out.setdefault(stem, Fastest(stem, {}))
            old = row.best.get(fam)
            if old is None or compare.center(c) < compare.center(old[1]):
                row.best[fam] = (rid, c)
                row.runs[fam] = rt.run_of(c["id"])
    return [out[k] for k in sorted(out, key=lambda s: m.cell_ids().index(
        next(i for i in m.cell_ids() if i.startswith(s + "/"))))]


@dataclass
class MachineView:
    machine: Machine
    baseline: str | None
    baseline_note: str
    runtimes: list[str]
    rows: list[tuple[str, list[Entry]]]
    geo: list[GeoRow]
    points: list[Point]
    jit: list[tuple[str, str, list[JitRow], GeoRow]]
    problems: list[tuple[str, str, str, str]]  # runtime, cell, status, reason
    warnings: list[tuple[str, str, str]]  # runtime, cell, message
    fastest: list[Fastest] = field(default_factory=list)
    allow_cross_run: bool = False
    withheld: int = 0  # cross-run comparisons not drawn

    def cross_run_note(self) -> str:
        """What the report did with comparisons between runs ('' for a single run)."""
        runs = self.machine.runs()
        if len(runs) < 2:
            return ""
        head = (f"These results come from {len(runs)} runs ({', '.join(runs)}); speeds "
                "compare fairly only within one interleaved run.")
        if self.allow_cross_run:
            n = sum(sp.cross_run for _, es in self.rows for e in es for sp in e.speedups)
            n += sum(r.speedup.cross_run for _, _, rows, _ in self.jit for r in rows)
            return (f"{head} {n} comparison(s) between runs are shown as asked "
                    f"(--allow-cross-run), each labelled{CROSS_RUN}.")
        return (f"{head} {self.withheld} comparison(s) between cells of different runs are "
                "withheld; rerun the runtimes together, or pass --allow-cross-run to show "
                "them labelled" + CROSS_RUN + ".")


def choose_baseline(m: Machine, wanted: str) -> tuple[str | None, str]:
    if wanted in m.runtimes:
        return wanted, f"Baseline: {wanted}."
    if not m.runtimes:
        return None, "No runtimes."
    cp = sorted(r for r in m.runtimes if r.startswith("cpython-") and not r.endswith("-jit"))
    pick = (cp or sorted(m.runtimes))[0]
    return pick, (f"Baseline: {pick} (the requested baseline {wanted} has no results on "
                  f"this machine).")


def view(m: Machine, wanted_baseline: str = DEFAULT_BASELINE,
         allow_cross_run: bool = False) -> MachineView:
    bid, note = choose_baseline(m, wanted_baseline)
    base = m.runtimes.get(bid) if bid else None
    others = sorted(r for r in m.runtimes if r != bid)
    order = ([bid] if bid else []) + others
    rows = []
    for cid in m.cell_ids():
        entries = []
        for rid in order:
            c = m.runtimes[rid].cells.get(cid)
            e = Entry(rid, c)
            if c and rid != bid:
                e.speedups, e.withheld = speedups(base, c, m.runtimes[rid].run_of(cid),
                                                  allow_cross_run)
            entries.append(e)
        rows.append((cid, entries))
    geo, points = [], []
    for rid in others:
        groups: dict[str, list[dict]] = {}
        for cid, entries in rows:
            e = next(x for x in entries if x.runtime == rid)
            for sp in e.speedups:
                cmp = {"ratio": sp.ratio, "verdict": sp.verdict, "cross_run": sp.cross_run}
                fl = e.cell["flavor"]
                if sp.label == "":
                    groups.setdefault("same cells (all flavors)", []).append(cmp)
                    groups.setdefault(f"{fl} vs {fl}", []).append(cmp)
                else:
                    groups.setdefault(f"{fl} {sp.label}", []).append(cmp)
                if sp.label in ("", "vs numpy"):
                    points.append(Point(rid, fl, e.cell["workload"], cid, sp.ratio, sp.ci,
                                        sp.significant, bool(e.warnings), sp.cross_run))
        geo += [geo_row(rid, label, cells) for label, cells in groups.items()]
    problems, warns = [], []
    for cid, entries in rows:
        for e in entries:
            c = e.cell
            if c is None:
                continue
            if c["status"] == "failed":
                problems.append((e.runtime, cid, "failed", c.get("error", "")))
            elif c["status"] == "skipped":
                sk = c.get("skip", {})
                est = sk.get("estimate_call_ns")
                extra = f" (estimated {fmt_ns(est)} per call: an estimate, not a measurement)" \
                    if est else ""
                problems.append((e.runtime, cid, "skipped", sk.get("reason", "") + extra))
            for w in c.get("warnings", []):
                warns.append((e.runtime, cid, w["message"]))
    for rid in order:
        rt = m.runtimes[rid]
        for c, d in rt.not_shown:
            problems.append((rid, c["id"], f"{c['status']} in a newer run (not shown)",
                             f"run {d.doc['run']['id']}: "
                             f"{c.get('error') or c.get('skip', {}).get('reason', '')}; the "
                             f"table shows the {rt.cells[c['id']]['status']} cell of run "
                             f"{rt.run_of(c['id'])}"))
    jit, jit_withheld = jit_pairs(m, allow_cross_run)
    fast = fastest(m)
    withheld = (sum(len(e.withheld) for _, es in rows for e in es) + jit_withheld
                + sum(r.cross_run() for r in fast))
    return MachineView(m, bid, note, order, rows, geo, points, jit, problems, warns, fast,
                       allow_cross_run, 0 if allow_cross_run else withheld)


def jit_pairs(m: Machine, allow_cross_run: bool = False
              ) -> tuple[list[tuple[str, str, list[JitRow], GeoRow]], int]:
    """cpython-X.Y vs cpython-X.Y-jit: JIT on against JIT off, cell by cell; and how many
    cross-run rows were withheld."""
    out, withheld = [], 0
    for on in sorted(m.runtimes):
        if not on.endswith("-jit") or on[:-4] not in m.runtimes:
            continue
        off = on[:-4]
        rows, cells = [], []
        ra, rb = m.runtimes[off], m.runtimes[on]
        for cid in m.cell_ids():
            a, b = ra.cells.get(cid), rb.cells.get(cid)
            if not (_ok(a) and _ok(b)):
                continue
            cross = ra.run_of(cid) != rb.run_of(cid)
            if cross and not allow_cross_run:
                withheld += 1
                continue
            r = compare.compare_cells(a, b, THRESHOLD)
            if r["ratio"] is None:
                continue
            sp = Speedup("", cid, r["ratio"], tuple(r["ci95"]), r["verdict"], cross)
            rows.append(JitRow(cid, off, on, sp, Entry(off, a).time_text(),
                               Entry(on, b).time_text()))
            cells.append({"ratio": r["ratio"], "verdict": r["verdict"], "cross_run": cross})
        out.append((off, on, rows, geo_row(on, off, cells)))
    return out, withheld


def jit_state(rt: RuntimeData) -> str:
    j = rt.info.get("jit") or {}
    built = "built" if j.get("built") else "not built"
    en = {True: "enabled", False: "disabled", None: "unknown"}[j.get("enabled")]
    return f"{built}, {en} ({j.get('method', '?')})"


def threads_of(rt: RuntimeData) -> list[int]:
    return sorted({c["threads"] for c in rt.cells.values()})


def fmt_duration(seconds: float) -> str:
    """'1 h 32 min', '4 min 10 s', '45 s'."""
    s = max(0, round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def _when(text: object) -> datetime | None:
    """An ISO time (UTC when it names no zone), None when it is not one."""
    try:
        t = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def load_average(m: Machine) -> tuple[float, int] | None:
    """(median 1-minute load average around the measuring processes of the shown cells,
    how many processes), from each cell's `noise.load_avg` [before, after] pairs; None
    when the documents do not record it."""
    per_process = documents.process_load_averages(
        c for rt in m.runtimes.values() for c in rt.cells.values())
    return (statistics.median(per_process), len(per_process)) if per_process else None


def run_line(m: Machine) -> str:
    """The machine and its run(s) in one line: label, run id, date and duration, runtimes,
    load average during the measurements, suite version and commit."""
    runs = m.runs()
    docs = [d for d in m.docs if d.doc["run"]["id"] in runs] or m.docs
    parts = [m.label, f"run {runs[0]}" if len(runs) == 1 else f"{len(runs)} runs"]
    starts = [t for t in (_when(d.doc["run"]["started"]) for d in docs) if t]
    ends = [t for t in (_when(d.doc["run"].get("finished") or d.doc["run"]["updated"])
                        for d in docs) if t]
    if starts and ends:
        a, b = min(starts).astimezone(UTC), max(ends).astimezone(UTC)
        day = a.strftime("%Y-%m-%d") + ("" if b.date() == a.date()
                                        else " to " + b.strftime("%Y-%m-%d"))
        parts.append(f"{day}, {fmt_duration((b - a).total_seconds())}")
    parts.append(f"{len(m.runtimes)} runtime{'s' * (len(m.runtimes) != 1)}")
    load = load_average(m)
    if load:
        parts.append(f"load average {load[0]:.2g} on {m.cores} cores (median of "
                     f"{load[1]} measuring processes)")
    suites = dict.fromkeys(
        f"suite {d.doc['suite']['version']}"
        + (f" {d.doc['suite']['git_commit'][:10]}" if d.doc["suite"].get("git_commit") else "")
        + ("+dirty" if d.doc["suite"].get("git_dirty") else "") for d in docs)
    parts.append(", ".join(suites))
    if not all(d.doc["run"]["complete"] for d in docs):
        parts.append("INCOMPLETE (interrupted or still running)")
    return " · ".join(parts)


def winners(v: MachineView) -> str:
    """Which option wins the fastest-option table how often, as one sentence ('' when the
    table is empty)."""
    if not v.fastest:
        return ""
    wins = Counter(row.ranked()[0][0] for row in v.fastest).most_common()
    n = len(v.fastest)
    head, *rest = wins
    more = "".join(f", {fam} in {k}" for fam, k in rest)
    what = "workload configuration" if n == 1 else "workload configurations"
    return f"Fastest single-thread option: {head[0]} in {head[1]} of {n} {what}{more}."
