"""Statistics: properties over random samples, known values, the process-level CI and the
process-drift warning (both ways)."""

from __future__ import annotations

import math
import random
import statistics

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from suite.measure import stats

samples = st.lists(st.integers(min_value=1, max_value=10**12), min_size=1, max_size=60)
# 2..8 processes of 1..6 samples each
grouped = st.lists(st.lists(st.integers(min_value=1_000, max_value=10**10), min_size=1,
                            max_size=6), min_size=2, max_size=8)


def flat(groups):
    return [x for g in groups for x in g]


@given(samples)
def test_median_within_min_max_and_ci_contains_it(xs):
    s = stats.summarize(xs)
    assert s["min"] <= s["q1"] <= s["median"] <= s["q3"] <= s["max"]
    assert s["ci95"][0] <= s["median"] <= s["ci95"][1]
    assert s["min"] <= s["mean"] * (1 + 1e-12) and s["mean"] <= s["max"] * (1 + 1e-12)
    assert s["mad"] >= 0 and s["stdev"] >= 0
    assert s["n"] == len(xs)
    assert s["ci_method"] == "pooled" and s["center"] == s["median"]


@given(grouped)
@example([[3243, 3243], [3243, 3243]])  # equal processes: a zero-width interval
@settings(max_examples=80, deadline=None)
def test_process_level_ci_contains_the_center(groups):
    s = stats.summarize(flat(groups), groups, key="cell")
    assert s["ci_method"] == "processes" and s["processes"] == len(groups)
    assert s["ci95"][0] <= s["center"] <= s["ci95"][1]
    assert min(s["process_medians"]) <= s["center"] * (1 + 1e-12)
    assert s["center"] <= max(s["process_medians"]) * (1 + 1e-12)
    # The center is the geometric mean of the per-process medians.
    assert s["center"] == pytest.approx(statistics.geometric_mean(s["process_medians"]))


@given(samples, st.randoms(use_true_random=False))
def test_invariant_to_sample_order(xs, rnd):
    shuffled = list(xs)
    rnd.shuffle(shuffled)
    assert stats.summarize(xs) == stats.summarize(shuffled)


@given(grouped, st.randoms(use_true_random=False))
@settings(max_examples=40, deadline=None)
def test_process_level_invariant_to_order_within_and_of_processes(groups, rnd):
    shuffled = [rnd.sample(g, len(g)) for g in groups]
    rnd.shuffle(shuffled)
    a = stats.summarize(flat(groups), groups, key="k")
    b = stats.summarize(flat(shuffled), shuffled, key="k")
    for k in ("center", "median", "drift_p"):
        assert a[k] == (None if b[k] is None else pytest.approx(b[k], rel=1e-9, abs=1e-12))
    assert a["ci95"] == pytest.approx(b["ci95"], rel=1e-9)


@given(samples, st.integers(min_value=2, max_value=1000))
def test_scaling_samples_scales_location_stats(xs, k):
    a, b = stats.summarize(xs), stats.summarize([x * k for x in xs])
    for key in ("median", "min", "max", "q1", "q3", "mad"):
        assert b[key] == pytest.approx(a[key] * k, rel=1e-12)


@given(grouped, st.integers(min_value=2, max_value=1000))
@settings(max_examples=40, deadline=None)
def test_scaling_grouped_samples_scales_the_ci(groups, k):
    scaled = [[x * k for x in g] for g in groups]
    a = stats.summarize(flat(groups), groups, key="k")
    b = stats.summarize(flat(scaled), scaled, key="k")
    assert b["center"] == pytest.approx(a["center"] * k, rel=1e-9)
    assert b["ci95"] == pytest.approx([x * k for x in a["ci95"]], rel=1e-9)


