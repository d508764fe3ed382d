"""Compare two result documents cell by cell: ratio of the cells' times with a 95% CI.

Method (also in docs/report.md):
- each cell's time per call is its `center` (`suite.measure.stats`): the geometric mean of
  its per-process medians, the worker process being the unit of replication;
- ratio = center(NEW) / center(BASE): below 1 means NEW takes less time;
- 95% CI: each side's t-distributed draws of log(center) (P - 1 degrees of freedom,
  stratified, seeded from the cell id) are subtracted pairwise and the 2.5th..97.5th
  percentiles taken: the Behrens-Fisher (fiducial) interval of the log ratio, by Monte
  Carlo. Cells without per-process samples (documents of schema 1.0.0/1.1.0) fall back to
  bootstrap draws of the pooled median, with a warning: that interval ignores
  between-process variance and is too narrow when processes differ;
- verdict, symmetric on the log scale with the threshold t (default 5%): "faster" when
  the whole CI lies below 1/(1+t), "slower" when it lies above 1+t, otherwise "not
  significant" (not shown to differ by more than t). A cell whose documents (or inputs)
  differ in a way that makes times incomparable is "not comparable"; a cell that failed
  or was skipped on either side is "no data";
- `equivalence` (what `suite reproduce` uses): "reproduced" only when the whole CI lies
  within [1/(1+t), 1+t], "faster"/"slower" when it lies outside on one side, otherwise
  "inconclusive";
- geometric mean per workload, per flavor and overall of the ratios, counting
  non-significant cells as 1.0 (faster-cpython's bench_runner convention: its "geometric
  mean (including insignificant results)"; pyperf's compare_to averages every ratio as
  measured, which is our `geomean_raw`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from suite.measure import stats
from suite.measure.profiles import SETTINGS_KEYS
from suite.measure.stats import Location, fmt_ns

RESAMPLES = stats.RESAMPLES
DEFAULT_THRESHOLD = 0.05
MAX_PROCESSES = 1000  # processes_to_decide looks no further


def bounds(threshold: float) -> tuple[float, float]:
    """The no-change band of a time ratio, symmetric on the log scale: [1/(1+t), 1+t]."""
    return 1.0 / (1.0 + threshold), 1.0 + threshold


def ratio_interval(base: Location, new: Location, level: float = stats.LEVEL
                   ) -> tuple[float, tuple[float, float]]:
    """(new.center / base.center, its `level` CI from the two locations' draws)."""
    log_ratio = math.log(new.center) - math.log(base.center)
    return math.exp(log_ratio), stats.interval(new.log_draws - base.log_draws, log_ratio,
                                               level)


def ratio_ci(base: Sequence[Sequence[float]], new: Sequence[Sequence[float]], key: str = ""
             ) -> tuple[float, tuple[float, float]]:
    """Ratio and 95% CI of two cells given as samples grouped by process (one group:
    pooled)."""
    return ratio_interval(stats.location(base, "base:" + key), stats.location(new, "new:" + key))


def verdict(ci: Sequence[float], threshold: float = DEFAULT_THRESHOLD) -> str:
    """faster / slower / not significant (NEW against BASE; the CI of a time ratio)."""
    lo, hi = bounds(threshold)
    if ci[1] < lo:
        return "faster"
    if ci[0] > hi:
        return "slower"
    return "not significant"


def equivalence(ci: Sequence[float], threshold: float = DEFAULT_THRESHOLD) -> str:
    """reproduced (the CI within the band) / faster / slower (outside it on one side) /
    inconclusive (the CI straddles a bound)."""
    lo, hi = bounds(threshold)
    if lo <= ci[0] and ci[1] <= hi:
        return "reproduced"
    v = verdict(ci, threshold)
    return "inconclusive" if v == "not significant" else v


def processes_to_decide(ratio: float, ci: Sequence[float], threshold: float,
                        processes: int) -> int | None:
    """About how many processes per side would make an inconclusive CI decide at this
    estimate: the CI's half-width is read as t(P - 1) * spread / sqrt(P) and the smallest
    P' (up to MAX_PROCESSES) with t(P' - 1) * spread / sqrt(P') below the distance to the
    band's edge is returned. None when no such P' exists (the estimate sits on the edge) or
    the CI does not rest on processes."""
    d, band = abs(math.log(ratio)), math.log(1.0 + threshold)
    half = (math.log(ci[1]) - math.log(ci[0])) / 2
    room = abs(band - d)
    if room < 1e-3 * band or processes < 2:
        return None
    spread = half * math.sqrt(processes) / stats.t_quantile(processes - 1)
    more = np.arange(processes + 1, MAX_PROCESSES + 1)
    enough = stats.t_quantile(more - 1) * spread / np.sqrt(more) <= room
    return int(more[enough][0]) if enough.any() else None


def geomean(values: Iterable[float]) -> float | None:
    vs = [v for v in values if v is not None and v > 0]
    if not vs:
        return None
    return math.exp(sum(math.log(v) for v in vs) / len(vs))


def summarize_group(cells: list[dict]) -> dict:
    """Geometric mean (non-significant as 1.0) and verdict counts of compared cells."""
    used = [c for c in cells if c["verdict"] in ("faster", "slower", "not significant")]
    return {
        "geomean": geomean(1.0 if c["verdict"] == "not significant" else c["ratio"]
                           for c in used),
        "geomean_raw": geomean(c["ratio"] for c in used),
        "n": len(used),
        "faster": sum(c["verdict"] == "faster" for c in used),
        "slower": sum(c["verdict"] == "slower" for c in used),
        "not_significant": sum(c["verdict"] == "not significant" for c in used),
    }


def geomeans(cells: list[dict]) -> dict:
    """{"overall": ..., "by_workload": {...}, "by_flavor": {...}} (see summarize_group)."""
    by_w: dict[str, list[dict]] = {}
    by_f: dict[str, list[dict]] = {}
    for c in cells:
        by_w.setdefault(c["workload"], []).append(c)
        by_f.setdefault(c["flavor"], []).append(c)
    return {"overall": summarize_group(cells),
            "by_workload": {k: summarize_group(v) for k, v in by_w.items()},
            "by_flavor": {k: summarize_group(v) for k, v in by_f.items()},
            "convention": "geometric mean of NEW/BASE time ratios; non-significant cells "
                          "count as 1.0 (faster-cpython bench_runner's convention); "
                          "geomean_raw uses every ratio as measured (pyperf compare_to's)"}


def host_key(doc: dict) -> dict:
    h = doc.get("host", {})
    return {"arch": h.get("arch"), "cpu_model": h.get("cpu_model"), "cores": h.get("cores")}


def document_reasons(base: dict, new: dict) -> tuple[list[str], list[str]]:
    """(reasons the two documents are not comparable, warnings that do not prevent it)."""
    reasons, warnings = [], []
    hb, hn = base.get("host", {}), new.get("host", {})
    for key, what in (("arch", "architecture"), ("cpu_model", "CPU model"),
                      ("cores", "core count")):
        if hb.get(key) != hn.get(key):
            reasons.append(f"different hardware: {what} {hb.get(key)!r} vs {hn.get(key)!r}")
    eb, en = bool(hb.get("emulated")), bool(hn.get("emulated"))
    if eb != en:
        which = "BASE" if eb else "NEW"
        reasons.append(f"emulated vs native: {which} ran under emulation (QEMU), whose "
                       "timings say nothing about the hardware")
    elif eb and en:
        warnings.append("both documents ran under emulation: timings say nothing about "
                        "real hardware")
    sb = base.get("run", {}).get("settings", {})
    sn = new.get("run", {}).get("settings", {})
    diff = [k for k in SETTINGS_KEYS if sb.get(k) != sn.get(k)]
    if diff:
        pb, pn = base.get("run", {}).get("profile"), new.get("run", {}).get("profile")
        reasons.append("different profile settings (" + ", ".join(
            f"{k} {sb.get(k)} vs {sn.get(k)}" for k in diff) + f"; profiles {pb} vs {pn})")
    for d, name in ((base, "BASE"), (new, "NEW")):
        if not d.get("run", {}).get("complete", True):
            warnings.append(f"{name} is an incomplete run (interrupted or still running)")
        if any(c.get("status") == "ok" and stats.cell_groups(c) is None
               for c in d.get("cells", [])):
            warnings.append(
                f"{name} (schema {d.get('schema_version')}) does not record samples per "
                "worker process: its CIs fall back to pooling all samples as independent, "
                "which ignores between-process variance and is too narrow when processes "
                "differ")
    rb, rn = base.get("run", {}).get("id"), new.get("run", {}).get("id")
    if rb != rn:
        warnings.append(f"different runs ({rb} vs {rn}): what changed between the runs (load, "
                        "temperature, frequency) is in the ratios; compare runtimes within "
                        "one interleaved run")
    return reasons, warnings


def compare_cells(bc: dict, nc: dict, threshold: float = DEFAULT_THRESHOLD,
                  doc_comparable: bool = True) -> dict:
    """One cell present on both sides -> {"id", "ratio", "ci95", "verdict", ...}."""
    out = {"id": bc["id"], "workload": bc["workload"], "flavor": bc["flavor"],
           "threads": bc["threads"], "ratio": None, "ci95": None, "verdict": "no data",
           "base_median": center(bc), "new_median": center(nc),
           "method": None, "processes": [bc.get("processes"), nc.get("processes")],
           "warnings": sorted({w["code"] for w in bc.get("warnings", [])}
                              | {w["code"] for w in nc.get("warnings", [])}),
           "note": None}
    if bc["status"] != "ok" or nc["status"] != "ok":
        out["note"] = "; ".join(f"{side} {c['status']}" + (
            f": {c.get('error') or c.get('skip', {}).get('reason')}" if c["status"] != "ok"
            else "") for side, c in (("BASE", bc), ("NEW", nc)) if c["status"] != "ok")
        return out
    b, n = stats.cell_location(bc, "base:" + bc["id"]), stats.cell_location(nc, "new:" + nc["id"])
    ratio, ci = ratio_interval(b, n)
    out["ratio"], out["ci95"] = ratio, [ci[0], ci[1]]
    out["base_median"], out["new_median"] = b.center, n.center
    out["method"] = "processes" if b.method == n.method == "processes" else "pooled"
    problems = []
    if bc.get("params") != nc.get("params"):
        problems.append("different parameters")
    sb, sn = bc.get("inputs_sha256"), nc.get("inputs_sha256")
    if sb and sn and sb != sn:
        problems.append("different inputs (inputs_sha256 differs: another seed or generator)")
    if problems:
        out["verdict"], out["note"] = "not comparable", "; ".join(problems)
    elif not doc_comparable:
        out["verdict"], out["note"] = "not comparable", "documents not comparable"
    else:
        out["verdict"] = verdict(ci, threshold)
    return out


def center(cell: dict) -> float | None:
    """A cell's time per call as its document states it (documents before 1.2.0: the
    median of all samples)."""
    st = cell.get("stats") or {}
    return st.get("center", st.get("median"))


def method_text(threshold: float) -> dict:
    lo, hi = bounds(threshold)
    return {"ratio": "NEW center / BASE center (time per call: the geometric mean of the "
                     "per-process medians; < 1 means NEW is faster)",
            "ci": "95% Behrens-Fisher interval of the log ratio from each side's Student-t "
                  f"draws over its per-process medians ({RESAMPLES} stratified draws, seeded "
                  "by the cell id); pooled bootstrap of the median for documents without "
                  "per-process samples",
            "significant": f"faster: the whole CI below {lo:.4g} = 1/(1+{threshold:g}); "
                           f"slower: the whole CI above {hi:.4g} = 1+{threshold:g}"}


def compare_documents(base: dict, new: dict, threshold: float = DEFAULT_THRESHOLD) -> dict:
    """Compare every cell id present in both documents (NEW against BASE).

    Returns {"comparable", "reasons", "warnings", "threshold", "base", "new", "cells",
    "only_base", "only_new", "geomean"}; see the module docstring for the method.
    """
    if threshold < 0:
        raise ValueError("threshold must be >= 0")
    reasons, warnings = document_reasons(base, new)
    bcells = {c["id"]: c for c in base.get("cells", [])}
    ncells = {c["id"]: c for c in new.get("cells", [])}
    cells = [compare_cells(bcells[i], ncells[i], threshold, not reasons)
             for i in bcells if i in ncells]
    return {
        "comparable": not reasons,
        "reasons": reasons,
        "warnings": warnings,
        "threshold": threshold,
        "method": method_text(threshold),
        "base": describe(base),
        "new": describe(new),
        "cells": cells,
        "only_base": [i for i in bcells if i not in ncells],
        "only_new": [i for i in ncells if i not in bcells],
        "geomean": geomeans(cells),
    }


def describe(doc: dict) -> dict:
    h, r = doc.get("host", {}), doc.get("runtime", {})
    return {"runtime": r.get("id"), "version": r.get("version"),
            "jit": (r.get("jit") or {}).get("enabled"), "run": doc.get("run", {}).get("id"),
            "profile": doc.get("run", {}).get("profile"), "arch": h.get("arch"),
            "cpu_model": h.get("cpu_model"), "cores": h.get("cores"),
            "emulated": h.get("emulated")}


# -- terminal output --------------------------------------------------------------------

def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.3f}"


