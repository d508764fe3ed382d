"""The CI matrix is generated from docker/runtimes.toml and covers every runtime x arch."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import pytest

from suite import runtimes
from suite.publish import matrix
from tests.conftest import ROOT


def declared_pairs() -> set[tuple[str, str]]:
    data = tomllib.loads(runtimes.RUNTIMES_FILE.read_text())
    return {(rid, arch) for rid, spec in data.items()
            for arch in spec.get("arches", ("amd64", "arm64"))}


def test_matrix_covers_every_declared_pair_once():
    include = matrix.matrix()["include"]
    pairs = [(leg["runtime"], leg["arch"]) for leg in include]
    assert len(pairs) == len(set(pairs)), "a runtime x arch pair appears twice"
    assert set(pairs) == declared_pairs()


def test_bench_jobs_are_one_per_arch_with_every_runtime_of_that_arch():
    jobs = matrix.arches()["include"]
    arches = [j["arch"] for j in jobs]
    assert len(arches) == len(set(arches)) and set(arches) == {a for _, a in declared_pairs()}
    for j in jobs:
        assert set(j["runtimes"].split()) == {r for r, a in declared_pairs() if a == j["arch"]}
        assert j["runner"] == matrix.RUNNERS[j["arch"]]


def test_runner_labels_are_native_per_arch():
    for leg in matrix.matrix()["include"]:
        expected = {"amd64": "ubuntu-24.04", "arm64": "ubuntu-24.04-arm"}[leg["arch"]]
        assert leg["runner"] == expected, leg
        assert leg["platform"] == f"linux/{leg['arch']}"


def test_module_prints_the_same_matrix_as_json():
    out = subprocess.run([sys.executable, "-m", "suite.publish.matrix"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    assert out.count("\n") == 1, "GITHUB_OUTPUT needs the matrix on one line"
    assert json.loads(out) == matrix.matrix()


def test_generated_from_the_file_not_a_list(tmp_path):
    f = tmp_path / "runtimes.toml"
    f.write_text('["x-1"]\nkind = "cpython"\npython = "3.12"\njit = false\n'
                 'flavors = ["pure"]\nenv = {}\narches = ["arm64"]\n')
    m = matrix.matrix(runtimes.load(f))
    assert m == {"include": [{"runtime": "x-1", "arch": "arm64", "runner": "ubuntu-24.04-arm",
                              "platform": "linux/arm64"}]}


def test_unknown_arch_is_refused(tmp_path):
    f = tmp_path / "runtimes.toml"
    f.write_text('["x-1"]\nkind = "cpython"\npython = "3.12"\njit = false\n'
                 'flavors = ["pure"]\nenv = {}\narches = ["riscv64"]\n')
    with pytest.raises(ValueError, match="riscv64"):
        matrix.matrix(runtimes.load(f))


def test_leg_facts_for_github_output():
    known = runtimes.load()
    rid = next(iter(known))
    arch = known[rid].arches[0]
    facts = matrix.leg(rid, arch, "Some-Owner/Repo")
    assert facts["image"] == f"ghcr.io/some-owner/repo/{rid}"
    assert facts["platform"] == f"linux/{arch}"
    assert facts["dockerfile"].startswith("docker/")
    text = matrix.github_output({"a": "1", "b": "x=1\ny=2"})
    assert text == "a=1\nb<<SUITE_EOF\nx=1\ny=2\nSUITE_EOF\n"
    with pytest.raises(ValueError, match="unknown runtime"):
        matrix.leg("no-such-runtime", "amd64", "o/r")


def test_leg_context_is_made_like_make_images(tmp_path, monkeypatch):
    """--context: the build context and arguments come from suite/runtimes/images.py (offline for
    the Mojo image: no source tarball to fetch)."""
    monkeypatch.setenv("BASE_IMAGE", "docker.io/library/debian:trixie-slim@sha256:" + "0" * 64)
    monkeypatch.setenv("BUILD_MODE", "optimized")
    ctx = tmp_path / "ci" / "context"
    facts = matrix.leg("mojo-1.2", "arm64", "o/r", context=ctx)
    assert facts["context"] == str(ctx)
    assert (ctx / "worker.txt").is_file()
    assert facts["dockerfile"] == "docker/mojo.Dockerfile"
    assert "BASE_IMAGE=docker.io/library/debian:trixie-slim@sha256:" in facts["build-args"]
