"""The self-contained HTML report: inline CSS, charts as SVG data URIs, no scripts, no
network; the only links are to the raw JSON copied into data/.

Rendered by Jinja2 from templates/report.html.j2 with autoescape on: every string that
comes from a result document (names, CPU models, error messages, file names) is escaped,
and a Content-Security-Policy forbids scripts even if something slipped through.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from pathlib import Path

import jinja2

from suite.analysis.report import tables

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
table.summary td,table.fastest td{white-space:nowrap}
td .sub{display:block;color:#666;font-size:11.5px}td .sub.faster{color:#0a6b2d}
td .sub.slower{color:#b3261e}
td.warn{background:#fffbea}td.failed{background:#fdecea;color:#a00}td.skipped{color:#777;
font-style:italic}
td[class^="v-"]{font-weight:600;white-space:nowrap}
.v-consistent{background:#dff3e4;color:#0b5d1e}.v-consistent::before{content:"✓ "}
.v-not-reproduced,.v-contradicted{background:#fde2e0;color:#9b1c12}
.v-implausible-on-the-stated-hardware{background:#fbe3d0;color:#8a3b00}
.v-not-reproduced::before,.v-contradicted::before,
.v-implausible-on-the-stated-hardware::before{content:"✗ "}
.v-not-comparable,.v-not-measurable{background:#eef0f3;color:#4a4f57}
.v-not-measured{background:#fff4d6;color:#7a5a00}
header .meta{margin:0 0 4px}
section.answer{margin:6px 0 22px}
.lead{font-size:21px;font-weight:650;line-height:1.35;margin:14px 0 4px;max-width:1100px}
.run{color:#444;font-size:13px;margin:0 0 10px}
.lead2{font-size:15.5px;font-weight:600;margin:18px 0 2px}
table.headline{font-size:14px}table.headline th,table.headline td{padding:6px 10px}
table.headline td:nth-child(2),table.headline td:nth-child(3){white-space:nowrap}
table.headline caption,table.fastest caption{font-size:15px}
h2.part{margin-top:36px;border-bottom:2px solid #bbb}
caption{text-align:left;font-weight:600;padding:4px 0}
.notes{font-size:12px;color:#555;margin:2px 0 10px}
details{margin:6px 0}summary{cursor:pointer;color:#0366d6}
"""


def safe_href(url: str) -> str:
    """A link target we write ourselves: a relative path (data/...) or an http(s) URL;
    anything else (javascript:, data:, ...) becomes a dead link."""
    relative = re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_./-]*", url) and ".." not in url.split("/")
    return url if relative or re.match(r"https?://", url) else "#"


def b64(svg: str) -> str:
    return base64.b64encode(svg.encode()).decode()


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False)
    env.filters.update(b64=b64, safe_href=safe_href)
    return env


def gflops_figures(figs: dict[str, str]) -> list[tuple[str, str]]:
    """(workload, svg) of a machine's GFLOP/s charts."""
    return [(k.removeprefix("gflops-"), s) for k, s in figs.items() if k.startswith("gflops-")]


def render(ctx: dict) -> str:
    counts = tables.claims_mod.counts(ctx["claims"])
    return environment().get_template("report.html.j2").render(
        **ctx, css=CSS, tables=tables, gflops=gflops_figures,
        claim_counts=", ".join(f"{n} {k}" for k, n in counts.items() if n)) + "\n"
