"""Every table of the report as plain data (strings), shared by the HTML and Markdown
renderers so both print exactly the same numbers."""

from __future__ import annotations

from dataclasses import dataclass, field

from suite.analysis import claims as claims_mod
from suite.analysis import compare
from suite.analysis.report import model
from suite.analysis.report.model import Entry, MachineView, fmt_ns, fmt_x


@dataclass
class Cell:
    text: str
    title: str = ""  # tooltip in HTML
    cls: str = ""  # CSS class in HTML
    sub: str = ""  # second line (speedup), same in Markdown after " · "
    sub_cls: str = ""  # faster / slower / ns: the color of the second line in HTML
    href: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)  # (title, url) after text


@dataclass
class Table:
    id: str
    caption: str
    header: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cls: str = ""


WARN = "⚠"
TITLE = "Benchmark results: CPython (JIT on/off), PyPy, NumPy, Mojo"  # both renderings


def summary(v: MachineView) -> Table:
    t = Table(f"summary-{v.machine.key}", "Median time per call (geometric mean of the "
              "per-process medians, ±half-width of its 95% CI) and speedup against "
              f"{v.baseline}", ["cell", *v.runtimes], cls="summary")
    for cid, entries in v.rows:
        row = [Cell(cid, cls="cellid")]
        for e in entries:
            row.append(entry_cell(e))
        t.rows.append(row)
    lo, hi = compare.bounds(model.THRESHOLD)
    t.notes.append(
        "Time per call = the geometric mean of the cell's per-process medians; its 95% CI "
        "rests on the worker processes (hover for it). Speedup = baseline time / this time "
        "(above 1 is faster), 95% CI in the tooltip; n.s. = not significant: the CI of the "
        f"time ratio is not wholly below {lo:.3f} or above {hi:.3f} (5% either way on the "
        "log scale). Cells the baseline lacks (Mojo flavors) are compared with the "
        "baseline's numpy cell of the same workload, parameters and threads, and with its "
        f"pure cell (1 thread). {model.CROSS_RUN.strip()} = the two cells come from different "
        f"runs. {WARN} = stability warning (listed below the table). Skipped cells show the "
        "suite's estimate of one call, not a measurement.")
    return t


def fastest(v: MachineView) -> Table:
    """Per workload configuration: the best single-thread time of each option, the winner
    and its margin over the runner-up."""
    t = Table(f"fastest-{v.machine.key}", "Which option is fastest (single thread)",
              ["workload", *model.FAMILIES, "fastest"], cls="fastest")
    for row in v.fastest:
        cells = [Cell(row.stem, cls="cellid")]
        ranked = row.ranked()
        for fam in model.FAMILIES:
            if fam not in row.best:
                cells.append(Cell("-"))
                continue
            rid, c = row.best[fam]
            cells.append(Cell(fmt_ns(compare.center(c)),
                              title=f"{rid}, flavor {c['flavor']}",
                              cls="best" if fam == ranked[0][0] else ""))
        margin = row.margin()
        win = ranked[0]
        if margin is not None and row.cross_run() and not v.allow_cross_run:
            text = f"{win[0]} (the runner-up {ranked[1][0]} is from another run: no margin)"
        elif margin is None:
            text = win[0]
        else:
            text = f"{win[0]}, {fmt_x(margin)} faster than {ranked[1][0]}" + (
                model.CROSS_RUN if row.cross_run() else "")
        cells.append(Cell(text, title=f"{win[1]}, flavor {win[2]['flavor']}"))
        t.rows.append(cells)
    t.notes.append(
        "Best time per call among the 1-thread cells of each option: CPython = pure Python "
        "on CPython without a JIT, CPython JIT = pure Python with the JIT on, PyPy = pure "
        "Python on PyPy, Numba = the same loops under numba.njit, NumPy = the vectorised "
        "flavor (any runtime), PyTorch = torch eager or torch.compile (the faster), JAX = "
        "jax.jit, Mojo = the best Mojo kernel (ours or Modular's library), MAX = a MAX graph. "
        "Hover for the runtime. Margins "
        "are ratios of times within one machine's results, drawn only within one run unless "
        "--allow-cross-run; with few processes or stability warnings read them as rough.")
    return t


