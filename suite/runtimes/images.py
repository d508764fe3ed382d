"""Runtime images: what to build (from docker/runtimes.toml), the verified source tarball,
the build context, and the build itself, cached by a content key.

An image's tag carries its build mode, architecture and a key over everything that goes
into it (recipe, build arguments, context files, base image id), so a changed recipe gets a
new image and an unchanged one is never rebuilt:

    localhost/bench/<runtime>:<mode>-<arch>-<key12>

Environment:
    BUILD_MODE  optimized (default: PGO + LTO, as the official images) | fast (no PGO/LTO;
                for development and CI). Recorded in every result as backend.build_mode.
    EXTRA_CA    an extra CA bundle for builds behind TLS-intercepting proxies (given to the
                build as the secret `extra_ca`, never stored in an image). Default: pip's
                own `cert` setting or $PIP_CERT/$SSL_CERT_FILE if set; EXTRA_CA=none: none.
    BASE_IMAGE  the FROM image (default: localhost/debian:<suite>-slim-<arch>, made by
                `make base-images`); for registry builds pin it by tag and digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from suite import runtimes
from suite.runtimes import Runtime
from suite.runtimes.backend import Unavailable
from suite.runtimes.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
ARCHES = ("amd64", "arm64")
BUILD_MODES = ("optimized", "fast")
# CPython for another architecture is cross-compiled: GNU triple and wheel platform tag.
CROSS = {"amd64": ("x86_64-linux-gnu", "manylinux_2_28_x86_64"),
         "arm64": ("aarch64-linux-gnu", "manylinux_2_28_aarch64")}
UPSTREAM = "https://www.python.org/ftp/python/{version}/Python-{version}.tar.xz"
EXTRA_CA_TARGET = "extra_ca"
# Build output lines echoed while building (all of it goes to the log file).
PROGRESS = re.compile(r"^(\[\d+/\d+\] )?STEP |^#\d+ \[|^COMMIT|^Error|^error|^ERROR")


class SourceUnavailable(Unavailable):
    """The pinned source tarball cannot be obtained (or does not match its hash)."""


class BuildFailed(Unavailable):
    """The image build failed; the message carries the log's tail and its path."""


def host_arch() -> str:
    m = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64", "amd64": "amd64"}.get(m, m)


def check_arch(arch: str | None) -> str:
    if arch is None or arch == "":
        return host_arch()
    a = {"x86_64": "amd64", "aarch64": "arm64"}.get(arch, arch)
    if a not in ARCHES:
        raise ValueError(f"unknown ARCH {arch!r}; known: {', '.join(ARCHES)}")
    return a


def build_mode(value: str | None = None, arch: str | None = None) -> str:
    """The build mode asked for, else $BUILD_MODE, else `optimized` for the host's
    architecture and `fast` for an emulated one (PGO would train under QEMU for hours, and
    emulated timings are never compared anyway)."""
    emulated = arch is not None and check_arch(arch) != host_arch()
    mode = value or os.environ.get("BUILD_MODE") or ("fast" if emulated else "optimized")
    if mode not in BUILD_MODES:
        raise ValueError(f"unknown BUILD_MODE {mode!r}; known: {', '.join(BUILD_MODES)}")
    return mode


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def extra_ca() -> Path | None:
    """The extra CA bundle for builds, or None (see the module docstring)."""
    v = os.environ.get("EXTRA_CA")
    if v is not None:
        if v.lower() in ("", "none", "no"):
            return None
        if not Path(v).is_file():
            raise ValueError(f"EXTRA_CA={v}: no such file")
        return Path(v)
    for var in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        if os.environ.get(var) and Path(os.environ[var]).is_file():
            return Path(os.environ[var])
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.cert"],
                             capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out = ""
    return Path(out) if out and Path(out).is_file() else None


# -- source tarballs -------------------------------------------------------------------------
def tarball_name(version: str) -> str:
    return f"Python-{version}.tar.xz"


def source_urls(rt: Runtime) -> list[str]:
    img = rt.image
    return [*img.get("mirrors", []), UPSTREAM.format(version=img["python_version"])]


