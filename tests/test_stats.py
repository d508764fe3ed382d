"""Statistics: properties over random samples, and known values."""

from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suite import stats

samples = st.lists(st.integers(min_value=1, max_value=10**12), min_size=1, max_size=60)


@given(samples)
def test_median_within_min_max_and_ci_contains_it(xs):
    s = stats.summarize(xs)
    assert s["min"] <= s["q1"] <= s["median"] <= s["q3"] <= s["max"]
    assert s["ci95"][0] <= s["median"] <= s["ci95"][1]
    assert s["min"] <= s["mean"] * (1 + 1e-12) and s["mean"] <= s["max"] * (1 + 1e-12)
    assert s["mad"] >= 0 and s["stdev"] >= 0
    assert s["n"] == len(xs)


@given(samples, st.randoms(use_true_random=False))
def test_invariant_to_sample_order(xs, rnd):
    shuffled = list(xs)
    rnd.shuffle(shuffled)
    assert stats.summarize(xs) == stats.summarize(shuffled)


@given(samples, st.integers(min_value=2, max_value=1000))
def test_scaling_samples_scales_location_stats(xs, k):
    a, b = stats.summarize(xs), stats.summarize([x * k for x in xs])
    for key in ("median", "min", "max", "q1", "q3", "mad"):
        assert b[key] == pytest.approx(a[key] * k, rel=1e-12)


def test_known_values():
    s = stats.summarize([1, 2, 3, 4, 100])
    assert s["median"] == 3
    assert s["mean"] == 22
    assert s["q1"] == 2 and s["q3"] == 4
    assert s["mad"] == 1
    assert s["ci95"] == [1, 100]  # n=5 < 6: no order-statistic CI at 95%, so min..max
    assert s["stdev"] == pytest.approx(statistics.stdev([1, 2, 3, 4, 100]))


def test_median_ci_order_statistics():
    # n = 20: the 95% interval is [x(6), x(15)] (binomial tables).
    xs = list(range(1, 21))
    assert stats.median_ci(xs) == (6, 15)
    # n = 6 is the smallest n with a 95% interval: [x(1), x(6)], coverage 1 - 2/64.
    assert stats.median_ci(list(range(1, 7))) == (1, 6)


def test_median_ci_coverage_is_at_least_95_percent():
    rng = random.Random(1)
    n, trials, hits = 15, 4000, 0
    for _ in range(trials):
        xs = sorted(rng.expovariate(1.0) for _ in range(n))
        lo, hi = stats.median_ci(xs)
        hits += lo <= 0.6931471805599453 <= hi  # true median of Exp(1) is ln 2
    assert hits / trials >= 0.94


def test_warnings_have_codes_values_and_thresholds():
    s = stats.summarize([100, 150, 200, 300, 50])
    codes = {w["code"] for w in stats.warnings_for(s, loops=1)}
    assert codes == {"high-dispersion", "outliers", "short-samples", "few-samples"}
    steady = stats.summarize([10_000_000] * 10)
    assert stats.warnings_for(steady, loops=1) == []


def test_empty_samples_rejected():
    with pytest.raises(ValueError):
        stats.summarize([])
