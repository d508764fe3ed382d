"""`make reproduce FROM=...` against a smoke result made on this machine: the rerun runs
and gets a verdict per cell (never a crash or a wrong answer); tampered or inconsistent
documents are refused with a clear reason. The verdict logic (an equivalence test) and
its exit codes on synthetic reruns: a rerun 35% slower is never "reproduced"."""

from __future__ import annotations

import copy
import functools
import http.server
import json
import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from suite import documents
from suite.analysis import compare
from suite.publish import reproduce
from tests.conftest import ROOT, suite_cmd
from tests.test_compare import make_cell, make_doc

pytestmark = pytest.mark.slow
ENV = {**os.environ, "SUITE_CACHE_DIR": os.environ.get("SUITE_CACHE_DIR", str(ROOT / ".cache"))}


def make_reproduce(source: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "reproduce", f"FROM={source}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, env=ENV)


@pytest.fixture(scope="module")
def matmul_doc(tmp_path_factory, native_runtime) -> Path:
    out = tmp_path_factory.mktemp("published")
    proc = suite_cmd("run", "-r", native_runtime, "-p", "smoke", "-w", "matmul", "-o",
                     str(out), env=ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [doc] = sorted(out.rglob("*.json"))
    return doc


def tampered(tmp_path: Path, doc_path: Path, change) -> Path:
    doc = json.loads(doc_path.read_text())
    change(doc)
    p = tmp_path / "tampered.json"
    p.write_text(json.dumps(doc))
    return p


def verdicts(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if parts and "/threads=" in parts[0] and len(parts) >= 4:
            out[parts[0]] = " ".join(parts[3:])
    return out


TIMING_VERDICTS = ("reproduced", "inconclusive", "faster", "slower")


def test_reproduces_a_smoke_result(matmul_doc):
    proc = make_reproduce(matmul_doc)
    # make turns the command's exit status (1 differs, 3 inconclusive) into its own 2; a
    # refusal or a crash prints no summary.
    assert "summary:" in proc.stdout, proc.stdout + proc.stderr
    v = verdicts(proc.stdout)
    doc = documents.load(matmul_doc)
    assert set(v) == {c["id"] for c in doc["cells"] if c["status"] == "ok"}, proc.stdout
    # Every rerun cell ran and computed the right answer: a timing verdict, whichever this
    # loaded machine gives (smoke: 2 processes, so mostly "inconclusive"). A crash or a
    # wrong output is "failed", other hardware "not comparable": both fail here.
    first = {cid: x.split(" (")[0] for cid, x in v.items()}
    assert set(first.values()) <= set(TIMING_VERDICTS), proc.stdout
    assert "missing in the rerun" not in proc.stdout
    for cid, x in v.items():
        if first[cid] == "inconclusive":
            assert "processes per side" in x or "more processes narrow the CI" in x, x
    # The printed exit status follows the verdicts (make only says "failed").
    expected = 0 if set(first.values()) == {"reproduced"} else (
        1 if {"faster", "slower"} & set(first.values()) else 3)
    assert f"exit status {expected}:" in proc.stdout, proc.stdout
    assert (proc.returncode == 0) == (expected == 0), proc.stdout + proc.stderr
    # The rerun's document is a valid one, with the same settings, seed, cells and loops.
    path = Path(proc.stdout.split("rerun:", 1)[1].split()[0])
    new = documents.load(path)
    assert new["run"]["settings"] == doc["run"]["settings"]
    assert new["run"]["seed"] == doc["run"]["seed"]
    assert new["runtime"]["id"] == doc["runtime"]["id"]
    assert new["backend"]["kind"] == "native"
    old_cells = {c["id"]: c for c in doc["cells"] if c["status"] == "ok"}
    new_cells = {c["id"]: c for c in new["cells"]}
    assert set(new_cells) == set(old_cells)
    for cid, c in new_cells.items():
        assert c["loops"] == old_cells[cid]["loops"]
        assert c["inputs_sha256"] == old_cells[cid]["inputs_sha256"]
        assert c["processes"] == old_cells[cid]["processes"]


def test_a_cell_skipped_in_the_document_is_not_rerun_and_not_missing(matmul_doc, tmp_path):
    """The reference set skips cells over its budget: reproducing it must not call them
    missing (that made `make reproduce` of a published document exit 1, "differs")."""
    def skip_first(doc):
        c = doc["cells"][0]
        for k in ("stats", "gflops"):
            c.pop(k, None)
        c.update(status="skipped", samples=[], warmups=[], process_samples=[], processes=0,
                 skip={"reason": "estimated 3 min for the cell exceeds the budget",
                       "estimate_s": 180.0, "estimate_call_ns": 4e9})
    path = tampered(tmp_path, matmul_doc, skip_first)
    proc = make_reproduce(path)
    assert "summary:" in proc.stdout, proc.stdout + proc.stderr
    assert "not rerun: " in proc.stdout and "skipped in the document" in proc.stdout
    assert "missing in the rerun" not in proc.stdout, proc.stdout


def test_different_hardware_is_not_comparable(matmul_doc, tmp_path):
    def other_cpu(doc):
        doc["host"]["cpu_model"] = "Some Other CPU @ 9.9GHz"
    proc = suite_cmd("reproduce", str(tampered(tmp_path, matmul_doc, other_cpu)), env=ENV)
    assert proc.returncode == reproduce.EXIT_INCONCLUSIVE, proc.stdout + proc.stderr
    assert "NOT COMPARABLE" in proc.stdout and "CPU model" in proc.stdout
    v = verdicts(proc.stdout)
    assert v and all(x.startswith("not comparable") for x in v.values()), proc.stdout


def _first_ok(doc) -> dict:
    return next(c for c in doc["cells"] if c["status"] == "ok")


def _containerize(doc, digest):
    doc["backend"] = {"kind": "container", "engine": "podman",
                      "image": "ghcr.io/example/bench/" + doc["runtime"]["id"],
                      "digest": digest, "build_mode": "optimized"}


TAMPERINGS = {
    "changed parameters": (
        lambda d: _first_ok(d)["params"].update(n=_first_ok(d)["params"]["n"] + 1),
        "do not match the suite's smoke profile"),
    "changed parameters, id kept consistent": (
        lambda d: (_first_ok(d)["params"].update(n=17),
                   _first_ok(d).update(id=_first_ok(d)["id"].replace("n=48", "n=17"))),
        "do not match the suite's smoke profile"),
    "changed inputs hash": (
        lambda d: _first_ok(d).update(inputs_sha256="0" * 64),
        "does not match what the seeded generator produces now"),
    "changed seed": (
        lambda d: d["run"].update(seed=d["run"]["seed"] + 1),
        "does not match what the seeded generator produces now"),
    "container result, digest absent": (
        lambda d: _containerize(d, None), "without an image digest"),
    "container result, digest malformed": (
        lambda d: _containerize(d, "sha256:1234"), "schema-invalid: $.backend.digest"),
    "native result naming a digest": (
        lambda d: d["backend"].update(digest="sha256:" + "a" * 64),
        "a native result names an image"),
    "schema-invalid": (lambda d: d.pop("host"), "schema-invalid"),
    "unknown workload": (lambda d: _first_ok(d).update(workload="nbody"),
                         "unknown workload 'nbody'"),
}


@pytest.mark.parametrize("name", TAMPERINGS)
def test_tampered_documents_are_refused(matmul_doc, tmp_path, name):
    change, reason = TAMPERINGS[name]
    proc = make_reproduce(tampered(tmp_path, matmul_doc, change))
    assert proc.returncode != 0, proc.stdout
    assert "refused:" in proc.stderr, proc.stderr
    assert reason in proc.stderr, proc.stderr
    assert "rerun:" not in proc.stdout, "a refused document must not be rerun"


def test_not_json_and_missing_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    proc = suite_cmd("reproduce", str(bad), env=ENV)
    assert proc.returncode == 2 and "not JSON" in proc.stderr, proc.stderr
    proc = suite_cmd("reproduce", str(tmp_path / "nope.json"), env=ENV)
    assert proc.returncode == 2 and "cannot read" in proc.stderr, proc.stderr


def test_make_reproduce_without_from_says_how():
    proc = subprocess.run(["make", "--no-print-directory", "reproduce"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode != 0
    assert "usage: make reproduce FROM=" in proc.stderr


def test_reads_a_document_from_a_url(matmul_doc, tmp_path):
    """A URL works like a file (served here by a local HTTP server: no network)."""
    (tmp_path / "doc.json").write_text(matmul_doc.read_text())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/doc.json"
        assert reproduce.read(url) == json.loads(matmul_doc.read_text())
        doc = copy.deepcopy(reproduce.read(url))
        _first_ok(doc)["inputs_sha256"] = "f" * 64
        (tmp_path / "bad.json").write_text(json.dumps(doc))
        proc = make_reproduce(f"http://127.0.0.1:{server.server_port}/bad.json")
        assert proc.returncode != 0 and "inputs_sha256" in proc.stderr, proc.stderr
        with pytest.raises(OSError, match="cannot download"):
            reproduce.read(f"http://127.0.0.1:{server.server_port}/missing.json")
    finally:
        server.shutdown()


# -- the verdict and exit status on synthetic reruns (no measuring) --------------------------

P64 = {"dtype": "float64", "n": 64}


def rerun_of(scale: float, noise: float, processes: int, values: int = 3, seed: int = 0,
             flavor: str = "pure") -> tuple[dict, dict]:
    """A published cell and a rerun `scale` times slower, each from `processes` processes
    whose medians scatter by `noise` (log SD) around the truth."""
    rng = np.random.default_rng(seed)

    def cell(s: float) -> dict:
        meds = 1e6 * s * np.exp(rng.normal(0, noise, processes))
        xs = [int(m * (1 + 0.001 * j)) for m in meds for j in range(values)]
        return make_cell("matmul", P64, flavor, 1, xs, per_process=values)
    return cell(1.0), cell(scale)


def outcome(pairs: list[tuple[dict, dict]], threshold: float = 0.05, **new_doc) -> \
        reproduce.Outcome:
    base = make_doc("cpython-3.12", [b for b, _ in pairs])
    new = make_doc("cpython-3.12", [n for _, n in pairs], run_id="20260102T000000Z",
                   **new_doc)
    return reproduce.Outcome(compare.compare_documents(base, new, threshold), Path("rerun.json"),
                             [], [])


def test_a_rerun_35_percent_slower_with_a_wide_ci_is_not_reproduced():
    """The old rule ("CI includes 1 or within 5%") called CI 0.95-1.88 "reproduced", exit 0."""
    o = outcome([rerun_of(1.35, noise=0.25, processes=3, seed=4)])
    ((c, v, advice),) = o.verdicts()
    assert c["ci95"][0] < 1 / 1.05 and c["ci95"][1] > 1.35, c["ci95"]
    assert v == "inconclusive" and "processes per side (now 3)" in advice
    assert reproduce.exit_status(o) == reproduce.EXIT_INCONCLUSIVE
    text = reproduce.render(o, "published.json")
    assert "1 inconclusive" in text and "a wide CI is not evidence" in text


@pytest.mark.parametrize("processes", [2, 3, 6, 20])
@pytest.mark.parametrize("noise", [0.0, 0.02, 0.1, 0.3])
def test_a_rerun_35_percent_slower_is_never_reproduced(processes, noise):
    for seed in range(25):
        o = outcome([rerun_of(1.35, noise, processes, seed=seed)])
        ((c, v, _),) = o.verdicts()
        assert v in ("slower", "inconclusive"), (seed, c["ci95"])
        assert reproduce.exit_status(o) != reproduce.EXIT_REPRODUCED


def test_exit_status_follows_the_verdicts():
    same = rerun_of(1.0, noise=0.005, processes=6, seed=1)
    slower = rerun_of(1.5, noise=0.005, processes=6, seed=2, flavor="numpy")
    wide = rerun_of(1.0, noise=0.3, processes=3, seed=3, flavor="numba")
    assert [v for _, v, _ in outcome([same]).verdicts()] == ["reproduced"]
    assert reproduce.exit_status(outcome([same])) == reproduce.EXIT_REPRODUCED
    assert reproduce.exit_status(outcome([same, slower])) == reproduce.EXIT_DIFFERS
    assert reproduce.exit_status(outcome([same, wide])) == reproduce.EXIT_INCONCLUSIVE
    assert reproduce.exit_status(outcome([same, wide, slower])) == reproduce.EXIT_DIFFERS
    # Other hardware: no verdict drawn, so not reproduced either.
    o = outcome([same], cpu="Other CPU")
    assert [v for _, v, _ in o.verdicts()] == ["not comparable"]
    assert reproduce.exit_status(o) == reproduce.EXIT_INCONCLUSIVE
    # A rerun cell that crashed (or computed a wrong answer) differs.
    other = rerun_of(1.0, noise=0.005, processes=6, seed=5, flavor="numpy")
    broken = dict(other[1], status="failed", error="worker crashed")
    for k in ("stats", "samples", "process_samples", "loops", "check"):
        broken.pop(k)
    o = outcome([same, (other[0], broken)])
    assert [v for _, v, _ in o.verdicts()] == ["reproduced", "failed"]
    assert reproduce.exit_status(o) == reproduce.EXIT_DIFFERS
    # A cell missing from the rerun differs too.
    o = outcome([same])
    o.comparison["only_base"] = ["matmul[dtype=float64,n=64]/numpy/threads=1"]
    assert reproduce.exit_status(o) == reproduce.EXIT_DIFFERS
