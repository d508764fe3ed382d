"""Build the runtime images (docker/runtimes.toml) that are missing, and list them:
reference, digest, size and build time. Images are cached by a content key, so an
unchanged recipe is never rebuilt. BUILD_MODE=fast skips PGO/LTO (development, CI);
EXTRA_CA and BASE_IMAGE: see docker/README.md.

    python -m suite images [-r ID ...] [--arch amd64|arm64] [--engine podman|docker] [--prune]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from suite import runtimes
from suite.runtimes import images
from suite.runtimes.backend import Unavailable
from suite.runtimes.engine import NoEngine, detect

ROOT = Path(__file__).resolve().parents[2]


def split(values: list[str] | None) -> list[str]:
    return [v for item in values or [] for v in item.replace(",", " ").split()]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-r", "--runtime", action="append", metavar="ID",
                   help="runtime id(s) (default: every runtime with an image)")
    p.add_argument("--arch", default=None, help="amd64 | arm64 (default: this machine's)")
    p.add_argument("--engine", default=None, help="docker | podman (default: detected)")
    p.add_argument("--mode", default=None, choices=images.BUILD_MODES,
                   help="build mode (default: $BUILD_MODE, else optimized; fast for an "
                        "emulated ARCH)")
    p.add_argument("--json", action="store_true", help="print one JSON object per image")
    p.add_argument("--prune", action="store_true",
                   help="remove older images of the same runtime, mode and arch")
    p.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "SUITE_CACHE_DIR", ROOT / ".cache")))


def run(args: argparse.Namespace) -> int:
    arch = images.check_arch(args.arch)
    mode = images.build_mode(args.mode, arch)
    known = runtimes.load()
    ids = split(args.runtime) or [r for r, rt in known.items() if rt.image]
    selected = runtimes.select(ids, known)
    try:
        engine = detect(args.engine)
    except NoEngine as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = {}
    rows = []
    for rt in selected:
        try:
            s, info, took = images.ensure(engine, rt, arch, mode, args.cache.resolve(),
                                          log=lambda m: print(m, file=sys.stderr))
        except Unavailable as exc:
            failed[rt.id] = str(exc)
            print(f"unavailable: {rt.id}: {exc}", file=sys.stderr)
            continue
        if args.prune:
            for old in images.stale(engine, s):
                print(f"removing superseded {old}", file=sys.stderr)
                subprocess.run(engine.cmd("rmi", old), capture_output=True, timeout=300)
        row = {"runtime": rt.id, "arch": arch, "mode": mode, "image": s.ref,
               "digest": info["digest"], "size_mb": round((info["size"] or 0) / 1e6),
               "build_seconds": None if took is None else round(took),
               "emulated": s.emulated}
        rows.append(row)
        if args.json:
            print(json.dumps(row))
    if not args.json:
        for r in rows:
            built = "cached" if r["build_seconds"] is None else f"built in {r['build_seconds']} s"
            print(f"{r['runtime']:<18} {r['image']}  {r['size_mb']} MB  {built}"
                  f"{'  (emulated)' if r['emulated'] else ''}\n{'':<18} {r['digest']}")
        for rid, why in failed.items():
            print(f"{rid:<18} UNAVAILABLE: {why}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m suite images", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    try:
        return run(p.parse_args(argv))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
