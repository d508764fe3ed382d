"""Run benchmark cells on one or more runtimes and write one validated result document
per runtime under RESULTS/<arch>/<runtime>/<run-id>.json.

Runtimes come from docker/runtimes.toml. With the native backend (the default when no
container engine is wanted) each runtime needs a local interpreter of its version; the
default is every runtime this machine can run natively."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from .. import profiles, results, runtimes, summary
from ..backends import Unavailable
from ..runner import Run, prepare_runtimes
from ..workloads import WORKLOADS, flavor_names

ROOT = Path(__file__).resolve().parents[2]


def split(values: list[str] | None) -> list[str]:
    return [v for item in values or [] for v in item.replace(",", " ").split()]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-r", "--runtime", action="append", metavar="ID",
                   help="runtime id(s), repeatable or comma-separated (default: every "
                        "runtime available to the backend)")
    p.add_argument("-p", "--profile", default="quick", help="smoke | quick | full")
    p.add_argument("-w", "--workload", action="append", metavar="NAME",
                   help="only these workloads")
    p.add_argument("-f", "--flavor", action="append", metavar="NAME",
                   help="only these flavors")
    p.add_argument("--backend", default="native", choices=("native", "container"))
    p.add_argument("--engine", default=None, help="container engine (docker or podman)")
    p.add_argument("--arch", default=None, help="amd64 | arm64 (container backend)")
    p.add_argument("--image", default=None, metavar="REF",
                   help="container backend: run this exact image (e.g. repo@sha256:...) "
                        "instead of building; needs exactly one runtime")
    p.add_argument("--python", action="append", default=[], metavar="PATH",
                   help="an extra interpreter to consider (native backend)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--out", type=Path, default=ROOT / "results")
    p.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "SUITE_CACHE_DIR", ROOT / ".cache")))


def make_backend(args: argparse.Namespace):
    if args.backend == "container":
        from ..backends.container import ContainerBackend

        return ContainerBackend(args.cache, arch=args.arch, engine=args.engine,
                                image=args.image)
    if args.image:
        raise ValueError("--image needs --backend container")
    if args.arch and results.arch_name(args.arch) != results.arch_name(os.uname().machine):
        raise ValueError(f"ARCH={args.arch} needs the container backend (this host is "
                         f"{results.arch_name(os.uname().machine)})")
    from ..backends.native import NativeBackend

    return NativeBackend(args.cache, pythons=args.python)


def run(args: argparse.Namespace) -> int:
    profile = profiles.get(args.profile)
    known = runtimes.load()
    for w in split(args.workload):
        if w not in WORKLOADS:
            raise ValueError(f"unknown workload {w!r}; known workloads: {', '.join(WORKLOADS)}")
    flavors = split(args.flavor)
    all_flavors = {f for w in WORKLOADS.values() for f in flavor_names(w)}
    for f in flavors:
        if f not in all_flavors:
            raise ValueError(f"unknown flavor {f!r}; flavors: {', '.join(sorted(all_flavors))}")
    try:
        backend = make_backend(args)
    except Unavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ids = split(args.runtime)
    if ids:
        selected = runtimes.select(ids, known)
    else:
        avail = backend.available(known)
        if not avail:
            print("error: no runtime is available to the "
                  f"{args.backend} backend; see `python -m suite list`", file=sys.stderr)
            return 2
        selected = [known[i] for i in avail]
        print(f"runtimes (all available to the {args.backend} backend): {', '.join(avail)}",
              file=sys.stderr)
    ready, records, missing = prepare_runtimes(backend, selected,
                                               log=lambda m: print(m, file=sys.stderr))
    if not ready:
        print("error: none of the selected runtimes could be set up:\n  "
              + "\n  ".join(f"{k}: {v}" for k, v in missing.items()), file=sys.stderr)
        return 2
    command = "python -m suite run " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    r = Run(ready, backend, profile, args.out, args.cache, seed=args.seed,
            workloads=split(args.workload) or None, flavors=flavors or None,
            command=command, log=lambda m: print(m, file=sys.stderr),
            backend_records=records)
    if not r.cells:
        print("error: the selection has no cells (check --workload/--flavor against "
              "the runtimes' flavors in `python -m suite list`)", file=sys.stderr)
        return 2
    print(f"run {r.run_id}: {len(r.cells)} cells, profile {profile.name}, "
          f"{profile.processes} processes x {profile.values} samples each", file=sys.stderr)
    status = r.execute()
    docs = [results.load(p) for p in r.paths.values() if p.exists()]
    print()
    print(summary.table(docs))
    for line in summary.problems(docs):
        print(line)
    print()
    for p in r.paths.values():
        print(f"wrote {p.relative_to(ROOT) if p.is_relative_to(ROOT) else p}")
    if missing:
        print("not run (unavailable): " + "; ".join(f"{k}: {v}" for k, v in missing.items()))
        status = status or 1
    return status
