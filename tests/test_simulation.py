"""Simulation: do the CIs and verdicts mean what they say, for every profile's shape?

Synthetic cells come from a model with both kinds of noise the suite meets: in log time,
x[p, v] = mu + b[p] + e[p, v] (+ a spike), with a between-process effect b ~ N(0, sb) per
worker process, within-process noise e ~ N(0, sw) per sample, and with probability 2% a
sample is slowed by a spike of 10% to 100% (log-normal times with occasional outliers).
The true time per call is the median time of a typical process: exp(mu + d), d the median
of the within-process distribution (0 without spikes).

For each profile (processes x values from suite/measure/profiles.py) and each (sb, sw) in
{0, 1, 2, 5%}^2:
- coverage: the nominal 95% CI of a cell covers the true time in >= 93% of cells;
- A/A: comparing two cells of identical code calls <= 5% of them faster or slower;
and at the full profile a planted 10% slowdown with realistic noise (sb = sw = 2%) is found
("slower") in most cells. The CIs are computed with the suite's own functions, vectorised
over simulated cells (checked against the per-cell path). Seeded: the same figures every
run. `python -m tests.test_simulation` prints the table docs/report.md shows.
"""

from __future__ import annotations

import itertools
import math
import sys
from functools import cache

import numpy as np
import pytest

from suite.analysis import compare
from suite.measure import profiles, stats

SDS = (0.0, 0.01, 0.02, 0.05)
SPIKE_P, SPIKE_LO, SPIKE_HI = 0.02, 0.10, 1.00
TRIALS_COVERAGE, TRIALS_AA, TRIALS_POWER = 2000, 600, 600
MIN_COVERAGE, MAX_FALSE_POSITIVES, MIN_POWER = 0.93, 0.05, 0.80
REALISTIC = (0.02, 0.02)  # (sb, sw) for the power figure
CELL = "matmul[dtype=float64,n=1024]/numpy/threads=1"  # the id that seeds the draws


def simulate(rng: np.random.Generator, n: int, p: int, v: int, sb: float, sw: float,
             scale: float = 1.0) -> np.ndarray:
    """n cells of p processes x v samples: log times (mu = log 1 ms)."""
    b = rng.normal(0.0, sb, (n, p, 1))
    e = rng.normal(0.0, sw, (n, p, v))
    spikes = (rng.random((n, p, v)) < SPIKE_P) * np.log1p(rng.uniform(SPIKE_LO, SPIKE_HI,
                                                                        (n, p, v)))
    return math.log(1e6 * scale) + b + e + spikes


@cache
def true_log_time(sw: float) -> float:
    """log of the typical process's median time: mu + the within distribution's median."""
    rng = np.random.default_rng(12345)
    x = simulate(rng, 1, 1, 2_000_000, 0.0, sw)
    return float(np.median(x))


def log_cis(logx: np.ndarray, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log center, se, t draws) of each simulated cell, with the suite's functions."""
    center, se = stats.t_location(np.median(logx, axis=2))
    return center, se, stats.standard_t_draws(logx.shape[1] - 1, key)


def cell_cis(logx: np.ndarray) -> np.ndarray:
    """The 95% CI (log) of each cell: stats.Location.ci, vectorised."""
    center, se, t = log_cis(logx, CELL)
    q = np.percentile(t, [2.5, 97.5])
    return np.stack([center + se * q[0], center + se * q[1]], axis=1)


