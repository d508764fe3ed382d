"""The output check: every measured output against the float64 reference."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_output(out: Any, ref: np.ndarray, scale: np.ndarray, tol: float) -> dict:
    """Compare `out` with `ref` elementwise: |out - ref| / scale must be <= tol.

    NaN must appear exactly where the reference has NaN, and infinities where it has the
    same infinity. Returns the check record stored with a cell; `ok` says if it passed.
    """
    rec: dict[str, Any] = {"ok": False, "tolerance": float(tol), "max_error": None,
                           "max_abs_error": None, "metric": "max |out-ref| / scale"}
    try:
        arr = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        rec["message"] = f"output is not numeric: {exc}"
        return rec
    if arr.shape != ref.shape:
        rec["message"] = f"output shape {arr.shape} != reference shape {ref.shape}"
        return rec
    nan_out, nan_ref = np.isnan(arr), np.isnan(ref)
    if not np.array_equal(nan_out, nan_ref):
        bad = int(np.count_nonzero(nan_out != nan_ref))
        rec["message"] = f"NaN pattern differs from the reference at {bad} element(s)"
        return rec
    inf_ref = np.isinf(ref)
    if not np.array_equal(np.isinf(arr), inf_ref) or not np.array_equal(arr[inf_ref], ref[inf_ref]):
        rec["message"] = "infinities differ from the reference"
        return rec
    fin = ~(nan_ref | inf_ref)
    if fin.any():
        diff = np.abs(arr[fin] - ref[fin])
        sc = np.asarray(np.broadcast_to(scale, ref.shape))[fin]
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(diff == 0, 0.0, diff / np.maximum(sc, np.finfo(np.float64).tiny))
        rel = np.where(np.isnan(rel), np.inf, rel)
        rec["max_abs_error"] = float(diff.max())
        rec["max_error"] = float(min(rel.max(), np.finfo(np.float64).max))
    else:
        rec["max_abs_error"] = rec["max_error"] = 0.0
    rec["ok"] = bool(rec["max_error"] <= tol)
    if not rec["ok"]:
        rec["message"] = (f"max scaled error {rec['max_error']:.3g} exceeds tolerance "
                          f"{tol:.3g}")
    return rec
