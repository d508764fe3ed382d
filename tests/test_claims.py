"""claims: the data file against its schema, a verdict for every claim, "not measured"
for missing cells, and the fair comparisons on synthetic documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from suite import documents
from suite.analysis import claims, machines
from tests.conftest import suite_cmd
from tests.test_compare import make_cell, make_doc
from tests.test_report import smoke_results  # noqa: F401  (session fixture: a real smoke run)


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
    docs, problems = documents.load_many([smoke_results])
    assert not problems
    groups = machines.group(docs)
    data = claims.load_claims()
    res = claims.evaluate(groups, data)
    method = [c for c in data["claims"] if c["kind"] == "method"]
    assert len(res) == len(method) + (len(data["claims"]) - len(method)) * len(groups)
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


def machine(speedup: float, **host) -> machines.Machine:
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
    docs = [documents.Doc(Path(f"{i}.json"), d) for i, d in enumerate((py, py12, mojo))]
    (m,) = machines.group(docs)
    return m


def results_by_id(m: machines.Machine) -> dict[str, claims.Result]:
    return {r.claim["id"]: r for r in claims.evaluate([m])}


def test_speedup_claims_compare_ratios_across_hardware():
    r = results_by_id(machine(3.3))
    assert r["table-matmul-1024-speedup"].verdict == "consistent"
    assert r["table-matmul-1024-speedup"].value == pytest.approx(3.3, rel=1e-3)
    assert r["insight-mojo-5.2x-matmul-1024"].verdict == "not reproduced"
    r = results_by_id(machine(1.0))
    assert r["table-matmul-1024-speedup"].verdict == "not reproduced"
    assert "3.3" in r["table-matmul-1024-speedup"].reason


def test_the_over_50pct_numerical_rule_is_answered_against_pytorch():
    claim = next(c for c in claims.load_claims()["claims"]
                 if c["id"] == "closing-5x-if-over-50pct-numerical")
    cells = {"numpy": [], "torch": [], "mojo": []}
    for t in claim["measure"]["terms"]:
        w, p = t["num"]["workload"], t["num"]["params"]
        for flavor, base in (("numpy", 40e6), ("torch", 30e6), ("mojo", 20e6)):
            cells[flavor].append(make_cell(w, p, flavor, 1, xs(base)))
    docs = [make_doc("cpython-3.13", cells["numpy"]),
            make_doc("cpython-3.13-frameworks", cells["torch"]),
            make_doc("mojo-1.2", cells["mojo"], kind="mojo", mojo={"mojo_version": "1.2.0"})]
    (m,) = machines.group([documents.Doc(Path(f"{i}.json"), d) for i, d in enumerate(docs)])
    r = results_by_id(m)["closing-5x-if-over-50pct-numerical"]
    assert r.value == pytest.approx(2.0, rel=1e-3) and r.verdict == "not reproduced"
    # Against PyTorch the same Mojo kernels are only 1.5x faster: the line says so.
    torch_line = next(a for a in r.also if a.startswith("PyTorch (eager, CPU) vs") and
                      "1 thread" in a)
    assert "1.5" in torch_line, torch_line


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
    (m,) = machines.group([documents.Doc(Path("a"), off), documents.Doc(Path("b"), on)])
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


# -- thresholds and CIs: symmetric on the log scale, over worker processes -------------------

@given(st.floats(0.01, 100), st.floats(0.01, 100), st.floats(1.0, 10.0),
       st.sampled_from([0.0, 0.1, 0.25]))
def test_within_is_symmetric_on_the_log_scale(claimed, lo, width, tol):
    hi = lo * width
    assert claims.within((claimed, claimed), (lo, hi), tol) == claims.within(
        (1 / claimed, 1 / claimed), (1 / hi, 1 / lo), tol)
    assert claims.within((lo / (1 + tol),) * 2, (lo, hi), tol)  # the bound is inside
    assert claims.within((hi * (1 + tol),) * 2, (lo, hi), tol)
    assert not claims.within((hi * (1 + tol) * 1.000001,) * 2, (lo, hi), tol)
    assert not claims.within((lo / (1 + tol) * 0.999999,) * 2, (lo, hi), tol)


def grouped_machine(process_spread: float) -> machines.Machine:
    """NumPy float32 against Mojo SIMD at n=1024, 3.3x apart, each from 6 processes whose
    medians spread by +-process_spread."""
    def cell(flavor: str, ms: float) -> dict:
        meds = [ms * 1e6 * (1 + process_spread * k) for k in (-1, -0.6, -0.2, 0.2, 0.6, 1)]
        values = [int(m * (1 + j / 1000)) for m in meds for j in range(2)]
        return make_cell("matmul", P1024, flavor, 1, values, per_process=2)
    py = make_doc("cpython-3.13", [cell("numpy", 20)])
    mojo = make_doc("mojo-1.2", [cell("mojo-simd", 20 / 3.3)], kind="mojo",
                    mojo={"mojo_version": "1.2.0"})
    (m,) = machines.group([documents.Doc(Path(f"{i}.json"), d) for i, d in enumerate((py, mojo))])
    return m


def test_claim_ratios_rest_on_the_processes():
    """Processes that disagree widen the ratio's CI; pooling their samples would not."""
    spec = next(c for c in claims.load_claims()["claims"]
                if c["id"] == "table-matmul-1024-speedup")["measure"]
    quiet, drifting = claims.ratio(grouped_machine(0.001), spec), claims.ratio(
        grouped_machine(0.10), spec)
    assert quiet.value == pytest.approx(3.3, rel=1e-2)
    assert drifting.value == pytest.approx(3.3, rel=2e-2)
    assert drifting.ci[1] / drifting.ci[0] > 1.1 > quiet.ci[1] / quiet.ci[0]
    m = grouped_machine(0.10)
    for rt in m.runtimes.values():
        for c in rt.cells.values():
            c.pop("process_samples")
    pooled = claims.ratio(m, spec)
    assert pooled.ci[1] / pooled.ci[0] < drifting.ci[1] / drifting.ci[0]


