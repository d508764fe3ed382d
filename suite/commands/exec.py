"""Run one implementation of a workload once, in this interpreter, check it against the
float64 reference and save its output (.npy): for debugging disagreements and cross-checks.

    python -m suite exec matmul --flavor pure --param n=64 --param dtype=float32 \\
        --output out.npy [--inputs inputs.npz] [--save-inputs inputs.npz]

Without --inputs the seeded generator makes them (--seed, default 0). --save-inputs
writes the inputs used (with their parameters) for `python -m suite check` and for your
own implementation."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from suite import flavors
from suite.measure.check import check_output
from suite.workloads import Inputs, Params, Workload, canonical, get, make_inputs

DTYPES = ("float32", "float64")
PARAMS_KEY = "_params"  # the parameters the inputs were made for, as JSON, in the .npz


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("workload")
    p.add_argument("--flavor", required=True)
    p.add_argument("--param", action="append", default=[], metavar="K=V")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--inputs", type=Path, help="an .npz of inputs (default: generate)")
    p.add_argument("--save-inputs", type=Path, metavar="IN.npz",
                   help="write the inputs used (and their parameters) here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", type=Path, required=True, help="where to save the output .npy")
    p.add_argument("--mojo-cache", type=Path, default=Path(".cache") / "mojo")


def parse_params(w: Workload, items: list[str], base: Params | None = None) -> Params:
    """`base` (default: the workload's smoke parameters) with each K=V of `items` applied,
    converted to the type the parameter has there."""
    params = dict(w.params["smoke"][0] if base is None else base)
    for item in items:
        if "=" not in item:
            raise ValueError(f"--param {item!r}: expected K=V, e.g. n=64")
        k, v = item.split("=", 1)
        if k not in params:
            raise ValueError(f"{w.name} has no parameter {k!r}; parameters: "
                             f"{', '.join(sorted(params))}")
        old = params[k]
        try:
            params[k] = type(old)(v) if not isinstance(old, str) else v
        except ValueError:
            raise ValueError(f"--param {k}={v}: expected {type(old).__name__}") from None
    if params.get("dtype", DTYPES[0]) not in DTYPES:
        raise ValueError(f"--param dtype={params['dtype']}: expected {' or '.join(DTYPES)}")
    return params


def save_inputs(path: Path, inputs: Inputs, params: Params) -> None:
    """The inputs as an .npz, with the parameters they were made for."""
    np.savez(path, **inputs, **{PARAMS_KEY: np.array(json.dumps(params))})


def read_inputs(path: Path, w: Workload, items: list[str]) -> tuple[Inputs, Params]:
    """Inputs from an .npz and their parameters: the ones stored with them (`--param` may
    not contradict those), else the smoke parameters with `items` applied. Every array the
    workload takes must be there, with the shape and dtype those parameters give."""
    try:
        with np.load(path, allow_pickle=False) as z:
            stored = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read inputs {path}: {exc}") from None
    made_for = json.loads(str(stored.pop(PARAMS_KEY))) if PARAMS_KEY in stored else None
    params = parse_params(w, items, made_for)
    if made_for is not None and params != made_for:
        raise ValueError(f"{path} holds inputs for {w.name}[{canonical(made_for)}], "
                         f"not [{canonical(params)}]: drop the --param that differ, or "
                         "make new inputs with `suite exec --save-inputs`")
    inputs = {k: v for k, v in stored.items() if not k.startswith("_")}
    expected = make_inputs(w, params, 0)
    for key, want in expected.items():
        got = inputs.get(key)
        if got is None:
            takes = ", ".join(f"{k} {v.shape} {v.dtype}" for k, v in expected.items())
            raise ValueError(f"{path} has no array {key!r}; {w.name}[{canonical(params)}] "
                             f"takes {takes}")
        if got.shape != want.shape or got.dtype != want.dtype:
            raise ValueError(f"{path}: {key} is {got.shape} {got.dtype}, but "
                             f"{w.name}[{canonical(params)}] takes {want.shape} {want.dtype}")
    extra = sorted(set(inputs) - set(expected))
    if extra:
        raise ValueError(f"{path} has arrays {w.name} does not take: {', '.join(extra)}")
    return inputs, params


def run(args: argparse.Namespace) -> int:
    w = get(args.workload)
    if args.inputs:
        inputs, params = read_inputs(args.inputs, w, args.param)
    else:
        params = parse_params(w, args.param)
        inputs = make_inputs(w, params, args.seed)
    flavors.setup(args.flavor, args.mojo_cache)
    fl = flavors.get(w, args.flavor)
    if args.save_inputs:
        save_inputs(args.save_inputs, inputs, params)
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
