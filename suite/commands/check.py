"""Check an output made by any implementation (yours too) against the float64 reference.

    python -m suite exec linreg --flavor numpy --output out.npy --save-inputs in.npz
    python -m suite check linreg --inputs in.npz --output out.npy
    python -m suite check matmul --param n=64 --param dtype=float64 --seed 3 --output out.npy

The inputs are an .npz that `suite exec --save-inputs` wrote (--inputs; it carries its
parameters), or the seeded generator's for --param (--seed, default 0): the same arrays
every flavor gets. The check is the worker's: max |out - ref| / scale <= tolerance, with
the workload's documented error bound as scale and tolerance, NaN/inf where the reference
has them. Prints the largest scaled error, where it is, the tolerance and the verdict.

Exit status: 0 the output is right; 1 it is wrong; 2 bad input (a missing or unreadable
file, an output of the wrong shape or dtype, an unknown parameter)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from suite.commands.exec import parse_params, read_inputs
from suite.measure.check import check_output
from suite.workloads import Params, Workload, canonical, get, make_inputs

CHUNK_ELEMENTS = 1 << 22  # where-is-the-worst-error scan, a slice of the output at a time


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("workload")
    p.add_argument("--param", action="append", default=[], metavar="K=V")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--inputs", type=Path, metavar="IN.npz",
                     help="inputs from `suite exec --save-inputs` (default: generate)")
    src.add_argument("--seed", type=int, default=0, help="seed of the generated inputs")
    p.add_argument("--output", type=Path, required=True, metavar="OUT.npy",
                   help="the output to check (numpy.save of one array)")
    p.add_argument("--json", action="store_true", help="print the check record as JSON")


def read_output(path: Path, w: Workload, params: Params, shape: tuple[int, ...]) -> np.ndarray:
    """The array in `path`: a real floating-point array of the reference's shape."""
    try:
        out = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read output {path}: {exc}") from None
    if not isinstance(out, np.ndarray):
        out.close()
        raise ValueError(f"{path} is an .npz archive; save one array with numpy.save")
    cell = f"{w.name}[{canonical(params)}]"
    if out.dtype.kind != "f":
        raise ValueError(f"{path} has dtype {out.dtype}; {cell} outputs a floating-point "
                         f"array ({params.get('dtype', 'float64')})")
    if out.shape != shape:
        layout = w.describe_output(params)
        raise ValueError(f"{path} has shape {out.shape}; {cell} outputs shape {shape}"
                         + (f": {layout}" if layout else ""))
    return out


def worst_index(out: np.ndarray, ref: np.ndarray, scale: np.ndarray) -> tuple[int, ...]:
    """Where |out - ref| / scale is largest (a mismatched NaN/inf counts as largest),
    scanning the leading axis in slices."""
    flat_out, flat_ref = out.reshape(-1), ref.reshape(-1)
    flat_scale = np.broadcast_to(scale, ref.shape).reshape(-1)
    best, where = -1.0, 0
    for lo in range(0, flat_ref.size, CHUNK_ELEMENTS):
        part = slice(lo, lo + CHUNK_ELEMENTS)
        o, r = flat_out[part].astype(np.float64), flat_ref[part]
        with np.errstate(all="ignore"):
            err = np.abs(o - r) / np.maximum(flat_scale[part], np.finfo(np.float64).tiny)
        same = (o == r) | (np.isnan(o) & np.isnan(r))
        err = np.where(same, 0.0, np.where(np.isnan(err), np.inf, err))
        i = int(np.argmax(err))
        if err[i] > best:
            best, where = float(err[i]), lo + i
    return tuple(int(i) for i in np.unravel_index(where, ref.shape))


def run(args: argparse.Namespace) -> int:
    w = get(args.workload)
    if args.inputs:
        inputs, params = read_inputs(args.inputs, w, args.param)
        source = str(args.inputs)
    else:
        params = parse_params(w, args.param)
        inputs = make_inputs(w, params, args.seed)
        source = f"seed {args.seed}"
    ref = w.reference(inputs, params)
    out = read_output(args.output, w, params, ref.shape)
    scale = w.error_scale(inputs, params, ref)
    rec = check_output(out, ref, scale, w.tolerance(params))
    where = w.name_element(params, worst_index(out, ref, scale)) if ref.size else ""
    if args.json:
        print(json.dumps({"workload": w.name, "params": params, "inputs": source,
                          "output": str(args.output), "worst_at": where, "check": rec},
                         indent=1))
    else:
        print(f"{w.name}[{canonical(params)}], inputs {source}: {args.output}")
        if rec["max_error"] is not None:
            print(f"  max |out - ref| / scale  {rec['max_error']:.3g}  at {where}"
                  f"  (max |out - ref| {rec['max_abs_error']:.3g})")
        else:
            print(f"  worst element            {where}")
        print(f"  tolerance                {rec['tolerance']:.3g}")
        print(f"  verdict                  {'ok' if rec['ok'] else 'WRONG'}"
              + ("" if rec["ok"] else f": {rec.get('message', '')}"))
    return 0 if rec["ok"] else 1
