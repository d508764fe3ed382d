"""Check the article's published claims (suite/data/claims.json) against result documents.

For each claim: what was measured on which hardware, the comparison that is fair across
hardware (speedup ratios, not absolute times, unless the hardware matches the article's
Graviton3), and a verdict: consistent / not reproduced / not comparable / not measurable /
not measured (the results lack a cell the claim needs) / contradicted (method claims,
with sources). Cost claims are recomputed from the measured speedups."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import claims
from ..report import load


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", type=Path, metavar="RESULTS",
                   help="result documents or directories (searched for *.json)")
    p.add_argument("--claims", type=Path, default=claims.DATA_PATH,
                   help="the claims file (default: %(default)s)")
    p.add_argument("--strict", action="store_true",
                   help="refuse to run when any result document is invalid")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    data = claims.load_claims(args.claims)
    try:
        docs, problems = load.load(args.paths, strict=args.strict)
    except ValueError as exc:  # load.NoDocuments included
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for p in problems:
        print(f"skipped {p.path}: {p.reason}", file=sys.stderr)
    machines = load.group(docs)
    res = claims.evaluate(machines, data)
    if args.json:
        print(json.dumps({"claims_file": str(args.claims),
                          "skipped_documents": [{"path": str(p.path), "reason": p.reason}
                                                for p in problems],
                          "machines": [m.label for m in machines],
                          "results": [r.as_json() for r in res],
                          "counts": claims.counts(res)}, indent=1))
    else:
        print(claims.render_text(res, data))
    return 0
