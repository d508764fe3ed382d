"""`make reproduce FROM=...` against a smoke result made on this machine: the rerun
reproduces it; tampered or inconsistent documents are refused with a clear reason."""

from __future__ import annotations

import copy
import functools
import http.server
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from suite import reproduce, results

from .conftest import ROOT, suite_cmd

pytestmark = pytest.mark.slow
ENV = {**os.environ, "SUITE_CACHE_DIR": str(ROOT / ".cache")}


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


def test_reproduces_a_smoke_result(matmul_doc):
    proc = make_reproduce(matmul_doc)
    # make turns the command's exit status 1 (some cell differs on this noisy machine)
    # into its own 2; a refusal or a crash prints no summary.
    assert "summary:" in proc.stdout, proc.stdout + proc.stderr
    v = verdicts(proc.stdout)
    doc = results.load(matmul_doc)
    assert set(v) == {c["id"] for c in doc["cells"] if c["status"] == "ok"}, proc.stdout
    assert not any(x.startswith("not comparable") for x in v.values()), proc.stdout
    assert "reproduced" in v.values(), proc.stdout
    # The pure-Python matmul cells are the stable ones (milliseconds per call, no BLAS).
    pure = [x for cid, x in v.items() if "/pure/" in cid]
    assert "reproduced" in pure, proc.stdout
    assert "summary:" in proc.stdout
    if proc.returncode == 0:
        assert set(v.values()) == {"reproduced"}
    # The rerun's document is a valid one, with the same settings, seed, cells and loops.
    path = Path(proc.stdout.split("rerun:", 1)[1].split()[0])
    new = results.load(path)
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


def test_different_hardware_is_not_comparable(matmul_doc, tmp_path):
    def other_cpu(doc):
        doc["host"]["cpu_model"] = "Some Other CPU @ 9.9GHz"
    proc = suite_cmd("reproduce", str(tampered(tmp_path, matmul_doc, other_cpu)), env=ENV)
    assert proc.returncode == 1, proc.stdout + proc.stderr
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