def fetch_source(rt: Runtime, cache_dir: Path, log=print, urlopen=None) -> Path:
    """The runtime's pinned CPython tarball from .cache/sources/ (checked by SHA-256), else
    downloaded from its mirrors and upstream. A hash mismatch stops with both hashes."""
    version, want = rt.image["python_version"], rt.image["python_sha256"].lower()
    name = tarball_name(version)
    src_dir = cache_dir / "sources"
    path = src_dir / name
    if path.exists():
        got = sha256_file(path)
        if got != want:
            raise SourceUnavailable(
                f"{path}: SHA-256 mismatch: expected {want} (pinned in docker/runtimes.toml), "
                f"got {got}; remove the file or replace it with the real {name}")
        return path
    src_dir.mkdir(parents=True, exist_ok=True)
    ca = extra_ca()
    ctx = ssl.create_default_context()
    if ca:
        ctx.load_verify_locations(cafile=str(ca))
    urlopen = urlopen or (lambda url: urllib.request.urlopen(url, timeout=60, context=ctx))
    tried = []
    for url in source_urls(rt):
        part = path.with_suffix(".part")
        try:
            log(f"fetching {name} from {url}")
            with urlopen(url) as resp, open(part, "wb") as f:
                shutil.copyfileobj(resp, f, 1 << 20)
        except Exception as exc:
            part.unlink(missing_ok=True)
            tried.append(f"{url}: {getattr(exc, 'reason', None) or exc}")
            continue
        got = sha256_file(part)
        if got != want:
            part.unlink(missing_ok=True)
            raise SourceUnavailable(
                f"{name} from {url}: SHA-256 mismatch: expected {want} (pinned in "
                f"docker/runtimes.toml), got {got}; the download was discarded")
        os.replace(part, path)
        return path
    raise SourceUnavailable(
        f"the source of CPython {version} ({name}, SHA-256 {want}) cannot be obtained here: "
        + "; ".join(tried) + f". Put the file in {src_dir}/ to build it")


# -- image specs -----------------------------------------------------------------------------
@dataclass
class ImageSpec:
    runtime: Runtime
    arch: str
    mode: str
    recipe: Path
    base_image: str
    build_args: dict[str, str]
    context_files: dict[str, Path] = field(default_factory=dict)  # name in context -> file
    context_dirs: dict[str, Path] = field(default_factory=dict)
    key: str = ""

    @property
    def repo(self) -> str:
        return f"localhost/bench/{self.runtime.id}"

    @property
    def ref(self) -> str:
        return f"{self.repo}:{self.mode}-{self.arch}-{self.key[:12]}"

    @property
    def emulated(self) -> bool:
        return self.arch != host_arch()


def base_image(arch: str) -> str:
    return os.environ.get("BASE_IMAGE") or f"localhost/debian:trixie-slim-{arch}"


def _tree_files(d: Path) -> list[Path]:
    return sorted(p for p in d.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix not in (".pyc", ".so"))


