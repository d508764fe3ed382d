"""The Markdown report: the same tables and numbers as the HTML, for READMEs and PR
comments. Charts are linked as SVG files written beside it (charts/)."""

from __future__ import annotations

from . import tables
from .tables import Table


def table_md(t: Table) -> str:
    if not t.rows:
        return ""
    out = [f"**{t.caption}**", "", "| " + " | ".join(t.header) + " |",
           "|" + "|".join("---" for _ in t.header) + "|"]
    out += ["| " + " | ".join(c.md() for c in row) + " |" for row in t.rows]
    out.append("")
    out += [f"_{n}_" for n in t.notes]
    out.append("")
    return "\n".join(out)


def render(ctx: dict) -> str:
    views, figs = ctx["views"], ctx["figs"]
    p = ["# Runtime benchmark report: CPython (JIT on/off), NumPy, Mojo", "",
         f"Generated {ctx['generated']} from {len(ctx['docs'])} result document(s) on "
         f"{len(views)} machine(s). Baseline: {ctx['baseline']}. Times are per call; lower is "
         "better. Speedup above 1 is faster than the baseline.", ""]
    if ctx["problems"]:
        p.append("**Skipped invalid documents:**")
        p += [f"- `{x.path}`: {x.reason}" for x in ctx["problems"]]
        p.append("")
    for v in views:
        m = v.machine
        p += [f"## {m.label}", ""]
        if m.emulated:
            p += ["> Emulated (QEMU): timings are meaningless for this architecture and are "
                  "not shown; only output agreement is.", ""]
            p.append(table_md(tables.agreement(v)))
            continue
        p += [f"> {tables.noisy_caveat(v)} {v.baseline_note}", ""]
        f = figs.get(m.key, {})
        if "relative" in f:
            p += [f"![time relative to {v.baseline}](charts/{m.key}-relative.svg)", ""]
        p.append(table_md(tables.geomeans(v)))
        if v.fastest:
            p.append(table_md(tables.fastest(v)))
        p.append(table_md(tables.summary(v)))
        warns = tables.warnings_list(v)
        if warns:
            p.append(f"<details><summary>{len(warns)} stability warning(s)</summary>\n")
            p += [f"- {w}" for w in warns]
            p += ["", "</details>", ""]
        gf = [k[7:] for k in f if k.startswith("gflops-")]
        if gf:
            p += ["### GFLOP/s against the machine's measured peak", ""]
            p += [f"![GFLOP/s of {w}](charts/{m.key}-gflops-{w}.svg)" for w in gf]
            p.append("")
        p += ["### JIT on vs off", ""]
        jts = tables.jit(v)
        p += [table_md(t) for t in jts] or [
            "No JIT pair on this machine (results of both cpython-X.Y and cpython-X.Y-jit "
            "are needed).", ""]
        pr = tables.problems(v)
        p += ["### Failures and skips", ""]
        p.append(table_md(pr) if pr.rows else "None.\n")
    data = ctx["claims_data"]
    p += ["## Published claims vs measured", "",
          f"{data['source']['title']}. Article setup: {data['article_setup']['hardware']}. "
          "Absolute times are comparable only on matching hardware; elsewhere the fair "
          "comparison is a speedup ratio.", ""]
    counts = tables.claims_mod.counts(ctx["claims"])
    p += [", ".join(f"{n} {k}" for k, n in counts.items() if n), ""]
    p += [table_md(t) for t in tables.claims_tables(ctx["claims"])]
    p.append(table_md(tables.method_table(ctx["claims"])))
    p += ["## Environment", ""]
    for v in views:
        p += [f"### {v.machine.label}", ""]
        p.append(table_md(tables.host_table(v)))
        p.append(table_md(tables.runtime_table(v)))
        p.append(table_md(tables.docs_table(v)))
    p += ["## Methods", ""]
    p += [f"- {n}" for n in tables.method_notes()]
    p.append("")
    return "\n".join(p)
