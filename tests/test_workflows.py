"""The workflows validate against GitHub's workflow schema and pass zizmor (no finding of
medium severity or above), and both checks do fail on bad workflows. The tools are pinned
in suite/requirements/lint.txt; `make lint` and `make test` install them into .venv. Also:
the make targets install what they need themselves (.ci/apt-ensure.sh), and .ci/run is
the README's commands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from suite import runtimes
from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def tool(name: str) -> str:
    """The linter from this interpreter's environment (.venv) or PATH; a failure (never a
    skip) that says how to install it when it is missing."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: run the tests with `make test` (it installs "
                    f"suite/requirements/lint.txt into .venv)")
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
    assert "python -m suite.publish.matrix" in text
    assert "fromJSON(needs.matrix.outputs.build)" in text
    assert "fromJSON(needs.matrix.outputs.arches)" in text
    for rid in runtimes.load():
        assert rid not in text, f"bench.yml names the runtime {rid}: generate it instead"
    assert "ubuntu-24.04-arm" not in text, "runner labels come from suite/publish/matrix.py"
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
    assert writes == {"matrix": set(), "build": {"packages"}, "bench": set(),
                      "merge": {"packages"}, "publish": set(),
                      "deploy": {"pages", "id-token"}}, writes


def test_bench_runs_each_arch_in_one_interleaved_job():
    """Images are built per runtime x arch, but timings come from one job per arch that
    runs every runtime in a single `suite run` (one machine per comparison)."""
    from ruamel.yaml import YAML

    jobs = YAML(typ="safe").load((ROOT / ".github/workflows/bench.yml").read_text())["jobs"]
    bench = jobs["bench"]
    assert bench["strategy"]["matrix"] == "${{ fromJSON(needs.matrix.outputs.arches) }}"
    assert "build" in bench["needs"]
    runs = [s["run"] for s in bench["steps"] if "run" in s and "suite run" in s["run"]]
    assert len(runs) == 1, "exactly one `suite run` per bench job"
    assert '--image "${rt}=${ref}"' in runs[0] and "for rt in $RUNTIMES" in runs[0]
    assert not any("suite run" in s.get("run", "") for s in jobs["build"]["steps"]), \
        "the build legs must not time anything"
    validate = next(s["run"] for s in bench["steps"] if "expected one interleaved run" in
                    s.get("run", ""))
    assert "backend.digest" in validate


def test_run_steps_pass_shellcheck(tmp_path):
    """Every `run:` block, with `${{ }}` expressions blanked, is clean bash for shellcheck
    (actionlint does the same in GitHub CI)."""
    try:
        from ruamel.yaml import YAML  # comes with check-jsonschema (lint.txt)
    except ImportError:
        pytest.fail("ruamel.yaml is missing: run the tests with `make test` (it installs "
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


# -- make sets itself up: .ci/apt-ensure.sh, the `chromium` target, .ci/run ----------------
APT_ENSURE = ROOT / ".ci" / "apt-ensure.sh"


def apt_ensure(path: str, *, as_nobody: bool = False) -> subprocess.CompletedProcess:
    cmd = [shutil.which("bash") or "/bin/bash", str(APT_ENSURE),
           "make test (the report's browser tests)", "chromium", "fonts-dejavu-core"]
    if as_nobody and os.geteuid() == 0:  # the branch a user without root takes
        cmd = [shutil.which("setpriv") or "setpriv", "--reuid=65534", "--regid=65534",
               "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          env={"PATH": path, "HOME": "/tmp"})


def fake_apt(tmp_path: Path) -> tuple[Path, Path]:
    """A PATH with an `apt-get` that records its arguments instead of installing."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "apt-calls"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (bin_dir / "apt-get").chmod(0o755)
    return bin_dir, calls


def test_apt_ensure_as_root_updates_then_installs(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("this test checks the root branch: run it as root (CI does)")
    bin_dir, calls = fake_apt(tmp_path)
    p = apt_ensure(f"{bin_dir}:/usr/bin:/bin")
    assert p.returncode == 0, p.stderr
    assert calls.read_text().splitlines() == [
        "update -qq", "install -y -qq --no-install-recommends chromium fonts-dejavu-core"]
    assert "installing Debian's chromium fonts-dejavu-core" in p.stdout


def test_apt_ensure_without_apt_or_root_stops_with_one_line(tmp_path):
    no_apt = apt_ensure(str(tmp_path))  # apt-get not on PATH
    bin_dir, calls = fake_apt(tmp_path)
    bin_dir.chmod(0o755)
    tmp_path.chmod(0o755)
    not_root = apt_ensure(f"{bin_dir}:/usr/bin:/bin", as_nobody=True)
    for p in (no_apt, not_root):
        assert p.returncode == 1
        assert p.stderr.count("\n") == 1, p.stderr
        assert "apt-get install chromium fonts-dejavu-core" in p.stderr
    assert not calls.exists()  # nothing was attempted


def test_make_chromium_finds_it_or_installs_it():
    """`make test` depends on the linters and Chromium; `chromium` checks PATH first."""
    dry = subprocess.run(["make", "-n", "--no-print-directory", "test"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert "suite.analysis.report.browser --find" in dry.stdout
    assert "apt-ensure.sh" in dry.stdout and "chromium" in dry.stdout
    p = subprocess.run([sys.executable, "-m", "suite.analysis.report.browser", "--find"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PATH": "/nonexistent"})
    assert p.returncode == 1 and "not on PATH" in p.stdout


def test_ci_runs_the_readme_commands_and_installs_nothing_else():
    run = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^make [a-z-]+", run, re.M)
    assert commands == ["make lint", "make test", "make test-containers"], commands
    for c in commands:
        assert c in readme, c
    for line in re.findall(r"apt-get install[^\n]*", run):
        packages = {w for w in line.split()[2:] if not w.startswith(("-", ">"))}
        assert packages <= {"make", "git", "ca-certificates"}, line
    assert "pip install" not in run
