"""compare: Hypothesis properties of the ratio/CI/verdict, known cases, document checks."""

from __future__ import annotations

import copy
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suite import compare, results, stats

from .conftest import suite_cmd

samples = st.lists(st.integers(min_value=1_000, max_value=10**10), min_size=1, max_size=30)


def make_cell(workload: str, params: dict, flavor: str, threads: int, xs: list[int],
              **extra) -> dict:
    canon = ",".join(f"{k}={params[k]}" for k in sorted(params))
    c = {"id": f"{workload}[{canon}]/{flavor}/threads={threads}", "workload": workload,
         "params": params, "flavor": flavor, "threads": threads, "status": "ok",
         "warnings": [], "samples": list(xs), "stats": stats.summarize(xs), "loops": 1,
         "check": {"ok": True, "tolerance": 1e-3, "max_error": 1e-7, "max_abs_error": 1e-6},
         "inputs_sha256": "ab" * 32, "flops": None}
    c.update(extra)
    return c


def make_doc(runtime: str, cells: list[dict], *, arch: str = "x86_64",
             cpu: str = "Test CPU", cores: int = 2, emulated: bool = False,
             profile: str = "quick", started: str = "2026-01-01T00:00:00Z",
             kind: str = "cpython", jit: bool = False, run_id: str = "20260101T000000Z",
             **runtime_extra) -> dict:
    doc = {
        "schema_version": results.SCHEMA_VERSION,
        "suite": {"version": "0.1.0", "git_commit": None, "git_dirty": None},
        "run": {"id": run_id, "profile": profile, "started": started, "updated": started,
                "finished": started, "complete": True, "interrupted": None, "seed": 0,
                "command": "test", "settings": {"processes": 3, "warmups": 1, "values": 4,
                                                "min_time_ns": 20_000_000, "max_loops": 10_000,
                                                "budget_s": 25.0}},
        "host": {"hostname": "t", "cpu_model": cpu, "arch": arch, "cores": cores,
                 "memory_bytes": 2**34, "os": "Test OS", "kernel": "6", "simd": [],
                 "emulated": emulated},
        "runtime": {"id": runtime, "kind": kind, "implementation": kind, "version": "3.13.0",
                    "jit": {"built": jit, "enabled": jit, "method": "test",
                            "expected": jit}, **runtime_extra},
        "backend": {"kind": "native"},
        "cells": cells,
    }
    results.validate(doc, "test document")
    return doc


def mm(xs, flavor="numpy", threads=1, n=64, **kw):
    return make_cell("matmul", {"dtype": "float64", "n": n}, flavor, threads, xs, **kw)


# -- properties ----------------------------------------------------------------------------

@given(samples)
@settings(max_examples=60, deadline=None)
def test_identical_samples_give_ratio_one_and_not_significant(xs):
    r, ci = compare.ratio_ci(xs, xs, "k")
    assert r == 1.0
    assert ci[0] <= 1.0 <= ci[1]
    assert compare.verdict(r, ci) == "not significant"
    c = compare.compare_cells(mm(xs), mm(xs))
    assert c["ratio"] == 1.0 and c["verdict"] == "not significant"


@given(samples, st.floats(min_value=0.05, max_value=50))
@settings(max_examples=60, deadline=None)
def test_scaling_new_samples_scales_the_ratio(xs, k):
    r, ci = compare.ratio_ci(xs, [x * k for x in xs], "k")
    assert r == pytest.approx(k, rel=1e-9)
    assert ci[0] <= r <= ci[1]


@given(samples, samples, st.randoms(use_true_random=False))
@settings(max_examples=60, deadline=None)
def test_sample_order_is_irrelevant(a, b, rnd):
    a2, b2 = list(a), list(b)
    rnd.shuffle(a2)
    rnd.shuffle(b2)
    assert compare.ratio_ci(a, b, "cell") == compare.ratio_ci(a2, b2, "cell")


@given(samples, samples)
@settings(max_examples=40, deadline=None)
def test_verdict_matches_ci_and_threshold(a, b):
    r, ci = compare.ratio_ci(a, b, "cell")
    v = compare.verdict(r, ci, 0.05)
    if v == "faster":
        assert ci[1] < 1 and r < 0.95
    elif v == "slower":
        assert ci[0] > 1 and r > 1.05
    else:
        assert ci[0] <= 1 <= ci[1] or abs(r - 1) <= 0.05


# -- known cases ---------------------------------------------------------------------------