def ratio_cis(base: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The 95% CI of NEW/BASE per cell: compare.ratio_interval, vectorised."""
    cb, sb, tb = log_cis(base, "base:" + CELL)
    cn, sn, tn = log_cis(new, "new:" + CELL)
    d = (cn - cb)[:, None] + sn[:, None] * tn[None, :] - sb[:, None] * tb[None, :]
    lo, hi = np.percentile(d, [2.5, 97.5], axis=1)
    mid = cn - cb
    return np.exp(np.stack([np.minimum(lo, mid), np.maximum(hi, mid)], axis=1))


def verdicts(cis: np.ndarray, threshold: float = compare.DEFAULT_THRESHOLD) -> list[str]:
    return [compare.verdict(ci, threshold) for ci in cis]


def figures(profile: profiles.Profile, sb: float, sw: float) -> dict[str, float]:
    """Coverage of the cell CI, A/A coverage of the ratio CI and A/A false-positive rate."""
    p, v = profile.processes, profile.values
    rng = np.random.default_rng([p, v, round(1e4 * sb), round(1e4 * sw)])
    cis = cell_cis(simulate(rng, TRIALS_COVERAGE, p, v, sb, sw))
    truth = true_log_time(sw)
    covered = np.mean((cis[:, 0] <= truth + 1e-12) & (truth - 1e-12 <= cis[:, 1]))
    rcis = ratio_cis(simulate(rng, TRIALS_AA, p, v, sb, sw),
                     simulate(rng, TRIALS_AA, p, v, sb, sw))
    called = verdicts(rcis)
    return {"coverage": float(covered),
            "aa_coverage": float(np.mean((rcis[:, 0] <= 1 + 1e-12) & (1 - 1e-12 <= rcis[:, 1]))),
            "false_positives": sum(c != "not significant" for c in called) / len(called)}


def power(profile: profiles.Profile, change: float = 1.10, sb: float = REALISTIC[0],
          sw: float = REALISTIC[1], seed: int = 7) -> float:
    """Share of cells a planted slowdown is called "slower" in."""
    rng = np.random.default_rng(seed)
    p, v = profile.processes, profile.values
    rcis = ratio_cis(simulate(rng, TRIALS_POWER, p, v, sb, sw),
                     simulate(rng, TRIALS_POWER, p, v, sb, sw, scale=change))
    return sum(c == "slower" for c in verdicts(rcis)) / TRIALS_POWER


PROFILES = list(profiles.PROFILES.values())


@pytest.mark.parametrize("profile", PROFILES, ids=[p.name for p in PROFILES])
def test_coverage_and_aa_false_positives(profile):
    bad = []
    for sb, sw in itertools.product(SDS, SDS):
        f = figures(profile, sb, sw)
        if f["coverage"] < MIN_COVERAGE or f["false_positives"] > MAX_FALSE_POSITIVES:
            bad.append((sb, sw, f))
    assert not bad, f"{profile.name} ({profile.processes}x{profile.values}): {bad}"


def test_a_planted_ten_percent_slowdown_is_found_at_the_full_profile():
    assert power(profiles.get("full")) >= MIN_POWER


def test_the_vectorised_path_is_the_suites_per_cell_path():
    """What this module computes for many cells at once equals stats.location and
    compare.ratio_interval applied to one cell."""
    rng = np.random.default_rng(3)
    base, new = simulate(rng, 3, 5, 3, 0.02, 0.02), simulate(rng, 3, 5, 3, 0.02, 0.02)
    cis, rcis = cell_cis(base), ratio_cis(base, new)
    for i in range(3):
        b = [list(np.exp(g)) for g in base[i]]
        n = [list(np.exp(g)) for g in new[i]]
        assert np.exp(cis[i]) == pytest.approx(stats.location(b, CELL).ci(), rel=1e-9)
        _, ci = compare.ratio_interval(stats.location(b, "base:" + CELL),
                                       stats.location(n, "new:" + CELL))
        assert rcis[i] == pytest.approx(ci, rel=1e-9)


def test_the_simulation_can_fail():
    """The same checks reject what the suite did before: pooled samples as iid (an
    order-statistic CI of the median) under between-process noise."""
    rng = np.random.default_rng(11)
    p, v = 6, 2
    logx = simulate(rng, TRIALS_COVERAGE, p, v, 0.05, 0.01).reshape(TRIALS_COVERAGE, -1)
    xs = np.sort(logx, axis=1)
    lo, hi = stats.median_ci(list(range(p * v)))
    truth = true_log_time(0.01)
    pooled = np.mean((xs[:, int(lo)] <= truth) & (truth <= xs[:, int(hi)]))
    assert pooled < MIN_COVERAGE
    assert power(profiles.get("smoke")) < MIN_POWER  # 2 processes cannot find 10%


def pooled_figures(profile: profiles.Profile, sb: float, sw: float, trials: int = 300,
                   resamples: int = 500) -> tuple[float, float]:
    """What the suite did before 1.2.0, for comparison: (coverage of the order-statistic
    CI of the pooled median, A/A share called faster/slower by the pooled bootstrap with
    the old rule "CI excludes 1 and |ratio - 1| > 5%")."""
    p, v = profile.processes, profile.values
    rng = np.random.default_rng([p, v, round(1e4 * sb), round(1e4 * sw), 1])
    xs = np.sort(simulate(rng, TRIALS_COVERAGE, p, v, sb, sw).reshape(TRIALS_COVERAGE, -1),
                 axis=1)
    lo, hi = stats.median_ci(list(range(p * v)))
    truth = true_log_time(sw)
    coverage = float(np.mean((xs[:, int(lo)] <= truth) & (truth <= xs[:, int(hi)])))

    def boot(x: np.ndarray) -> np.ndarray:
        idx = rng.integers(0, x.shape[1], (x.shape[0], resamples, x.shape[1]))
        return np.median(np.take_along_axis(x[:, None, :], idx, axis=2), axis=2)
    a = simulate(rng, trials, p, v, sb, sw).reshape(trials, -1)
    b = simulate(rng, trials, p, v, sb, sw).reshape(trials, -1)
    d = boot(b) - boot(a)
    lo_, hi_ = np.percentile(d, [2.5, 97.5], axis=1)
    r = np.median(b, axis=1) - np.median(a, axis=1)
    called = ((hi_ < 0) | (lo_ > 0)) & (np.abs(np.exp(r) - 1) > 0.05)
    return coverage, float(np.mean(called))


def two_stage_bootstrap_coverage(profile: profiles.Profile, sb: float = 0.04,
                                 sw: float = 0.01, trials: int = 400,
                                 resamples: int = 500) -> float:
    """The alternative not chosen, for docs/report.md: coverage of a two-stage bootstrap
    (resample processes, then samples within each) percentile CI of the pooled median."""
    p, v = profile.processes, profile.values
    rng = np.random.default_rng([p, v, 2])
    x = simulate(rng, trials, p, v, sb, sw)
    procs = rng.integers(0, p, (trials, resamples, p))
    within = rng.integers(0, v, (trials, resamples, p, v))
    picked = x[np.arange(trials)[:, None, None, None], procs[..., None], within]
    meds = np.median(picked.reshape(trials, resamples, -1), axis=2)
    lo, hi = np.percentile(meds, [2.5, 97.5], axis=1)
    truth = true_log_time(sw)
    return float(np.mean((lo <= truth) & (truth <= hi)))


def table() -> str:
    """The Markdown tables of docs/report.md (one per profile), with the pooled method the
    suite used before 1.2.0 beside them."""
    out = []
    for prof in PROFILES:
        out.append(f"**{prof.name}**: {prof.processes} processes x {prof.values} values; "
                   f"power for a planted 10% slowdown at sb = sw = 2%: "
                   f"{power(prof):.0%}; a two-stage bootstrap CI would cover "
                   f"{two_stage_bootstrap_coverage(prof):.0%} at 4% between, 1% within\n")
        out.append("| between SD | within SD | CI coverage | A/A ratio-CI coverage | A/A "
                   "faster/slower | before: pooled CI coverage | before: A/A faster/slower |")
        out.append("|---|---|---|---|---|---|---|")
        for sb, sw in itertools.product(SDS, SDS):
            f = figures(prof, sb, sw)
            old_cov, old_fp = pooled_figures(prof, sb, sw)
            out.append(f"| {sb:.0%} | {sw:.0%} | {f['coverage']:.1%} | "
                       f"{f['aa_coverage']:.1%} | {f['false_positives']:.1%} | "
                       f"{old_cov:.1%} | {old_fp:.1%} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(table())
