"""Statistics of one cell, with the worker process as the unit of replication.

Samples from one worker process share its memory layout, CPU frequency and neighbours, so
they are not independent of each other: the between-process differences are usually the
larger part of the noise. Every interval here therefore rests on the *per-process medians*:

- a cell's time per call (`center`) is the geometric mean of its per-process medians;
- its 95% CI is the Student-t interval of the mean of the log per-process medians
  (P processes, P - 1 degrees of freedom), exact when those log medians are normal;
- `Location.log_draws` is that t distribution as `RESAMPLES` stratified draws (Latin
  hypercube: the t quantiles of a seeded permutation of the probability grid), so the same
  numbers combine into the CI of a ratio of two cells (compare, report, reproduce: the
  Behrens-Fisher fiducial interval, by Monte Carlo) or of a geometric mean of ratios
  (claims).

Documents without per-process samples (schema 1.0.0/1.1.0) and cells with a single
process fall back to the pooled samples (order-statistic CI of the median; bootstrap
draws of the median for ratios) and say so with a `pooled-ci` warning. Why this method and
not a two-stage bootstrap, with the simulation behind it: docs/report.md.
"""

from __future__ import annotations

import functools
import math
import statistics
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

LEVEL = 0.95  # every interval is a 95% one
RESAMPLES = 4000  # draws per location (stratified t, or bootstrap medians when pooled)
SEED = 20240501  # fixed: the same data always give the same interval

# Thresholds of the stability warnings (also written into every result document).
MAX_DISPERSION = 0.10  # MAD / median above this: high dispersion
MAX_SPREAD = 0.50  # (max - min) / median above this: outliers
MIN_SAMPLE_NS = 1_000_000  # a sample (loops x time per call) shorter than 1 ms: too short
MIN_SAMPLES = 6  # pooled CI only: below this the 95% CI of the median is just [min, max]
DRIFT_P = 0.001  # process-drift: one-way ANOVA F-test of log times across processes, p below
DRIFT_MIN_SPREAD = 0.02  # ... and the per-process medians span more than 2% of the center
THRESHOLDS = {"max_dispersion": MAX_DISPERSION, "max_spread": MAX_SPREAD,
              "min_sample_ns": MIN_SAMPLE_NS, "min_samples": MIN_SAMPLES,
              "drift_p": DRIFT_P, "drift_min_spread": DRIFT_MIN_SPREAD}


def seed_for(key: str) -> int:
    """The generator seed of everything random about `key` (a cell id, side-prefixed)."""
    return SEED ^ zlib.crc32(key.encode())


