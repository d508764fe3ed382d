"""The report: HTML (self-contained) and Markdown renderings of any set of result documents.

    build(paths, out_dir, baseline="cpython-3.12", strict=False) -> Built

Modules: load (read, validate, group by machine), model (every number, formatted once),
charts (matplotlib SVG), html, markdown, browser (headless Chromium for tests and the
docs screenshot). Imports are lazy so `suite.claims` can use `suite.report.load`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Built:
    html: Path
    markdown: Path
    documents: int
    skipped: list  # load.Problem
    machines: int


def build(paths: list[Path], out_dir: Path, baseline: str = "cpython-3.12",
          strict: bool = False, now: str | None = None) -> Built:
    from .. import claims
    from . import charts, html, load, markdown, model

    docs, problems = load.load(paths, strict=strict)
    load.assign_data_names(docs)
    machines = load.group(docs)
    views = [model.view(m, baseline) for m in machines]
    data = claims.load_claims()
    claim_results = claims.evaluate(machines, data)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Stale outputs of an earlier report (only files this function writes).
    for pattern in ("data/**/*.json", "charts/*.svg"):
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
            (out_dir / "charts" / f"{v.machine.key}-{name}.svg").write_text(svg)
        figs[v.machine.key] = f
    ctx = {"views": views, "figs": figs, "problems": problems, "docs": docs,
           "claims": claim_results, "claims_data": data, "baseline": baseline,
           "generated": now or datetime.now(UTC).isoformat(timespec="seconds")
           .replace("+00:00", "Z")}
    h = out_dir / "index.html"
    h.write_text(html.render(ctx))
    md = out_dir / "report.md"
    md.write_text(markdown.render(ctx))
    return Built(h, md, len(docs), problems, len(machines))
