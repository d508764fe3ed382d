"""The terminal summary: cells down, runtimes across, median time with its 95% CI."""

from __future__ import annotations

from .stats import fmt_ns


def cell_text(cell: dict) -> str:
    if cell["status"] == "failed":
        return "FAILED"
    if cell["status"] == "skipped":
        est = cell.get("skip", {}).get("estimate_call_ns")
        return f"skip (~{fmt_ns(est)})" if est else "skipped"
    st = cell["stats"]
    half = (st["ci95"][1] - st["ci95"][0]) / 2 / st["median"]
    warn = "!" if cell.get("warnings") else ""
    return f"{fmt_ns(st['median'])} ±{half:.0%}{warn}"


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
    out.append("median time per call ±half-width of its 95% CI as % of the median; "
               "! = stability warning (see the result file)")
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