# -- absolute times on other hardware: a plausibility bound -----------------------------------

def test_a_grossly_slow_absolute_time_is_implausible_on_the_stated_hardware():
    """linreg "NumPy 12.8 s" against ~3 ms here: thousands of times slower, when Graviton3
    can be at most a few times slower per core."""
    r = results_by_id(machine(3.3))
    t = r["table-linreg-numpy"]
    assert t.verdict == claims.IMPLAUSIBLE and claims.IMPLAUSIBLE in claims.VERDICTS
    assert t.reason.startswith("12.8 s is 4,2") and "slower" in t.reason
    assert "Graviton3" in t.reason and "10x margin" in t.reason
    lo, hi = t.plausible
    assert hi < 12.8 < 12.8e3 * lo * 1e6  # outside at the top, the bottom far below
    assert t.as_json()["plausible_range"] == [lo, hi]
    assert r["table-linreg-mojo"].verdict == claims.IMPLAUSIBLE


def test_an_absolute_time_within_the_bounds_stays_not_comparable():
    t = results_by_id(machine(3.3))["table-matmul-1024-numpy"]  # 40 ms here vs 112 ms
    assert t.verdict == "not comparable"
    assert "other hardware" in t.reason and "plausibly take" in t.reason
    assert t.plausible[0] < 112 < t.plausible[1]


def test_emulated_absolute_times_stay_not_comparable():
    r = results_by_id(machine(3.3, emulated=True))
    for cid in ("table-linreg-numpy", "table-linreg-mojo", "table-matmul-1024-numpy"):
        assert r[cid].verdict == "not comparable", (cid, r[cid].reason)
        assert "emulation" in r[cid].reason and r[cid].plausible is None


def pure_matmul_machine(seconds: float, simd: list[str], peak: dict | None = None
                        ) -> machines.Machine:
    """A pure-Python 1024 matmul (float64) of `seconds` on a host with these SIMD flags and
    (optionally) the suite's measured peak."""
    doc = make_doc("cpython-3.13", [make_cell("matmul", P1024_64, "pure", 1,
                                              xs(seconds * 1e9))])
    doc["host"]["simd"] = simd
    if peak:
        doc["host"]["peak_gflops"] = peak
    documents.validate(doc, "test document")
    (m,) = machines.group([documents.Doc(Path("p.json"), doc)])
    return m


def test_a_grossly_fast_absolute_time_is_implausible_and_unknown_cpus_get_wider_bounds():
    """1820 ms for a pure-Python 1024 matmul against 60 s here: on a CPU known to have
    AVX-512 (at least 16 float64 flops/cycle at 1.5 GHz), Graviton3's per-core peak is at
    most 1.7x this one's, so 1/33 of our time is implausible; an unknown CPU could be as slow
    as 4 flops/cycle, which allows 1/69 and keeps the claim not comparable."""
    avx = results_by_id(pure_matmul_machine(60, ["avx2", "avx512f", "fma"]))
    t = avx["table-matmul-1024-pure"]
    assert t.verdict == claims.IMPLAUSIBLE, t.reason
    assert t.reason.startswith("1,820 ms is 1/33 of our 60") and "faster" in t.reason
    assert "avx512f" in t.reason
    unknown = results_by_id(pure_matmul_machine(60, []))["table-matmul-1024-pure"]
    assert unknown.verdict == "not comparable", unknown.reason
    assert unknown.plausible[0] < avx["table-matmul-1024-pure"].plausible[0]
    # The suite's measured peak, when the documents have it, replaces the flags' range.
    measured = results_by_id(pure_matmul_machine(60, [], {"float64": {"1": 41.6}}))
    t = measured["table-matmul-1024-pure"]
    assert t.verdict == claims.IMPLAUSIBLE and "measured by the suite" in t.reason