def entry_cell(e: Entry) -> Cell:
    if e.cell is None:
        return Cell("", cls="empty")
    text = e.time_text()
    cls = {"failed": "failed", "skipped": "skipped"}.get(e.status, "")
    warn = e.warn_text()
    if warn:
        text += f" {WARN}"
        cls = (cls + " warn").strip()
    title = "; ".join(x for x in (e.ci_text(), warn, (e.cell or {}).get("error", "")) if x)
    subs, tips = [], []
    for sp in e.speedups:
        subs.append(sp.text())
        tips.append(f"speedup{(' ' + sp.label) if sp.label else ''}: {fmt_x(sp.speedup)} "
                    f"(95% CI {sp.ci_text()}, {sp.verdict})")
    if tips:
        title = "; ".join(x for x in (title, *tips) if x)
    if e.withheld:
        subs.append("other run: not compared")
        tips.append("not compared with the baseline (" + ", ".join(e.withheld) + "): the two "
                    "cells come from different runs (--allow-cross-run shows it, labelled)")
        title = "; ".join(x for x in (title, tips[-1]) if x)
    first = e.speedups[0].verdict if e.speedups else ""
    sub_cls = {"faster": "faster", "slower": "slower"}.get(first, "ns")
    return Cell(text, title=title, cls=cls, sub=", ".join(subs), sub_cls=sub_cls)


def geomeans(v: MachineView) -> Table:
    t = Table(f"geomean-{v.machine.key}", f"Geometric mean speedup against {v.baseline}",
              ["runtime", "cells compared", "geomean speedup", "raw geomean", "faster",
               "slower", "n.s.", "cells"], cls="geo")
    for g in v.geo:
        t.rows.append([Cell(g.runtime), Cell(g.against), Cell(g.text(), cls="num"),
                       Cell(fmt_x(g.raw), cls="num"), Cell(str(g.faster)),
                       Cell(str(g.slower)), Cell(str(g.ns)), Cell(str(g.n))])
    t.notes.append("Geometric mean of speedups with not-significant cells counted as 1.0 "
                   "(faster-cpython bench_runner's \"including insignificant results\" "
                   "convention); raw: every speedup as measured (what pyperf compare_to "
                   "averages).")
    cross = sum(g.cross_run for g in v.geo)
    if cross:
        t.notes.append(f"{cross} of the speedups averaged here compare cells of different "
                       f"runs{model.CROSS_RUN}.")
    return t


def jit(v: MachineView) -> list[Table]:
    out = []
    for off, on, rows, geo in v.jit:
        t = Table(f"jit-{v.machine.key}-{on}", f"JIT on ({on}) vs off ({off})",
                  ["cell", f"{off} (JIT off)", f"{on} (JIT on)", "speedup", "95% CI",
                   "verdict"], cls="jit")
        for r in rows:
            t.rows.append([Cell(r.cell_id, cls="cellid"), Cell(r.off_text), Cell(r.on_text),
                           Cell(fmt_x(r.speedup.speedup), cls="num"),
                           Cell(r.speedup.ci_text()),
                           Cell(jit_verdict(r.speedup.verdict)
                                + (model.CROSS_RUN if r.speedup.cross_run else ""))])
        t.notes.append(f"Geometric mean speedup of the JIT: {geo.text()} over {geo.n} cells "
                       f"({geo.faster} faster, {geo.slower} slower, {geo.ns} n.s.; "
                       "n.s. counted as 1.0).")
        t.notes.append("JIT state measured by the worker: "
                       f"{off}: {model.jit_state(v.machine.runtimes[off])}; "
                       f"{on}: {model.jit_state(v.machine.runtimes[on])}.")
        out.append(t)
    return out


