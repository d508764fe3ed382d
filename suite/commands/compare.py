"""Compare two result documents cell by cell (NEW against BASE).

For every cell in both: the ratio of the cells' times NEW/BASE (each the geometric mean of
its per-process medians; below 1: NEW is faster) with a 95% confidence interval over the
worker processes, and a verdict symmetric on the log scale: faster when the whole CI lies
below 1/(1+t), slower when it lies above 1+t (t = --threshold), else not significant.
Geometric means per workload, flavor and overall count non-significant cells as 1.0
(bench_runner's convention; "raw" uses every ratio). Cells on one side only are listed.
Different hardware, emulated vs native, different profile settings or different inputs are
flagged as not comparable; documents without per-process samples (before schema 1.2.0)
fall back to pooled CIs and different runs are noted, both as warnings. Exit 0 when
compared, 1 when the documents are not comparable, 2 on bad input."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from suite import documents
from suite.analysis import compare


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("base", type=Path, metavar="BASE", help="the baseline result document")
    p.add_argument("new", type=Path, metavar="NEW", help="the result document to compare")
    p.add_argument("--threshold", type=float, default=compare.DEFAULT_THRESHOLD * 100,
                   metavar="PCT", help="t in percent: faster/slower only when the whole CI "
                                       "lies beyond 1/(1+t) or 1+t (default %(default)g)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def load(path: Path) -> dict:
    try:
        return documents.load(path)
    except documents.InvalidDocument as exc:
        raise ValueError(f"{path}: not a valid result document: " + "; ".join(exc.errors[:5])
                         ) from None


def run(args: argparse.Namespace) -> int:
    if args.threshold < 0:
        raise ValueError("--threshold must be >= 0")
    base, new = load(args.base), load(args.new)
    res = compare.compare_documents(base, new, threshold=args.threshold / 100)
    res["base"]["path"], res["new"]["path"] = str(args.base), str(args.new)
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        print(compare.render_text(res))
    return 0 if res["comparable"] else 1
