"""The container backend and images: bad input (no engine needed), and real builds and runs
with Podman or Docker (marked `containers`; skipped when no engine is usable unless
SUITE_REQUIRE_CONTAINERS=1). The real runs use docker/debian-python.Dockerfile, a small
image (Debian's own python3 + NumPy), so that arm64 under QEMU takes minutes, not hours."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from suite import documents
from suite.measure import profiles
from suite.measure.runner import Run
from suite.runtimes import Runtime, images
from suite.runtimes.backend import Unavailable
from suite.runtimes.engine import NoEngine, detect

ROOT = Path(__file__).resolve().parent.parent
SHA = "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"


def suite(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=600)


def cpython_rt(**image) -> Runtime:
    return Runtime(id="cpython-3.13", kind="cpython", python="3.13", jit=False,
                   flavors=("pure", "numpy"), image={"recipe": "cpython",
                                                     "python_version": "3.13.5",
                                                     "python_sha256": SHA, **image})


# -- bad input, no engine needed ---------------------------------------------------------
def test_unknown_arch_is_a_clear_error():
    p = suite("suite", "run", "--backend", "container", "--arch", "sparc64",
              "-r", "cpython-3.13", "-p", "smoke")
    assert p.returncode == 2
    assert "unknown ARCH 'sparc64'" in p.stderr and "amd64" in p.stderr


def test_unknown_runtime_is_a_clear_error():
    p = suite("suite.commands.images", "-r", "cpython-2.7")
    assert p.returncode == 2
    assert "unknown runtime(s) cpython-2.7" in p.stderr


def test_missing_engine(tmp_path):
    env = {"PATH": str(tmp_path), "ENGINE": ""}  # no docker, no podman on PATH
    p = suite("suite.runtimes.engine", env=env)
    assert p.returncode == 1
    assert "no container engine found" in p.stderr
    p = suite("suite", "run", "--backend", "container", "-r", "cpython-3.13", "-p", "smoke",
              env=env)
    assert p.returncode == 2 and "no container engine found" in p.stderr
    p = suite("suite.runtimes.engine", "nosuch")
    assert p.returncode == 1 and "unknown engine 'nosuch'" in p.stderr


def test_detect_without_any_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NoEngine, match="no container engine found"):
        detect()


def test_cached_tarball_with_wrong_hash_names_both(tmp_path):
    src = tmp_path / "sources"
    src.mkdir()
    (src / "Python-3.13.5.tar.xz").write_bytes(b"not the release")
    got = hashlib.sha256(b"not the release").hexdigest()
    with pytest.raises(images.SourceUnavailable) as exc:
        images.fetch_source(cpython_rt(), tmp_path, log=lambda m: None)
    assert SHA in str(exc.value) and got in str(exc.value) and "mismatch" in str(exc.value)


def test_downloaded_tarball_with_wrong_hash_is_discarded(tmp_path, monkeypatch):
    monkeypatch.setenv("EXTRA_CA", "none")
    body = b"a mirror serving other bytes"
    with pytest.raises(images.SourceUnavailable) as exc:
        images.fetch_source(cpython_rt(mirrors=["http://mirror.invalid/x"]), tmp_path,
                            log=lambda m: None, urlopen=lambda url: io.BytesIO(body))
    msg = str(exc.value)
    assert SHA in msg and hashlib.sha256(body).hexdigest() in msg
    assert not list((tmp_path / "sources").iterdir())  # nothing kept


def test_unobtainable_source_is_unavailable_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("EXTRA_CA", "none")

    def refuse(url):
        raise OSError(f"connection refused: {url}")

    with pytest.raises(Unavailable, match=r"cannot be obtained here.*connection refused"):
        images.fetch_source(cpython_rt(), tmp_path, log=lambda m: None, urlopen=refuse)


def test_verified_download_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("EXTRA_CA", "none")
    body = b"pretend release"
    rt = cpython_rt(python_sha256=hashlib.sha256(body).hexdigest())
    p = images.fetch_source(rt, tmp_path, log=lambda m: None, urlopen=lambda u: io.BytesIO(body))
    assert p.read_bytes() == body
    assert images.fetch_source(rt, tmp_path, urlopen=None) == p  # from the cache now


def test_runtimes_file_pins_every_cpython_image():
    from suite import runtimes

    for rid, rt in runtimes.load().items():
        assert rt.image.get("recipe"), rid
        assert (ROOT / "docker" / f"{rt.image['recipe']}.Dockerfile").is_file()
        if rt.kind == "cpython":
            assert len(rt.image["python_sha256"]) == 64
            assert rt.image["python_version"].startswith(rt.python + ".")
            assert (rt.image["jit_flag"] == "yes-off") is rt.jit
            assert bool(rt.image["llvm"]) is rt.jit  # the only difference


def test_jit_and_plain_images_differ_only_in_jit_flag_and_llvm(tmp_path, monkeypatch):
    from suite import runtimes

    known = runtimes.load()
    src = tmp_path / "sources"
    src.mkdir()
    monkeypatch.setattr(images, "fetch_source", lambda rt, c, log=None: src / "x")
    for v in ("3.13", "3.14"):
        a = images.spec(known[f"cpython-{v}"], "amd64", "fast", tmp_path).build_args
        b = images.spec(known[f"cpython-{v}-jit"], "amd64", "fast", tmp_path).build_args
        diff = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
        assert diff == {"JIT", "LLVM_VERSION"}, diff


def test_other_arch_is_cross_compiled_and_defaults_to_fast(tmp_path, monkeypatch):
    from suite import runtimes

    known = runtimes.load()
    monkeypatch.setattr(images, "fetch_source", lambda rt, c, log=None: tmp_path / "x")
    monkeypatch.delenv("BUILD_MODE", raising=False)
    monkeypatch.delenv("BASE_IMAGE", raising=False)
    host = images.host_arch()
    other = next(a for a in images.ARCHES if a != host)
    native = images.spec(known["cpython-3.13-jit"], host, "fast", tmp_path).build_args
    assert "TARGET_GNU_TYPE" not in native and "BUILD_BASE_IMAGE" not in native
    cross = images.spec(known["cpython-3.13-jit"], other, "fast", tmp_path).build_args
    gnu, wheels = images.CROSS[other]
    assert cross["TARGET_GNU_TYPE"] == gnu and cross["TARGET_DEB_ARCH"] == other
    assert cross["WHEEL_PLATFORM"] == wheels and cross["BASE_IMAGE"].endswith(other)
    assert cross["BUILD_BASE_IMAGE"] == images.base_image(host)
    # The JIT flag and LLVM stay the only difference between JIT and plain, cross too.
    plain = images.spec(known["cpython-3.13"], other, "fast", tmp_path).build_args
    assert {k for k in plain.keys() | cross.keys() if plain.get(k) != cross.get(k)} == {
        "JIT", "LLVM_VERSION"}
    assert images.build_mode(None, other) == "fast"
    assert images.build_mode(None, host) == "optimized"
    assert images.build_mode("optimized", other) == "optimized"
    monkeypatch.setenv("BUILD_MODE", "optimized")
    assert images.build_mode(None, other) == "optimized"


# -- the sandbox: command lines and job directories, no engine needed ----------------------
def offline_backend(tmp_path: Path, user_args: list[str] | None = None):
    """A ContainerBackend whose engine is never called (the commands are checked)."""
    from suite.runtimes import container
    from suite.runtimes.engine import Engine

    be = object.__new__(container.ContainerBackend)
    be.cache_dir, be.arch, be.image = tmp_path, images.host_arch(), None
    be.engine = Engine("podman", "/usr/bin/podman", "test")
    be.log = lambda m: None
    be.images = {"cpython-3.13": "localhost/bench/cpython-3.13:x",
                 "mojo-1.2": "localhost/bench/mojo-1.2:x"}
    be.records, be.seq = {}, 0
    be.sandbox = container.sandbox(user_args or be.user_args())
    return be


def flag_values(cmd: list[str], flag: str) -> list[str]:
    return [cmd[i + 1] for i, a in enumerate(cmd) if a == flag]


@pytest.mark.parametrize("rid", ["cpython-3.13", "mojo-1.2"])
def test_every_container_is_non_root_read_only_offline_and_limited(tmp_path, rid):
    from suite import runtimes

    be = offline_backend(tmp_path)
    cmd = be.run_cmd(runtimes.load()[rid], [], {}, "bench-test")
    (user,) = flag_values(cmd, "--user")
    assert user.split(":")[0] not in ("0", "root")
    assert "--read-only" in cmd  # Mojo too
    assert flag_values(cmd, "--network") == ["none"]
    assert flag_values(cmd, "--cap-drop") == ["ALL"]
    assert flag_values(cmd, "--security-opt") == ["no-new-privileges"]
    s = be.sandbox
    assert flag_values(cmd, "--pids-limit") == [str(s["pids_limit"])]
    assert flag_values(cmd, "--memory") == flag_values(cmd, "--memory-swap") == [
        str(s["memory_bytes"])]
    assert 2 << 30 < s["memory_bytes"] <= 8 << 30  # the largest worker (~2.1 GiB) fits
    assert s["pids_limit"] >= 256 and s["user"] == user
    backend_schema = documents.schema()["properties"]["backend"]  # recorded as it says
    Draft202012Validator(backend_schema).validate({"kind": "container", "sandbox": s})


def test_root_host_runs_the_images_user(tmp_path, monkeypatch):
    from suite.runtimes import container

    monkeypatch.setattr(container.os, "geteuid", lambda: 0)
    be = offline_backend(tmp_path)
    assert be.sandbox["user"] == container.IMAGE_USER


class FakeEngine:
    """Stands in for `podman run`: reads the -v mounts and plays the container, which may
    write only into its rw mount."""

    def __init__(self, plant=None):
        self.mounts: list[tuple[str, str, str]] = []
        self.plant = plant or (lambda out: (out / "result.json").write_text(
            json.dumps({"status": "ok", "from": "container"})))

    def __call__(self, cmd, **kw):
        self.mounts = [tuple(v.rsplit(":", 2)) for v in flag_values(cmd, "-v")]
        self.job = json.loads(Path(self.host("/bench/job.json")).read_text())
        self.plant(Path(self.host("/bench/out")))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    def host(self, inner: str) -> str:
        return next(src for src, dst, _ in self.mounts if dst == inner)


def run_job(tmp_path: Path, fake: FakeEngine, monkeypatch) -> dict:
    from suite import runtimes
    from suite.runtimes import container

    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (tmp_path / "inputs").mkdir(exist_ok=True)
    monkeypatch.setattr(container.subprocess, "run", fake)
    be = offline_backend(tmp_path)
    job = {"inputs": str(tmp_path / "inputs" / "x.npz"),
           "result": str(work / "000001-cpython-3.13.result.json"), "mode": "measure"}
    return be.run_worker(runtimes.load()["cpython-3.13"], job, {}, 60)


def test_each_job_has_a_private_dir_and_only_out_is_writable(tmp_path, monkeypatch):
    seen = {}

    def plant(out: Path) -> None:
        job_dir = out.parent
        seen.update(job_dir=job_dir, dir_mode=job_dir.stat().st_mode & 0o777,
                    out_mode=out.stat().st_mode & 0o777, out_uid=out.stat().st_uid,
                    job_mode=(job_dir / "job.json").stat().st_mode & 0o777)
        (out / "result.json").write_text('{"status": "ok"}')

    fake = FakeEngine(plant)
    assert run_job(tmp_path, fake, monkeypatch) == {"status": "ok"}
    modes = {dst: mode for _, dst, mode in fake.mounts}
    assert [d for d, m in modes.items() if m != "ro"] == ["/bench/out"]
    assert modes["/bench/job.json"] == "ro" and modes["/bench/inputs"] == "ro"
    assert fake.job["result"] == "/bench/out/result.json"
    assert seen["dir_mode"] == 0o700 and seen["out_mode"] == 0o700
    assert seen["job_mode"] == 0o644
    if os.geteuid() == 0:
        assert seen["out_uid"] == 10001
    assert not seen["job_dir"].exists()  # removed after the job


def test_a_symlink_planted_by_the_container_is_not_followed(tmp_path, monkeypatch):
    victim = tmp_path / "victim.json"
    victim.write_text('{"status": "ok", "forged": true}')
    before = victim.read_text()

    def plant(out: Path) -> None:
        for name in ("result.json", "job.json", "000002-cpython-3.13.job.json",
                     "000002-cpython-3.13.result.json"):
            (out / name).symlink_to(victim)

    res = run_job(tmp_path, FakeEngine(plant), monkeypatch)
    assert res["status"] == "failed" and "forged" not in res
    assert "no result" in res["error"]
    # The next job: the host writes its job file into a fresh directory, never into a name
    # the last container could have planted; the victim is untouched.
    res = run_job(tmp_path, FakeEngine(), monkeypatch)
    assert res == {"status": "ok", "from": "container"}
    assert victim.read_text() == before and not victim.is_symlink()


def test_a_fifo_or_a_huge_result_fails_the_cell_without_hanging(tmp_path, monkeypatch):
    from suite.runtimes import container

    res = run_job(tmp_path, FakeEngine(lambda out: os.mkfifo(out / "result.json")),
                  monkeypatch)
    assert res["status"] == "failed"
    monkeypatch.setattr(container, "MAX_RESULT_BYTES", 10)
    res = run_job(tmp_path, FakeEngine(), monkeypatch)
    assert res["status"] == "failed"


# -- reproduce: which images may run ----------------------------------------------------------
FOREIGN = "docker.io/evil/miner@sha256:" + "e" * 64


def container_doc(image: str) -> dict:
    from tests.test_compare import make_cell, make_doc

    doc = make_doc("cpython-3.13", [make_cell("matmul", {"dtype": "float64", "n": 64}, "numpy",
                                              1, [1000 + i for i in range(12)])])
    doc["backend"] = {"kind": "container", "engine": "podman", "image": image,
                      "digest": image.split("@")[1]}
    documents.validate(doc)
    return doc


@pytest.mark.parametrize("image,trusted", [
    ("localhost/bench/cpython-3.13@sha256:" + "a" * 64, True),
    ("ghcr.io/runtime-bench/runtime-bench/cpython-3.13@sha256:" + "a" * 64, True),
    ("ghcr.io/runtime-bench/runtime-bench-evil/cpython-3.13@sha256:" + "a" * 64, False),
    ("ghcr.io/runtime-bench/cpython-3.13@sha256:" + "a" * 64, False),
    ("localhost:5000/bench/cpython-3.13@sha256:" + "a" * 64, False),
    ("evil/miner@sha256:" + "e" * 64, False),
    (FOREIGN, False),
])
def test_only_images_from_trusted_namespaces_run(image, trusted, monkeypatch):
    from suite.publish import reproduce

    monkeypatch.setenv("SUITE_IMAGE_NAMESPACE", "ghcr.io/runtime-bench/runtime-bench")
    ok, why = reproduce.image_trust(container_doc(image))
    assert ok is trusted, why
    if not trusted:
        assert f"--trust-image {reproduce.pinned_ref(container_doc(image))}" in why
        assert reproduce.image_trust(container_doc(image), [image])[0]


def test_a_foreign_image_is_refused_or_named_before_it_runs(tmp_path, monkeypatch, capsys):
    import argparse

    from suite.commands import reproduce as command
    from suite.publish import reproduce
    from suite.runtimes import engine

    doc = tmp_path / "foreign.json"
    doc.write_text(json.dumps(container_doc(FOREIGN)))
    monkeypatch.setattr(reproduce, "audit", lambda *a, **k: [])  # consistent otherwise
    pulled = []
    monkeypatch.setattr(reproduce, "get_image", lambda *a, **k: pulled.append(a))

    def no_engine(name=None):
        raise engine.NoEngine("no engine in this test")

    monkeypatch.setattr(engine, "detect", no_engine)
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    assert command.run(parser.parse_args([str(doc), "--cache", str(tmp_path)])) == 2
    err = capsys.readouterr().err
    assert "refused" in err and "not from a trusted namespace" in err
    assert f"--trust-image {FOREIGN}" in err and "TRUST_IMAGE=" in err
    # Named explicitly: it is said to be untrusted before anything runs (no engine here).
    args = parser.parse_args([str(doc), "--cache", str(tmp_path), "--trust-image", FOREIGN])
    assert command.run(args) == 2
    err = capsys.readouterr().err
    said = err.index("NOT from a trusted namespace")
    assert said < err.index("no engine in this test") and not pulled


def test_more_threads_than_cpus_is_refused_with_the_path():
    from suite.publish import reproduce

    doc = container_doc("localhost/bench/cpython-3.13@sha256:" + "a" * 64)
    doc["cells"][0]["threads"] = 4
    doc["host"]["cores"] = 8
    assert reproduce.thread_reasons(doc, cpus=8) == []
    (why,) = reproduce.thread_reasons(doc, cpus=2)
    assert why.startswith("$.cells[0].threads: 4 threads") and "2 CPUs" in why
    doc["host"]["cores"] = 2
    (why,) = reproduce.thread_reasons(doc, cpus=64)
    assert "host.cores (2)" in why


# -- real engine -------------------------------------------------------------------------
def engine_or_skip():
    try:
        return detect()
    except NoEngine as exc:
        if os.environ.get("SUITE_REQUIRE_CONTAINERS"):
            raise
        pytest.skip(str(exc))


def small_rt() -> Runtime:
    return Runtime(id="test-debian-python", kind="cpython", python="3.13", jit=False,
                   flavors=("pure", "numpy"), image={"recipe": "debian-python"})


def base_or_skip(engine, arch):
    if images.inspect(engine, images.base_image(arch)) is None:
        msg = f"no base image for {arch}: run `make base-images ARCH={arch}`"
        if os.environ.get("SUITE_REQUIRE_CONTAINERS"):
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("container-cache")


@pytest.mark.containers
def test_failed_build_is_a_clear_error(cache, tmp_path, monkeypatch):
    engine = engine_or_skip()
    base_or_skip(engine, images.host_arch())
    (tmp_path / "broken.Dockerfile").write_text(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo compiling && exit 3\n")
    monkeypatch.setattr(images, "DOCKER", tmp_path)
    rt = Runtime(id="broken", kind="cpython", python="3.13", jit=False, flavors=("pure",),
                 image={"recipe": "broken"})
    with pytest.raises(images.BuildFailed) as exc:
        images.ensure(engine, rt, images.host_arch(), "fast", cache, log=lambda m: None)
    msg = str(exc.value)
    assert "building the image for broken" in msg and "failed with exit code" in msg
    assert "full log:" in msg


@pytest.mark.containers
def test_container_dying_mid_run_keeps_finished_results(cache, tmp_path):
    from suite.runtimes.container import ContainerBackend, run_container

    engine = engine_or_skip()
    base_or_skip(engine, images.host_arch())

    class Dying(ContainerBackend):
        calls = 0

        def run_worker(self, rt, job, env, timeout):
            self.calls += 1
            if self.calls <= 4:  # 3 calibrations and one measuring process
                return super().run_worker(rt, job, env, timeout)
            name = f"bench-test-dying-{os.getpid()}-{self.calls}"
            cmd = [*self.run_cmd(rt, [], {}, name), "sh", "-c",
                   "python3 -c 'import os; os.kill(os.getpid(), 9)'; exit $?"]
            return run_container(self.engine, cmd, name, Path(job["result"]), timeout)

    rt = small_rt()
    be = Dying(cache, engine=engine.name)
    rec = be.prepare(rt)
    run = Run([rt], be, profiles.get("smoke"), tmp_path / "results", cache,
              workloads=["gelu"], flavors=["pure", "numpy"], log=lambda m: None,
              backend_records={rt.id: rec})
    status = run.execute()
    assert status == 1
    doc = documents.load(run.paths[rt.id])
    cells = doc["cells"]
    assert len(cells) >= 2
    assert cells[0]["samples"] and cells[0]["processes"] == 1  # finished work is kept
    errors = [c.get("error", "") for c in cells if c["status"] == "failed"]
    assert errors and all("exited with code 137" in e and "killed" in e for e in errors)


@pytest.mark.containers
@pytest.mark.slow
def test_arm64_under_qemu_is_marked_emulated(cache, tmp_path):
    from suite.runtimes.container import ContainerBackend

    if not (os.environ.get("SUITE_REQUIRE_CONTAINERS") or os.environ.get("SUITE_ARM64_TEST")):
        pytest.skip("minutes under QEMU: set SUITE_ARM64_TEST=1 (.ci/containers.sh does)")
    engine = engine_or_skip()
    if images.host_arch() == "arm64":
        pytest.skip("arm64 host: nothing to emulate")
    base_or_skip(engine, "arm64")
    rt = small_rt()
    be = ContainerBackend(cache, arch="arm64", engine=engine.name)
    rec = be.prepare(rt)
    assert rec["emulated"] is True and rec["arch"] == "arm64"
    assert rec["digest"].startswith("sha256:")
    run = Run([rt], be, profiles.get("smoke"), tmp_path / "results", cache,
              workloads=["gelu"], flavors=["pure"], log=lambda m: None,
              backend_records={rt.id: rec})
    status = run.execute()
    doc = documents.load(run.paths[rt.id])
    assert status == 0, json.dumps(doc["cells"], indent=1)[:3000]
    assert doc["host"]["emulated"] is True
    assert doc["runtime"]["machine"] == "aarch64"
    assert run.paths[rt.id].parent.parent.name == "arm64"  # results/arm64/<runtime>/
    assert doc["backend"]["kind"] == "container" and doc["backend"]["digest"] == rec["digest"]
    assert all(c["status"] == "ok" for c in doc["cells"])


@pytest.mark.containers
def test_hash_mismatch_stops_the_build_with_both_hashes(tmp_path):
    engine_or_skip()
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "Python-3.13.5.tar.xz").write_bytes(b"tampered")
    p = suite("suite.commands.images", "-r", "cpython-3.13", "--mode", "fast",
              "--cache", str(tmp_path))
    assert p.returncode == 1
    out = p.stdout + p.stderr
    assert "SHA-256 mismatch" in out and SHA in out
    assert hashlib.sha256(b"tampered").hexdigest() in out
