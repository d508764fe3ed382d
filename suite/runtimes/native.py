"""The native backend: local CPython (and PyPy) interpreters, each with a cached virtualenv.

Interpreters are found on PATH, in pyenv's versions directory and from `--python PATH`:
`python3.X` for CPython; `pypy3.X`, `pypy3` and `pypy` (and pyenv's `pypy*` versions) for
PyPy, matched to a runtime by implementation and Python minor version.
Each runtime gets `.cache/venvs/<runtime>` with the pinned worker requirements; it is
rebuilt only when the interpreter or the requirements change.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from suite import runtimes
from suite.runtimes import Runtime, locks
from suite.runtimes.backend import Unavailable

ROOT = Path(__file__).resolve().parents[2]
PYPY_NAMES = ("pypy3", "pypy")  # besides pypy3.X, on PATH
VENV_ATTEMPTS = 3  # set-up rounds when another process keeps rebuilding a venv differently

_QUERY = ("import json, platform, sys, sysconfig; print(json.dumps({"
          "'implementation': platform.python_implementation(),"
          "'version': platform.python_version(),"
          "'jit_built': '-D_Py_JIT' in (sysconfig.get_config_var('PY_CORE_CFLAGS') or '')"
          " or bool(getattr(getattr(sys, '_jit', None), 'is_available', lambda: False)())"
          " or 'pypyjit' in sys.builtin_module_names,"
          "'executable': sys.executable}))")


@dataclass(frozen=True)
class Interpreter:
    path: str
    implementation: str
    version: str
    jit_built: bool

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


def probe(path: str) -> Interpreter | None:
    """Ask an executable what it is; None if it is not a working Python."""
    try:
        out = subprocess.run([path, "-I", "-c", _QUERY], capture_output=True, text=True,
                             timeout=30, check=True).stdout
        info = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return Interpreter(os.path.realpath(path), info["implementation"], info["version"],
                       info["jit_built"])


def pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))


def candidates(extra: list[str]) -> list[str]:
    """Executables to probe, in priority order: --python, pyenv, PATH."""
    found = list(extra)
    found += sorted(glob.glob(str(pyenv_root() / "versions" / "*" / "bin" / "python3")))
    found += sorted(glob.glob(str(pyenv_root() / "versions" / "pypy*" / "bin" / "pypy3")))
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if not d or ".pyenv/shims" in d or str(ROOT) in d:
            continue
        found += sorted(glob.glob(os.path.join(d, "python3.[0-9]*")))
        found += sorted(glob.glob(os.path.join(d, "pypy3.[0-9]*")))
        found += [os.path.join(d, n) for n in PYPY_NAMES if os.path.isfile(os.path.join(d, n))]
    seen, out = set(), []
    for f in found:
        if f.endswith("-config") or not os.access(f, os.X_OK):
            continue
        real = os.path.realpath(f)
        if real not in seen:
            seen.add(real)
            out.append(f)
    return out


def discover(extra: list[str] | None = None) -> list[Interpreter]:
    extra = extra or []
    for p in extra:
        if not (os.path.isfile(p) and os.access(p, os.X_OK)):
            raise Unavailable(f"--python {p}: no such executable")
    out = []
    for c in candidates(extra):
        interp = probe(c)
        if interp is None and c in extra:
            raise Unavailable(f"--python {c}: it did not run as a Python interpreter")
        if interp is not None:
            out.append(interp)
    return out


def matches(rt: Runtime, it: Interpreter) -> bool:
    impl = {"cpython": "CPython", "mojo": "CPython", "pypy": "PyPy"}[rt.kind]
    if it.implementation != impl or it.minor != rt.python:
        return False
    return it.jit_built if rt.jit else True


def runtime_ids_for(it: Interpreter, known: dict[str, Runtime]) -> list[str]:
    return [rid for rid, rt in known.items() if rt.kind != "mojo" and matches(rt, it)]


class NativeBackend:
    kind = "native"

    def __init__(self, cache_dir: Path, pythons: list[str] | None = None,
                 log=print) -> None:
        self.cache_dir = cache_dir
        self.interpreters = discover(pythons)
        self.log = log
        self.venvs: dict[str, Path] = {}
        self.in_use = ExitStack()  # the shared locks of the venvs prepared (till exit)

    def interpreter_for(self, rt: Runtime) -> Interpreter:
        # Prefer a JIT build for JIT runtimes, a non-JIT build otherwise.
        ok = [i for i in self.interpreters if matches(rt, i)]
        ok.sort(key=lambda i: i.jit_built != rt.jit)
        if not ok and rt.kind == "pypy":
            pypys = ", ".join(f"PyPy {i.version} ({i.path})" for i in self.interpreters
                              if i.implementation == "PyPy") or "none"
            raise Unavailable(
                f"runtime {rt.id} needs PyPy {rt.python} (a PyPy implementing Python "
                f"{rt.python}{', with its JIT' if rt.jit else ''}) on this machine; looked "
                f"for pypy{rt.python}, {', '.join(PYPY_NAMES)} on PATH and pyenv's pypy* "
                f"versions (found: {pypys}). Pass --python PATH, or run it in its image: "
                f"make bench BACKEND=container RUNTIMES={rt.id}")
        if not ok:
            have = ", ".join(f"{i.implementation} {i.version}{' (JIT)' if i.jit_built else ''}"
                             for i in self.interpreters) or "none"
            need = f"{'a JIT-built ' if rt.jit else ''}Python {rt.python}"
            raise Unavailable(f"runtime {rt.id} needs {need} on this machine "
                              f"(found: {have}); pass --python PATH, or use the container "
                              f"backend")
        return ok[0]

    def available(self, known: dict[str, Runtime]) -> list[str]:
        out = []
        for rid, rt in known.items():
            try:
                self.interpreter_for(rt)
                out.append(rid)
            except Unavailable:
                pass
        return out

    def venv(self, rt: Runtime) -> Path:
        it = self.interpreter_for(rt)
        reqs = [ROOT / "suite" / "requirements" / r for r in runtimes.requirement_files(rt)]
        pins = ROOT / "suite" / "requirements" / "constraints.txt"
        key = hashlib.sha256(json.dumps([it.path, it.version, pins.read_text()]
                                        + [r.read_text() for r in reqs]).encode()).hexdigest()
        venv = self.cache_dir / "venvs" / rt.id
        lock, what = venv.with_name(f"{rt.id}.lock"), f"the virtualenv {venv}"
        # Users hold the venv's lock shared for as long as this backend lives; (re)building
        # it takes the lock exclusive, so it waits for every run that uses the venv, and
        # a run waits for a build in progress. One builder at a time.
        for _ in range(VENV_ATTEMPTS):
            use = ExitStack()
            use.enter_context(locks.hold(lock, what, log=self.log, shared=True))
            if self._current(venv, key):
                self.in_use.enter_context(use)
                return venv
            use.close()
            with locks.hold(lock, what, log=self.log):
                self._build_venv(rt, it, venv, key, reqs, pins)
        raise Unavailable(f"{what} was rebuilt by another process with other requirements "
                          f"{VENV_ATTEMPTS} times while this run set it up; run again")

    @staticmethod
    def _current(venv: Path, key: str) -> bool:
        marker = venv / ".suite-venv"
        return marker.exists() and marker.read_text() == key

    def _build_venv(self, rt: Runtime, it: Interpreter, venv: Path, key: str,
                    reqs: list[Path], pins: Path) -> Path:
        """(Re)build `venv` unless its marker says it matches `key`; under the venv's lock."""
        marker = venv / ".suite-venv"
        if self._current(venv, key):
            return venv
        self.log(f"setting up {venv} from {it.path} ({it.version})")
        if venv.exists():
            shutil.rmtree(venv)
        try:
            subprocess.run([it.path, "-m", "venv", str(venv)], check=True,
                           capture_output=True, text=True)
            cmd = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                   "--disable-pip-version-check"]
            for r in reqs:
                cmd += ["-r", str(r)]
            cmd += ["-c", str(pins)]
            subprocess.run(cmd, check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as exc:
            raise Unavailable(f"could not set up the virtualenv for {rt.id}: "
                              f"{' '.join(exc.cmd)} failed:\n{exc.stderr[-2000:]}") from None
        marker.write_text(key)
        return venv

    def prepare(self, rt: Runtime) -> dict:
        venv = self.venv(rt)
        self.venvs[rt.id] = venv
        record = {"kind": "native", "engine": None, "image": None, "digest": None,
                  "venv": str(venv)}
        if rt.kind == "mojo":
            record.update(self.build_mojo(rt))
        return record

    def build_mojo(self, rt: Runtime) -> dict:
        """Build the Mojo extension in the runtime's venv (timed, cached) and measure the
        machine's FMA peak; returns the runner's `runtime_extra` and `host_extra`."""
        self.log(f"{rt.id}: building the Mojo extension (cached when sources are unchanged)")
        env = {**os.environ, "PYTHONPATH": str(ROOT),
               "PATH": f"{self.venvs[rt.id] / 'bin'}{os.pathsep}{os.environ['PATH']}",
               **rt.env}
        proc = subprocess.run([self.python(rt), "-m", "suite.flavors.mojo_setup",
                               str(self.cache_dir / "mojo")], env=env, cwd=ROOT,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise Unavailable(f"building the Mojo extension failed:\n{proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def python(self, rt: Runtime) -> str:
        return str(self.venvs[rt.id] / "bin" / "python")

    def run_worker(self, rt: Runtime, job: dict, env: dict[str, str], timeout: float) -> dict:
        job_path = Path(job["result"]).with_suffix(".job.json")
        job_path.write_text(json.dumps(job))
        env = {**env, "PATH": f"{self.venvs[rt.id] / 'bin'}{os.pathsep}{os.environ['PATH']}",
               "PYTHONPATH": str(ROOT)}
        cmd = [self.python(rt), "-m", "suite.measure.worker", str(job_path)]
        return run_process(cmd, env, job["result"], timeout, cwd=ROOT)


def run_process(cmd: list[str], env: dict[str, str], result_path: str, timeout: float,
                cwd: Path | None = None) -> dict:
    """Run a worker command; its result file, or a failed result saying what went wrong."""
    Path(result_path).unlink(missing_ok=True)
    try:
        proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "error": f"worker timed out after {timeout:.0f} s"}
    except OSError as exc:
        return {"status": "failed", "error": f"could not start the worker: {exc}"}
    try:
        return json.loads(Path(result_path).read_text())
    except (OSError, ValueError):
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-8:]
        return {"status": "failed",
                "error": f"worker exited with code {proc.returncode} and no result"
                         + (": " + " | ".join(tail) if tail else "")}


def main(argv: list[str]) -> int:
    """`python -m suite.runtimes.native RUNTIME...`: set up those runtimes' venvs (and
    build the Mojo extension) without running anything; used by `make test`."""

    def log(msg: str) -> None:
        print(msg, file=sys.stderr)

    backend = NativeBackend(ROOT / ".cache", log=log)
    try:
        for rt in runtimes.select(argv, runtimes.load()):
            backend.prepare(rt)
            print(backend.venvs[rt.id])
    except (Unavailable, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
