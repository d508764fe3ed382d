"""CPython 3.15: its runtimes in docker/runtimes.toml (and so in the CI matrix), the
unavailable path when its tarball cannot be fetched, and JIT detection for every CPython
flavour of the JIT API: 3.13 (no `sys._jit`: build flags + the installed optimizer) and
3.14/3.15 (`sys._jit.is_available/is_enabled/is_active`), with `sys._jit` faked."""

from __future__ import annotations

import json
import re
import sys
import types

import pytest
from jsonschema import Draft202012Validator

from suite import runtimes
from suite.measure import environment
from suite.publish import matrix
from suite.runtimes import images
from suite.runtimes.backend import Unavailable
from tests.conftest import ROOT


# -- JIT detection ---------------------------------------------------------------------------
def jit_schema() -> Draft202012Validator:
    """The result schema's runtime.jit object: what the worker's facts must satisfy."""
    schema = json.loads((ROOT / "schemas" / "result.schema.json").read_text())
    return Draft202012Validator(schema["properties"]["runtime"]["properties"]["jit"])


def fake_sys_jit(available: bool, enabled: bool, active_after: int | None = None,
                 active_raises: bool = False) -> types.SimpleNamespace:
    """`sys._jit` as 3.14 and 3.15 have it. is_active() turns true after `active_after`
    calls (the loop has reached JIT code); None: never."""
    calls = {"n": 0}

    def is_active() -> bool:
        if active_raises:
            raise RuntimeError("no frame")
        calls["n"] += 1
        return active_after is not None and calls["n"] > active_after

    return types.SimpleNamespace(is_available=lambda: available, is_enabled=lambda: enabled,
                                 is_active=is_active, calls=calls)


@pytest.fixture
def cpython(monkeypatch):
    """Run jit_state() as CPython (even under another interpreter)."""
    monkeypatch.setattr(sys, "implementation",
                        types.SimpleNamespace(name="cpython", version=sys.version_info))
    return monkeypatch


@pytest.mark.parametrize("version", ["3.14", "3.15"])
@pytest.mark.parametrize("available,enabled,expected", [
    (False, False, {"built": False, "enabled": False}),  # no JIT, or =interpreter builds
    (True, False, {"built": True, "enabled": False}),    # yes-off without PYTHON_JIT=1
    (True, True, {"built": True, "enabled": True}),      # yes-off with PYTHON_JIT=1
    (False, True, {"built": False, "enabled": False}),   # enabled implies available
])
def test_sys_jit_built_and_enabled(cpython, version, available, enabled, expected):
    fake = fake_sys_jit(available, enabled, active_after=100)
    cpython.setattr(sys, "_jit", fake, raising=False)
    got = environment.jit_state()
    assert {k: got[k] for k in ("built", "enabled")} == expected, version
    assert got["method"].startswith("sys._jit.is_available()/is_enabled()")
    if expected["enabled"]:
        assert got["active"] is True and "is_active()" in got["method"]
        assert fake.calls["n"] == environment.CPYTHON_PROBE_LOOPS  # the whole loop ran
    else:
        assert "active" not in got and fake.calls["n"] == 0  # no probe without the JIT
    assert not list(jit_schema().iter_errors(got))


def test_enabled_jit_that_never_runs_jit_code_is_visible(cpython):
    cpython.setattr(sys, "_jit", fake_sys_jit(True, True, active_after=None), raising=False)
    got = environment.jit_state()
    assert got["enabled"] is True and got["active"] is False
    assert not list(jit_schema().iter_errors(got))


def test_probe_failure_is_reported_not_raised(cpython):
    cpython.setattr(sys, "_jit", fake_sys_jit(True, True, active_raises=True), raising=False)
    got = environment.jit_state()
    assert got["enabled"] is True and got["active"] is None
    assert "RuntimeError: no frame" in got["error"]
    assert not list(jit_schema().iter_errors(got))


def fake_313(cpython, cflags: str, optimizer=None, capi: bool = True) -> None:
    """3.13: no sys._jit; the build flags say whether the JIT is built, the optimizer that
    _testinternalcapi reports whether it is on."""
    cpython.delattr(sys, "_jit", raising=False)
    real = environment.sysconfig.get_config_var
    cpython.setattr(environment.sysconfig, "get_config_var",
                    lambda name: cflags if name == "PY_CORE_CFLAGS" else real(name))
    mod = types.ModuleType("_testinternalcapi")
    if capi:
        mod.get_optimizer = lambda: optimizer
    cpython.setitem(sys.modules, "_testinternalcapi", mod)


