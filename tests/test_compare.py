"""compare: Hypothesis properties of the ratio/CI/verdict, known cases, the process-level
CI, the symmetric threshold, document checks."""

from __future__ import annotations

import copy
import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suite import documents
from suite.analysis import compare
from suite.measure import stats
from tests.conftest import suite_cmd

samples = st.lists(st.integers(min_value=1_000, max_value=10**10), min_size=1, max_size=30)
grouped = st.lists(st.lists(st.integers(min_value=1_000, max_value=10**10), min_size=1,
                            max_size=5), min_size=2, max_size=6)


def make_cell(workload: str, params: dict, flavor: str, threads: int, xs: list[int],
              per_process: int | None = None, **extra) -> dict:
    """An ok cell; `per_process` groups the samples into processes of that many values (a
    1.2.0 cell), else they are pooled as in documents before 1.2.0."""
    canon = ",".join(f"{k}={params[k]}" for k in sorted(params))
    cid = f"{workload}[{canon}]/{flavor}/threads={threads}"
    groups = [list(xs[i:i + per_process]) for i in range(0, len(xs), per_process)] \
        if per_process else None
    c = {"id": cid, "workload": workload,
         "params": params, "flavor": flavor, "threads": threads, "status": "ok",
         "warnings": [], "samples": list(xs), "stats": stats.summarize(xs, groups, key=cid),
         "loops": 1,
         "check": {"ok": True, "tolerance": 1e-3, "max_error": 1e-7, "max_abs_error": 1e-6},
         "inputs_sha256": "ab" * 32, "flops": None}
    if groups:
        c.update(process_samples=groups, processes=len(groups))
    c.update(extra)
    return c


PROCESS_STATS = ("center", "ci_method", "processes", "process_medians", "drift_p")


def strip_process_statistics(doc: dict) -> dict:
    """Drop what schema 1.2.0 added for process-level statistics (process_samples, the new
    stats keys), as a document of 1.0.0/1.1.0 would lack them."""
    for c in doc["cells"]:
        c.pop("process_samples", None)
        for k in PROCESS_STATS:
            (c.get("stats") or {}).pop(k, None)
    return doc


