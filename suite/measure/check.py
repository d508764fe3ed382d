"""The output check: every measured output against the float64 reference."""

from __future__ import annotations

from typing import Any

import numpy as np

# Elements compared at a time: the check's temporaries stay near this many float64s (tens
# of MB) whatever the output's size, where whole-array temporaries were ~6x the reference.
CHUNK_ELEMENTS = 1 << 22


def _as_numbers(out: Any) -> np.ndarray:
    """`out` as an array of real numbers: real NumPy arrays as they are (converted to float64
    chunk by chunk), anything else through one float64 conversion (TypeError/ValueError)."""
    if isinstance(out, np.ndarray) and out.dtype.kind in "biuf":
        return out
    return np.asarray(out, dtype=np.float64)


def _chunks(shape: tuple[int, ...]) -> list[tuple]:
    """Index tuples that cover an array of `shape` in blocks along its first axis."""
    if not shape:
        return [(Ellipsis,)]
    row = int(np.prod(shape[1:], dtype=np.int64))
    step = max(1, CHUNK_ELEMENTS // max(1, row))
    return [(slice(i, i + step),) for i in range(0, shape[0], step)]


def check_output(out: Any, ref: np.ndarray, scale: np.ndarray, tol: float) -> dict:
    """Compare `out` with `ref` elementwise: |out - ref| / scale must be <= tol.

    NaN must appear exactly where the reference has NaN, and infinities where it has the
    same infinity. Returns the check record stored with a cell; `ok` says if it passed.
    The comparison runs in blocks (`CHUNK_ELEMENTS`), so `ref` and `scale` may be
    memory-mapped and the temporaries stay small; the result is the whole-array one.
    """
    rec: dict[str, Any] = {"ok": False, "tolerance": float(tol), "max_error": None,
                           "max_abs_error": None, "metric": "max |out-ref| / scale"}
    try:
        arr = _as_numbers(out)
    except (TypeError, ValueError) as exc:
        rec["message"] = f"output is not numeric: {exc}"
        return rec
    if arr.shape != ref.shape:
        rec["message"] = f"output shape {arr.shape} != reference shape {ref.shape}"
        return rec
    scale_full = np.broadcast_to(scale, ref.shape)
    nan_differs, inf_differs = 0, False
    max_abs = max_rel = 0.0
    for part in _chunks(ref.shape):
        o, r = np.asarray(arr[part], dtype=np.float64), np.asarray(ref[part])
        nan_o, nan_r = np.isnan(o), np.isnan(r)
        nan_differs += int(np.count_nonzero(nan_o != nan_r))
        inf_r = np.isinf(r)
        if not np.array_equal(np.isinf(o), inf_r) or not np.array_equal(o[inf_r], r[inf_r]):
            inf_differs = True
        fin = ~(nan_r | inf_r)
        if fin.any():
            diff = np.abs(o[fin] - r[fin])
            sc = np.asarray(scale_full[part])[fin]
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.where(diff == 0, 0.0,
                               diff / np.maximum(sc, np.finfo(np.float64).tiny))
            rel = np.where(np.isnan(rel), np.inf, rel)
            max_abs = max(max_abs, float(diff.max()))
            max_rel = max(max_rel, float(rel.max()))
    if nan_differs:
        rec["message"] = f"NaN pattern differs from the reference at {nan_differs} element(s)"
        return rec
    if inf_differs:
        rec["message"] = "infinities differ from the reference"
        return rec
    rec["max_abs_error"] = max_abs
    rec["max_error"] = float(min(max_rel, np.finfo(np.float64).max))
    rec["ok"] = bool(rec["max_error"] <= tol)
    if not rec["ok"]:
        rec["message"] = (f"max scaled error {rec['max_error']:.3g} exceeds tolerance "
                          f"{tol:.3g}")
    return rec
