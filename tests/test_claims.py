"""claims: the data file against its schema, a verdict for every claim, "not measured"
for missing cells, and the fair comparisons on synthetic documents."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from suite import claims
from suite.report import load

from .conftest import suite_cmd
from .test_compare import make_cell, make_doc
from .test_report import smoke_results  # noqa: F401  (session fixture: a real smoke run)


def test_schema_is_valid_draft_2020_12_with_a_versioned_id():
    s = claims.schema()
    Draft202012Validator.check_schema(s)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "/1.0.0/" in s["$id"]
    assert s["properties"]["schema_version"] == {"const": "1.0.0"}


def test_every_claim_validates_and_ids_are_unique():
    data = json.loads(claims.DATA_PATH.read_text())
    assert claims.violations(data) == []
    ids = [c["id"] for c in data["claims"]]
    assert len(ids) == len(set(ids))
    validator = Draft202012Validator(claims.schema()["$defs"]["claim"] | {
        "$defs": claims.schema()["$defs"]})
    for c in data["claims"]:
        errs = list(validator.iter_errors(c))
        assert not errs, (c["id"], [e.message for e in errs])
    # The numbers of shared/facts/claims.md are all there.
    values = {c["value"] for c in data["claims"]}
    for v in (112, 1820, 34, 3.3, 890, 14500, 210, 4.2, 12.8, 184, 2.4, 5.3, 420, 89, 4.7,
              5.2, 42, 3.1, 128, 24, 12400, 0.0001):
        assert v in values, v
    assert any(c.get("value_range") == [4, 5] for c in data["claims"])


def test_schema_rejects_a_bad_claim():
    data = json.loads(claims.DATA_PATH.read_text())
    data["claims"][0].pop("quote")
    data["claims"][1]["measure"]["cell"]["threads"] = "many"
    errs = claims.violations(data)
    assert any("quote" in e for e in errs) and any("threads" in e or "many" in e for e in errs)


def test_every_claim_gets_a_verdict_on_real_results(smoke_results):  # noqa: F811
    docs, problems = load.load([smoke_results])
    assert not problems
    machines = load.group(docs)
    data = claims.load_claims()
    res = claims.evaluate(machines, data)
    method = [c for c in data["claims"] if c["kind"] == "method"]
    assert len(res) == len(method) + (len(data["claims"]) - len(method)) * len(machines)
    assert {r.claim["id"] for r in res} == {c["id"] for c in data["claims"]}
    for r in res:
        assert r.verdict in claims.VERDICTS and r.reason
    by = {r.claim["id"]: r for r in res}
    # The smoke profile has no 1024/2048 matmul and no Mojo: those claims are not measured.
    for cid in ("table-matmul-1024-speedup", "table-matmul-2048-mojo",
                "insight-mojo-5.2x-matmul-1024", "cost-mojo-24", "jit-fp-drift-1e-4"):
        assert by[cid].verdict == "not measured", (cid, by[cid].reason)
        assert by[cid].reason
    assert by["cost-python-128"].verdict == "consistent"
    assert by["method-pythonjit-variable"].verdict == "contradicted"
    assert by["method-pythonjit-variable"].claim["sources"]


P1024 = {"dtype": "float32", "n": 1024}
P1024_64 = {"dtype": "float64", "n": 1024}
LINREG = {"dim": 10, "batch": 64, "batches": 100, "epochs": 5, "lr": 0.01, "dtype": "float32"}


def xs(base: float) -> list[int]:
    return [int(base * (1 + i / 1000)) for i in range(12)]


def machine(speedup: float, **host) -> load.Machine:
    py = make_doc("cpython-3.13", [
        make_cell("matmul", P1024, "numpy", 1, xs(20e6)),
        make_cell("matmul", P1024_64, "numpy", 2, xs(40e6)),
        make_cell("linreg", LINREG, "numpy", 1, xs(3e6))], **host)
    py12 = make_doc("cpython-3.12", [make_cell("linreg", LINREG, "numpy", 1, xs(3e6))],
                    **host)
    mojo = make_doc("mojo-1.2", [
        make_cell("matmul", P1024, "mojo-simd", 1, xs(20e6 / speedup)),
        make_cell("linreg", LINREG, "mojo-simd", 1, xs(3e6 / speedup))],
        kind="mojo", mojo={"mojo_version": "1.2.0"}, **host)
    docs = [load.Doc(load.Path(f"{i}.json"), d) for i, d in enumerate((py, py12, mojo))]
    (m,) = load.group(docs)
    return m


def results_by_id(m: load.Machine) -> dict[str, claims.Result]:
    return {r.claim["id"]: r for r in claims.evaluate([m])}


def test_speedup_claims_compare_ratios_across_hardware():
    r = results_by_id(machine(3.3))
    assert r["table-matmul-1024-speedup"].verdict == "consistent"
    assert r["table-matmul-1024-speedup"].value == pytest.approx(3.3, rel=1e-3)
    assert r["insight-mojo-5.2x-matmul-1024"].verdict == "not reproduced"
    r = results_by_id(machine(1.0))
    assert r["table-matmul-1024-speedup"].verdict == "not reproduced"
    assert "3.3" in r["table-matmul-1024-speedup"].reason


def test_absolute_times_only_on_matching_hardware():
    r = results_by_id(machine(3.3))
    t = r["table-matmul-1024-numpy"]
    assert t.verdict == "not comparable" and "other hardware" in t.reason
    assert "40" in t.measured  # still says what we measured
    g = results_by_id(machine(3.3, arch="aarch64", cpu="AWS Graviton3 (Neoverse-V1)",
                              cores=16))
    # 40 ms measured against a claimed 112 ms on matching hardware: not reproduced.
    assert g["table-matmul-1024-numpy"].verdict == "not reproduced"


def test_cost_claims_are_recomputed_from_measured_speedups():
    r = results_by_id(machine(128 / 24))
    c = r["cost-mojo-24"]
    assert c.verdict == "consistent" and c.value == pytest.approx(24, rel=1e-3)
    s = r["cost-12400-per-month"]
    assert s.value == pytest.approx(100 * 730 * 1.28 * (1 - 24 / 128), rel=1e-3)
    assert s.verdict == "not reproduced"
    r2 = results_by_id(machine(2.0))
    assert r2["cost-mojo-24"].value == pytest.approx(64, rel=1e-3)
    assert r2["cost-mojo-24"].verdict == "not reproduced"


def test_emulated_results_are_not_comparable():
    r = results_by_id(machine(3.3, emulated=True))
    assert r["table-matmul-1024-speedup"].verdict == "not comparable"


def test_jit_drift_identical_errors_is_not_reproduced():
    p = {"dtype": "float64", "n": 48}
    off = make_doc("cpython-3.13", [make_cell("matmul", p, "pure", 1, xs(3e6))])
    on = make_doc("cpython-3.13-jit", [make_cell("matmul", p, "pure", 1, xs(2.7e6))],
                  jit=True, env={"PYTHON_JIT": "1"})
    (m,) = load.group([load.Doc(load.Path("a"), off), load.Doc(load.Path("b"), on)])
    r = results_by_id(m)
    assert r["jit-fp-drift-1e-4"].verdict == "not reproduced"
    assert "PYTHON_JIT=1" in r["method-pythonjit-variable"].measured
    j = r["jit-42pct-less-loop-overhead"]
    assert j.verdict == "not measured"  # needs cpython-3.12 pure cells
    assert any("0.9" in a for a in j.also)  # the JIT alone: 2.7/3.0


def test_cli_prints_every_claim(smoke_results):  # noqa: F811
    p = suite_cmd("claims", str(smoke_results))
    assert p.returncode == 0, p.stderr
    data = claims.load_claims()
    for c in data["claims"]:
        assert c["id"] in p.stdout
    assert "not measured" in p.stdout and "contradicted" in p.stdout
    j = json.loads(suite_cmd("claims", str(smoke_results), "--json").stdout)
    assert len({r["id"] for r in j["results"]}) == len(data["claims"])
    p = suite_cmd("claims", str(smoke_results / "nothing-here"))
    assert p.returncode == 1 and "nothing-here" in p.stderr
