"""Grouping and merging documents for the report: a newer run never hides an older ok
cell, different profile settings never share a table, and speeds are compared across runs
only when asked (then labelled)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from suite import documents
from suite.analysis import machines
from suite.analysis.report import build, model
from tests.conftest import suite_cmd
from tests.test_compare import make_cell, make_doc

P = {"dtype": "float64", "n": 48}


def xs(base: float) -> list[int]:
    return [int(base * (1 + i / 1000)) for i in range(12)]


def cells(scale: float = 1.0) -> list[dict]:
    return [make_cell("matmul", P, "pure", 1, xs(9e6 * scale), per_process=2),
            make_cell("matmul", P, "numpy", 1, xs(1e6 * scale), per_process=2)]


def docs(*ds: dict) -> list[documents.Doc]:
    return [documents.Doc(Path(f"{i}.json"), d) for i, d in enumerate(ds)]


def interrupted(doc: dict, started: str, run_id: str) -> dict:
    """A newer run of the same runtime, interrupted: its first cell failed, the second never
    got a sample (what the runner writes for both)."""
    new = copy.deepcopy(doc)
    new["run"].update(id=run_id, started=started, complete=False,
                      interrupted="interrupted by the user (Ctrl-C)")
    for c, err in zip(new["cells"], ("worker crashed", "interrupted before any sample was "
                                                      "taken")):
        for k in ("stats", "samples", "process_samples", "loops", "check"):
            c.pop(k, None)
        c.update(status="failed", error=err)
    documents.validate(new)
    return new


def test_an_interrupted_newer_run_keeps_the_older_ok_cells():
    old = make_doc("cpython-3.12", cells(), started="2026-01-01T00:00:00Z")
    new = interrupted(old, "2026-01-02T00:00:00Z", "20260102T000000Z")
    (m,) = machines.group(docs(new, old))  # order of the inputs does not matter
    rt = m.runtimes["cpython-3.12"]
    assert {c["status"] for c in rt.cells.values()} == {"ok"}
    assert {rt.run_of(i) for i in rt.cells} == {old["run"]["id"]}
    assert sorted(c["error"] for c, _ in rt.not_shown) == [
        "interrupted before any sample was taken", "worker crashed"]
    # The newer failures are listed, not dropped.
    v = model.view(m)
    shown = [(cid, status, why) for _, cid, status, why in v.problems]
    assert len(shown) == 2 and all("newer run" in s and "20260102" in w for _, s, w in shown)


def test_a_newer_cell_replaces_an_older_one_if_ok_or_of_the_same_status():
    old = make_doc("cpython-3.12", cells(), started="2026-01-01T00:00:00Z")
    newer_ok = make_doc("cpython-3.12", cells(2.0), started="2026-01-02T00:00:00Z",
                        run_id="20260102T000000Z")
    failed_twice = interrupted(old, "2026-01-03T00:00:00Z", "20260103T000000Z")
    failed_again = interrupted(old, "2026-01-04T00:00:00Z", "20260104T000000Z")
    (m,) = machines.group(docs(old, newer_ok))
    assert all(m.runtimes["cpython-3.12"].run_of(i) == "20260102T000000Z"
               for i in m.runtimes["cpython-3.12"].cells)
    (m,) = machines.group(docs(failed_twice, failed_again))
    rt = m.runtimes["cpython-3.12"]
    assert {rt.run_of(i) for i in rt.cells} == {"20260104T000000Z"} and not rt.not_shown
    (m,) = machines.group(docs(failed_twice, newer_ok))  # ok over failed: replaced
    assert {c["status"] for c in m.runtimes["cpython-3.12"].cells.values()} == {"ok"}


def test_different_profile_settings_never_share_a_table():
    quick = make_doc("cpython-3.12", cells(), profile="quick")
    full = make_doc("cpython-3.12", cells(0.5), profile="full", run_id="20260102T000000Z",
                    started="2026-01-02T00:00:00Z")
    full["run"]["settings"].update(processes=20, values=5, min_time_ns=100_000_000)
    groups = machines.group(docs(quick, full))
    assert len(groups) == 2
    assert {g.profile for g in groups} == {"quick", "full"}
    assert len({g.key for g in groups}) == 2
    assert any("full profile (20 processes x 5 values)" in g.label for g in groups)
    for g in groups:  # each keeps its own cells: the quick ones are not replaced
        (d,) = g.docs
        assert all(g.runtimes["cpython-3.12"].source[i] is d
                   for i in g.runtimes["cpython-3.12"].cells)


def two_runs(tmp_path: Path) -> Path:
    d = tmp_path / "runs"
    d.mkdir()
    a = make_doc("cpython-3.12", cells(), run_id="20260101T000000Z-aaaaaa")
    b = make_doc("cpython-3.13", cells(0.5), run_id="20260102T000000Z-bbbbbb",
                 started="2026-01-02T00:00:00Z")
    (d / "a.json").write_text(json.dumps(a))
    (d / "b.json").write_text(json.dumps(b))
    return d


def test_report_refuses_cross_run_speedups_unless_allowed_then_labels_them(tmp_path):
    d = two_runs(tmp_path)
    built = build([d], tmp_path / "refused")
    md = built.markdown.read_text()
    assert "other run: not compared" in md and "2.00×" not in md
    assert "comparison(s) between cells of different runs are withheld" in md
    assert "--allow-cross-run" in md
    (m,) = machines.group(documents.load_many([d])[0])
    assert model.view(m).withheld == 2 and not model.view(m).geo
    built = build([d], tmp_path / "allowed", allow_cross_run=True)
    md, html = built.markdown.read_text(), built.html.read_text()
    for text in (md, html):
        assert "2.00× (cross-run)" in text
        assert "2 comparison(s) between runs are shown as asked" in text
    # One run: nothing to withhold, no label.
    one = tmp_path / "one"
    one.mkdir()
    (one / "a.json").write_text((d / "a.json").read_text())
    b = json.loads((d / "b.json").read_text())
    b["run"]["id"] = "20260101T000000Z-aaaaaa"
    (one / "b.json").write_text(json.dumps(b))
    md = build([one], tmp_path / "same").markdown.read_text()
    assert "2.00×" in md and "× (cross-run)" not in md and "other run" not in md
    assert "withheld" not in md and "shown as asked" not in md


def test_report_command_passes_allow_cross_run(tmp_path):
    d = two_runs(tmp_path)
    out = tmp_path / "rep"
    p = suite_cmd("report", str(d), "-o", str(out), "--allow-cross-run")
    assert p.returncode == 0, p.stderr
    assert "(cross-run)" in (out / "report.md").read_text()
