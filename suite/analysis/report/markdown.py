"""The Markdown report: the same tables and numbers as the HTML, for READMEs and PR
comments. Charts are linked as SVG files written beside it (charts/).

Every string that can come from a result document goes through `esc`: no raw HTML, no
link or image syntax, no table-breaking `|` or newline survives from a document; the only
links are ours (data/ and charts/ file names built from safe names).
"""

from __future__ import annotations

import re

from suite.analysis.report import charts, tables
from suite.analysis.report.html import safe_href
from suite.analysis.report.tables import Cell, Table

MD_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\\": "\\\\", "|": "\\|", "](": "]\\(",
              "][": "]\\[", "\r": " ", "\n": " "}
MD_SPECIAL = re.compile("|".join(map(re.escape, MD_ESCAPES)))


def esc(s: object) -> str:
    """Text for Markdown, tables included: no raw HTML or autolink (`<`, `>`, `&` as
    entities), no link or image (`](`, `][` broken), no cell break (`|`, newlines)."""
    return MD_SPECIAL.sub(lambda m: MD_ESCAPES[m.group()], str(s))


def link(text: str, url: str) -> str:
    return f"[{esc(text)}]({safe_href(url)})"


def cell_md(c: Cell) -> str:
    t = esc(c.text) + (f" · {esc(c.sub)}" if c.sub else "")
    if c.href:
        t = f"[{t}]({safe_href(c.href)})"
    return "; ".join(([t] if t else []) + [link(a, u) for a, u in c.links])


def table_md(t: Table) -> str:
    if not t.rows:
        return ""
    out = [f"**{esc(t.caption)}**", "", "| " + " | ".join(map(esc, t.header)) + " |",
           "|" + "|".join("---" for _ in t.header) + "|"]
    out += ["| " + " | ".join(cell_md(c) for c in row) + " |" for row in t.rows]
    out.append("")
    out += [f"_{esc(n)}_" for n in t.notes]
    out.append("")
    return "\n".join(out)


def answer_md(ctx: dict) -> list[str]:
    """The first screen: per machine the answer in one sentence, the machine and run, the
    headline claims and the fastest option per workload (headline.blocks)."""
    data = ctx["claims_data"]
    p = [f"# {tables.TITLE}", "",
         f"The claims of _{esc(data['source']['title'])}_ (measured there on "
         f"{esc(data['article_setup']['hardware'])}), checked on this suite's results.", ""]
    for b in ctx["blocks"]:
        p += [f"**{esc(b.sentence)}**", ""]
        if b.run:
            p += [f"Measured on {esc(b.run)}.", ""]
        p.append(table_md(b.claims))
        if b.fastest:
            p += [esc(b.winners), "", table_md(b.fastest)]
    if ctx["hidden_emulated"]:
        p += [f"_{ctx['hidden_emulated']} emulated machine(s) left out of this summary: "
              "timings under emulation say nothing about speed (their section below shows "
              "output agreement)._", ""]
    return p


def render(ctx: dict) -> str:
    views, figs = ctx["views"], ctx["figs"]
    p = answer_md(ctx)
    if ctx["problems"]:
        p.append("**Skipped invalid documents:**")
        p += [f"- {esc(x.path)}: {esc(x.reason)}" for x in ctx["problems"]]
        p.append("")
    p += ["---", "", "## Details", "",
          f"Generated {esc(ctx['generated'])} from {len(ctx['docs'])} result document(s) on "
          f"{len(views)} machine(s). Baseline: {esc(ctx['baseline'])}. Times are per call; "
          "lower is better. Speedup above 1 is faster than the baseline. Below: per machine "
          "the chart, the speedups and every cell's time; then every claim of the article, "
          "the environment and the methods.", ""]
    for v in views:
        m = v.machine
        p += [f"## {esc(m.label)}", ""]
        if m.emulated:
            p += ["> Emulated (QEMU): timings are meaningless for this architecture and are "
                  "not shown; only output agreement is.", ""]
            p.append(table_md(tables.agreement(v)))
            continue
        p += [f"> {esc(tables.noisy_caveat(v))} {esc(v.baseline_note)}", ""]
        f = figs.get(m.key, {})
        if "relative" in f:
            p += [f"!{link(f'time relative to {v.baseline}', charts.file_name(m.key, 'relative'))}",
                  ""]
        p.append(table_md(tables.geomeans(v)))
        p.append(table_md(tables.summary(v)))
        warns = tables.warnings_list(v)
        if warns:
            p.append(f"<details><summary>{len(warns)} stability warning(s)</summary>\n")
            p += [f"- {esc(w)}" for w in warns]
            p += ["", "</details>", ""]
        gf = [k[7:] for k in f if k.startswith("gflops-")]
        if gf:
            p += ["### GFLOP/s against the machine's measured peak", ""]
            p += [f"!{link(f'GFLOP/s of {w}', charts.file_name(m.key, f'gflops-{w}'))}"
                  for w in gf]
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
          f"{esc(data['source']['title'])}. Article setup: "
          f"{esc(data['article_setup']['hardware'])}. "
          "Absolute times are comparable only on matching hardware; elsewhere the fair "
          "comparison is a speedup ratio.", ""]
    counts = tables.claims_mod.counts(ctx["claims"])
    p += [esc(", ".join(f"{n} {k}" for k, n in counts.items() if n)), ""]
    p += [table_md(t) for t in tables.claims_tables(ctx["claims"])]
    p.append(table_md(tables.method_table(ctx["claims"])))
    p += ["## Environment", ""]
    for v in views:
        p += [f"### {esc(v.machine.label)}", ""]
        p.append(table_md(tables.host_table(v)))
        p.append(table_md(tables.runtime_table(v)))
        p.append(table_md(tables.docs_table(v)))
    p += ["## Methods", ""]
    p += [f"- {esc(n)}" for n in tables.method_notes()]
    p.append("")
    return "\n".join(p)
