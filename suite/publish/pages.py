"""Assemble the GitHub Pages site that bench.yml deploys, with stable URLs:

    index.html                                  links to every copy
    latest/                                     the newest report (index.html, report.md),
    latest/results/<arch>/<runtime>/<id>.json   its raw result documents,
    latest/result.schema.json                   and the schema they validate against
    <YYYY-MM-DD>/...                            a dated copy of the same
    schemas/result/<version>/result.schema.json the schema at the URL of its `$id` path
    manifest.json                               every dated file (so the next deploy keeps them)

A Pages deployment replaces the whole site, so earlier dated copies are carried over from
the live site (`--previous URL`: its manifest.json lists them). That is best effort: if the
site cannot be read (first deployment), only today's copy is published, and it says so.

    python -m suite.publish.pages --report report/ --results results/ --date 2026-11-25 \
        --out _site [--previous https://OWNER.github.io/REPO/]
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

from suite.documents import SCHEMA_PATH, SCHEMA_VERSION

DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, dirs_exist_ok=True)


def build_copy(dst: Path, report: Path, results: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    copy_tree(report, dst)
    copy_tree(results, dst / "results")
    shutil.copy2(SCHEMA_PATH, dst / SCHEMA_PATH.name)


def carry_over(site: Path, previous: str, today: str, log=print) -> list[str]:
    """Download the live site's dated copies (other than today's); the dates kept."""
    base = previous.rstrip("/") + "/"
    try:
        with urllib.request.urlopen(base + "manifest.json", timeout=30) as r:
            manifest = json.load(r)
    except (OSError, ValueError, urllib.error.URLError) as exc:
        log(f"pages: no earlier dated copies carried over ({base}manifest.json: {exc})")
        return []
    kept = set()
    for rel in manifest.get("files", []):
        parts = Path(rel).parts
        if (not parts or not DATE.match(parts[0]) or parts[0] == today or ".." in parts
                or Path(rel).is_absolute()):
            continue
        dst = site / rel
        try:
            with urllib.request.urlopen(base + rel, timeout=60) as r:
                data = r.read()
        except (OSError, urllib.error.URLError) as exc:
            log(f"pages: could not carry over {rel}: {exc}")
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)
        kept.add(parts[0])
    return sorted(kept)


def landing(dates: list[str]) -> str:
    items = "\n".join(f'  <li><a href="{html.escape(d)}/">{html.escape(d)}</a></li>'
                      for d in sorted(dates, reverse=True))
    schema = f"schemas/result/{SCHEMA_VERSION}/result.schema.json"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Runtime benchmark results</title></head>
<body>
<h1>Runtime benchmark results</h1>
<p><a href="latest/">Latest report</a> (<a href="latest/results/">raw result documents</a>,
<a href="{schema}">result schema {SCHEMA_VERSION}</a>).
Reproduce any number: <code>make reproduce FROM=&lt;URL of a result document&gt;</code>.</p>
<h2>Dated copies</h2>
<ul>
{items}
</ul>
</body></html>
"""


def build(out: Path, report: Path, results: Path, date: str, previous: str | None,
          log=print) -> dict:
    if not DATE.match(date):
        raise ValueError(f"--date must be YYYY-MM-DD, not {date!r}")
    for what, p in (("report", report), ("results", results)):
        if not p.is_dir():
            raise ValueError(f"the {what} directory {p} does not exist")
    if not any(results.rglob("*.json")):
        raise ValueError(f"no result documents under {results}")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    dates = carry_over(out, previous, date, log) if previous else []
    build_copy(out / "latest", report, results)
    build_copy(out / date, report, results)
    schema_dir = out / "schemas" / "result" / SCHEMA_VERSION
    schema_dir.mkdir(parents=True)
    shutil.copy2(SCHEMA_PATH, schema_dir / SCHEMA_PATH.name)
    dates = sorted({*dates, date})
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*")
                   if p.is_file() and DATE.match(p.relative_to(out).parts[0]))
    manifest = {"dates": dates, "latest": date, "schema_version": SCHEMA_VERSION,
                "files": files}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (out / "index.html").write_text(landing(dates))
    (out / ".nojekyll").write_text("")
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m suite.publish.pages", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--report", type=Path, required=True)
    p.add_argument("--results", type=Path, required=True)
    p.add_argument("--date", required=True, help="YYYY-MM-DD of this copy")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--previous", default=None, help="URL of the live site")
    args = p.parse_args(argv)
    try:
        m = build(args.out, args.report, args.results, args.date, args.previous)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"site in {args.out}: latest/ and {len(m['dates'])} dated copies "
          f"({', '.join(m['dates'])})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
