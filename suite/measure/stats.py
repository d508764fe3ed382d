"""Statistics of one cell's samples, and the stability warnings with their thresholds.

Pure standard library: the orchestrator summarises raw samples (nanoseconds per call)
gathered from several worker processes. The 95% confidence interval of the median is the
distribution-free one from order statistics (binomial), so it assumes nothing about the
shape of the timing distribution.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

# Thresholds of the stability warnings (also written into every result document).
MAX_DISPERSION = 0.10  # MAD / median above this: high dispersion
MAX_SPREAD = 0.50  # (max - min) / median above this: outliers
MIN_SAMPLE_NS = 1_000_000  # a sample (loops x time per call) shorter than 1 ms: too short
MIN_SAMPLES = 6  # below this the 95% CI of the median is just [min, max]
THRESHOLDS = {"max_dispersion": MAX_DISPERSION, "max_spread": MAX_SPREAD,
              "min_sample_ns": MIN_SAMPLE_NS, "min_samples": MIN_SAMPLES}


def quantile(sorted_xs: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (NumPy's default) of already sorted values."""
    if not sorted_xs:
        raise ValueError("quantile of no values")
    pos = q * (len(sorted_xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def median_ci(sorted_xs: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Order-statistic confidence interval of the median (exact binomial coverage >= level).

    With too few values for the requested coverage, returns (min, max).
    """
    n = len(sorted_xs)
    alpha = 1.0 - level
    # Largest k such that P(Binomial(n, 1/2) < k) <= alpha/2; the CI is [x_(k), x_(n-k+1)].
    cdf, k = 0.0, 0
    for j in range(n + 1):
        cdf += math.comb(n, j) / 2.0**n
        if cdf > alpha / 2:
            k = j
            break
    if k == 0:
        return sorted_xs[0], sorted_xs[-1]
    return sorted_xs[k - 1], sorted_xs[n - k]


def summarize(samples: Sequence[float]) -> dict:
    """median, mean, stdev, min, max, q1, q3, MAD and the 95% CI of the median."""
    if not samples:
        raise ValueError("no samples to summarize")
    xs = sorted(float(x) for x in samples)
    med = statistics.median(xs)
    lo, hi = median_ci(xs)
    return {
        "n": len(xs),
        "median": med,
        "mean": statistics.fmean(xs),
        "stdev": statistics.stdev(xs) if len(xs) > 1 else 0.0,
        "min": xs[0],
        "max": xs[-1],
        "q1": quantile(xs, 0.25),
        "q3": quantile(xs, 0.75),
        "mad": statistics.median(abs(x - med) for x in xs),
        "ci95": [lo, hi],
    }


def warnings_for(stats: dict, loops: int) -> list[dict]:
    """Stability warnings, each with its code, message, measured value and threshold."""
    out = []
    med = stats["median"]
    if med > 0 and stats["mad"] / med > MAX_DISPERSION:
        v = stats["mad"] / med
        out.append({"code": "high-dispersion", "value": v, "threshold": MAX_DISPERSION,
                    "message": f"MAD is {v:.0%} of the median (> {MAX_DISPERSION:.0%})"})
    if med > 0 and (stats["max"] - stats["min"]) / med > MAX_SPREAD:
        v = (stats["max"] - stats["min"]) / med
        out.append({"code": "outliers", "value": v, "threshold": MAX_SPREAD,
                    "message": f"max - min is {v:.0%} of the median (> {MAX_SPREAD:.0%})"})
    if stats["min"] * loops < MIN_SAMPLE_NS:
        v = stats["min"] * loops
        out.append({"code": "short-samples", "value": v, "threshold": MIN_SAMPLE_NS,
                    "message": f"shortest sample {v / 1e6:.3g} ms (< {MIN_SAMPLE_NS / 1e6:g} ms)"})
    if stats["n"] < MIN_SAMPLES:
        out.append({"code": "few-samples", "value": stats["n"], "threshold": MIN_SAMPLES,
                    "message": f"{stats['n']} samples (< {MIN_SAMPLES}): the 95% CI is min..max"})
    return out


def fmt_ns(ns: float | None) -> str:
    """A time in nanoseconds as '12.3 ms' ('-' for None)."""
    if ns is None:
        return "-"
    for unit, div in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= div:
            return f"{ns / div:.3g} {unit}"
    return f"{ns:.3g} ns"