def spec(rt: Runtime, arch: str, mode: str, cache_dir: Path, engine: Engine | None = None,
         log=print) -> ImageSpec:
    """What to build for `rt` on `arch`; fetches the source tarball for CPython. PyPy
    images install Debian's pypy3 at the version `pypy_package` (a build argument, so a new
    pin is a new key)."""
    img = rt.image
    if not img or "recipe" not in img:
        raise Unavailable(f"runtime {rt.id} has no [\"{rt.id}\".image] table in "
                          "docker/runtimes.toml")
    if arch not in rt.arches:
        raise Unavailable(f"runtime {rt.id} is not built for {arch} (arches: "
                          f"{', '.join(rt.arches)})")
    recipe = DOCKER / f"{img['recipe']}.Dockerfile"
    if not recipe.is_file():
        raise Unavailable(f"runtime {rt.id}: recipe {recipe} does not exist")
    reqs = ROOT / "suite" / "requirements"
    args: dict[str, str] = {"BASE_IMAGE": base_image(arch)}
    # The same requirement files as the runtime's native venv (suite/runtimes/native.py).
    files: dict[str, Path] = {r: reqs / r for r in runtimes.requirement_files(rt)}
    if (reqs / "constraints.txt").is_file():  # pins of every transitive package
        files["constraints.txt"] = reqs / "constraints.txt"
    dirs: dict[str, Path] = {}
    if "python_version" in img:  # CPython from its pinned upstream tarball
        args.update(PYTHON_VERSION=img["python_version"], PYTHON_SHA256=img["python_sha256"],
                    JIT=img.get("jit_flag", "no"), LLVM_VERSION=str(img.get("llvm", "")),
                    OPTIMIZE="yes" if mode == "optimized" else "no")
        files[tarball_name(img["python_version"])] = fetch_source(rt, cache_dir, log)
        if arch != host_arch():  # cross-compiled on the host (docker/cpython.Dockerfile)
            gnu, wheels = CROSS[arch]
            args.update(BUILD_BASE_IMAGE=base_image(host_arch()), TARGET_GNU_TYPE=gnu,
                        TARGET_DEB_ARCH=arch, WHEEL_PLATFORM=wheels)
    elif rt.kind == "mojo":
        if not (ROOT / "suite" / "flavors" / "mojo.py").is_file():
            raise Unavailable("runtime mojo-1.2 needs suite/flavors/mojo.py (the extension "
                              "builder), which is missing")
        # Only what the extension build needs, so other suite changes do not rebuild it.
        files["suite/__init__.py"] = ROOT / "suite" / "__init__.py"
        for name in ("suite/flavors/__init__.py", "suite/flavors/mojo.py",
                     "suite/flavors/mojo_lib.py", "suite/flavors/max.py"):
            files[name] = ROOT / name
        dirs = {"mojo": ROOT / "mojo", "suite/workloads": ROOT / "suite" / "workloads"}
    elif rt.kind == "pypy":  # Debian's pypy3 package, pinned to its exact version
        if not img.get("pypy_package"):
            raise Unavailable(f"runtime {rt.id}: its [\"{rt.id}\".image] table lacks "
                              "pypy_package (the Debian pypy3 version to install)")
        args["PYPY_PACKAGE"] = str(img["pypy_package"])
    for k, v in img.get("build_args", {}).items():
        args[k] = str(v)
    s = ImageSpec(rt, arch, mode, recipe, args["BASE_IMAGE"], args, files, dirs)
    h = hashlib.sha256()
    h.update(recipe.read_bytes())
    h.update(json.dumps(args, sort_keys=True).encode())
    for name, p in sorted(files.items()):
        h.update(name.encode())
        h.update(rt.image["python_sha256"].encode() if name.endswith(".tar.xz")
                 else p.read_bytes())
    for name, d in sorted(dirs.items()):
        for p in _tree_files(d):
            h.update(f"{name}/{p.relative_to(d)}".encode())
            h.update(p.read_bytes())
    if engine is not None:
        info = inspect(engine, s.base_image)
        if info is None:
            raise Unavailable(
                f"the base image {s.base_image} is missing: run `make base-images"
                f"{'' if arch == host_arch() else ' ARCH=' + arch}` (debootstrap, no "
                "registry needed) or set BASE_IMAGE to a pinned registry image")
        h.update(info["id"].encode())
    s.key = h.hexdigest()
    return s


# -- engine operations -----------------------------------------------------------------------
def inspect(engine: Engine, ref: str) -> dict | None:
    """id, digest, size and labels of a local image, or None if it does not exist."""
    try:
        p = subprocess.run(engine.cmd("image", "inspect", ref), capture_output=True,
                           text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if p.returncode != 0:
        return None
    try:
        d = json.loads(p.stdout)[0]
    except (ValueError, IndexError):
        return None
    iid = d.get("Id", "")
    iid = iid if iid.startswith("sha256:") else f"sha256:{iid}"
    digest = d.get("Digest") or next(
        (r.split("@", 1)[1] for r in d.get("RepoDigests") or [] if "@" in r), None) or iid
    return {"id": iid, "digest": digest, "size": d.get("Size"),
            "arch": d.get("Architecture"), "created": d.get("Created"),
            "labels": (d.get("Config") or {}).get("Labels") or d.get("Labels") or {}}


def make_context(s: ImageSpec, cache_dir: Path) -> Path:
    ctx = cache_dir / "build" / f"{s.runtime.id}-{s.arch}-{s.key[:12]}"
    if ctx.exists():
        shutil.rmtree(ctx)
    ctx.mkdir(parents=True)
    for name, p in s.context_files.items():
        (ctx / name).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(p, ctx / name)
        except OSError:
            shutil.copy2(p, ctx / name)
    for name, d in s.context_dirs.items():
        for p in _tree_files(d):
            dst = ctx / name / p.relative_to(d)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, dst)
    return ctx


