"""The terminal summary: cells down, runtimes across, the time per call with its 95% CI and
the peak memory of the cell's worker processes."""

from __future__ import annotations

from suite.analysis.compare import center as cell_center
from suite.measure.stats import fmt_ns


def fmt_bytes(n: float | None) -> str:
    """A size in bytes as '1.2 GB' (decimal units; '-' for None)."""
    if n is None:
        return "-"
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return f"{n / div:.2g} {unit}" if n < 10 * div else f"{n / div:.0f} {unit}"
    return f"{n:.0f} B"


def cell_text(cell: dict) -> str:
    if cell["status"] == "failed":
        return "FAILED"
    if cell["status"] == "skipped":
        est = cell.get("skip", {}).get("estimate_call_ns")
        return f"skip (~{fmt_ns(est)})" if est else "skipped"
    st = cell["stats"]
    center = cell_center(cell)
    half = (st["ci95"][1] - st["ci95"][0]) / 2 / center
    warn = "!" if cell.get("warnings") else ""
    peak = (cell.get("memory") or {}).get("peak_rss_bytes")
    mem = f" {fmt_bytes(peak)}" if peak else ""
    return f"{fmt_ns(center)} ±{half:.0%}{warn}{mem}"


def table(docs: list[dict]) -> str:
    """A text table of every cell in `docs` (one column per runtime document)."""
    cols = [d["runtime"]["id"] + (" (emulated)" if d["host"].get("emulated") else "")
            for d in docs]
    rows: dict[str, list[str]] = {}
    for i, d in enumerate(docs):
        for c in d["cells"]:
            rows.setdefault(c["id"], [""] * len(docs))[i] = cell_text(c)
    if not rows:
        return "(no cells)"
    w0 = max(len(r) for r in rows)
    widths = [max(len(cols[i]), *(len(v[i]) for v in rows.values())) for i in range(len(docs))]
    line = f"{'cell':<{w0}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(cols, widths))
    out = [line, "-" * len(line)]
    for rid, vals in rows.items():
        out.append(f"{rid:<{w0}}  " + "  ".join(f"{v:>{w}}" for v, w in zip(vals, widths)))
    out.append("time per call (the cell's center, docs/report.md) ±half-width of its 95% CI "
               "as % of it; ! = stability warning (see the result file); then the peak "
               "resident memory of the cell's worker processes")
    return "\n".join(out)


def problems(docs: list[dict]) -> list[str]:
    """Failures, skips and warnings, one line each."""
    out = []
    for d in docs:
        rid = d["runtime"]["id"]
        for c in d["cells"]:
            if c["status"] == "failed":
                out.append(f"FAILED  {rid} {c['id']}: {c.get('error')}")
            elif c["status"] == "skipped":
                out.append(f"skipped {rid} {c['id']}: {c['skip']['reason']}")
            for w in c.get("warnings", []):
                out.append(f"warning {rid} {c['id']}: {w['message']}")
    return out
