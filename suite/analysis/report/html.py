"""The self-contained HTML report: inline CSS, charts as SVG data URIs, no scripts, no
network; the only links are to the raw JSON copied into data/."""

from __future__ import annotations

import base64
from html import escape

from . import tables
from .tables import Table

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;
background:#fff}
main{max-width:1400px;margin:0 auto;padding:16px 24px}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:18px 0 6px}
.meta{color:#555;font-size:13px}
.box{background:#f6f8fa;border:1px solid #e1e4e8;border-radius:6px;padding:8px 12px;margin:8px 0;
font-size:13px}
.caveat{background:#fff8e1;border-color:#f0d58c}
.bad{background:#fdecea;border-color:#f5b5ad}
.row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.fig{flex:0 1 auto;max-width:100%}.fig .notes{max-width:640px}
.chart{max-width:100%;height:auto;border:1px solid #eee}
.fig img.chart{max-width:720px}.side{flex:1 1 420px;min-width:0;overflow-x:auto}
nav{font-size:13px;margin:4px 0 8px}nav a{margin-right:10px}
table{border-collapse:collapse;margin:6px 0;font-size:12.5px}
th,td{border:1px solid #ddd;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#f3f4f6;position:sticky;top:0}
td.cellid{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11.5px;white-space:nowrap}
td.best{font-weight:600;background:#e8f5e9}
table.summary td{white-space:nowrap}
td .sub{display:block;color:#666;font-size:11.5px}td .sub.faster{color:#0a6b2d}
td .sub.slower{color:#b3261e}
td.warn{background:#fffbea}td.failed{background:#fdecea;color:#a00}td.skipped{color:#777;
font-style:italic}
.v-consistent{background:#e6f4ea}.v-not-reproduced,.v-contradicted{background:#fdecea}
.v-not-comparable,.v-not-measurable{background:#f3f4f6}.v-not-measured{background:#fff8e1}
caption{text-align:left;font-weight:600;padding:4px 0}
.notes{font-size:12px;color:#555;margin:2px 0 10px}
details{margin:6px 0}summary{cursor:pointer;color:#0366d6}
"""


def table_html(t: Table) -> str:
    if not t.rows:
        return ""
    out = [f'<table id="{escape(t.id)}" class="{escape(t.cls)}">',
           f"<caption>{escape(t.caption)}</caption><thead><tr>"]
    out += [f"<th>{escape(h)}</th>" for h in t.header]
    out.append("</tr></thead><tbody>")
    for row in t.rows:
        out.append("<tr>")
        for c in row:
            attrs = f' class="{escape(c.cls)}"' if c.cls else ""
            if c.title:
                attrs += f' title="{escape(c.title)}"'
            inner = escape(c.text)
            if c.href:
                inner = f'<a href="{escape(c.href)}">{inner}</a>'
            if c.sub:
                inner += f'<span class="sub {c.sub_cls}">{escape(c.sub)}</span>'
            if c.links:
                inner = "; ".join(([inner] if inner else []) + [
                    f'<a href="{escape(u)}">{escape(a)}</a>' for a, u in c.links])
            out.append(f"<td{attrs}>{inner}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    for n in t.notes:
        out.append(f'<p class="notes">{escape(n)}</p>')
    return "".join(out)


def img(svg: str, alt: str, cls: str = "chart") -> str:
    data = base64.b64encode(svg.encode()).decode()
    return f'<img class="{cls}" alt="{escape(alt)}" src="data:image/svg+xml;base64,{data}">'


def render(ctx: dict) -> str:
    views, figs = ctx["views"], ctx["figs"]
    p = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
         '<meta name="viewport" content="width=device-width, initial-scale=1">',
         "<title>Runtime benchmark report</title>",
         f"<style>{CSS}</style></head><body><main>",
         "<h1>Runtime benchmark report: CPython (JIT on/off), NumPy, Mojo</h1>",
         f'<p class="meta">Generated {escape(ctx["generated"])} from '
         f'{len(ctx["docs"])} result document(s) on {len(views)} machine(s). Baseline: '
         f'{escape(ctx["baseline"])}. Times are per call; lower is better. Speedup above 1 '
         "is faster than the baseline.</p>",
         '<div class="box"><b>How to read:</b> each machine gets its own section (times from '
         "different machines are never mixed). The chart shows every cell's time relative to "
         "the baseline on a log scale with 95% error bars; the table beside it gives the "
         "geometric-mean speedups; the big table gives every cell's median time and its "
         f"speedup. {tables.WARN} marks a stability warning, <i>n.s.</i> a difference that is "
         "not significant. The claims section checks the article's published numbers.</div>"]
    links = [f'<a href="#m-{v.machine.key}">{escape(v.machine.arch)}'
             f'{" (emulated)" if v.machine.emulated else ""}</a>' for v in views]
    p.append("<nav>Jump to: " + "".join(links) + '<a href="#claims">claims</a>'
             '<a href="#environment">environment</a><a href="#methods">methods</a></nav>')
    if ctx["problems"]:
        p.append('<div class="box bad"><b>Skipped invalid documents:</b><ul>')
        p += [f"<li><code>{escape(str(x.path))}</code>: {escape(x.reason)}</li>"
              for x in ctx["problems"]]
        p.append("</ul></div>")
    for v in views:
        m = v.machine
        p.append(f'<h2 id="m-{m.key}">{escape(m.label)}</h2>')
        if m.emulated:
            p.append('<div class="box caveat">Emulated (QEMU): timings are meaningless for '
                     "this architecture and are not shown; only output agreement is.</div>")
            p.append(table_html(tables.agreement(v)))
            continue
        p.append(f'<div class="box caveat">{escape(tables.noisy_caveat(v))} '
                 f"{escape(v.baseline_note)}</div>")
        f = figs.get(m.key, {})
        p.append('<div class="row">')
        if "relative" in f:
            p.append('<div class="fig">' + img(f["relative"],
                                               f"time relative to {v.baseline}, log scale")
                     + '<p class="notes">One dot per cell: time relative to the baseline\'s '
                     "same cell (Mojo flavors: its numpy cell), log scale, 95% bootstrap "
                     "error bars; hollow = not significant; bar = geometric mean.</p></div>")
        p.append('<div class="side">' + table_html(tables.geomeans(v)) + "</div></div>")
        if v.fastest:
            p.append(table_html(tables.fastest(v)))
        p.append(table_html(tables.summary(v)))
        warns = tables.warnings_list(v)
        if warns:
            p.append(f"<details><summary>{len(warns)} stability warning(s) "
                     f"({tables.WARN} in the table)</summary><ul>")
            p += [f"<li>{escape(w)}</li>" for w in warns]
            p.append("</ul></details>")
        gf = [(k[7:], s) for k, s in f.items() if k.startswith("gflops-")]
        if gf:
            p.append("<h3>GFLOP/s against the machine's measured peak</h3><div class='row'>")
            p += ['<div class="fig">' + img(s, f"GFLOP/s of {w}")
                  + f'<p class="notes">{escape(w)}: GFLOP/s of every measured cell (log), '
                  "error bars from the median's CI; red lines: measured peak when the results "
                  "carry it.</p></div>" for w, s in gf]
            p.append("</div>")
        jts = tables.jit(v)
        p.append("<h3>JIT on vs off</h3>")
        if jts:
            p += [table_html(t) for t in jts]
        else:
            p.append('<p class="notes">No JIT pair on this machine (results of both '
                     "cpython-X.Y and cpython-X.Y-jit are needed).</p>")
        pr = tables.problems(v)
        p.append("<h3>Failures and skips</h3>")
        p.append(table_html(pr) if pr.rows else '<p class="notes">None.</p>')
    p.append('<h2 id="claims">Published claims vs measured</h2>')
    data = ctx["claims_data"]
    p.append(f'<p class="meta">{escape(data["source"]["title"])}. Article setup: '
             f'{escape(data["article_setup"]["hardware"])}. Absolute times are comparable '
             "only on matching hardware; elsewhere the fair comparison is a speedup ratio "
             "(hover a cell for details).</p>")
    counts = tables.claims_mod.counts(ctx["claims"])
    p.append('<p class="meta">' + escape(", ".join(f"{n} {k}" for k, n in counts.items()
                                                      if n)) + "</p>")
    p += [table_html(t) for t in tables.claims_tables(ctx["claims"])]
    p.append(table_html(tables.method_table(ctx["claims"])))
    p.append('<h2 id="environment">Environment</h2>')
    for v in views:
        p.append(f"<h3>{escape(v.machine.label)}</h3>")
        p.append(table_html(tables.host_table(v)))
        p.append(table_html(tables.runtime_table(v)))
        p.append(table_html(tables.docs_table(v)))
    p.append('<h2 id="methods">Methods</h2><ul class="notes">')
    p += [f"<li>{escape(n)}</li>" for n in tables.method_notes()]
    p.append("</ul></main></body></html>\n")
    return "\n".join(p)