def test_known_cases():
    base = [100_000 + i for i in range(10)]
    r, ci = compare.ratio_ci(base, [2 * x for x in base])
    assert r == pytest.approx(2.0) and compare.verdict(r, ci) == "slower"
    r, ci = compare.ratio_ci(base, [x // 2 for x in base])
    assert r == pytest.approx(0.5, rel=1e-4) and compare.verdict(r, ci) == "faster"
    # Constant samples 3% apart: the CI excludes 1 but the change is under the threshold.
    r, ci = compare.ratio_ci([100] * 10, [103] * 10)
    assert ci == (pytest.approx(1.03), pytest.approx(1.03))
    assert compare.verdict(r, ci, 0.05) == "not significant"
    assert compare.verdict(r, ci, 0.01) == "slower"
    # Overlapping noisy samples: not significant.
    rng = random.Random(3)
    a = [rng.randint(90, 110) for _ in range(12)]
    b = [rng.randint(90, 110) for _ in range(12)]
    assert compare.verdict(*compare.ratio_ci(a, b)) == "not significant"


def test_geomean_counts_not_significant_as_one():
    cells = [{"ratio": 0.5, "verdict": "faster"}, {"ratio": 2.0, "verdict": "slower"},
             {"ratio": 1.5, "verdict": "not significant"},
             {"ratio": 3.0, "verdict": "not comparable"}]
    g = compare.summarize_group(cells)
    assert g["geomean"] == pytest.approx(1.0)
    assert g["geomean_raw"] == pytest.approx((0.5 * 2.0 * 1.5) ** (1 / 3))
    assert (g["n"], g["faster"], g["slower"], g["not_significant"]) == (3, 1, 1, 1)


def test_compare_documents_lists_one_sided_cells_and_groups():
    xs = [1_000_000 + 1000 * i for i in range(12)]
    base = make_doc("cpython-3.12", [mm(xs), mm(xs, "pure"), mm(xs, n=128)])
    new = make_doc("cpython-3.13", [mm([x // 2 for x in xs]), mm(xs, "pure"),
                                    mm(xs, threads=2)])
    res = compare.compare_documents(base, new)
    assert res["comparable"] and res["reasons"] == []
    by = {c["id"]: c for c in res["cells"]}
    assert set(by) == {mm(xs)["id"], mm(xs, "pure")["id"]}
    assert by[mm(xs)["id"]]["verdict"] == "faster"
    assert by[mm(xs, "pure")["id"]]["verdict"] == "not significant"
    assert res["only_base"] == [mm(xs, n=128)["id"]]
    assert res["only_new"] == [mm(xs, threads=2)["id"]]
    assert res["geomean"]["by_flavor"]["numpy"]["geomean"] == pytest.approx(0.5, rel=1e-3)
    assert res["geomean"]["by_flavor"]["pure"]["geomean"] == 1.0
    assert res["geomean"]["overall"]["geomean"] == pytest.approx(0.5 ** 0.5, rel=1e-3)
    for c in res["cells"]:
        assert set(c) >= {"id", "ratio", "ci95", "verdict", "base_median", "new_median"}
    json.dumps(res)  # machine-readable


@pytest.mark.parametrize("change, reason", [
    ({"cpu": "Other CPU"}, "CPU model"),
    ({"arch": "aarch64"}, "architecture"),
    ({"cores": 16}, "core count"),
    ({"emulated": True}, "emulated vs native"),
    ({"profile": "smoke"}, "different profile settings"),
])
def test_not_comparable_documents_are_flagged(change, reason):
    xs = [1_000_000 + i for i in range(8)]
    base = make_doc("cpython-3.12", [mm(xs)])
    new = make_doc("cpython-3.13", [mm(xs)], **{k: v for k, v in change.items()
                                               if k != "profile"})
    if "profile" in change:
        new["run"]["settings"]["processes"] = 2
        new["run"]["profile"] = "smoke"
    res = compare.compare_documents(base, new)
    assert not res["comparable"]
    assert any(reason in r for r in res["reasons"]), res["reasons"]
    assert all(c["verdict"] == "not comparable" for c in res["cells"])
    assert res["geomean"]["overall"]["geomean"] is None


def test_different_inputs_make_a_cell_not_comparable():
    xs = [1_000_000 + i for i in range(8)]
    base = make_doc("cpython-3.12", [mm(xs), mm(xs, "pure")])
    new = make_doc("cpython-3.13", [mm(xs, inputs_sha256="cd" * 32), mm(xs, "pure")])
    res = compare.compare_documents(base, new)
    by = {c["id"]: c for c in res["cells"]}
    assert by[mm(xs)["id"]]["verdict"] == "not comparable"
    assert "inputs" in by[mm(xs)["id"]]["note"]
    assert by[mm(xs, "pure")["id"]]["verdict"] == "not significant"


def test_failed_or_skipped_cells_have_no_ratio():
    xs = [1_000_000 + i for i in range(8)]
    failed = {k: v for k, v in mm(xs).items() if k not in ("stats",)}
    failed.update(status="failed", error="boom", samples=[])
    base = make_doc("cpython-3.12", [mm(xs)])
    new = make_doc("cpython-3.13", [failed])
    (c,) = compare.compare_documents(base, new)["cells"]
    assert c["ratio"] is None and c["verdict"] == "no data" and "boom" in c["note"]


def test_cli_table_json_and_exit_codes(tmp_path):
    xs = [1_000_000 + 1000 * i for i in range(12)]
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    a.write_text(json.dumps(make_doc("cpython-3.12", [mm(xs)])))
    b.write_text(json.dumps(make_doc("cpython-3.13", [mm([2 * x for x in xs])])))
    c.write_text(json.dumps(make_doc("cpython-3.13", [mm(xs)], arch="aarch64")))
    p = suite_cmd("compare", str(a), str(b))
    assert p.returncode == 0, p.stderr
    assert "slower" in p.stdout and "2.000" in p.stdout and "geometric mean" in p.stdout
    p = suite_cmd("compare", str(a), str(b), "--json", "--threshold", "150")
    res = json.loads(p.stdout)
    assert res["threshold"] == 1.5 and res["cells"][0]["verdict"] == "not significant"
    p = suite_cmd("compare", str(a), str(c))
    assert p.returncode == 1 and "NOT COMPARABLE" in p.stdout
    bad = tmp_path / "bad.json"
    doc = copy.deepcopy(json.loads(a.read_text()))
    del doc["host"]
    bad.write_text(json.dumps(doc))
    p = suite_cmd("compare", str(a), str(bad))
    assert p.returncode == 2 and "bad.json" in p.stderr and "host" in p.stderr
