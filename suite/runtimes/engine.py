"""Find a usable container engine: docker with buildx (and a running daemon), or podman.

    python -m suite.runtimes.engine [NAME]   prints the engine; exit 0 iff one is usable

`ENGINE=docker|podman` (or NAME) picks one; otherwise docker with buildx is preferred when
its daemon answers, then podman.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

ENGINES = ("docker", "podman")


class NoEngine(Exception):
    """No usable container engine; the message says what was tried."""


@dataclass(frozen=True)
class Engine:
    name: str  # docker | podman
    path: str
    version: str

    def cmd(self, *args: str) -> list[str]:
        return [self.path, *args]

    def build_cmd(self) -> list[str]:
        # docker builds through buildx (BuildKit: secrets, --platform) and loads the result.
        return self.cmd("buildx", "build", "--load") if self.name == "docker" \
            else self.cmd("build")

    def platform_args(self, arch: str) -> list[str]:
        return ["--platform", f"linux/{arch}"]

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.path})"


def _run(cmd: list[str], timeout: float = 30) -> tuple[int, str]:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as exc:
        return 1, str(exc)
    return p.returncode, (p.stdout + p.stderr).strip()


def probe(name: str) -> tuple[Engine | None, str]:
    """The engine `name` if it works here, else None and why not."""
    if name not in ENGINES:
        return None, f"unknown engine {name!r} (known: {', '.join(ENGINES)})"
    path = shutil.which(name)
    if not path:
        return None, f"{name}: not installed (not on PATH)"
    if name == "docker":
        rc, out = _run([path, "buildx", "version"])
        if rc != 0:
            return None, f"docker: the buildx plugin is missing ({out.splitlines()[-1:]})"
        rc, out = _run([path, "version", "--format", "{{.Server.Version}}"])
        if rc != 0 or not out:
            last = out.splitlines()[-1] if out else "no answer"
            return None, f"docker: no engine answers ({last})"
        return Engine("docker", path, out.splitlines()[-1]), ""
    rc, out = _run([path, "version", "--format", "{{.Client.Version}}"])
    if rc != 0:
        return None, f"podman: `podman version` failed: {out[-300:]}"
    version = out.splitlines()[-1] if out else "unknown"
    rc, out = _run([path, "info", "--format", "{{.Host.OCIRuntime.Name}}"], timeout=60)
    if rc != 0:
        return None, f"podman: `podman info` failed: {out[-300:]}"
    return Engine("podman", path, version), ""


def detect(name: str | None = None) -> Engine:
    """The engine to use: `name`, else $ENGINE, else docker+buildx, else podman."""
    name = name or os.environ.get("ENGINE") or None
    if name:
        eng, why = probe(name)
        if eng is None:
            raise NoEngine(f"container engine {name!r} is not usable: {why}")
        return eng
    reasons = []
    for n in ENGINES:
        eng, why = probe(n)
        if eng is not None:
            return eng
        reasons.append(why)
    raise NoEngine("no container engine found (need docker with buildx and a running "
                   "daemon, or podman): " + "; ".join(reasons))


def main(argv: list[str]) -> int:
    try:
        eng = detect(argv[0] if argv else None)
    except NoEngine as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(eng)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
