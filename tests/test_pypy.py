"""The pypy-3.11 runtime: the runtimes file, its image spec, native discovery (no PyPy 3.11
on these hosts: reported unavailable, pointing at the container backend; fake `pypy3`
scripts of other versions are not taken), the JIT facts; and, marked `containers`, the real
image (docker/pypy.Dockerfile): a smoke run inside it, the JIT measured on (and off with
`--jit off`), and the workloads' property tests run INSIDE PyPy (tests/pypy_agreement.py in
docker/pypy-test.Dockerfile)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
import subprocess
import sys
import types
from pathlib import Path

import pytest

from suite import documents, runtimes
from suite.measure import environment
from suite.runtimes import Runtime, images
from suite.runtimes.backend import Unavailable
from suite.runtimes.native import NativeBackend, discover
from suite.workloads import WORKLOADS
from tests.test_containers import base_or_skip, engine_or_skip

ROOT = Path(__file__).resolve().parent.parent
RID = "pypy-3.11"


def pypy_rt() -> Runtime:
    return runtimes.load()[RID]


# -- the runtimes file and the image spec (no engine) ------------------------------------
def test_runtimes_file_declares_pypy():
    rt = pypy_rt()
    assert rt.kind == "pypy" and rt.python == "3.11" and rt.jit is True
    assert rt.flavors == ("pure", "numpy")
    assert rt.warmup == "steady"
    assert rt.env == {}
    assert set(rt.arches) == {"amd64", "arm64"}
    assert rt.image["recipe"] == "pypy"
    assert (ROOT / "docker" / "pypy.Dockerfile").is_file()
    # Debian's pypy3 of the base image's suite (trixie), pinned exactly: PyPy 7.3.x.
    assert re.fullmatch(r"7\.3\.\d+\+dfsg-\d+", rt.image["pypy_package"])


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_image_spec_pins_the_package(tmp_path, arch):
    rt = pypy_rt()
    s = images.spec(rt, arch, "fast", tmp_path, log=lambda m: None)
    assert s.recipe == ROOT / "docker" / "pypy.Dockerfile"
    assert s.build_args["PYPY_PACKAGE"] == rt.image["pypy_package"]
    assert s.build_args["BASE_IMAGE"] == images.base_image(arch)
    assert set(s.context_files) == {"worker.txt", "constraints.txt"}
    other = dataclasses.replace(rt, image={**rt.image, "pypy_package": "7.3.99+dfsg-1"})
    assert images.spec(other, arch, "fast", tmp_path, log=lambda m: None).key != s.key


def test_image_spec_without_the_pin_is_unavailable(tmp_path):
    rt = dataclasses.replace(pypy_rt(), image={"recipe": "pypy"})
    with pytest.raises(Unavailable, match="pypy_package"):
        images.spec(rt, "amd64", "fast", tmp_path, log=lambda m: None)


# -- native discovery --------------------------------------------------------------------
@pytest.fixture
def bare_path(tmp_path, monkeypatch) -> Path:
    """PATH is one empty directory and pyenv has no versions: no interpreter at all."""
    d = tmp_path / "bin"
    d.mkdir()
    monkeypatch.setenv("PATH", str(d))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    return d


def fake_python(d: Path, name: str, implementation: str, version: str, jit: bool) -> Path:
    """An executable answering the native backend's probe like the given interpreter."""
    p = d / name
    info = {"implementation": implementation, "version": version, "jit_built": jit,
            "executable": str(p)}
    p.write_text(f"#!/bin/sh\necho '{json.dumps(info)}'\n")
    p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return p


def test_native_without_pypy_is_unavailable_and_says_where_it_looked(bare_path, tmp_path):
    be = NativeBackend(tmp_path / "cache", log=lambda m: None)
    assert be.interpreters == []
    assert RID not in be.available(runtimes.load())
    with pytest.raises(Unavailable) as exc:
        be.interpreter_for(pypy_rt())
    msg = str(exc.value)
    for needle in ("PyPy 3.11", "pypy3.11", "pypy3", "PATH", "pyenv", "found: none",
                   "make bench BACKEND=container RUNTIMES=pypy-3.11"):
        assert needle in msg, (needle, msg)


