"""The report: HTML (self-contained) and Markdown renderings of any set of result documents.

    build(paths, out_dir, baseline="cpython-3.12", strict=False, allow_cross_run=False)
        -> Built

The report opens with the answer (headline.blocks): per machine, one sentence saying how
many of the article's headline claims hold, the machine and run in one line, the headline
claims table (claim, the article's number, ours with its 95% CI, verdict) and the fastest
option per workload: the same tables `claims --markdown` puts in a README. The details
follow: method, per-machine charts and tables, every claim, environment.

Documents come from `suite.documents.load_many`, grouped by `suite.analysis.machines` (one
section per machine and profile settings). Speeds are compared within one run only, unless
`allow_cross_run`, and then every comparison between runs is labelled "cross-run".
Modules: model (every number, formatted once), charts (matplotlib SVG), tables, headline
(the answer), html, markdown, browser (headless Chromium for tests and the docs screenshot).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from suite import documents
from suite.analysis import claims, machines
from suite.analysis.report import charts, headline, html, markdown, model


@dataclass
class Built:
    html: Path
    markdown: Path
    documents: int
    skipped: list  # documents.Problem
    machines: int


def build(paths: list[Path], out_dir: Path, baseline: str = "cpython-3.12",
          strict: bool = False, now: str | None = None, allow_cross_run: bool = False
          ) -> Built:
    docs, problems = documents.load_many(paths, strict=strict)
    machines.assign_data_names(docs)
    groups = machines.group(docs)
    views = [model.view(m, baseline, allow_cross_run) for m in groups]
    data = claims.load_claims()
    claim_results = claims.evaluate(groups, data)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Stale outputs of an earlier report (only files this function writes).
    for pattern in ("data/**/*.json", "data/**/*.json.gz", "charts/*.svg"):
        for f in out_dir.glob(pattern):
            f.unlink()
    for d in docs:
        dest = out_dir / d.data_name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(d.path, dest)
    figs: dict[str, dict[str, str]] = {}
    (out_dir / "charts").mkdir(exist_ok=True)
    for v in views:
        if v.machine.emulated:
            continue
        f = {}
        rel = charts.relative_chart(v)
        if rel:
            f["relative"] = rel
        for w, svg in charts.gflops_charts(v).items():
            f[f"gflops-{w}"] = svg
        for name, svg in f.items():
            (out_dir / charts.file_name(v.machine.key, name)).write_text(svg)
        figs[v.machine.key] = f
    blocks, hidden = headline.blocks(views, claim_results, data)
    ctx = {"blocks": blocks, "hidden_emulated": hidden, "views": views, "figs": figs,
           "problems": problems, "docs": docs,
           "claims": claim_results, "claims_data": data, "baseline": baseline,
           "generated": now or datetime.now(UTC).isoformat(timespec="seconds")
           .replace("+00:00", "Z")}
    h = out_dir / "index.html"
    h.write_text(html.render(ctx))
    md = out_dir / "report.md"
    md.write_text(markdown.render(ctx))
    return Built(h, md, len(docs), problems, len(groups))
