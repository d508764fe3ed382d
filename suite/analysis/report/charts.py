"""Static charts (matplotlib, Agg backend) as SVG text: embedded in the HTML as data URIs
and written beside report.md for the Markdown version."""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import ticker
from matplotlib.lines import Line2D

from suite.analysis.machines import FLAVOR_ORDER, Machine, safe_name
from suite.analysis.report.model import MachineView
from suite.workloads import WORKLOADS

plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "suite-report",
                     "font.size": 9, "axes.titlesize": 10, "figure.dpi": 100})
MARKERS = "osD^vP*Xh<>"
COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def file_name(machine_key: str, chart: str) -> str:
    """Where a chart goes under report/ (and what report.md links): safe names only."""
    return f"charts/{safe_name(machine_key)}-{safe_name(chart)}.svg"


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()


def log_ticks(axis, suffix: str) -> None:
    """Ticks at 1, 2, 5 x 10^k (only 10^k over a wide range), labelled as plain numbers
    (not 2x10^0). Call after plotting: it reads the data range."""
    lo, hi = axis.get_view_interval()
    wide = lo > 0 and math.log10(hi / lo) > 2.5
    axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0,) if wide else (1.0, 2.0, 5.0)))
    axis.set_minor_locator(ticker.LogLocator(base=10, subs=tuple(range(1, 10))))
    axis.set_minor_formatter(ticker.NullFormatter())
    axis.set_major_formatter(ticker.FuncFormatter(lambda y, _: f"{y:.3g}{suffix}"))


def relative_chart(v: MachineView) -> str | None:
    """Julia-style log dot chart: time relative to the baseline, one dot per cell, grouped by
    runtime and flavor (ordered by geometric mean), error bars = 95% CI of the ratio
    (over worker processes; dotted: cross-run)."""
    if not v.points:
        return None
    groups: dict[tuple[str, str], list] = {}
    for p in v.points:
        groups.setdefault((p.runtime, p.flavor), []).append(p)

    def gm(ps):
        return math.exp(sum(math.log(p.ratio) for p in ps) / len(ps))

    keys = sorted(groups, key=lambda k: gm(groups[k]))
    workloads = [w for w in WORKLOADS if any(p.workload == w for p in v.points)]
    workloads += sorted({p.workload for p in v.points} - set(workloads))
    fig, ax = plt.subplots(figsize=(max(5.5, 1.0 * len(keys) + 2.5), 3.9))
    nw = max(1, len(workloads))
    for gi, k in enumerate(keys):
        for p in groups[k]:
            wi = workloads.index(p.workload)
            x = gi + (wi - (nw - 1) / 2) * (0.6 / nw)
            lo, hi = p.ci
            color = COLORS[wi % len(COLORS)]
            ax.errorbar([x], [p.ratio], yerr=[[p.ratio - lo], [hi - p.ratio]], fmt="none",
                        ecolor=color, elinewidth=1, capsize=2, alpha=0.8,
                        ls=":" if p.cross_run else "-")
            ax.plot([x], [p.ratio], MARKERS[wi % len(MARKERS)], color=color, ms=5,
                    mfc=color if p.significant else "white", mew=1.2)
        g = gm(groups[k])
        ax.plot([gi - 0.38, gi + 0.38], [g, g], "-", color="black", lw=1.5, alpha=0.6)
    ax.axhline(1.0, color="grey", lw=1, ls="--")
    ax.set_yscale("log")
    log_ticks(ax.yaxis, "×")
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([f"{r}\n{f}" + ("\n(vs numpy)" if f not in ("pure", "numpy") else "")
                        for r, f in keys], fontsize=8)
    ax.set_xlim(-0.6, len(keys) - 0.4)
    ax.set_ylabel(f"time relative to {v.baseline} (log; < 1 is faster)")
    ax.grid(axis="y", which="both", alpha=0.25)
    handles = [Line2D([], [], marker=MARKERS[i % len(MARKERS)], ls="", color=COLORS[i % len(
        COLORS)], label=w) for i, w in enumerate(workloads)]
    handles.append(Line2D([], [], color="black", alpha=0.6, label="geometric mean of the dots"))
    handles.append(Line2D([], [], marker="o", ls="", mfc="white", color="grey",
                          label="not significant"))
    if any(p.cross_run for p in v.points):
        handles.append(Line2D([], [], ls=":", color="grey", label="cross-run (dotted bar)"))
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5),
              frameon=False)
    ax.set_title(f"{v.machine.label}")
    return _svg(fig)


def gflops_charts(v: MachineView) -> dict[str, str]:
    """Per workload with a FLOP count: GFLOP/s of every measured cell, one panel per
    parameter set, with the machine's measured peak when the documents carry it."""
    m: Machine = v.machine
    out = {}
    by_w: dict[str, dict[str, list]] = {}
    for cid, entries in v.rows:
        for e in entries:
            c = e.cell
            if not c or c["status"] != "ok" or not c.get("gflops") or not c.get("flops"):
                continue
            stem = cid.split("/")[0]
            by_w.setdefault(c["workload"], {}).setdefault(stem, []).append(e)
    for w, stems in by_w.items():
        n = len(stems)
        heights = [0.22 * len(es) + 0.6 for es in stems.values()]
        fig, axes = plt.subplots(n, 1, figsize=(7.5, sum(heights) + 0.6),
                                 gridspec_kw={"height_ratios": heights}, squeeze=False,
                                 layout="constrained")
        for ax, (stem, es) in zip(axes[:, 0], stems.items()):
            es = sorted(es, key=lambda e: (FLAVOR_ORDER.index(e.cell["flavor"])
                                           if e.cell["flavor"] in FLAVOR_ORDER else 99,
                                           e.runtime, e.cell["threads"]))
            labels = [f"{e.runtime} {e.cell['flavor']} t={e.cell['threads']}" for e in es]
            vals = [e.cell["gflops"] for e in es]
            # Error bars from the CI of the time per call (GFLOP/s = flops / time).
            lo = [v_ - e.cell["flops"] / e.cell["stats"]["ci95"][1] for v_, e in zip(vals, es)]
            hi = [e.cell["flops"] / e.cell["stats"]["ci95"][0] - v_ for v_, e in zip(vals, es)]
            colors = [COLORS[FLAVOR_ORDER.index(e.cell["flavor"]) % len(COLORS)]
                      if e.cell["flavor"] in FLAVOR_ORDER else "grey" for e in es]
            y = list(range(len(es)))
            ax.barh(y, vals, xerr=[lo, hi], color=colors, alpha=0.85, capsize=2)
            ax.set_yticks(y)
            ax.set_yticklabels(labels, fontsize=7)
            ax.invert_yaxis()
            ax.set_xscale("log")
            log_ticks(ax.xaxis, "")
            ax.set_title(stem, fontsize=8, loc="left")
            ax.grid(axis="x", which="both", alpha=0.25)
            dtype = es[0].cell["params"].get("dtype", "float64")
            for t, ls in ((1, ":"), (m.cores, "--")):
                pk = m.peak(dtype, t)
                if pk:
                    ax.axvline(pk, color="red", ls=ls, lw=1)
                    ax.text(pk, len(es) - 0.5, f" peak {dtype} {t} thr.", color="red",
                            fontsize=6, va="bottom")
        axes[-1, 0].set_xlabel("GFLOP/s (log)" + ("" if any(
            m.peak(d, t) for d in ("float32", "float64") for t in (1, m.cores))
            else "; no measured peak in these results"))
        out[w] = _svg(fig)
    return out

