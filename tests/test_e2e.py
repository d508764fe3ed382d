"""End to end through the front door: `make bench PROFILE=smoke` on a native runtime."""

from __future__ import annotations

import json
import subprocess

from suite import documents
from suite.analysis import summary
from tests.conftest import ROOT


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
    assert docs[0].parent.parent.name == documents.arch_name(__import__("os").uname().machine)
    doc = documents.load(docs[0])
    assert doc["run"]["profile"] == "smoke" and doc["backend"]["kind"] == "native"
    # Progress and the summary table are printed, with each cell's peak memory.
    assert "ETA" in proc.stderr
    assert "time per call" in proc.stdout and "peak resident memory" in proc.stdout
    for cell in doc["cells"]:
        assert cell["id"] in proc.stdout
        if cell["status"] == "ok":  # CPU time per sample, load per process, peak RSS
            assert len(cell["noise"]["sample_cpu_ns"]) == len(cell["samples"])
            assert len(cell["noise"]["load_avg"]) == cell["processes"]
            assert len(cell["memory"]["per_process"]) == 1 + cell["processes"]
            assert summary.fmt_bytes(cell["memory"]["peak_rss_bytes"]) in proc.stdout
    assert json.loads(docs[0].read_text())["suite"]["git_commit"] is not None
