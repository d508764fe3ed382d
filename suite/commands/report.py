"""Render a report from result documents: OUT/index.html (self-contained: inline CSS and
charts, no network) and OUT/report.md (the same numbers in Markdown), with the raw JSON
copied to OUT/data/ and the charts to OUT/charts/.

One section per machine and profile settings. Speeds are compared only between cells of the
same run (`run.id`); --allow-cross-run also compares cells of different runs and labels
each such comparison "cross-run". Invalid documents are named and skipped with the reason
(refused with --strict). Exit 0 on success, 1 when there is nothing to report or --strict
refused a document."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from suite.analysis.report import build


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", type=Path, metavar="RESULTS",
                   help="result documents or directories (searched for *.json, "
                        "*.json.gz)")
    p.add_argument("-o", "--out", type=Path, default=Path("report"),
                   help="output directory (default: %(default)s)")
    p.add_argument("--baseline", default="cpython-3.12",
                   help="runtime id the speedups are against (default: %(default)s)")
    p.add_argument("--strict", action="store_true",
                   help="refuse to render when any document is invalid")
    p.add_argument("--allow-cross-run", action="store_true",
                   help="also compare speeds of cells from different runs (labelled "
                        "cross-run); by default only cells of one run are compared")


def run(args: argparse.Namespace) -> int:
    try:
        built = build(args.paths, args.out, baseline=args.baseline, strict=args.strict,
                      allow_cross_run=args.allow_cross_run)
    except ValueError as exc:  # documents.NoDocuments included
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for p in built.skipped:
        print(f"skipped {p.path}: {p.reason}", file=sys.stderr)
    print(f"report from {built.documents} document(s) on {built.machines} machine(s):")
    print(f"  {built.html}")
    print(f"  {built.markdown}")
    return 0
