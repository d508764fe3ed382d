"""Reproduce a published result: check the document (schema, image digest, parameters and
input hashes against the suite's definitions), rerun the same cells with the same seed,
settings and loop counts in the same image digest (pulled, or rebuilt if it cannot be) or
natively with the same runtime id, and print a verdict per cell, an equivalence test with
the threshold t: reproduced (the whole 95% CI of rerun/published within [1/(1+t), 1+t]) /
faster / slower (wholly outside on one side) / inconclusive (neither; with about how many
processes would decide) / not comparable (different hardware or emulation) / failed.

Exit 0 when every rerun cell reproduced; 1 when some cell differs (faster, slower, failed or
missing in the rerun); 3 when undecided (some cell inconclusive or not comparable, none
differing); 2 when the document is refused or cannot be rerun here."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from suite.analysis import compare
from suite.publish import reproduce
from suite.runtimes.backend import Unavailable

ROOT = Path(__file__).resolve().parents[2]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="FROM",
                   help="a result document (.json or .json.gz): a local file or an "
                        "http(s) URL")
    p.add_argument("--engine", default=None,
                   help="container engine for container results (docker or podman)")
    p.add_argument("--trust-image", action="append", default=[], metavar="REF",
                   help="run this image although it is not from the project's registry "
                        "namespace or built here (docs/reproducing.md: trust model)")
    p.add_argument("--threshold", type=float, default=compare.DEFAULT_THRESHOLD * 100,
                   metavar="PCT", help="the equivalence band in percent: reproduced when "
                                       "the CI lies within 1/(1+t)..1+t (default %(default)g)")
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
                                log=lambda m: print(m, file=sys.stderr),
                                trust=args.trust_image)
    except reproduce.Refused as exc:
        print(f"refused: {exc.source} cannot be reproduced as it stands:", file=sys.stderr)
        for r in exc.reasons:
            print(f"  - {r}", file=sys.stderr)
        return reproduce.EXIT_BAD_INPUT
    except Unavailable as exc:
        print(f"error: cannot rerun {args.source} here: {exc}", file=sys.stderr)
        return reproduce.EXIT_BAD_INPUT
    print(reproduce.render(o, args.source))
    return reproduce.exit_status(o)