@pytest.mark.parametrize("cflags,optimizer,expected", [
    ("-O3 -DNDEBUG", None, {"built": False, "enabled": False}),
    ("-O3 -D_Py_TIER2=3 -D_Py_JIT", None, {"built": True, "enabled": False}),
    ("-O3 -D_Py_TIER2=3 -D_Py_JIT", object(), {"built": True, "enabled": True}),
])
def test_313_without_sys_jit(cpython, cflags, optimizer, expected):
    fake_313(cpython, cflags, optimizer)
    got = environment.jit_state()
    assert {k: got[k] for k in ("built", "enabled")} == expected
    assert got["method"].startswith("-D_Py_JIT in PY_CORE_CFLAGS")
    assert "active" not in got
    assert not list(jit_schema().iter_errors(got))


def test_313_jit_build_without_the_optimizer_api_says_it_cannot_tell(cpython):
    fake_313(cpython, "-D_Py_JIT", capi=False)
    got = environment.jit_state()
    assert got["built"] is True and got["enabled"] is None and "cannot tell" in got["error"]


def test_this_interpreter_is_measured_not_assumed():
    """The real interpreter running the tests: its answer agrees with what it has."""
    got = environment.jit_state()
    assert not list(jit_schema().iter_errors(got))
    if sys.implementation.name == "cpython" and not hasattr(sys, "_jit"):
        cflags = environment.sysconfig.get_config_var("PY_CORE_CFLAGS") or ""
        assert got["built"] is ("-D_Py_JIT" in cflags)


# -- the runtimes ----------------------------------------------------------------------------
def test_315_runtimes_are_declared_like_the_others():
    known = runtimes.load()
    plain, jit = known["cpython-3.15"], known["cpython-3.15-jit"]
    for rt in (plain, jit):
        assert rt.kind == "cpython" and rt.python == "3.15"
        assert rt.image["python_version"].startswith("3.15.")
        assert re.fullmatch(r"[0-9a-f]{64}", rt.image["python_sha256"])
        assert set(rt.flavors) == set(known["cpython-3.14"].flavors)
        assert set(rt.arches) == {"amd64", "arm64"}
    assert plain.image["python_sha256"] == jit.image["python_sha256"]
    assert not plain.jit and jit.jit and jit.env == {"PYTHON_JIT": "1"}
    # 3.15's Tools/jit/README.md names LLVM 21 (3.14: 19, 3.13: 18).
    assert jit.image["llvm"] == "21" and jit.image["jit_flag"] == "yes-off"
    assert int(jit.image["llvm"]) > int(known["cpython-3.14-jit"].image["llvm"])


def test_315_jit_and_plain_images_differ_only_in_jit_flag_and_llvm(tmp_path, monkeypatch):
    known = runtimes.load()
    monkeypatch.setattr(images, "fetch_source", lambda rt, c, log=None: tmp_path / "x")
    for arch in images.ARCHES:
        a = images.spec(known["cpython-3.15"], arch, "fast", tmp_path).build_args
        b = images.spec(known["cpython-3.15-jit"], arch, "fast", tmp_path).build_args
        assert {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)} == {
            "JIT", "LLVM_VERSION"}
        assert b["LLVM_VERSION"] == "21" and b["PYTHON_VERSION"].startswith("3.15.")


def test_315_is_in_the_ci_matrix_for_both_arches():
    pairs = {(leg["runtime"], leg["arch"]) for leg in matrix.matrix()["include"]}
    for rid in ("cpython-3.15", "cpython-3.15-jit"):
        assert {(rid, "amd64"), (rid, "arm64")} <= pairs
    for job in matrix.arches()["include"]:
        assert {"cpython-3.15", "cpython-3.15-jit"} <= set(job["runtimes"].split())


def test_315_without_its_tarball_is_unavailable_with_the_reason(tmp_path, monkeypatch):
    """As on this machine (no python.org): images.spec() says why, naming the release, its
    pinned SHA-256 and every place it tried; nothing is built or faked."""
    monkeypatch.setenv("EXTRA_CA", "none")
    rt = runtimes.load()["cpython-3.15-jit"]
    tried: list[str] = []

    def unreachable(url, *args, **kwargs):
        tried.append(url)
        raise OSError("network unreachable")

    monkeypatch.setattr(images.urllib.request, "urlopen", unreachable)
    with pytest.raises(Unavailable) as exc:
        images.spec(rt, images.host_arch(), "fast", tmp_path, log=lambda m: None)
    msg = str(exc.value)
    version, sha = rt.image["python_version"], rt.image["python_sha256"]
    assert f"CPython {version}" in msg and sha in msg and "network unreachable" in msg
    assert tried == images.source_urls(rt)
    assert tried[-1] == images.UPSTREAM.format(version=version)
    assert not (tmp_path / "sources" / images.tarball_name(version)).exists()


def test_llvm_from_backports_is_the_llvm_alone():
    """An LLVM the base suite lacks (3.15 on trixie) comes from <codename>-backports, by
    package name: no -t/--target-release, which would pull other packages from there."""
    recipe = (ROOT / "docker" / "cpython.Dockerfile").read_text()
    assert "$VERSION_CODENAME-backports" in recipe
    assert not re.search(r"apt-get[^\n]*\s(-t|--target-release|--default-release)\s", recipe)