def quantile(sorted_xs: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (NumPy's default) of already sorted values."""
    if not sorted_xs:
        raise ValueError("quantile of no values")
    pos = q * (len(sorted_xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def median_ci(sorted_xs: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """Order-statistic confidence interval of the median of iid values (exact binomial
    coverage >= level): [x_(k), x_(n-k+1)] with the largest k such that
    P(Binomial(n, 1/2) < k) <= (1 - level) / 2. With too few values, (min, max)."""
    n = len(sorted_xs)
    cdf = sps.binom.cdf(np.arange(n + 1), n, 0.5)
    k = int(np.searchsorted(cdf, (1.0 - level) / 2, side="right"))
    if k == 0:
        return sorted_xs[0], sorted_xs[-1]
    return sorted_xs[k - 1], sorted_xs[n - k]


# -- locations: the process-level estimate and its sampling distribution ---------------------

@dataclass(frozen=True)
class Location:
    """A cell's time per call and draws from the sampling distribution of its logarithm."""

    center: float  # ns per call: geometric mean of per-process medians (pooled: the median)
    log_draws: np.ndarray  # RESAMPLES draws of log(center)'s sampling distribution
    method: str  # "processes" or "pooled"
    processes: int  # how many processes the samples came from (0: unknown)

    def ci(self, level: float = LEVEL) -> tuple[float, float]:
        """The `level` interval of the center (it always contains the center exactly:
        exp(log(center)) may differ from center in the last bit)."""
        lo, hi = interval(self.log_draws, math.log(self.center), level)
        return min(lo, self.center), max(hi, self.center)


def interval(log_draws: np.ndarray, log_center: float, level: float = LEVEL
             ) -> tuple[float, float]:
    """exp of the central `level` percentiles of draws, widened to contain the center."""
    tail = (1.0 - level) / 2 * 100
    lo, hi = np.percentile(log_draws, [tail, 100 - tail])
    return float(math.exp(min(lo, log_center))), float(math.exp(max(hi, log_center)))


def log_process_medians(groups: Sequence[Sequence[float]]) -> np.ndarray:
    """log of each process's median sample."""
    return np.log([float(np.median(np.asarray(g, dtype=np.float64))) for g in groups])


def t_location(log_medians: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, standard error) of log per-process medians along the last axis (>= 2 values);
    vectorised over any leading axes (the simulation tests use that)."""
    p = log_medians.shape[-1]
    return log_medians.mean(axis=-1), log_medians.std(axis=-1, ddof=1) / math.sqrt(p)


def t_quantile(df: int | np.ndarray, level: float = LEVEL) -> float | np.ndarray:
    """The two-sided `level` quantile of Student's t with df degrees of freedom."""
    return sps.t.ppf(0.5 + level / 2, df)


@functools.lru_cache(maxsize=256)
def t_grid(df: int, n: int) -> np.ndarray:
    """The t(df) quantiles of (0.5, 1.5, ..., n - 0.5) / n (read-only)."""
    q = sps.t.ppf((np.arange(n) + 0.5) / n, df)
    q.flags.writeable = False
    return q


def standard_t_draws(df: int, key: str, n: int = RESAMPLES) -> np.ndarray:
    """n stratified draws of Student's t with df degrees of freedom (`t_grid`), in an order
    seeded by key."""
    return t_grid(df, n)[np.random.default_rng(seed_for(key)).permutation(n)]


def pooled_log_draws(samples: Sequence[float], key: str, n: int = RESAMPLES) -> np.ndarray:
    """log medians of n bootstrap resamples of all samples as one iid set (sorted first)."""
    xs = np.sort(np.asarray(samples, dtype=np.float64))
    if xs.size == 0:
        raise ValueError("no samples")
    idx = np.random.default_rng(seed_for(key)).integers(0, xs.size, size=(n, xs.size))
    return np.log(np.median(xs[idx], axis=1))


def location(groups: Sequence[Sequence[float]], key: str) -> Location:
    """The location of samples grouped by worker process (the process-level method; one
    group falls back to pooled)."""
    groups = [g for g in groups if len(g)]
    if not groups:
        raise ValueError("no samples")
    if len(groups) < 2:
        return pooled_location([x for g in groups for x in g], key, len(groups))
    logm = log_process_medians(groups)
    center, se = t_location(logm)
    draws = float(center) + float(se) * standard_t_draws(len(groups) - 1, key)
    return Location(math.exp(float(center)), draws, "processes", len(groups))


def pooled_location(samples: Sequence[float], key: str, processes: int = 0) -> Location:
    """The pooled fallback: the median of all samples and bootstrap draws of it."""
    med = float(np.median(np.asarray(samples, dtype=np.float64)))
    return Location(med, pooled_log_draws(samples, key), "pooled", processes)


def cell_groups(cell: dict) -> list[list[float]] | None:
    """A document cell's samples grouped by process, or None when it does not record them
    (documents of schema 1.0.0 and 1.1.0)."""
    groups = cell.get("process_samples")
    return [list(g) for g in groups if g] if groups else None


def cell_location(cell: dict, key: str) -> Location:
    """The location of an ok document cell: process-level when the cell records its
    samples per process, pooled otherwise."""
    groups = cell_groups(cell)
    if groups is None:
        return pooled_location(cell["samples"], key, int(cell.get("processes") or 0))
    return location(groups, key)


# -- process drift -----------------------------------------------------------------------

def drift_p(groups: Sequence[Sequence[float]]) -> float | None:
    """p-value of a one-way ANOVA F-test of log times across processes: small when the
    processes differ more than their within-process spread explains. None when it cannot
    be computed (fewer than 2 processes, or no process with 2 samples)."""
    logs = [np.log(np.asarray(g, dtype=np.float64)) for g in groups if len(g)]
    n = sum(g.size for g in logs)
    p = len(logs)
    if p < 2 or n - p < 1:
        return None
    grand = np.concatenate(logs).mean()
    ssb = sum(g.size * (g.mean() - grand) ** 2 for g in logs)
    ssw = sum(((g - g.mean()) ** 2).sum() for g in logs)
    if ssw <= 0:
        return 0.0 if ssb > 0 else None
    f = (ssb / (p - 1)) / (ssw / (n - p))
    return float(sps.f.sf(f, p - 1, n - p))


# -- one cell's summary --------------------------------------------------------------------

def describe(xs: list[float]) -> dict:
    """median, mean, stdev, min, max, q1, q3 and MAD of sorted values."""
    med = statistics.median(xs)
    return {"n": len(xs), "median": med, "mean": statistics.fmean(xs),
            "stdev": statistics.stdev(xs) if len(xs) > 1 else 0.0, "min": xs[0],
            "max": xs[-1], "q1": quantile(xs, 0.25), "q3": quantile(xs, 0.75),
            "mad": statistics.median(abs(x - med) for x in xs)}


def summarize(samples: Sequence[float], groups: Sequence[Sequence[float]] | None = None,
              key: str = "") -> dict:
    """Descriptive statistics of all samples, and the cell's center with its 95% CI:
    process-level when `groups` (the samples per worker process) has 2 or more processes,
    else pooled (the order-statistic CI of the median). `key` seeds the draws."""
    if not samples:
        raise ValueError("no samples to summarize")
    xs = sorted(float(x) for x in samples)
    out = describe(xs)
    groups = [g for g in groups or [] if len(g)]
    if len(groups) >= 2:
        loc = location(groups, key)
        lo, hi = loc.ci()
        out.update(center=loc.center, ci95=[lo, hi], ci_method="processes",
                   processes=len(groups),
                   process_medians=[float(np.median(g)) for g in groups],
                   drift_p=drift_p(groups))
    else:
        lo, hi = median_ci(xs)
        out.update(center=out["median"], ci95=[lo, hi], ci_method="pooled")
        if groups:
            out["processes"] = len(groups)
    return out


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
    if stats.get("ci_method", "pooled") == "pooled":
        out += pooled_warnings(stats)
    drift = drift_warning(stats)
    if drift:
        out.append(drift)
    return out


def pooled_warnings(stats: dict) -> list[dict]:
    """A pooled CI says so; with few samples it is min..max."""
    out = [{"code": "pooled-ci", "value": stats.get("processes", 1), "threshold": 2,
            "message": f"{stats.get('processes', 1)} process(es): the CI treats the samples "
                       "as independent and ignores between-process variation"}]
    if stats["n"] < MIN_SAMPLES:
        out.append({"code": "few-samples", "value": stats["n"], "threshold": MIN_SAMPLES,
                    "message": f"{stats['n']} samples (< {MIN_SAMPLES}): the 95% CI is "
                               "min..max"})
    return out


def drift_warning(stats: dict) -> dict | None:
    """process-drift: the per-process medians disagree more than the within-process
    spread explains (F-test p < DRIFT_P) by a margin that matters (> DRIFT_MIN_SPREAD)."""
    p, meds = stats.get("drift_p"), stats.get("process_medians") or []
    if p is None or not meds:
        return None
    spread = max(meds) / min(meds) - 1
    if p >= DRIFT_P or spread <= DRIFT_MIN_SPREAD:
        return None
    return {"code": "process-drift", "value": p, "threshold": DRIFT_P,
            "message": f"the {len(meds)} per-process medians span {spread:.0%} (F-test p = "
                       f"{p:.1g} < {DRIFT_P:g}): the processes differ more than their "
                       "own noise explains (frequency, memory layout, neighbours); the CI "
                       "includes it"}


def fmt_ns(ns: float | None) -> str:
    """A time in nanoseconds as '12.3 ms' ('-' for None)."""
    if ns is None:
        return "-"
    for unit, div in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= div:
            return f"{ns / div:.3g} {unit}"
    return f"{ns:.3g} ns"
