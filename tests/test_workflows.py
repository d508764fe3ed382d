"""The workflows validate against GitHub's workflow schema and pass zizmor (no finding of
medium severity or above), and both checks do fail on bad workflows. The tools are pinned
in suite/requirements/lint.txt; `make lint` installs them into .venv."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from suite import runtimes

from .conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def tool(name: str) -> str:
    """The linter from this interpreter's environment (.venv) or PATH; a failure (never a
    skip) that says how to install it when it is missing."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: run `make lint` once (it installs "
                    f"suite/requirements/lint.txt into .venv), then rerun the tests")
    return found


def schema_check(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("check-jsonschema"), "--builtin-schema",
                           "vendor.github-workflows", *map(str, files)],
                          capture_output=True, text=True, timeout=120)


def zizmor(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("zizmor"), "--offline", "--no-progress", "--min-severity",
                           "medium", str(path)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1"})


def test_both_workflows_exist():
    assert [p.name for p in WORKFLOWS] == ["bench.yml", "ci.yml"]


def test_workflows_match_the_github_workflow_schema():
    proc = schema_check(*WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing_of_medium_severity_or_above():
    proc = zizmor(ROOT / ".github" / "workflows")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_schema_check_fails_on_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
    proc = schema_check(bad)
    assert proc.returncode != 0, proc.stdout


def test_zizmor_fails_on_an_insecure_workflow(tmp_path):
    d = tmp_path / ".github" / "workflows"
    d.mkdir(parents=True)
    (d / "bad.yml").write_text(
        "name: bad\non: pull_request_target\npermissions: write-all\njobs:\n  x:\n"
        "    name: x\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "        with:\n          ref: ${{ github.event.pull_request.head.sha }}\n"
        "      - run: echo \"${{ github.event.pull_request.title }}\"\n")
    proc = zizmor(d / "bad.yml")
    assert proc.returncode != 0, proc.stdout + proc.stderr


def test_every_action_is_pinned_by_commit_with_a_version_comment():
    for wf in WORKFLOWS:
        for line in wf.read_text().splitlines():
            m = re.search(r"uses:\s*(\S+)", line)
            if m:
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", m.group(1)), line
                assert re.search(r"# v\d+\.\d+\.\d+$", line), line


def test_bench_matrix_is_generated_not_listed():
    text = (ROOT / ".github" / "workflows" / "bench.yml").read_text()
    assert "python -m suite.matrix" in text
    assert "fromJSON(needs.matrix.outputs.matrix)" in text
    for rid in runtimes.load():
        assert rid not in text, f"bench.yml names the runtime {rid}: generate it instead"
    assert "ubuntu-24.04-arm" not in text, "runner labels come from suite/matrix.py"
    for needle in ("push-by-digest=true", "provenance: mode=max",
                   "scope=${{ matrix.runtime }}-${{ matrix.arch }}",
                   "docker buildx imagetools create", "actions/upload-pages-artifact",
                   "actions/deploy-pages", "python -m suite report", "latest"):
        assert needle in text, needle


def test_least_privilege():
    for wf in WORKFLOWS:
        text = wf.read_text()
        assert re.search(r"^permissions: \{\}$", text, re.M), f"{wf.name}: no default"
        assert "write-all" not in text
    bench = (ROOT / ".github" / "workflows" / "bench.yml").read_text()
    jobs = re.split(r"^  (?=[a-z-]+:\n)", bench.split("\njobs:\n", 1)[1], flags=re.M)
    writes = {j.split(":", 1)[0]: set(re.findall(r"^\s+([a-z-]+): write", j, re.M))
              for j in jobs if j.strip()}
    assert writes == {"matrix": set(), "bench": {"packages"}, "merge": {"packages"},
                      "publish": set(), "deploy": {"pages", "id-token"}}, writes


def test_run_steps_pass_shellcheck(tmp_path):
    """Every `run:` block, with `${{ }}` expressions blanked, is clean bash for shellcheck
    (actionlint does the same in GitHub CI)."""
    try:
        from ruamel.yaml import YAML  # comes with check-jsonschema (lint.txt)
    except ImportError:
        pytest.fail("ruamel.yaml is missing: run `make lint` once (it installs "
                    "suite/requirements/lint.txt into .venv)")
    scripts = []
    for wf in WORKFLOWS:
        jobs = YAML(typ="safe").load(wf.read_text())["jobs"]
        for job_id, job in jobs.items():
            for i, step in enumerate(job.get("steps", [])):
                if "run" in step:
                    p = tmp_path / f"{wf.stem}-{job_id}-{i}.sh"
                    body = re.sub(r"\$\{\{.*?\}\}", "X", step["run"])
                    p.write_text("#!/bin/bash\nset -e\n" + body)
                    scripts.append(str(p))
    assert scripts
    proc = subprocess.run([tool("shellcheck"), *scripts], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