def test_native_run_without_pypy_exits_with_the_reason(bare_path, tmp_path):
    p = subprocess.run([sys.executable, "-m", "suite", "run", "--backend", "native",
                        "-r", RID, "-p", "smoke", "-o", str(tmp_path / "out"),
                        "--cache", str(tmp_path / "cache")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "needs PyPy 3.11" in p.stderr and "BACKEND=container" in p.stderr
    assert not list((tmp_path / "out").rglob("*.json"))


def test_fake_pypy_of_another_version_is_not_matched(bare_path, tmp_path):
    fake_python(bare_path, "pypy3", "PyPy", "3.9.18", jit=True)  # Debian 12's pypy3
    found = discover()
    assert [(i.implementation, i.version) for i in found] == [("PyPy", "3.9.18")]
    be = NativeBackend(tmp_path / "cache", log=lambda m: None)
    with pytest.raises(Unavailable, match=r"found: PyPy 3\.9\.18 \("):
        be.interpreter_for(pypy_rt())


@pytest.mark.parametrize("implementation,jit", [("CPython", True), ("PyPy", False)])
def test_a_311_that_is_not_a_jit_pypy_is_not_matched(bare_path, tmp_path, implementation, jit):
    fake_python(bare_path, "pypy3.11", implementation, "3.11.11", jit=jit)
    be = NativeBackend(tmp_path / "cache", log=lambda m: None)
    with pytest.raises(Unavailable):
        be.interpreter_for(pypy_rt())


@pytest.mark.parametrize("name", ["pypy3.11", "pypy3", "pypy"])
def test_a_pypy_311_is_found_under_each_name(bare_path, tmp_path, monkeypatch, name):
    fake_python(bare_path, "pypy3", "PyPy", "3.9.18", jit=True)  # not this one
    other = tmp_path / "bin2"
    other.mkdir()
    want = fake_python(other, name, "PyPy", "3.11.11", jit=True)
    monkeypatch.setenv("PATH", f"{bare_path}{os.pathsep}{other}")
    be = NativeBackend(tmp_path / "cache", log=lambda m: None)
    it = be.interpreter_for(pypy_rt())
    assert it.path == str(want.resolve()) and it.minor == "3.11"
    assert RID in be.available(runtimes.load())


def test_pyenv_pypy_versions_are_found(bare_path, tmp_path):
    d = tmp_path / "pyenv" / "versions" / "pypy3.11-7.3.19" / "bin"
    d.mkdir(parents=True)
    want = fake_python(d, "pypy3", "PyPy", "3.11.11", jit=True)
    be = NativeBackend(tmp_path / "cache", log=lambda m: None)
    assert be.interpreter_for(pypy_rt()).path == str(want.resolve())


# -- JIT facts (the measurement itself is checked in the image, below) --------------------
def test_cpython_facts_have_no_pypy_keys():
    assert environment.pypy_facts() == {}
    assert "pypyjit" not in environment.jit_state()["method"]


@pytest.fixture
def as_pypy(monkeypatch):
    """jit_state() as if this were PyPy, with a stand-in `pypyjit` module."""
    monkeypatch.setattr(sys.implementation, "name", "pypy")
    mod = types.ModuleType("pypyjit")
    monkeypatch.setitem(sys.modules, "pypyjit", mod)
    return mod


def test_pypy_jit_enabled_only_when_the_probe_loop_compiles(as_pypy):
    hooks = []
    as_pypy.set_compile_hook = hooks.append  # a JIT that compiles nothing: off
    st = environment.jit_state()
    assert st == {"built": True, "enabled": False, "method": environment.PYPY_JIT_METHOD}
    assert hooks[-1] is None  # the hook is removed again

    def compiling(hook):  # a JIT that compiles (the hook fires)
        hooks.append(hook)
        if hook is not None:
            hook(types.SimpleNamespace(type="loop"))

    as_pypy.set_compile_hook = compiling
    assert environment.jit_state()["enabled"] is True
    assert hooks[-1] is None


def test_pypy_jit_probe_failure_is_reported_not_guessed(as_pypy):
    st = environment.jit_state()  # no set_compile_hook at all
    assert st["built"] is True and st["enabled"] is None
    assert "cannot tell" in st["error"]


def test_pypy_without_pypyjit_has_no_jit(monkeypatch):
    monkeypatch.setattr(sys.implementation, "name", "pypy")
    monkeypatch.setitem(sys.modules, "pypyjit", None)  # import fails
    assert environment.jit_state() == {"built": False, "enabled": False,
                                       "method": "import pypyjit"}


# -- the real image ------------------------------------------------------------------------
def user_args(engine) -> list[str]:
    if os.geteuid() != 0:
        extra = ["--userns=keep-id"] if engine.name == "podman" else []
        return [*extra, "--user", f"{os.getuid()}:{os.getgid()}"]
    return ["--user", "10001:10001"]


def run_in(engine, ref: str, *cmd: str, mounts=("suite",), timeout=600):
    args = ["run", "--rm", "--network", "none", "--read-only", "--tmpfs",
            "/tmp:rw,exec,size=1g", *user_args(engine), "-e", "HOME=/tmp", "-w", "/suite"]
    for m in mounts:
        args += ["-v", f"{ROOT / m}:/suite/{m}:ro"]
    return subprocess.run(engine.cmd(*args, ref, *cmd), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def pypy_image(tmp_path_factory):
    """The pypy-3.11 image for this machine's arch (fast mode; built when missing)."""
    engine = engine_or_skip()
    base_or_skip(engine, images.host_arch())
    cache = tmp_path_factory.mktemp("pypy-cache")
    s, info, _ = images.ensure(engine, pypy_rt(), images.host_arch(), "fast", cache,
                               log=lambda m: None)
    return engine, s, info, cache


@pytest.mark.containers
def test_image_python3_is_pypy_with_the_jit_on(pypy_image):
    engine, s, info, _ = pypy_image
    assert info["labels"].get("bench.pypy-package") == pypy_rt().image["pypy_package"]
    probe = ("import json, sys; from suite.measure import environment as e; "
             "print(json.dumps({'exe': sys.executable, 'jit': e.jit_state(), "
             "'facts': e.pypy_facts(), 'impl': sys.implementation.name}))")
    p = run_in(engine, s.ref, "python3", "-c", probe)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["impl"] == "pypy" and out["exe"] == "/opt/venv/bin/python3"
    assert out["jit"] == {"built": True, "enabled": True,
                          "method": environment.PYPY_JIT_METHOD}
    assert out["facts"]["pypy_version"].startswith("7.3.")
    # The measurement can say no: `--jit off` reads as disabled.
    p = run_in(engine, s.ref, "python3", "--jit", "off", "-c", probe)
    assert p.returncode == 0, p.stderr
    off = json.loads(p.stdout.strip().splitlines()[-1])["jit"]
    assert off["built"] is True and off["enabled"] is False


@pytest.mark.containers
def test_smoke_run_in_pypy(pypy_image, tmp_path):
    engine, s, info, cache = pypy_image
    out = tmp_path / "results"
    p = subprocess.run([sys.executable, "-m", "suite", "run", "--backend", "container",
                        "--engine", engine.name, "-p", "smoke", "-r", RID, "-w", "gelu",
                        "-o", str(out), "--cache", str(cache)],
                       cwd=ROOT, capture_output=True, text=True, timeout=1800,
                       env={**os.environ, "BUILD_MODE": "fast"})
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    docs = sorted(out.rglob("*.json"))
    assert len(docs) == 1, docs
    doc = documents.load(docs[0])  # validates against the schema
    rt = doc["runtime"]
    assert rt["id"] == RID and rt["kind"] == "pypy"
    assert rt["implementation"] == "PyPy" and rt["version"].startswith("3.11.")
    assert rt["pypy_version"].startswith("7.3.")
    assert rt["jit"]["built"] is True and rt["jit"]["enabled"] is True
    assert rt["jit"]["expected"] is True
    pins = (ROOT / "suite" / "requirements" / "worker.txt").read_text()
    assert f"numpy=={rt['numpy']}" in pins.split()  # the pinned NumPy, PyPy's wheel
    b = doc["backend"]
    assert b["kind"] == "container" and b["image"] == s.ref and b["digest"] == info["digest"]
    assert b["recipe"] == "docker/pypy.Dockerfile" and b["build_mode"] is None
    assert doc["host"]["emulated"] is False
    cells = doc["cells"]
    assert {c["flavor"] for c in cells} == {"pure", "numpy"}
    assert all(c["status"] == "ok" for c in cells), json.dumps(cells, indent=1)[:3000]
    for c in cells:
        assert c["warmups"] and c["samples"], c["id"]
        assert c["warmup"]["rule"] == "steady", c["id"]
        assert c["check"]["ok"] is True


@pytest.mark.containers
def test_workloads_agree_with_the_reference_inside_pypy(pypy_image):
    engine, s, _, cache = pypy_image
    rt = pypy_rt()
    test_rt = Runtime(id="test-pypy", kind="pypy", python=rt.python, jit=True,
                      flavors=rt.flavors,
                      image={"recipe": "pypy-test", "pypy_package": rt.image["pypy_package"],
                             "build_args": {"BASE_IMAGE": s.ref}})
    t, _, _ = images.ensure(engine, test_rt, images.host_arch(), "fast", cache,
                            log=lambda m: None)
    p = run_in(engine, t.ref, "env", "HYPOTHESIS_STORAGE_DIRECTORY=/tmp/hypothesis",
               "python3", "-m", "pytest", "-p", "no:cacheprovider", "-q",
               "tests/pypy_agreement.py",
               mounts=("suite", "tests", "pyproject.toml"), timeout=3600)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-5000:]
    expected = 2 + 2 * len(WORKLOADS) + 5 * 3  # see tests/pypy_agreement.py
    m = re.search(r"(\d+) passed", out)
    assert m and int(m.group(1)) == expected, out[-2000:]
    assert not re.search(r"\d+ (failed|skipped|error)", out), out[-2000:]