def jit_verdict(v: str) -> str:
    return {"faster": "JIT faster", "slower": "JIT slower"}.get(v, v)


def problems(v: MachineView) -> Table:
    t = Table(f"problems-{v.machine.key}", "Failures and skips",
              ["runtime", "cell", "status", "reason"], cls="problems")
    for rid, cid, status, reason in v.problems:
        t.rows.append([Cell(rid), Cell(cid, cls="cellid"), Cell(status, cls=status),
                       Cell(reason)])
    return t


def agreement(v: MachineView) -> Table:
    t = Table(f"agreement-{v.machine.key}", "Output agreement (emulated: no timings shown)",
              ["runtime", "cell", "status", "max scaled error", "tolerance"], cls="agree")
    for cid, entries in v.rows:
        for e in entries:
            c = e.cell
            if c is None:
                continue
            chk = c.get("check") or {}
            me = chk.get("max_error")
            t.rows.append([Cell(e.runtime), Cell(cid, cls="cellid"), Cell(c["status"]),
                           Cell("-" if me is None else f"{me:.3g}"),
                           Cell("-" if chk.get("tolerance") is None
                                else f"{chk['tolerance']:.3g}")])
    t.notes.append("Timings under emulation (QEMU) say nothing about the hardware, so they "
                   "are excluded from every speed table; the outputs still must agree with "
                   "the float64 reference.")
    return t


def claims_tables(results: list[claims_mod.Result]) -> list[Table]:
    """One table per machine (the hardware the numbers were measured on)."""
    by: dict[str, list[claims_mod.Result]] = {}
    for r in results:
        if r.claim["kind"] != "method":
            by.setdefault(r.machine or "no results", []).append(r)
    out = []
    for i, (machine, rs) in enumerate(by.items()):
        t = Table(f"claims-{i}", f"Published claims vs measured on {machine}",
                  ["claim", "claimed", "measured", "verdict", "reason"], cls="claims")
        for r in rs:
            tip = " | ".join(x for x in (r.fair, *r.also, r.claim.get("note", "")) if x)
            t.rows.append([Cell(r.claim["quote"], title=r.claim["id"]), Cell(r.claimed),
                           Cell(r.measured or "-", title=tip),
                           Cell(r.verdict, cls="v-" + r.verdict.replace(" ", "-")),
                           Cell(r.reason)])
        out.append(t)
    return out


def method_table(results: list[claims_mod.Result]) -> Table:
    t = Table("method-claims", "Method claims (checked against primary sources)",
              ["claim", "verdict", "note", "sources", "in these results"], cls="claims")
    for r in results:
        if r.claim["kind"] != "method":
            continue
        srcs = [(s["title"], s["url"]) for s in r.claim.get("sources", [])]
        t.rows.append([Cell(r.claim["quote"], title=r.claim["id"]),
                       Cell(r.verdict, cls="v-" + r.verdict.replace(" ", "-")),
                       Cell(r.claim["note"]), Cell("", links=srcs), Cell(r.measured or "-")])
    return t


def host_table(v: MachineView) -> Table:
    h = v.machine.host
    t = Table(f"host-{v.machine.key}", "Host", ["field", "value"], cls="env")
    mem = h.get("memory_bytes")
    peak = h.get("peak_gflops")
    for k, val in (("CPU", h.get("cpu_model")), ("architecture", h.get("arch")),
                   ("cores", h.get("cores")),
                   ("memory", f"{mem / 2**30:.1f} GiB" if mem else "-"),
                   ("OS", h.get("os")), ("kernel", h.get("kernel")),
                   ("SIMD", ", ".join(h.get("simd", [])) or "-"),
                   ("emulated", "yes (QEMU)" if h.get("emulated") else "no"),
                   ("measured peak GFLOP/s", "; ".join(
                       f"{dt}: " + ", ".join(f"{th} thr {g:.0f}" for th, g in d.items())
                       for dt, d in peak.items()) if peak else "not measured")):
        t.rows.append([Cell(k), Cell(str(val))])
    return t