def build(engine: Engine, s: ImageSpec, cache_dir: Path, log=print,
          echo=sys.stderr) -> float:
    """Build the image; returns the seconds it took. Raises BuildFailed with the log tail."""
    ctx = make_context(s, cache_dir)
    logs = cache_dir / "build" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{s.runtime.id}-{s.mode}-{s.arch}-{s.key[:12]}.log"
    # A cross build mixes a host-arch build stage with a target-arch final stage. Docker
    # (buildx) does that with --platform and `FROM --platform=$BUILDPLATFORM`; Podman 4
    # applies --platform to every local FROM image, so it gets no --platform and each stage
    # takes the architecture of its (local, single-arch) base image.
    cross = "TARGET_GNU_TYPE" in s.build_args
    platform = [] if cross and engine.name == "podman" else engine.platform_args(s.arch)
    cmd = engine.build_cmd() + platform + [
        "--network", "host", "-f", str(s.recipe), "-t", s.ref,
        "--label", f"bench.runtime={s.runtime.id}", "--label", f"bench.build-mode={s.mode}",
        "--label", f"bench.key={s.key}"]
    for k, v in s.build_args.items():
        cmd += ["--build-arg", f"{k}={v}"]
    ca = extra_ca()
    empty = ctx.parent / "empty-ca.crt"
    empty.write_text("")
    cmd += ["--secret", f"id={EXTRA_CA_TARGET},src={ca or empty}"]
    cmd.append(str(ctx))
    log(f"building {s.ref} ({s.mode}{', emulated' if s.emulated else ''}) from "
        f"docker/{s.recipe.name}; log: {log_path}"
        + (f"; extra CA bundle {ca}" if ca else ""))
    t0 = time.monotonic()
    tail: list[str] = []
    with open(log_path, "w") as lf:
        lf.write("$ " + " ".join(cmd) + "\n")
        lf.flush()
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, errors="replace")
        except OSError as exc:
            raise BuildFailed(f"could not start {engine.name}: {exc}") from None
        assert proc.stdout is not None
        for line in proc.stdout:
            lf.write(line)
            tail = ([*tail, line.rstrip()])[-25:]
            if echo is not None and (PROGRESS.match(line) or "mismatch" in line):
                print(f"  | {line.rstrip()}", file=echo, flush=True)
        rc = proc.wait()
    took = time.monotonic() - t0
    shutil.rmtree(ctx, ignore_errors=True)
    if rc != 0:
        raise BuildFailed(f"building the image for {s.runtime.id} ({s.arch}, {s.mode}) failed "
                          f"with exit code {rc} after {took:.0f} s; last lines:\n    "
                          + "\n    ".join(tail[-15:]) + f"\n  full log: {log_path}")
    log(f"built {s.ref} in {took:.0f} s")
    (logs / "times.jsonl").open("a").write(json.dumps(
        {"image": s.ref, "runtime": s.runtime.id, "arch": s.arch, "mode": s.mode,
         "seconds": round(took, 1)}) + "\n")
    return took


def ensure(engine: Engine, rt: Runtime, arch: str, mode: str, cache_dir: Path,
           log=print) -> tuple[ImageSpec, dict, float | None]:
    """The image for `rt` (built if missing): spec, inspect info, build seconds or None."""
    s = spec(rt, arch, mode, cache_dir, engine, log)
    info = inspect(engine, s.ref)
    took = None
    if info is None:
        took = build(engine, s, cache_dir, log)
        info = inspect(engine, s.ref)
        if info is None:
            raise BuildFailed(f"{s.ref} was built but {engine.name} cannot find it")
    return s, info, took


def stale(engine: Engine, s: ImageSpec) -> list[str]:
    """Older tags of the same runtime, mode and arch (superseded by a recipe change)."""
    p = subprocess.run(engine.cmd("images", "--format", "{{.Repository}}:{{.Tag}}", s.repo),
                       capture_output=True, text=True, timeout=60)
    prefix = f"{s.repo}:{s.mode}-{s.arch}-"
    return [r for r in p.stdout.split() if r.startswith(prefix) and r != s.ref]