def test_the_hardware_ratios_follow_the_documented_figures():
    data = claims.load_claims()
    art = data["plausibility"]["article_machine"]
    assert art["ghz"] * art["fp64_flops_per_cycle"] == pytest.approx(41.6)
    assert art["memory_gb_s"] == pytest.approx(8 * 4800e6 * 8 / 1e9)
    assert all(s["url"].startswith("https://") for s in art["sources"])
    m = pure_matmul_machine(60, [], {"float64": {"1": 83.2}, "float32": {"1": 166.4}})
    f, _ = claims.find(m, {"runtime": ["cpython-3.13"], "workload": "matmul",
                           "params": P1024_64, "flavor": "pure", "threads": 1})
    b = claims.bounds(m, f, {"threads": 1}, data)
    assert b.slow == pytest.approx(2.0) and b.fast == 1.0  # twice Graviton3's peak
    b16 = claims.bounds(m, f, {"threads": "all"}, data)  # it may have used 16 cores
    assert b16.fast == pytest.approx(307.2 / 12.8) and "bandwidth" in b16.fast_why
    slow_cpu = pure_matmul_machine(60, [], {"float64": {"1": 10.4}})
    f, _ = claims.find(slow_cpu, {"runtime": ["cpython-3.13"], "workload": "matmul",
                                  "params": P1024_64, "flavor": "pure", "threads": 1})
    b = claims.bounds(slow_cpu, f, {"threads": "all"}, data)  # 4x the peak on 16 cores
    assert b.fast == pytest.approx(4 * 16) and "16 cores" in b.fast_why
    assert b.slow == pytest.approx(576 / 307.2) and "memory bandwidth" in b.slow_why


def test_the_claims_file_checks_its_headline_and_plausibility(tmp_path):
    data = json.loads(claims.DATA_PATH.read_text())
    data["headline"].append({"id": "no-such-claim", "label": "x"})
    p = tmp_path / "claims.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="no-such-claim"):
        claims.load_claims(p)
    data = json.loads(claims.DATA_PATH.read_text())
    data.pop("plausibility")
    assert any("plausibility" in e for e in claims.violations(data))


# -- README tables: claims --markdown ---------------------------------------------------------

def test_markdown_has_the_headline_claims_and_the_fastest_option_and_is_deterministic():
    from suite.analysis.report import headline

    def md() -> str:
        m = machine(3.3)
        data = claims.load_claims()
        return headline.markdown([m], claims.evaluate([m], data), data)

    a, b = md(), md()
    assert a == b
    lines = a.splitlines()
    assert lines[0] == headline.BEGIN and lines[-1] == headline.END
    assert a.count(headline.BEGIN) == 1 and a.count(headline.END) == 1
    assert "| Mojo SIMD vs NumPy, 1024×1024 matmul (results table) | 3.30× | 3.30× (95% CI " \
        in a
    assert "| NumPy linear-regression training time | 12.8 s | 3.02 ms (95% CI " in a
    assert a.count(f"| {claims.IMPLAUSIBLE} |") >= 1
    assert "| CPython 3.13 JIT vs 3.12, pure-Python loops | 42% less time | - | not measured |" \
        in a
    # The fastest-option table is the report's own.
    from suite.analysis.report import model
    assert "| " + " | ".join(["workload", *model.FAMILIES, "fastest"]) + " |" in a
    row = next(ln for ln in lines if ln.startswith("| matmul[dtype=float32,n=1024] |"))
    cols = dict(zip(model.FAMILIES, row.split(" | ")[1:]))
    assert cols["NumPy"] == "20.1 ms" and cols["Mojo"] == "6.09 ms" and cols["PyPy"] == "-"
    assert row.endswith("| Mojo, 3.30× faster than NumPy |")
    labels = [h["label"] for h in claims.load_claims()["headline"]]
    rows = [ln for ln in lines if ln.startswith("| ") and ln.split(" | ")[0][2:] in labels]
    assert [r.split(" | ")[0][2:] for r in rows] == labels  # every headline claim, in order


def test_markdown_leaves_emulated_machines_out_when_a_native_one_is_there():
    from suite.analysis.report import headline
    native, emu = machine(3.3), machine(3.3, emulated=True, arch="aarch64")
    data = claims.load_claims()
    out = headline.markdown([native, emu], claims.evaluate([native, emu], data), data,
                            report_link="https://example.org/report/")
    assert "EMULATED" not in out and "1 emulated machine(s) left out" in out
    assert out.count("[Full report](https://example.org/report/)") == 2


def test_cli_markdown_on_documents_is_byte_identical(tmp_path):
    m = machine(3.3)
    for i, d in enumerate(m.docs):
        (tmp_path / f"{i}.json").write_text(json.dumps(d.doc))
    a = suite_cmd("claims", str(tmp_path), "--markdown")
    b = suite_cmd("claims", str(tmp_path), "--markdown")
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout and a.stdout.startswith("<!-- claims:begin -->\n")
    assert a.stdout.endswith("<!-- claims:end -->\n")
    bad = suite_cmd("claims", str(tmp_path), "--report-link", "x")
    assert bad.returncode == 2 and "--markdown" in bad.stderr