def test_known_values():
    s = stats.summarize([1, 2, 3, 4, 100])
    assert s["median"] == 3
    assert s["mean"] == 22
    assert s["q1"] == 2 and s["q3"] == 4
    assert s["mad"] == 1
    assert s["ci95"] == [1, 100]  # n=5 < 6: no order-statistic CI at 95%, so min..max
    assert s["stdev"] == pytest.approx(statistics.stdev([1, 2, 3, 4, 100]))


def test_process_level_ci_is_the_student_t_interval():
    groups = [[100, 101, 102], [110, 111, 109], [95, 96, 97], [104, 103, 105]]
    s = stats.summarize(flat(groups), groups, key="x")
    logm = np.log([101, 110, 96, 104])
    half = 3.182446305 * logm.std(ddof=1) / 2  # t(0.975, 3) * s / sqrt(4)
    assert s["center"] == pytest.approx(math.exp(logm.mean()))
    assert s["ci95"] == pytest.approx([math.exp(logm.mean() - half),
                                       math.exp(logm.mean() + half)], rel=2e-3)


def test_between_process_spread_widens_the_ci_pooling_hides_it():
    """Each process is steady but they disagree by +-10%: pooling the 30 samples as
    independent gives a narrow CI; the process-level one is as wide as the processes say."""
    groups = [[m * (1 + 0.001 * j) for j in range(10)] for m in (90e6, 100e6, 110e6)]
    pooled = stats.summarize(flat(groups))
    proc = stats.summarize(flat(groups), groups, key="c")
    width = proc["ci95"][1] / proc["ci95"][0]
    assert pooled["ci95"][1] / pooled["ci95"][0] < 1.25
    assert width > 1.4  # t(2) = 4.3: 3 processes 10% apart say little
    assert any(w["code"] == "process-drift" for w in stats.warnings_for(proc, 1))


def test_median_ci_order_statistics():
    # n = 20: the 95% interval is [x(6), x(15)] (binomial tables).
    xs = list(range(1, 21))
    assert stats.median_ci(xs) == (6, 15)
    # n = 6 is the smallest n with a 95% interval: [x(1), x(6)], coverage 1 - 2/64.
    assert stats.median_ci(list(range(1, 7))) == (1, 6)


@pytest.mark.parametrize("n", [1023, 1024, 1500, 5000])
def test_median_ci_large_n_matches_exact_integer_arithmetic(n):
    """2.0**n overflowed at n >= 1024; the exact rule in integers agrees with the CDF."""
    total, cdf, k = 2**n, 0, 0
    for j in range(n + 1):
        cdf += math.comb(n, j)
        if cdf * 40 > total:  # cdf / 2**n > 0.025
            k = j
            break
    xs = list(range(1, n + 1))
    assert stats.median_ci(xs) == (k, n - k + 1)


def test_median_ci_coverage_is_at_least_95_percent():
    rng = random.Random(1)
    n, trials, hits = 15, 4000, 0
    for _ in range(trials):
        xs = sorted(rng.expovariate(1.0) for _ in range(n))
        lo, hi = stats.median_ci(xs)
        hits += lo <= 0.6931471805599453 <= hi  # true median of Exp(1) is ln 2
    assert hits / trials >= 0.94


def test_draws_are_deterministic_per_key_and_differ_between_keys():
    groups = [[100, 104, 99], [97, 98, 99], [103, 101, 102]]
    a, b = stats.location(groups, "cell-a"), stats.location(groups, "cell-a")
    c = stats.location(groups, "cell-b")
    assert np.array_equal(a.log_draws, b.log_draws)
    assert not np.array_equal(a.log_draws, c.log_draws)
    # Stratified: the same multiset of t quantiles whatever the key, so the same CI.
    assert a.ci() == pytest.approx(c.ci(), rel=1e-12)


def test_cell_location_falls_back_to_pooled_without_process_samples():
    cell = {"samples": [100, 101, 102, 103, 104, 105], "processes": 2}
    loc = stats.cell_location(cell, "k")
    assert loc.method == "pooled" and loc.center == 102.5 and loc.processes == 2
    cell["process_samples"] = [[100, 101, 102], [103, 104, 105]]
    loc = stats.cell_location(cell, "k")
    assert loc.method == "processes" and loc.processes == 2
    assert loc.center == pytest.approx(math.sqrt(101 * 104))


