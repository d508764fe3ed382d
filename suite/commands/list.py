"""List runtimes (and whether this machine can run them natively), workloads with their
parameters per profile, flavors and profiles."""

from __future__ import annotations

import argparse

from suite import flavors, runtimes
from suite.measure import profiles
from suite.runtimes.backend import Unavailable
from suite.workloads import WORKLOADS, canonical


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", nargs="?", default="all",
                   choices=("all", "runtimes", "workloads", "profiles"))
    p.add_argument("--ids", action="store_true",
                   help="print runtime ids only, one per line (for scripts)")
    p.add_argument("--available", action="store_true",
                   help="with --ids: only runtimes this machine can run natively")
    p.add_argument("--python", action="append", default=[], metavar="PATH")


def run(args: argparse.Namespace) -> int:
    known = runtimes.load()
    if args.ids:
        ids = list(known)
        if args.available:
            from suite.measure.runner import ROOT
            from suite.runtimes.native import NativeBackend

            ids = NativeBackend(ROOT / ".cache", args.python).available(known)
        print("\n".join(ids))
        return 0
    width = max(map(len, profiles.PROFILES))  # profile names line up
    if args.what in ("all", "runtimes"):
        from suite.measure.runner import ROOT
        from suite.runtimes.native import NativeBackend

        try:
            nb = NativeBackend(ROOT / ".cache", args.python)
        except Unavailable as exc:
            raise ValueError(str(exc)) from None
        print("runtimes (docker/runtimes.toml):")
        for rid, rt in known.items():
            try:
                it = nb.interpreter_for(rt)
                native = f"native: {it.path} ({it.version})"
            except Unavailable:
                native = "native: not on this machine"
            jit = "JIT on" if rt.jit else "no JIT"
            print(f"  {rid:<18} {rt.kind:<8} {jit:<7} flavors {','.join(rt.flavors):<30} "
                  f"{native}")
    if args.what in ("all", "workloads"):
        print("workloads:")
        for w in WORKLOADS.values():
            print(f"  {w.name:<8} {w.summary}")
            print(f"           flavors: {', '.join(flavors.names(w))}")
            for prof, plist in w.params.items():
                print(f"           {prof:<{width}} " + "; ".join(canonical(p) for p in plist))
    if args.what in ("all", "profiles"):
        print("profiles:")
        for p in profiles.PROFILES.values():
            print(f"  {p.name:<{width}} {p.processes} processes x ({p.warmups} warm-up + "
                  f"{p.values} samples), samples >= {p.min_time_ns / 1e6:g} ms, "
                  f"budget {p.budget_s:g} s per cell")
    return 0
