"""What the report shows, computed once and rendered twice (HTML and Markdown).

Every number the two renderers print comes from here as a formatted string, so the HTML
and the Markdown always agree.

Speedup rule (also printed in the report): a cell is compared with the baseline runtime's
cell of the same id. A flavor the baseline does not have (the Mojo flavors) is compared
with the baseline's `numpy` cell of the same workload, parameters and thread count, and
with its `pure` cell of the same workload and parameters (pure Python runs on 1 thread).
Speedup = baseline median / this median (above 1: faster than the baseline), with a 95%
percentile-bootstrap CI; "n.s." marks a speedup whose CI includes 1 or that is within the
threshold (5%) of 1. Geometric means count n.s. cells as 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import compare
from ..stats import fmt_ns
from .load import Machine, RuntimeData

THRESHOLD = compare.DEFAULT_THRESHOLD
DEFAULT_BASELINE = "cpython-3.12"


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
        return f"{fmt_x(self.speedup)}{ns}{lab}"

    def ci_text(self) -> str:
        lo, hi = self.speedup_ci
        return f"{fmt_x(lo)}–{fmt_x(hi)}"


@dataclass
class Entry:
    runtime: str
    cell: dict | None
    speedups: list[Speedup] = field(default_factory=list)

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
        half = (st["ci95"][1] - st["ci95"][0]) / 2 / st["median"]
        return f"{fmt_ns(st['median'])} ±{fmt_pct(half)}"

    def ci_text(self) -> str:
        c = self.cell
        if not c or c["status"] != "ok":
            return ""
        lo, hi = c["stats"]["ci95"]
        return f"95% CI of the median {fmt_ns(lo)}–{fmt_ns(hi)}, n={c['stats']['n']}"

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


def speedups(base: RuntimeData | None, cell: dict, is_baseline: bool) -> list[Speedup]:
    if is_baseline or not _ok(cell):
        return []
    out = []
    for label, ref, rid in references(base, cell):
        if not _ok(ref):
            continue
        r = compare.compare_cells(ref, cell, THRESHOLD)
        if r["ratio"] is None:
            continue
        out.append(Speedup(label, rid, r["ratio"], tuple(r["ci95"]), r["verdict"]))
    return out


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

    def text(self) -> str:
        return fmt_x(self.speedup)


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


@dataclass
class JitRow:
    cell_id: str
    off: str
    on: str
    speedup: Speedup
    off_text: str
    on_text: str


# "Which option is fastest": each single-thread cell belongs to one of these families.
FAMILIES = ("CPython", "CPython JIT", "PyPy", "Numba", "NumPy", "Mojo")


def family(rt: RuntimeData, flavor: str) -> str:
    """The option a user would pick: the flavor, or for `pure` loops the interpreter."""
    if flavor.startswith("mojo"):
        return "Mojo"
    if flavor in ("numba", "numpy"):
        return {"numba": "Numba", "numpy": "NumPy"}[flavor]
    if rt.info.get("kind") == "pypy":
        return "PyPy"
    jit = rt.info.get("jit") or {}
    return "CPython JIT" if jit.get("built") and jit.get("enabled") else "CPython"


@dataclass
class Fastest:
    """One workload configuration: the best single-thread cell of each family."""

    stem: str  # workload[params]
    best: dict[str, tuple[str, dict]]  # family -> (runtime, cell)

    def ranked(self) -> list[tuple[str, str, dict]]:
        return sorted(((f, r, c) for f, (r, c) in self.best.items()),
                      key=lambda x: x[2]["stats"]["median"])

    def margin(self) -> float | None:
        """How many times faster the winner is than the runner-up family."""
        r = self.ranked()
        return r[1][2]["stats"]["median"] / r[0][2]["stats"]["median"] if len(r) > 1 else None


def fastest(m: Machine) -> list[Fastest]:
    """Per workload configuration, the fastest single-thread cell of every family."""
    out: dict[str, Fastest] = {}
    for rid, rt in sorted(m.runtimes.items()):
        for c in rt.cells.values():
            if not _ok(c) or c["threads"] != 1:
                continue
            stem = c["id"].split("/")[0]
            fam = family(rt, c["flavor"])
            row = out.setdefault(stem, Fastest(stem, {}))
            old = row.best.get(fam)
            if old is None or c["stats"]["median"] < old[1]["stats"]["median"]:
                row.best[fam] = (rid, c)
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


def choose_baseline(m: Machine, wanted: str) -> tuple[str | None, str]:
    if wanted in m.runtimes:
        return wanted, f"Baseline: {wanted}."
    if not m.runtimes:
        return None, "No runtimes."
    cp = sorted(r for r in m.runtimes if r.startswith("cpython-") and not r.endswith("-jit"))
    pick = (cp or sorted(m.runtimes))[0]
    return pick, (f"Baseline: {pick} (the requested baseline {wanted} has no results on "
                  f"this machine).")


def view(m: Machine, wanted_baseline: str = DEFAULT_BASELINE) -> MachineView:
    bid, note = choose_baseline(m, wanted_baseline)
    base = m.runtimes.get(bid) if bid else None
    others = sorted(r for r in m.runtimes if r != bid)
    order = ([bid] if bid else []) + others
    rows = []
    for cid in m.cell_ids():
        entries = []
        for rid in order:
            c = m.runtimes[rid].cells.get(cid)
            entries.append(Entry(rid, c, speedups(base, c, rid == bid) if c else []))
        rows.append((cid, entries))
    geo, points = [], []
    for rid in others:
        groups: dict[str, list[dict]] = {}
        for cid, entries in rows:
            e = next(x for x in entries if x.runtime == rid)
            for sp in e.speedups:
                cmp = {"ratio": sp.ratio, "verdict": sp.verdict}
                fl = e.cell["flavor"]
                if sp.label == "":
                    groups.setdefault("same cells (all flavors)", []).append(cmp)
                    groups.setdefault(f"{fl} vs {fl}", []).append(cmp)
                else:
                    groups.setdefault(f"{fl} {sp.label}", []).append(cmp)
                if sp.label in ("", "vs numpy"):
                    points.append(Point(rid, fl, e.cell["workload"], cid, sp.ratio, sp.ci,
                                        sp.significant, bool(e.warnings)))
        for label, cells in groups.items():
            g = compare.summarize_group(cells)
            geo.append(GeoRow(rid, label, g["n"],
                              None if g["geomean"] is None else 1 / g["geomean"],
                              None if g["geomean_raw"] is None else 1 / g["geomean_raw"],
                              g["faster"], g["slower"], g["not_significant"]))
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
    return MachineView(m, bid, note, order, rows, geo, points, jit_pairs(m), problems, warns,
                       fastest(m))


def jit_pairs(m: Machine) -> list[tuple[str, str, list[JitRow], GeoRow]]:
    """cpython-X.Y vs cpython-X.Y-jit: JIT on against JIT off, cell by cell."""
    out = []
    for on in sorted(m.runtimes):
        if not on.endswith("-jit") or on[:-4] not in m.runtimes:
            continue
        off = on[:-4]
        rows, cells = [], []
        for cid in m.cell_ids():
            a, b = m.runtimes[off].cells.get(cid), m.runtimes[on].cells.get(cid)
            if not (_ok(a) and _ok(b)):
                continue
            r = compare.compare_cells(a, b, THRESHOLD)
            if r["ratio"] is None:
                continue
            sp = Speedup("", cid, r["ratio"], tuple(r["ci95"]), r["verdict"])
            rows.append(JitRow(cid, off, on, sp, Entry(off, a).time_text(),
                               Entry(on, b).time_text()))
            cells.append({"ratio": r["ratio"], "verdict": r["verdict"]})
        g = compare.summarize_group(cells)
        geo = GeoRow(on, off, g["n"], None if g["geomean"] is None else 1 / g["geomean"],
                     None if g["geomean_raw"] is None else 1 / g["geomean_raw"],
                     g["faster"], g["slower"], g["not_significant"])
        out.append((off, on, rows, geo))
    return out


def jit_state(rt: RuntimeData) -> str:
    j = rt.info.get("jit") or {}
    built = "built" if j.get("built") else "not built"
    en = {True: "enabled", False: "disabled", None: "unknown"}[j.get("enabled")]
    return f"{built}, {en} ({j.get('method', '?')})"


def threads_of(rt: RuntimeData) -> list[int]:
    return sorted({c["threads"] for c in rt.cells.values()})