def test_warnings_have_codes_values_and_thresholds():
    s = stats.summarize([100, 150, 200, 300, 50])
    codes = {w["code"] for w in stats.warnings_for(s, loops=1)}
    assert codes == {"high-dispersion", "outliers", "short-samples", "few-samples", "pooled-ci"}
    steady = [[10_000_000 + i for i in range(3)] for _ in range(4)]
    s = stats.summarize(flat(steady), steady, key="k")
    assert stats.warnings_for(s, loops=1) == []
    for w in stats.warnings_for(stats.summarize([100, 150, 200, 300, 50]), loops=1):
        assert w["message"] and "value" in w and "threshold" in w


def drifting(spread: float, noise: float, p: int = 6, v: int = 5, seed: int = 0) -> list:
    """p processes whose medians sit `spread` apart in total, each with `noise` (relative SD)."""
    rng = np.random.default_rng(seed)
    shifts = np.linspace(-spread / 2, spread / 2, p)
    return [list(1e7 * np.exp(s + rng.normal(0, noise, v))) for s in shifts]


@pytest.mark.parametrize("seed", range(5))
def test_process_drift_fires_when_processes_disagree(seed):
    groups = drifting(spread=0.20, noise=0.01, seed=seed)
    s = stats.summarize(flat(groups), groups, key="k")
    (w,) = [w for w in stats.warnings_for(s, loops=1) if w["code"] == "process-drift"]
    assert w["value"] < stats.DRIFT_P and w["threshold"] == stats.DRIFT_P
    assert "per-process medians span" in w["message"]


@pytest.mark.parametrize("seed", range(5))
def test_no_process_drift_when_the_spread_is_within_process_noise(seed):
    # Same noise, no shift between processes: the medians differ only by chance.
    groups = drifting(spread=0.0, noise=0.05, seed=seed)
    s = stats.summarize(flat(groups), groups, key="k")
    assert s["drift_p"] > stats.DRIFT_P
    assert not [w for w in stats.warnings_for(s, 1) if w["code"] == "process-drift"]


def test_process_drift_ignores_tiny_but_significant_differences():
    # 0.5% apart with 0.01% noise: significant, but under the 2% that matters.
    groups = drifting(spread=0.005, noise=0.0001)
    s = stats.summarize(flat(groups), groups, key="k")
    assert s["drift_p"] < stats.DRIFT_P
    assert not [w for w in stats.warnings_for(s, 1) if w["code"] == "process-drift"]


def test_process_drift_false_alarm_rate_is_small():
    """Under no drift (pure within-process noise) the F-test fires at about its p level."""
    fired = 0
    for seed in range(300):
        groups = drifting(spread=0.0, noise=0.05, p=6, v=2, seed=seed)
        s = stats.summarize(flat(groups), groups, key="k")
        fired += any(w["code"] == "process-drift" for w in stats.warnings_for(s, 1))
    assert fired <= 3


def test_drift_p_needs_two_samples_in_some_process():
    assert stats.drift_p([[1.0], [2.0]]) is None
    assert stats.drift_p([[1.0, 1.0], [2.0, 2.0]]) == 0.0  # no noise at all, yet apart
    assert stats.drift_p([[1.0, 1.0], [1.0, 1.0]]) is None


def test_thresholds_are_numbers_and_documented():
    assert all(isinstance(v, (int, float)) for v in stats.THRESHOLDS.values())
    assert stats.THRESHOLDS["drift_p"] == stats.DRIFT_P


def test_empty_samples_rejected():
    with pytest.raises(ValueError):
        stats.summarize([])
    with pytest.raises(ValueError):
        stats.location([[], []], "k")
