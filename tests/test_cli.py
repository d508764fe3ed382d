"""Bad input: a clear message naming what was wrong and what would be right, a non-zero
exit, and no result already written is lost."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import suite_cmd


@pytest.fixture
def results_dir(tmp_path):
    d = tmp_path / "results" / "amd64" / "cpython-3.12"
    d.mkdir(parents=True)
    keep = d / "20260101T000000Z.json"
    keep.write_text('{"kept": true}')
    return tmp_path / "results", keep


@pytest.mark.parametrize("args,expect", [
    (["run", "-r", "cpython-9.9", "-p", "smoke"], "unknown runtime(s) cpython-9.9; known"),
    (["run", "-p", "turbo"], "unknown profile 'turbo'; profiles: smoke, quick, full, reference"),
    (["run", "-w", "fft", "-p", "smoke"], "unknown workload 'fft'; known workloads: matmul"),
    (["run", "-f", "cuda", "-p", "smoke"], "unknown flavor 'cuda'"),
    (["run", "--python", "/nonexistent/python3", "-p", "smoke"],
     "--python /nonexistent/python3: no such executable"),
    (["run", "--arch", "arm64", "-p", "smoke"], "needs the container backend"),
])
def test_bad_run_arguments(results_dir, args, expect):
    out_dir, keep = results_dir
    proc = suite_cmd(*args, "-o", str(out_dir))
    assert proc.returncode != 0
    assert expect in proc.stderr, proc.stderr
    assert keep.read_text() == '{"kept": true}'
    assert list(out_dir.rglob("*.json")) == [keep]


def test_validate_unreadable_and_non_json(tmp_path):
    missing = tmp_path / "nope.json"
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    proc = suite_cmd("validate", str(missing), str(garbage))
    assert proc.returncode == 1
    assert "nope.json: cannot read" in proc.stdout
    assert "garbage.json: not JSON" in proc.stdout


def test_validate_empty_directory(tmp_path):
    proc = suite_cmd("validate", str(tmp_path))
    assert proc.returncode == 1 and "no result documents" in proc.stdout


def test_unknown_command_and_missing_args():
    assert suite_cmd("frobnicate").returncode == 2
    proc = suite_cmd("exec", "matmul")
    assert proc.returncode == 2 and "--flavor" in proc.stderr


def test_exec_runs_one_flavor_and_checks_it(tmp_path):
    out = tmp_path / "out.npy"
    inputs = tmp_path / "in.npz"
    proc = suite_cmd("exec", "matmul", "--flavor", "pure", "--param", "n=7",
                     "--param", "dtype=float64", "--output", str(out),
                     "--save-inputs", str(inputs))
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    assert rec["check"]["ok"]
    with np.load(inputs) as z:
        expected = z["a"] @ z["b"]
    assert np.allclose(np.load(out), expected)
    # Same inputs through the other flavor: outputs agree.
    out2 = tmp_path / "out2.npy"
    proc = suite_cmd("exec", "matmul", "--flavor", "numpy", "--param", "n=7",
                     "--param", "dtype=float64", "--inputs", str(inputs), "--output", str(out2))
    assert proc.returncode == 0
    assert np.allclose(np.load(out), np.load(out2))


@pytest.mark.parametrize("args,expect", [
    (["--param", "size=3"], "matmul has no parameter 'size'; parameters: dtype, n"),
    (["--param", "n=big"], "--param n=big: expected int"),
    (["--param", "n"], "expected K=V"),
    (["--flavor", "fortran"], "workload 'matmul' has no flavor 'fortran'"),
    (["--inputs", "/nonexistent.npz"], "cannot read inputs"),
])
def test_exec_bad_input(tmp_path, args, expect):
    base = ["exec", "matmul", "--output", str(tmp_path / "o.npy")]
    if "--flavor" not in args:
        base += ["--flavor", "pure"]
    proc = suite_cmd(*base, *args)
    assert proc.returncode != 0
    assert expect in proc.stderr, proc.stderr


def test_image_per_runtime_for_one_interleaved_container_run():
    from suite.commands.run import given_images

    assert given_images(["a=r@sha256:1", "b=s@sha256:2"], ["a", "b"]) == {
        "a": "r@sha256:1", "b": "s@sha256:2"}
    assert given_images(["r@sha256:1"], ["a"]) == {"a": "r@sha256:1"}
    for bad, ids, says in [(["r@sha256:1"], ["a", "b"], "name its runtime"),
                           (["a=x", "a=y"], ["a"], "twice"),
                           (["c=x"], ["a", "b"], "not among the selected runtimes"),
                           (["=x"], ["a"], "RUNTIME=REF")]:
        with pytest.raises(ValueError, match=says):
            given_images(bad, ids)


@pytest.mark.parametrize("args,expect", [
    (["--native", "cpython-3.12"], "--native needs --backend container"),
    (["--backend", "container", "--native", "cpython-9.9"],
     "--native cpython-9.9: unknown runtime; known: cpython-3.12"),
    (["--backend", "container", "-r", "cpython-3.13", "--native", "cpython-3.12"],
     "--native cpython-3.12: not among the selected runtimes (cpython-3.13)"),
])
def test_bad_native_arguments(results_dir, args, expect):
    out_dir, keep = results_dir
    proc = suite_cmd("run", "-p", "smoke", *args, "-o", str(out_dir))
    assert proc.returncode == 2, proc.stderr
    assert expect in proc.stderr, proc.stderr
    assert list(out_dir.rglob("*.json")) == [keep]


def test_native_runtimes_run_beside_the_container_ones():
    """--native: a mixed run sends each runtime's set-up and workers to its own backend."""
    from suite.runtimes.backend import PerRuntime

    class Recorder:
        def __init__(self, kind: str, has: list[str]) -> None:
            self.kind, self.has, self.calls = kind, has, []

        def available(self, known):
            return [r for r in self.has if r in known]

        def prepare(self, rt):
            self.calls.append(("prepare", rt.id))
            return {"kind": self.kind}

        def run_worker(self, rt, job, env, timeout):
            self.calls.append(("run", rt.id))
            return {"ok": True}

    from suite import runtimes

    known = runtimes.load()
    container, native = Recorder("container", ["cpython-3.13"]), Recorder("native", [])
    mixed = PerRuntime(container, native, {"cpython-3.12"})
    assert mixed.available(known) == ["cpython-3.13", "cpython-3.12"]
    for rid in ("cpython-3.12", "cpython-3.13"):
        assert mixed.prepare(known[rid]) == {"kind": "native" if rid == "cpython-3.12"
                                             else "container"}
        mixed.run_worker(known[rid], {}, {}, 1.0)
    assert native.calls == [("prepare", "cpython-3.12"), ("run", "cpython-3.12")]
    assert container.calls == [("prepare", "cpython-3.13"), ("run", "cpython-3.13")]
