"""Check the article's published claims (suite/data/claims.json) against result documents.

For each claim: what was measured on which hardware, the comparison that is fair across
hardware (speedup ratios, not absolute times, unless the hardware matches the article's
Graviton3), and a verdict: consistent / not reproduced / implausible on the stated hardware
(an absolute time outside what the article's machine could plausibly take) / not
comparable / not measurable / not measured (the results lack a cell the claim needs) /
contradicted (method claims, with sources). Cost claims are recomputed from the measured
speedups. --markdown prints the README tables (headline claims, fastest option per
workload)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from suite import documents
from suite.analysis import claims, machines
from suite.analysis.report import headline


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", type=Path, metavar="RESULTS",
                   help="result documents or directories (searched for *.json, "
                        "*.json.gz)")
    p.add_argument("--claims", type=Path, default=claims.DATA_PATH,
                   help="the claims file (default: %(default)s)")
    p.add_argument("--strict", action="store_true",
                   help="refuse to run when any result document is invalid")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="machine-readable output")
    out.add_argument("--markdown", action="store_true",
                     help="two Markdown tables for a README: the headline claims and the "
                          "fastest option per workload, between <!-- claims:begin --> and "
                          "<!-- claims:end --> (deterministic: same documents, same bytes)")
    p.add_argument("--report-link", default="", metavar="URL",
                   help="with --markdown: link each table to the full report at URL")


def run(args: argparse.Namespace) -> int:
    if args.report_link and not args.markdown:
        print("error: --report-link only goes with --markdown", file=sys.stderr)
        return 2
    data = claims.load_claims(args.claims)
    try:
        docs, problems = documents.load_many(args.paths, strict=args.strict)
    except ValueError as exc:  # documents.NoDocuments included
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for p in problems:
        print(f"skipped {p.path}: {p.reason}", file=sys.stderr)
    groups = machines.group(docs)
    res = claims.evaluate(groups, data)
    if args.json:
        print(json.dumps({"claims_file": str(args.claims),
                          "skipped_documents": [{"path": str(p.path), "reason": p.reason}
                                                for p in problems],
                          "machines": [m.label for m in groups],
                          "results": [r.as_json() for r in res],
                          "counts": claims.counts(res)}, indent=1))
    elif args.markdown:
        sys.stdout.write(headline.markdown(groups, res, data, args.report_link))
    else:
        print(claims.render_text(res, data))
    return 0
