"""End to end through the front door: `make bench PROFILE=smoke` on a native runtime."""

from __future__ import annotations

import json
import subprocess

from suite import results

from .conftest import ROOT


def test_make_bench_smoke_writes_a_valid_document(tmp_path, native_runtime):
    out = tmp_path / "results"
    proc = subprocess.run(
        ["make", "--no-print-directory", "bench", "PROFILE=smoke", "BACKEND=native",
         f"RUNTIMES={native_runtime}", f"RESULTS={out}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    docs = list(out.rglob("*.json"))
    assert len(docs) == 1
    assert docs[0].parent.name == native_runtime
    assert docs[0].parent.parent.name == results.arch_name(__import__("os").uname().machine)
    doc = results.load(docs[0])
    assert doc["run"]["profile"] == "smoke" and doc["backend"]["kind"] == "native"
    # Progress and the summary table are printed.
    assert "ETA" in proc.stderr
    assert "median time per call" in proc.stdout
    for cell in doc["cells"]:
        assert cell["id"] in proc.stdout
    assert json.loads(docs[0].read_text())["suite"]["git_commit"] is not None
