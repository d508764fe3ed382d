"""The Mojo runtime's kernels: build, load and call the `suite_kernels` extension.

The Mojo sources live in `mojo/` at the top of the repository. `build()` compiles them
ahead of time (`mojo build --emit shared-lib`) into a cache directory and rebuilds only
when the sources, the Mojo version or the MAX version change; compile time is returned
so the harness can report it apart from the samples. The extension is imported lazily:
this module needs only the standard library and NumPy to import.

`FLAVORS[workload][flavor]` are the callables the harness times. Each takes the NumPy
flavor's arguments plus a keyword `threads`, allocates its output with `numpy.empty`
(inside the extension) and runs the kernel on the arrays' memory with the GIL released.
The extension checks every argument; its messages are re-raised here as TypeError or
ValueError.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from suite.workloads import Flavor, Workload, linreg

SOURCES_DIR: Path = Path(__file__).resolve().parents[2] / "mojo"
MODULE_NAME = "suite_kernels"
# Other extensions built from mojo/ (entry <name>.mojo) and the files each is built from;
# suite_kernels is built from every other mojo/*.mojo. lib_kernels: Modular's own linalg/nn
# kernels (the mojo-lib flavor, suite/flavors/mojo_lib.py), minutes to compile, kept apart.
EXTENSION_SOURCES: dict[str, tuple[str, ...]] = {
    "lib_kernels": ("lib_kernels.mojo", "common.mojo"),
}
BUILD_FLAGS = ("--emit", "shared-lib", "-O3")
PEAK_ITERS = 20_000_000  # seeds the calibration; each timed run is sized to ~60 ms

_module: Any = None
_module_path: str | None = None


def default_cache_dir() -> Path:
    """SUITE_CACHE_DIR/mojo if set, else <repo>/.cache/mojo."""
    root = os.environ.get("SUITE_CACHE_DIR")
    base = Path(root) if root else SOURCES_DIR.parent / ".cache"
    return base / "mojo"


def mojo_binary() -> str:
    """The `mojo` next to this interpreter (the runtime's venv), else the one on PATH."""
    here = Path(sys.executable).parent / "mojo"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("mojo")
    if found:
        return found
    raise RuntimeError(
        f"the mojo compiler was not found next to {sys.executable} or on PATH; "
        "install the pinned toolchain: pip install -r suite/requirements/mojo.txt")


def _env(binary: str) -> dict[str, str]:
    env = dict(os.environ)
    bindir = str(Path(binary).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")  # no Crashpad noise
    env.setdefault("MODULAR_CRASH_REPORTING_ENABLED", "false")
    return env


def mojo_version(binary: str | None = None) -> str:
    """'1.2.0' from `mojo --version` ('Mojo 1.2.0 (2016d0cd)')."""
    binary = binary or mojo_binary()
    out = subprocess.run([binary, "--version"], capture_output=True, text=True,
                         env=_env(binary), timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"`{binary} --version` failed: {out.stderr.strip()}")
    words = out.stdout.split()
    return words[1] if len(words) > 1 and words[0].lower() == "mojo" else out.stdout.strip()


def max_version() -> str:
    """The `max` distribution installed beside the `mojo` compiler in use (its venv), else
    in this interpreter; 'unknown' if neither has it."""
    from importlib import metadata

    try:
        venv = Path(mojo_binary()).parent.parent
        paths = [str(p) for p in venv.glob("lib/python*/site-packages")]
    except RuntimeError:
        paths = []
    for dist in metadata.distributions(path=paths) if paths else []:
        if (dist.metadata["Name"] or "").lower() == "max":
            return dist.version
    try:
        return metadata.version("max")
    except metadata.PackageNotFoundError:
        return "unknown"


def sources(module: str = MODULE_NAME) -> list[Path]:
    """The mojo/ files extension `module` is built from."""
    if module in EXTENSION_SOURCES:
        return [SOURCES_DIR / f for f in EXTENSION_SOURCES[module]]
    others = {f"{m}.mojo" for m in EXTENSION_SOURCES}
    return [p for p in SOURCES_DIR.glob("*.mojo") if p.name not in others]


def source_sha256(mojo_ver: str, max_ver: str, module: str = MODULE_NAME) -> str:
    """sha256 over the extension's mojo/*.mojo (name and bytes), the versions and the
    build flags."""
    h = hashlib.sha256()
    for path in sorted(sources(module)):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(f"mojo={mojo_ver}\0max={max_ver}\0flags={' '.join(BUILD_FLAGS)}".encode())
    return h.hexdigest()


def build(cache_dir: Path, force: bool = False, module: str = MODULE_NAME) -> dict:
    """Build <module>.so (default suite_kernels) into cache_dir unless an up-to-date
    build is there.

    Returns {"path", "seconds" (wall time of the compile, 0.0 if cached), "cached",
    "source_sha256", "mojo_version", "max_version"}. Raises RuntimeError carrying the
    compiler's stderr if the build fails.
    """
    cache_dir = Path(cache_dir).resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    binary = mojo_binary()
    mver, xver = mojo_version(binary), max_version()
    sha = source_sha256(mver, xver, module)
    so = cache_dir / f"{module}.so"
    stamp = cache_dir / f"{module}.json"
    result = {"path": str(so), "seconds": 0.0, "cached": True, "source_sha256": sha,
              "mojo_version": mver, "max_version": xver}
    lock_path = cache_dir / f"{module}.lock"
    # In a --read-only container the image's lock file cannot be opened for writing; flock
    # works on a read-only descriptor too.
    writable = not lock_path.exists() or os.access(lock_path, os.W_OK)
    with open(lock_path, "w" if writable else "r") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time per cache dir
        if not force and so.is_file() and _stamp_sha(stamp) == sha:
            return result
        tmp = cache_dir / f"{module}.{os.getpid()}.tmp.so"
        cmd = [binary, "build", str(SOURCES_DIR / f"{module}.mojo"), *BUILD_FLAGS,
               f"-DSUITE_MOJO_VERSION={mver}", f"-DSUITE_MAX_VERSION={xver}",
               "-o", str(tmp)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(binary),
                              cwd=str(SOURCES_DIR))
        seconds = time.perf_counter() - t0
        if proc.returncode != 0 or not tmp.is_file():
            tmp.unlink(missing_ok=True)
            raise RuntimeError(
                f"mojo build failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                f"{proc.stderr.strip() or proc.stdout.strip()}")
        os.replace(tmp, so)
        stamp_tmp = stamp.with_suffix(f".{os.getpid()}.tmp")
        stamp_tmp.write_text(json.dumps({"source_sha256": sha, "mojo_version": mver,
                                         "max_version": xver, "seconds": seconds}))
        os.replace(stamp_tmp, stamp)
    result.update(seconds=seconds, cached=False)
    return result


def _stamp_sha(stamp: Path) -> str | None:
    try:
        return json.loads(stamp.read_text()).get("source_sha256")
    except (OSError, ValueError):
        return None


def load(cache_dir: Path | None = None):
    """build(cache_dir), then import the extension (once per process) and return it."""
    global _module, _module_path
    cache_dir = Path(cache_dir).resolve() if cache_dir is not None else default_cache_dir()
    info = build(cache_dir)
    if _module is not None:
        if info["path"] != _module_path or not info["cached"]:
            # A CPython extension cannot be unloaded or imported twice in one process.
            raise RuntimeError(
                f"{MODULE_NAME} is already loaded from {_module_path}; "
                f"start a new process to use {info['path']}")
        return _module
    _module, _module_path = import_extension(MODULE_NAME, info["path"]), info["path"]
    return _module


def import_extension(name: str, path: str) -> Any:
    """Import the built extension `name` from `path` (once per process: the caller keeps it)."""
    loader = importlib.machinery.ExtensionFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    if spec is None:
        raise RuntimeError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    _restore_environment()
    sys.modules[name] = module
    return module


# Loading a Mojo extension runs Mojo's Python runtime set-up, which setenv()s these at the
# C level (invisible to os.environ). Every child process would then inherit them, and
# PYTHONEXECUTABLE makes a child Python adopt the Mojo venv's site-packages instead of its own.
_MOJO_SETENV = ("PYTHONEXECUTABLE", "MOJO_PYTHON_LIBRARY", "PYTHONPATH")


def _restore_environment() -> None:
    """Put the C-level environment back to what os.environ says it is."""
    for var in _MOJO_SETENV:
        if var in os.environ:
            os.putenv(var, os.environ[var])
        else:
            os.unsetenv(var)


def _kernels():
    return _module if _module is not None else load()


def info(cache_dir: Path | None = None) -> dict:
    """Facts reported by the compiled module: Mojo/MAX versions, target CPU, SIMD widths."""
    d = dict(load(cache_dir).info())
    return {"mojo_version": d["mojo_version"], "max_version": d["max_version"],
            "target_cpu": d["target_cpu"], "simd_width_f32": d["simd_width_f32"],
            "simd_width_f64": d["simd_width_f64"]}


def call_ns(cache_dir: Path | None, calls: int = 20_000, repeats: int = 7) -> float:
    """Fixed cost of one Python-to-Mojo call: `noop(0)` (returns its argument) timed in a
    Python loop, ns per call, median of `repeats` runs of `calls` calls (< 1 s)."""
    noop = load(cache_dir).noop
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            noop(0)
        runs.append((time.perf_counter_ns() - t0) / calls)
    return float(np.median(runs))


def peak_gflops(cache_dir: Path | None, threads: int, dtype: str = "float32") -> float:
    """Measured FMA peak in GFLOP/s of `threads` workers (best of up to 3 runs, < 1 s)."""
    return float(_checked(load(cache_dir).peak_gflops, threads, dtype, PEAK_ITERS))


# ---------------------------------------------------------------------------- calls


def _checked(fn: Callable, *args):
    """Call the extension, re-raising its tagged errors as TypeError / ValueError."""
    try:
        return fn(*args)
    except Exception as e:  # the extension raises plain Exception
        msg = str(e)
        for tag, cls in (("TypeError: ", TypeError), ("ValueError: ", ValueError),
                         ("RuntimeError: ", RuntimeError)):
            if msg.startswith(tag):
                raise cls(msg[len(tag):]) from None
        raise


def _matmul(name: str) -> Callable:
    def run(a, b, *, threads: int = 1):
        return _checked(getattr(_kernels(), name), a, b, threads)
    run.__name__ = name
    return run


def _linreg(name: str) -> Callable:
    def run(X, y, w0, b0, lr, epochs, *, threads: int = 1):
        """[w, b, loss per epoch], in X's dtype (float32 or float64)."""
        return _checked(getattr(_kernels(), name), X, y, w0, b0, lr, epochs, threads)
    run.__name__ = name
    return run


def _conv2d(name: str) -> Callable:
    def run(x, w, bias, *, threads: int = 1):
        return _checked(getattr(_kernels(), name), x, w, bias, threads)
    run.__name__ = name
    return run


def _gelu(name: str) -> Callable:
    def run(x, *, threads: int = 1):
        return _checked(getattr(_kernels(), name), x, threads)
    run.__name__ = name
    return run


def _xent(name: str) -> Callable:
    def run(logits, labels, *, threads: int = 1):
        return _checked(getattr(_kernels(), name), logits, labels, threads)
    run.__name__ = name
    return run


def _check_threads(threads: object) -> None:
    """The extension's rule for `threads`, for flavors that do not pass it on."""
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise TypeError(f"threads must be an int, got {type(threads).__name__}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")


def _check_batches(X: object, y: object) -> None:
    """X must be (batches, batch, dim) and y (batches, batch) ndarrays (zip would truncate)."""
    for name, a, nd in (("X", X, 3), ("y", y, 2)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
        if a.ndim != nd:
            raise ValueError(f"{name} must be {nd}-D, got {a.ndim}-D array")
    if y.shape != X.shape[:2]:
        raise ValueError(f"y must have shape (batches, batch) = {X.shape[:2]} for X "
                         f"{X.shape}, got {y.shape}")


def linreg_hybrid(X, y, w0, b0, lr, epochs, *, threads: int = 1):
    """The article's Code Example 3: Python loops over the batches, the forward pass
    `X @ w + b` is one call into the extension per batch, the SGD update and the loss are
    NumPy's (the `numpy` flavor's arithmetic, suite/workloads/linreg.py). Returns
    `[w, b, loss per epoch]`. Single-threaded: `threads` is checked, then ignored."""
    _check_threads(threads)
    _check_batches(X, y)
    forward = _kernels().linreg_forward
    # The one call into Mojo per batch; the extension checks w's and b's dtypes.
    return linreg.sgd(X, y, w0, b0, lr, epochs,
                      forward=lambda xb, w, b: _checked(forward, xb, w, b))


def _flavors(make: Callable[[str], Callable], base: str) -> dict[str, Callable]:
    return {"mojo-naive": make(f"{base}_naive"), "mojo-simd": make(f"{base}_simd"),
            "mojo": make(base)}


# mojo-naive and mojo-simd are single-threaded by design and ignore `threads`; so do
# linreg's mojo and mojo-hybrid flavors (500 tiny sequential SGD steps).
THREADED = frozenset({"mojo"})
FLAVORS: dict[str, dict[str, Callable]] = {
    "matmul": _flavors(_matmul, "matmul"),
    "linreg": {**_flavors(_linreg, "linreg"), "mojo-hybrid": linreg_hybrid},
    "conv2d": _flavors(_conv2d, "conv2d"),
    "gelu": _flavors(_gelu, "gelu"),
    "xent": _flavors(_xent, "xent"),
}


def setup(cache_dir: Path) -> None:
    """Load the extension built ahead of time into `cache_dir` (never built here)."""
    load(cache_dir)


def flavor(w: Workload, name: str) -> Flavor:
    """Mojo flavor `name` of `w`: a kernel of the built extension on the NumPy inputs."""
    return Flavor(name, FLAVORS[w.name][name], prepare=w.flavors["numpy"].prepare,
                  threaded=name in THREADED)