def render_text(res: dict) -> str:
    b, n = res["base"], res["new"]
    out = [f"BASE: {b['runtime']} run {b['run']} ({b['profile']}, {b['arch']}, "
           f"{b['cpu_model']}, {b['cores']} cores{', emulated' if b['emulated'] else ''})",
           f"NEW:  {n['runtime']} run {n['run']} ({n['profile']}, {n['arch']}, "
           f"{n['cpu_model']}, {n['cores']} cores{', emulated' if n['emulated'] else ''})"]
    if not res["comparable"]:
        out.append("NOT COMPARABLE:")
        out += [f"  - {r}" for r in res["reasons"]]
    out += [f"warning: {w}" for w in res["warnings"]]
    out.append("")
    header = ["cell", "BASE time", "NEW time", "NEW/BASE", "95% CI", "verdict"]
    rows = []
    for c in res["cells"]:
        ci = "-" if c["ci95"] is None else f"{c['ci95'][0]:.3f}-{c['ci95'][1]:.3f}"
        v = c["verdict"] + (f" ({c['note']})" if c["note"] else "")
        v += " !" if c["warnings"] else ""
        rows.append([c["id"], fmt_ns(c["base_median"]), fmt_ns(c["new_median"]),
                     fmt_ratio(c["ratio"]), ci, v])
    if rows:
        w = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
        fmt = "  ".join([f"{{:<{w[0]}}}"] + [f"{{:>{x}}}" for x in w[1:]] + ["{}"])
        out.append(fmt.format(*header))
        out.append("-" * (sum(w) + 2 * len(w) + len("verdict")))
        out += [fmt.format(*r) for r in rows]
    else:
        out.append("(no cell is present in both documents)")
    out.append("")
    g = res["geomean"]
    out.append(f"geometric mean of NEW/BASE (non-significant counted as 1.0, as "
               f"bench_runner does; raw: every ratio; threshold {res['threshold']:.0%}):")
    for label, grp in [("overall", g["overall"]),
                       *((f"workload {k}", v) for k, v in g["by_workload"].items()),
                       *((f"flavor {k}", v) for k, v in g["by_flavor"].items())]:
        gm = "-" if grp["geomean"] is None else f"{grp['geomean']:.3f}"
        raw = "-" if grp["geomean_raw"] is None else f"{grp['geomean_raw']:.3f}"
        out.append(f"  {label:<22} {gm:>7}  (raw {raw}; {grp['faster']} faster, "
                   f"{grp['slower']} slower, {grp['not_significant']} not significant "
                   f"of {grp['n']})")
    if res["only_base"]:
        out.append(f"only in BASE ({len(res['only_base'])}): " + ", ".join(res["only_base"]))
    if res["only_new"]:
        out.append(f"only in NEW ({len(res['only_new'])}): " + ", ".join(res["only_new"]))
    lo, hi = bounds(res["threshold"])
    out.append("ratio < 1: NEW takes less time (times: geometric means of the per-process "
               "medians). CI: 95%, from each side's per-process medians (Student t, "
               f"Behrens-Fisher). faster/slower: the whole CI below {lo:.3f} / above "
               f"{hi:.3f}. ! = stability warning.")
    return "\n".join(out)
