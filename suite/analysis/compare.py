"""Compare two result documents cell by cell: ratio of medians with a bootstrap CI.

Method (also in docs/report.md):
- ratio = median(NEW samples) / median(BASE samples): below 1 means NEW takes less time.
- 95% CI: percentile bootstrap of that ratio. Each side's samples are resampled with
  replacement (independently, `RESAMPLES` times) and the ratio of the two resampled
  medians is taken; the CI is the 2.5th..97.5th percentile of those ratios. Samples are
  sorted first and the generator is seeded from the cell id, so the result depends only on
  the sample values: the same input always gives the same output, whatever the order.
- verdict: "faster" / "slower" when the CI excludes 1 AND |ratio - 1| > threshold
  (default 5%), otherwise "not significant". A cell whose documents (or inputs) differ in a
  way that makes times incomparable is "not comparable"; a cell that failed or was skipped
  on either side is "no data".
- geometric mean per workload, per flavor and overall of the ratios, counting
  non-significant cells as 1.0 (the pyperf / faster-cpython bench_runner convention).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence

import numpy as np

from .stats import fmt_ns

RESAMPLES = 2000
SEED = 20240501  # fixed: the output is deterministic
DEFAULT_THRESHOLD = 0.05
SETTINGS_KEYS = ("processes", "warmups", "values", "min_time_ns", "max_loops", "budget_s")


def _seed(key: str) -> int:
    return SEED ^ zlib.crc32(key.encode())


def boot_medians(samples: Sequence[float], key: str, resamples: int = RESAMPLES) -> np.ndarray:
    """Medians of `resamples` bootstrap resamples of `samples` (sorted first), seeded by key."""
    xs = np.sort(np.asarray(samples, dtype=np.float64))
    if xs.size == 0:
        raise ValueError("no samples")
    rng = np.random.default_rng(_seed(key))
    idx = rng.integers(0, xs.size, size=(resamples, xs.size))
    return np.median(xs[idx], axis=1)


def ratio_ci(base: Sequence[float], new: Sequence[float], key: str = "",
             resamples: int = RESAMPLES) -> tuple[float, tuple[float, float]]:
    """(median(new) / median(base), 95% percentile-bootstrap CI of that ratio)."""
    r = float(np.median(np.asarray(new, float)) / np.median(np.asarray(base, float)))
    b = boot_medians(base, "base:" + key, resamples)
    n = boot_medians(new, "new:" + key, resamples)
    boot = n / b
    lo, hi = np.percentile(boot, [2.5, 97.5])
    # The point estimate always lies inside its own interval (guards rounding at ratio k).
    return r, (float(min(lo, r)), float(max(hi, r)))


def verdict(ratio: float, ci: Sequence[float], threshold: float = DEFAULT_THRESHOLD) -> str:
    """faster / slower / not significant (NEW against BASE; ratio is a time ratio)."""
    lo, hi = ci
    excludes_one = hi < 1.0 or lo > 1.0
    if excludes_one and abs(ratio - 1.0) > threshold:
        return "faster" if ratio < 1.0 else "slower"
    return "not significant"


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
                          "count as 1.0 (geomean_raw uses every ratio as measured)"}


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
    return reasons, warnings


def compare_cells(bc: dict, nc: dict, threshold: float = DEFAULT_THRESHOLD,
                  doc_comparable: bool = True) -> dict:
    """One cell present on both sides -> {"id", "ratio", "ci95", "verdict", ...}."""
    out = {"id": bc["id"], "workload": bc["workload"], "flavor": bc["flavor"],
           "threads": bc["threads"], "ratio": None, "ci95": None, "verdict": "no data",
           "base_median": (bc.get("stats") or {}).get("median"),
           "new_median": (nc.get("stats") or {}).get("median"),
           "warnings": sorted({w["code"] for w in bc.get("warnings", [])}
                              | {w["code"] for w in nc.get("warnings", [])}),
           "note": None}
    if bc["status"] != "ok" or nc["status"] != "ok":
        out["note"] = "; ".join(f"{side} {c['status']}" + (
            f": {c.get('error') or c.get('skip', {}).get('reason')}" if c["status"] != "ok"
            else "") for side, c in (("BASE", bc), ("NEW", nc)) if c["status"] != "ok")
        return out
    ratio, ci = ratio_ci(bc["samples"], nc["samples"], bc["id"])
    out["ratio"], out["ci95"] = ratio, [ci[0], ci[1]]
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
        out["verdict"] = verdict(ratio, ci, threshold)
    return out


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
        "method": {"ci": f"95% percentile bootstrap of the ratio of medians, {RESAMPLES} "
                         f"resamples, fixed seed", "ratio": "NEW median / BASE median "
                         "(time: < 1 means NEW is faster)",
                   "significant": f"CI excludes 1 and |ratio - 1| > {threshold:g}"},
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
    header = ["cell", "BASE median", "NEW median", "NEW/BASE", "95% CI", "verdict"]
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
    out.append(f"geometric mean of NEW/BASE (non-significant counted as 1.0, threshold "
               f"{res['threshold']:.0%}):")
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
    out.append("ratio < 1: NEW takes less time. CI: 95% percentile bootstrap of the ratio of "
               f"medians ({RESAMPLES} resamples, fixed seed). ! = stability warning.")
    return "\n".join(out)
