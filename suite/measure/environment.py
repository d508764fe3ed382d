"""Facts about the host and the runtime, measured where they apply.

`runtime_facts()` runs inside the worker (the runtime under test): interpreter build, JIT
state, NumPy and its BLAS, thread counts, relevant environment variables. `host_facts()`
describes the machine. Standard library (plus NumPy/threadpoolctl when present) only.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import sysconfig

ENV_VARS = ("PYTHON_JIT", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
            "PYTHONHASHSEED")


# PyPy: a loop this long is compiled by a JIT that is on (the default threshold is 1039
# iterations); a fresh code object each time, so every call measures anew.
PYPY_PROBE_LOOPS = 20_000
_PYPY_PROBE = "def spin(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n"
PYPY_JIT_METHOD = ("import pypyjit + pypyjit.set_compile_hook: a loop of "
                   f"{PYPY_PROBE_LOOPS} iterations is compiled")


def pypy_jit_state() -> dict:
    """PyPy's JIT: built = the `pypyjit` module exists (only JIT builds have it); enabled =
    it really compiles: a fresh hot loop is run with a compile hook installed, and the hook
    must fire. `--jit off`, `pypyjit.set_param("off")` or a threshold above the probe's
    loop count all read as disabled. (Reading the JIT's parameters back is not possible,
    and pypyjit.get_stats_snapshot() crashes Debian's PyPy 7.3.19, so it is measured.) The
    probe runs after the timed work and removes its hook."""
    try:
        import pypyjit
    except ImportError:
        return {"built": False, "enabled": False, "method": "import pypyjit"}
    compiled: list[str] = []
    try:
        ns: dict = {}
        exec(compile(_PYPY_PROBE, "<jit probe>", "exec"), ns)
        pypyjit.set_compile_hook(lambda info: compiled.append(getattr(info, "type", "?")))
        try:
            ns["spin"](PYPY_PROBE_LOOPS)
        finally:
            pypyjit.set_compile_hook(None)
    except Exception as exc:
        return {"built": True, "enabled": None, "method": PYPY_JIT_METHOD,
                "error": f"cannot tell if the JIT is on: {type(exc).__name__}: {exc}"}
    return {"built": True, "enabled": bool(compiled), "method": PYPY_JIT_METHOD}


# CPython 3.14+: a loop this long runs as JIT code when the JIT is on (it is far past the
# tier-2 warm-up threshold); CPython's own test_sys checks sys._jit.is_active() this way.
CPYTHON_PROBE_LOOPS = 20_000
_CPYTHON_PROBE = ("def spin(n, is_active):\n    hits = 0\n    for i in range(n):\n"
                  "        if is_active():\n            hits += 1\n    return hits\n")
SYS_JIT_METHOD = "sys._jit.is_available()/is_enabled()"
SYS_JIT_PROBE = (f" + sys._jit.is_active() in a loop of {CPYTHON_PROBE_LOOPS} iterations")


def sys_jit_state(jit) -> dict:
    """CPython 3.14 and 3.15 (`sys._jit`, the same three functions in both): built =
    is_available() (built with --enable-experimental-jit=yes*; the tier-2 interpreter alone,
    =interpreter, is not the JIT); enabled = is_enabled(), which implies is_available() (a
    build that says enabled but not available reads as not enabled). When enabled, `active`
    is measured too: a fresh hot loop must reach JIT code (is_active() true inside it), so
    a JIT that is switched on but never runs (e.g. under a tracer) is visible. The probe
    runs after the timed work."""
    built = bool(jit.is_available())
    enabled = built and bool(jit.is_enabled())
    out: dict = {"built": built, "enabled": enabled, "method": SYS_JIT_METHOD}
    if not enabled:
        return out
    out["method"] += SYS_JIT_PROBE
    try:
        ns: dict = {}
        exec(compile(_CPYTHON_PROBE, "<jit probe>", "exec"), ns)
        out["active"] = ns["spin"](CPYTHON_PROBE_LOOPS, jit.is_active) > 0
    except Exception as exc:
        out["active"] = None
        out["error"] = f"cannot tell if JIT code runs: {type(exc).__name__}: {exc}"
    return out


def jit_state() -> dict:
    """Whether this interpreter has the JIT built in and switched on (PEP 744): CPython
    3.14+ through `sys._jit` (sys_jit_state), 3.13 (no `sys._jit`) through its build flags
    and the optimizer it installed; PyPy: see pypy_jit_state."""
    if sys.implementation.name == "pypy":
        return pypy_jit_state()
    jit = getattr(sys, "_jit", None)
    if jit is not None:  # 3.14, 3.15
        return sys_jit_state(jit)
    cflags = sysconfig.get_config_var("PY_CORE_CFLAGS") or ""
    built = "-D_Py_JIT" in cflags
    enabled = False
    method = "-D_Py_JIT in PY_CORE_CFLAGS"
    if built:
        method += " + _testinternalcapi.get_optimizer()"
        try:
            import _testinternalcapi

            enabled = _testinternalcapi.get_optimizer() is not None
        except (ImportError, AttributeError) as exc:
            return {"built": True, "enabled": None, "method": method,
                    "error": f"cannot tell if the JIT is on: {exc}"}
    return {"built": built, "enabled": enabled, "method": method}


def blas_facts() -> dict:
    """NumPy version, its BLAS, and the thread count the BLAS pool really has."""
    try:
        import numpy as np
    except ImportError:
        return {"numpy": None}
    out: dict = {"numpy": np.__version__, "blas": None, "blas_threads": None}
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        out["blas"] = {"name": blas.get("name"), "version": blas.get("version")}
    except Exception:
        pass
    try:
        from threadpoolctl import threadpool_info

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            out["blas_threads"] = pools[0].get("num_threads")
            out["blas"] = {"name": pools[0].get("internal_api"),
                           "version": pools[0].get("version"),
                           "threading_layer": pools[0].get("threading_layer"),
                           "architecture": pools[0].get("architecture")}
    except ImportError:
        pass
    return out


def pypy_facts() -> dict:
    """PyPy's own version (sys.pypy_version_info), e.g. {"pypy_version": "7.3.19"}; nothing
    on other interpreters."""
    v = getattr(sys, "pypy_version_info", None)
    if v is None:
        return {}
    version = f"{v.major}.{v.minor}.{v.micro}"
    if v.releaselevel != "final":
        version += f"-{v.releaselevel}{v.serial}"
    return {"pypy_version": version}


def _pypy_compiler() -> str:
    """PyPy's sys.version ends "[PyPy 7.3.19 with GCC 14.2.0]": the compiler, or ""."""
    m = re.search(r"\[PyPy [^\]]* with ([^\]]+)\]", sys.version)
    return m.group(1) if m else ""


def runtime_facts() -> dict:
    """Everything about the interpreter the worker runs in."""
    cfg = sysconfig.get_config_var
    cflags = cfg("PY_CORE_CFLAGS") or ""
    return {
        "implementation": platform.python_implementation(),
        "version": platform.python_version(),
        "executable": sys.executable,
        "compiler": platform.python_compiler() or _pypy_compiler(),
        "machine": platform.machine(),
        "configure_args": cfg("CONFIG_ARGS") or "",
        "optimizations": {
            "pgo": "-fprofile-use" in (cfg("PY_CFLAGS_NODIST") or "") + cflags
                   or "--enable-optimizations" in (cfg("CONFIG_ARGS") or ""),
            "lto": "--with-lto" in (cfg("CONFIG_ARGS") or ""),
        },
        "tier2": (m.group(1) if (m := re.search(r"-D_Py_TIER2=(\d+)", cflags)) else None),
        "jit": jit_state(),
        **pypy_facts(),
        **blas_facts(),
        "env": {k: os.environ[k] for k in ENV_VARS if k in os.environ},
    }


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


def host_facts() -> dict:
    """The machine: CPU, architecture, cores, memory, OS and kernel."""
    cpuinfo = _read("/proc/cpuinfo")
    model = re.search(r"^(?:model name|Model)\s*:\s*(.+)$", cpuinfo, re.M)
    flags = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", cpuinfo, re.M)
    simd = sorted({f for f in (flags.group(1).split() if flags else [])
                   if re.fullmatch(r"avx512f|avx2|fma|neon|asimd|sve|sve2|avx512_bf16", f)})
    mem = re.search(r"^MemTotal:\s*(\d+) kB", _read("/proc/meminfo"), re.M)
    osr = re.search(r'^PRETTY_NAME="?([^"\n]+)', _read("/etc/os-release"), re.M)
    return {
        "hostname": platform.node(),
        "cpu_model": model.group(1).strip() if model else platform.processor() or "unknown",
        "arch": platform.machine(),
        "cores": os.cpu_count() or 1,
        "memory_bytes": int(mem.group(1)) * 1024 if mem else None,
        "os": osr.group(1) if osr else platform.platform(),
        "kernel": platform.release(),
        "simd": simd,
    }
