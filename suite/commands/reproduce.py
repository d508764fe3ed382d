"""Reproduce a published result: check the document (schema, image digest, parameters and
input hashes against the suite's definitions), rerun the same cells with the same seed,
settings and loop counts in the same image digest (pulled, or rebuilt if it cannot be) or
natively with the same runtime id, and print a verdict per cell: reproduced / faster /
slower / not comparable (different hardware or emulation).

Exit 0 when every rerun cell reproduced; 1 when some cell differs significantly or the
documents are not comparable; 2 when the document is refused or cannot be rerun here."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import compare, reproduce
from ..backends import Unavailable

ROOT = Path(__file__).resolve().parents[2]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="FROM",
                   help="a result document: a local file or an http(s) URL")
    p.add_argument("--engine", default=None,
                   help="container engine for container results (docker or podman)")
    p.add_argument("--threshold", type=float, default=compare.DEFAULT_THRESHOLD * 100,
                   metavar="PCT", help="minimum change in percent for faster/slower "
                                       "(default %(default)g)")
    p.add_argument("-o", "--out", type=Path, default=None,
                   help="where the rerun's document goes (default: CACHE/reproduce)")
    p.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "SUITE_CACHE_DIR", ROOT / ".cache")))


def run(args: argparse.Namespace) -> int:
    if args.threshold < 0:
        raise ValueError("--threshold must be >= 0")
    out = args.out or args.cache / "reproduce"
    try:
        o = reproduce.reproduce(args.source, out, args.cache, engine=args.engine,
                                threshold=args.threshold / 100,
                                log=lambda m: print(m, file=sys.stderr))
    except reproduce.Refused as exc:
        print(f"refused: {exc.source} cannot be reproduced as it stands:", file=sys.stderr)
        for r in exc.reasons:
            print(f"  - {r}", file=sys.stderr)
        return 2
    except Unavailable as exc:
        print(f"error: cannot rerun {args.source} here: {exc}", file=sys.stderr)
        return 2
    print(reproduce.render(o, args.source))
    counts = o.counts
    ok = o.comparison["comparable"] and counts.get("reproduced", 0) == sum(counts.values())
    return 0 if ok else 1
