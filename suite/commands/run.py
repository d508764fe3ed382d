"""Run benchmark cells on one or more runtimes and write one validated result document
per runtime under RESULTS/<arch>/<runtime>/<run-id>.json.

Runtimes come from docker/runtimes.toml. With the native backend (the default when no
container engine is wanted) each runtime needs a local interpreter of its version; the
default is every runtime this machine can run natively.

One run at a time per results directory: a second run waits for the first (saying whose pid
it waits for), or with --no-wait refuses (exit 2). Runs share a cache; rebuilding one of its
virtualenvs waits until no run uses that virtualenv. SIGTERM is handled like
Ctrl-C: the worker in flight is stopped, the documents keep every finished cell and say
`interrupted`; the exit status is 130 after Ctrl-C, 143 after SIGTERM."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from suite import documents, flavors, runtimes
from suite.analysis import summary
from suite.measure import profiles, runner
from suite.measure.runner import Run, Terminated, prepare_runtimes, sigterm_as_interrupt
from suite.runtimes.backend import Unavailable
from suite.workloads import WORKLOADS

ROOT = Path(__file__).resolve().parents[2]


def split(values: list[str] | None) -> list[str]:
    return [v for item in values or [] for v in item.replace(",", " ").split()]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-r", "--runtime", action="append", metavar="ID",
                   help="runtime id(s), repeatable or comma-separated (default: every "
                        "runtime available to the backend)")
    p.add_argument("-p", "--profile", default="quick",
                   help=" | ".join(profiles.PROFILES) + " (`suite list profiles`)")
    p.add_argument("-w", "--workload", action="append", metavar="NAME",
                   help="only these workloads")
    p.add_argument("-f", "--flavor", action="append", metavar="NAME",
                   help="only these flavors")
    p.add_argument("--backend", default="native", choices=("native", "container"))
    p.add_argument("--engine", default=None, help="container engine (docker or podman)")
    p.add_argument("--arch", default=None, help="amd64 | arm64 (container backend)")
    p.add_argument("--image", action="append", default=[], metavar="RUNTIME=REF",
                   help="container backend: run this exact image for RUNTIME (e.g. "
                        "cpython-3.13=repo@sha256:...) instead of building; repeat for "
                        "several runtimes (a bare REF is allowed with exactly one runtime)")
    p.add_argument("--python", action="append", default=[], metavar="PATH",
                   help="an extra interpreter to consider (native backend)")
    p.add_argument("--native", action="append", default=[], metavar="ID",
                   help="container backend: run these runtimes natively in the same "
                        "interleaved run (e.g. cpython-3.12 where its image cannot be built); "
                        "each document records its backend")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--out", type=Path, default=ROOT / "results")
    p.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "SUITE_CACHE_DIR", ROOT / ".cache")))
    p.add_argument("--no-wait", action="store_true",
                   help="refuse (exit 2) instead of waiting when another run uses the same "
                        "results directory or cache")


def given_images(values: list[str], runtime_ids: list[str]) -> dict[str, str]:
    """`--image RUNTIME=REF` values as {runtime: ref}; a bare REF needs exactly one runtime."""
    out: dict[str, str] = {}
    for v in values:
        rid, sep, ref = v.partition("=")
        if not sep:
            if len(runtime_ids) != 1 or len(values) != 1:
                raise ValueError(f"--image {v}: name its runtime (--image RUNTIME={v}) "
                                 "unless exactly one runtime is selected")
            rid, ref = runtime_ids[0], v
        if not rid or not ref:
            raise ValueError(f"--image {v!r}: expected RUNTIME=REF")
        if rid in out:
            raise ValueError(f"--image given twice for {rid}")
        if runtime_ids and rid not in runtime_ids:
            raise ValueError(f"--image {v}: {rid} is not among the selected runtimes "
                             f"({', '.join(runtime_ids)})")
        out[rid] = ref
    return out


def make_backend(args: argparse.Namespace):
    native_ids = split(args.native)
    if args.backend == "container":
        from suite.runtimes.container import ContainerBackend

        container = ContainerBackend(args.cache, arch=args.arch, engine=args.engine,
                                     images_given=given_images(args.image, split(args.runtime)))
        if not native_ids:
            return container
        if container.emulated:
            raise ValueError(f"--native {' '.join(native_ids)}: not with an emulated arch "
                             f"({container.arch}): one run compares one machine's timings")
        from suite.runtimes.backend import PerRuntime
        from suite.runtimes.native import NativeBackend

        return PerRuntime(container, NativeBackend(args.cache, pythons=args.python),
                          set(native_ids))
    if args.image:
        raise ValueError("--image needs --backend container")
    if native_ids:
        raise ValueError("--native needs --backend container (with the native backend "
                         "every runtime runs natively)")
    if args.arch and documents.arch_name(args.arch) != documents.arch_name(os.uname().machine):
        raise ValueError(f"ARCH={args.arch} needs the container backend (this host is "
                         f"{documents.arch_name(os.uname().machine)})")
    from suite.runtimes.native import NativeBackend

    return NativeBackend(args.cache, pythons=args.python)


def run(args: argparse.Namespace) -> int:
    try:
        with sigterm_as_interrupt():
            return run_selected(args)
    except Terminated:
        print("terminated (SIGTERM)", file=sys.stderr)
        return 143


def run_selected(args: argparse.Namespace) -> int:
    profile = profiles.get(args.profile)
    known = runtimes.load()
    for w in split(args.workload):
        if w not in WORKLOADS:
            raise ValueError(f"unknown workload {w!r}; known workloads: {', '.join(WORKLOADS)}")
    wanted_flavors = split(args.flavor)
    all_flavors = {f for w in WORKLOADS.values() for f in flavors.names(w)}
    for f in wanted_flavors:
        if f not in all_flavors:
            raise ValueError(f"unknown flavor {f!r}; flavors: {', '.join(sorted(all_flavors))}")
    for rid in split(args.native):
        if rid not in known:
            raise ValueError(f"--native {rid}: unknown runtime; known: {', '.join(known)}")
        if split(args.runtime) and rid not in split(args.runtime):
            raise ValueError(f"--native {rid}: not among the selected runtimes "
                             f"({', '.join(split(args.runtime))})")
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
    wait = not args.no_wait
    with runner.results_lock(args.out, wait, log):
        runner.prune_stale_inputs(args.cache)
        with runner.cache_lock(args.cache, True, wait, log):
            return prepare_and_run(args, backend, selected, profile, wanted_flavors)


def log(msg: str) -> None:
    print(msg, file=sys.stderr)


def prepare_and_run(args: argparse.Namespace, backend, selected: list[runtimes.Runtime],
                    profile: profiles.Profile, wanted_flavors: list[str]) -> int:
    """Set up the runtimes, then run (the results directory and the cache are locked)."""
    ready, records, missing = prepare_runtimes(backend, selected, log=log)
    if not ready:
        print("error: none of the selected runtimes could be set up:\n  "
              + "\n  ".join(f"{k}: {v}" for k, v in missing.items()), file=sys.stderr)
        return 2
    command = "python -m suite run " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    r = Run(ready, backend, profile, args.out, args.cache, seed=args.seed,
            workloads=split(args.workload) or None, flavors=wanted_flavors or None,
            command=command, log=log, backend_records=records, wait=not args.no_wait)
    if not r.cells:
        print("error: the selection has no cells (check --workload/--flavor against "
              "the runtimes' flavors in `python -m suite list`)", file=sys.stderr)
        return 2
    print(f"run {r.run_id}: {len(r.cells)} cells, profile {profile.name}, "
          f"{profile.processes} processes x {profile.values} samples each", file=sys.stderr)
    status = r.execute()
    docs = [documents.load(p) for p in r.paths.values() if p.exists()]
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