def runtime_table(v: MachineView) -> Table:
    t = Table(f"runtimes-{v.machine.key}", "Runtimes",
              ["runtime", "version", "build", "JIT", "NumPy / BLAS", "threads", "backend",
               "image digest"], cls="env")
    for rid in v.runtimes:
        rt = v.machine.runtimes[rid]
        i = rt.info
        blas = i.get("blas") or {}
        blas_t = blas.get("internal_api") or blas.get("name") or ""
        if blas.get("version"):
            blas_t += f" {blas['version']}"
        build = " ".join(x for x in (i.get("implementation"), i.get("compiler")) if x)
        if i.get("configure_args"):
            build += f"; configure: {i['configure_args']}"
        mojo = i.get("mojo") or {}
        if mojo.get("mojo_version"):
            build += f"; Mojo {mojo['mojo_version']}"
        b = rt.backend
        t.rows.append([Cell(rid), Cell(i.get("version", "")), Cell(build or "-"),
                       Cell(model.jit_state(rt)),
                       Cell(f"NumPy {i.get('numpy') or '-'}" + (f"; {blas_t}" if blas_t
                                                                else "")),
                       Cell(", ".join(map(str, model.threads_of(rt)))),
                       Cell(b.get("kind", "") + (f" ({b['engine']})" if b.get("engine")
                                                 else "")),
                       Cell(b.get("digest") or "-")])
    return t


def docs_table(v: MachineView) -> Table:
    t = Table(f"docs-{v.machine.key}", "Result documents (raw JSON)",
              ["runtime", "run", "profile", "complete", "suite", "file"], cls="env")
    for d in v.machine.docs:
        doc = d.doc
        s = doc["suite"]
        commit = (s.get("git_commit") or "")[:10] + ("+dirty" if s.get("git_dirty") else "")
        t.rows.append([Cell(d.runtime), Cell(doc["run"]["id"]), Cell(doc["run"]["profile"]),
                       Cell("yes" if doc["run"]["complete"] else "NO (partial)"),
                       Cell(f"{s['version']} {commit}".strip()),
                       Cell(d.data_name, href=d.data_name)])
    return t


def warnings_list(v: MachineView) -> list[str]:
    return [f"{rid} {cid}: {msg}" for rid, cid, msg in v.warnings]


def noisy_caveat(v: MachineView) -> str:
    total = sum(1 for _, es in v.rows for e in es if e.status == "ok")
    warned = sum(1 for _, es in v.rows for e in es if e.status == "ok" and e.warnings)
    text = (f"{warned} of {total} measured cells carry a stability warning. Shared machines "
            "and CI runners are noisy: trust ratios measured in one interleaved run more than "
            "absolute times, and read the CIs.")
    return " ".join(x for x in (text, v.cross_run_note()) if x)


def method_notes() -> list[str]:
    lo, hi = compare.bounds(model.THRESHOLD)
    return [
        "Times are nanoseconds per call from several fresh worker processes per cell, the "
        "process being the unit of replication: a cell's time is the geometric mean of its "
        "per-process medians, its 95% CI the Student-t interval over those medians "
        "(documents before schema 1.2.0: pooled order-statistic CI, marked).",
        "Speedups and ratios: 95% Behrens-Fisher interval from both cells' t draws "
        f"({compare.RESAMPLES} stratified draws, seeded by the cell id).",
        f"Significance, symmetric on the log scale: the whole CI of the time ratio below "
        f"{lo:.3f} (faster) or above {hi:.3f} (slower).",
        "Speeds are compared only within one run unless --allow-cross-run, and then "
        f"labelled{model.CROSS_RUN}; a newer run's failed cell never hides an older ok one "
        "(it is listed under failures).",
        "Every output was checked against a float64 reference; failed checks are failures, "
        "never times.",
        "See docs/report.md for how to read this report.",
    ]


def fmt_time(ns: float | None) -> str:
    return fmt_ns(ns)
