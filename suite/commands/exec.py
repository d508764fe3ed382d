"""Run one implementation of a workload once, in this interpreter, check it against the
float64 reference and save its output (.npy): for debugging disagreements and cross-checks.

    python -m suite exec matmul --flavor pure --param n=64 --param dtype=float32 \\
        --output out.npy [--inputs inputs.npz] [--save-inputs inputs.npz]

Without --inputs the seeded generator makes them (--seed, default 0)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ..check import check_output
from ..workloads import flavor, get, make_inputs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("workload")
    p.add_argument("--flavor", required=True)
    p.add_argument("--param", action="append", default=[], metavar="K=V")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--inputs", type=Path, help="an .npz of inputs (default: generate)")
    p.add_argument("--save-inputs", type=Path, help="write the generated inputs here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", type=Path, required=True, help="where to save the output .npy")
    p.add_argument("--mojo-cache", type=Path, default=Path(".cache") / "mojo")


def parse_params(w, items: list[str]) -> dict:
    base = dict(w.params["smoke"][0])
    for item in items:
        if "=" not in item:
            raise ValueError(f"--param {item!r}: expected K=V, e.g. n=64")
        k, v = item.split("=", 1)
        if k not in base:
            raise ValueError(f"{w.name} has no parameter {k!r}; parameters: "
                             f"{', '.join(sorted(base))}")
        old = base[k]
        try:
            base[k] = type(old)(v) if not isinstance(old, str) else v
        except ValueError:
            raise ValueError(f"--param {k}={v}: expected {type(old).__name__}") from None
    return base


def run(args: argparse.Namespace) -> int:
    w = get(args.workload)
    params = parse_params(w, args.param)
    if args.flavor.startswith("mojo"):
        from .. import mojo_kernels

        mojo_kernels.load(args.mojo_cache)
    fl = flavor(w, args.flavor)
    if args.inputs:
        try:
            with np.load(args.inputs, allow_pickle=False) as z:
                inputs = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read inputs {args.inputs}: {exc}") from None
    else:
        inputs = make_inputs(w, params, args.seed)
        if args.save_inputs:
            np.savez(args.save_inputs, **inputs)
    ref = w.reference(inputs, params)
    cargs = fl.prepare(inputs, params) if fl.prepare else ()
    t0 = time.perf_counter_ns()
    out = fl.run(*cargs, threads=args.threads)
    t1 = time.perf_counter_ns()
    arr = np.asarray(fl.finish(out, params) if fl.finish else out)
    np.save(args.output, arr)
    rec = check_output(arr, ref, w.error_scale(inputs, params, ref), w.tolerance(params))
    print(json.dumps({"workload": w.name, "params": params, "flavor": args.flavor,
                      "elapsed_ns": t1 - t0, "output": str(args.output), "check": rec},
                     indent=1))
    return 0 if rec["ok"] else 1