def make_doc(runtime: str, cells: list[dict], *, arch: str = "x86_64",
             cpu: str = "Test CPU", cores: int = 2, emulated: bool = False,
             profile: str = "quick", started: str = "2026-01-01T00:00:00Z",
             kind: str = "cpython", jit: bool = False, run_id: str = "20260101T000000Z",
             **runtime_extra) -> dict:
    doc = {
        "schema_version": documents.SCHEMA_VERSION,
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
    documents.validate(doc, "test document")
    return doc


def mm(xs, flavor="numpy", threads=1, n=64, **kw):
    return make_cell("matmul", {"dtype": "float64", "n": n}, flavor, threads, xs, **kw)


# -- properties ----------------------------------------------------------------------------

@given(samples)
@settings(max_examples=60, deadline=None)
def test_identical_samples_give_ratio_one_and_not_significant(xs):
    r, ci = compare.ratio_ci([xs], [xs], "k")
    assert r == 1.0
    assert ci[0] <= 1.0 <= ci[1]
    assert compare.verdict(ci) == "not significant"
    c = compare.compare_cells(mm(xs), mm(xs))
    assert c["ratio"] == 1.0 and c["verdict"] == "not significant"


@given(grouped)
@settings(max_examples=60, deadline=None)
def test_identical_processes_give_ratio_one_and_a_symmetric_ci(groups):
    r, ci = compare.ratio_ci(groups, groups, "k")
    assert r == 1.0
    assert ci[0] <= 1.0 <= ci[1]
    # Symmetric on the log scale, up to the Monte Carlo error of the draws.
    lo, hi = math.log(ci[0]), math.log(ci[1])
    assert abs(lo + hi) <= 0.05 * (hi - lo) + 1e-12


@given(grouped, st.floats(min_value=0.05, max_value=50))
@settings(max_examples=60, deadline=None)
def test_scaling_new_samples_scales_the_ratio(groups, k):
    r, ci = compare.ratio_ci(groups, [[x * k for x in g] for g in groups], "k")
    assert r == pytest.approx(k, rel=1e-9)
    assert ci[0] <= r <= ci[1]


@given(grouped, grouped, st.randoms(use_true_random=False))
@settings(max_examples=60, deadline=None)
def test_sample_and_process_order_is_irrelevant(a, b, rnd):
    a2, b2 = [rnd.sample(g, len(g)) for g in a], [rnd.sample(g, len(g)) for g in b]
    rnd.shuffle(a2)
    rnd.shuffle(b2)
    r, ci = compare.ratio_ci(a, b, "cell")
    r2, ci2 = compare.ratio_ci(a2, b2, "cell")
    assert r == pytest.approx(r2, rel=1e-12) and ci == pytest.approx(ci2, rel=1e-9)
    flat = [x for g in a for x in g]
    assert compare.ratio_ci([flat], [flat], "c") == compare.ratio_ci([sorted(flat)],
                                                                      [flat[::-1]], "c")


@given(grouped, grouped, st.sampled_from([0.0, 0.01, 0.05, 0.5]))
@settings(max_examples=60, deadline=None)
def test_verdict_is_the_symmetric_ci_rule(a, b, t):
    r, ci = compare.ratio_ci(a, b, "cell")
    v = compare.verdict(ci, t)
    if v == "faster":
        assert ci[1] < 1 / (1 + t) and r < 1 / (1 + t)
    elif v == "slower":
        assert ci[0] > 1 + t and r > 1 + t
    else:
        assert ci[0] <= 1 + t and ci[1] >= 1 / (1 + t)
    # The inverse ratio's CI gets the mirrored verdict.
    mirrored = compare.verdict((1 / ci[1], 1 / ci[0]), t)
    assert mirrored == {"faster": "slower", "slower": "faster"}.get(v, v)
    assert compare.ratio_ci(b, a, "cell")[0] == pytest.approx(1 / r)


# -- known cases ---------------------------------------------------------------------------

def test_known_cases():
    base = [100_000 + i for i in range(10)]
    r, ci = compare.ratio_ci([base], [[2 * x for x in base]])
    assert r == pytest.approx(2.0) and compare.verdict(ci) == "slower"
    r, ci = compare.ratio_ci([base], [[x // 2 for x in base]])
    assert r == pytest.approx(0.5, rel=1e-4) and compare.verdict(ci) == "faster"
    # Constant samples 3% apart: the CI excludes 1 but lies within the threshold.
    r, ci = compare.ratio_ci([[100] * 10], [[103] * 10])
    assert ci == (pytest.approx(1.03), pytest.approx(1.03))
    assert compare.verdict(ci, 0.05) == "not significant"
    assert compare.verdict(ci, 0.01) == "slower"
    # Overlapping noisy samples: not significant.
    rng = random.Random(3)
    a = [rng.randint(90, 110) for _ in range(12)]
    b = [rng.randint(90, 110) for _ in range(12)]
    assert compare.verdict(compare.ratio_ci([a], [b])[1]) == "not significant"


@pytest.mark.parametrize("new, expected", [
    (95_230, "faster"),  # 0.9523 < 1/1.05 = 0.95238: faster, as 1.0501 is slower
    (95_240, "not significant"),  # 0.9524: within 1/1.05..1.05
    (105_010, "slower"),
    (104_990, "not significant"),
])
def test_threshold_is_symmetric_on_the_log_scale(new, expected):
    """Old rule: 1.05 was slower but 0.952 (the same change the other way) was not faster."""
    ci = compare.ratio_ci([[100_000] * 6] * 3, [[new] * 6] * 3)[1]
    assert compare.verdict(ci, 0.05) == expected
    assert compare.bounds(0.05) == (pytest.approx(1 / 1.05), 1.05)


def test_equivalence_needs_the_whole_ci_inside_the_band():
    assert compare.equivalence((0.97, 1.04)) == "reproduced"
    assert compare.equivalence((0.95, 1.88)) == "inconclusive"  # a wide CI is no evidence
    assert compare.equivalence((1.06, 1.88)) == "slower"
    assert compare.equivalence((0.5, 0.9)) == "faster"
    assert compare.equivalence((0.9, 1.01)) == "inconclusive"


def test_processes_to_decide():
    # Half-width 0.1 (log) at 3 processes: spread = 0.1 sqrt(3) / t(2) = 0.0403; the band's
    # edge is log(1.05) = 0.0488 away; t(P'-1) 0.0403 / sqrt(P') <= 0.0488 first at P' = 6.
    ci = (math.exp(-0.1), math.exp(0.1))
    assert compare.processes_to_decide(1.0, ci, 0.05, 3) == 6
    # The same CI at 2 processes (t(1) = 12.7) means a far smaller spread: 3 decide it.
    assert compare.processes_to_decide(1.0, ci, 0.05, 2) == 3
    # 1.35 with a wide CI: 0.251 from the edge; never fewer than one more process.
    ci = (1.35 * math.exp(-0.5), 1.35 * math.exp(0.5))
    need = compare.processes_to_decide(1.35, ci, 0.05, 6)
    spread = 0.5 * math.sqrt(6) / stats.t_quantile(5)
    assert stats.t_quantile(need - 1) * spread / math.sqrt(need) <= math.log(1.35 / 1.05)
    assert stats.t_quantile(need - 2) * spread / math.sqrt(need - 1) > math.log(1.35 / 1.05)
    assert compare.processes_to_decide(1.05, (1.0, 1.1), 0.05, 6) is None  # on the edge
    assert compare.processes_to_decide(1.0, (0.5, 2.0), 0.05, 1) is None  # pooled


def test_between_process_differences_widen_the_ratio_ci():
    """4 steady processes up to 8% apart on each side, NEW 8% slower: pooling the 100
    samples as independent calls it "slower"; the process-level CI says it cannot tell."""
    def cells(scale):
        return [[scale * m * (1 + 0.0001 * j) for j in range(25)]
                for m in (0.96e6, 0.99e6, 1.01e6, 1.04e6)]
    base, new = cells(1.0), cells(1.08)
    pooled_ci = compare.ratio_ci([[x for g in base for x in g]], [[x for g in new for x in g]],
                                 "c")[1]
    assert compare.verdict(pooled_ci) == "slower"
    ci = compare.ratio_ci(base, new, "c")[1]
    assert compare.verdict(ci) == "not significant"
    assert ci[0] < 1.0 < ci[1]


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


def test_documents_without_process_samples_fall_back_to_pooled_and_say_so():
    xs = [1_000_000 + 1000 * i for i in range(12)]
    old = make_doc("cpython-3.12", [mm(xs)])  # cells as documents before 1.2.0 had them
    new = make_doc("cpython-3.12", [mm(xs, per_process=2)], run_id="20260102T000000Z")
    res = compare.compare_documents(old, new)
    (c,) = res["cells"]
    assert c["method"] == "pooled" and c["processes"] == [None, 6]
    assert any("BASE" in w and "fall back to pooling" in w for w in res["warnings"])
    assert not any("NEW" in w and "pooling" in w for w in res["warnings"])
    assert any("different runs" in w for w in res["warnings"])
    res = compare.compare_documents(new, new)
    assert res["cells"][0]["method"] == "processes"
    assert not any("pooling" in w or "different runs" in w for w in res["warnings"])
    text = compare.render_text(res)
    assert "Behrens-Fisher" in text and "0.952" in text and "1.050" in text
