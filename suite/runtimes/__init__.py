"""Runtimes: the runtimes file (docker/runtimes.toml) read into `Runtime` records, and how
a runtime is provided here: backends (`native`: a local interpreter with its own venv;
`container`: an image), the container engine, and the images.

May import: flavors (which requirement files a runtime needs), workloads, documents.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from suite import flavors

ROOT = Path(__file__).resolve().parents[2]
RUNTIMES_FILE = ROOT / "docker" / "runtimes.toml"
KINDS = ("cpython", "mojo", "pypy")
WARMUPS = ("fixed", "steady")  # see suite/measure/worker.py: steady_warmups


@dataclass(frozen=True)
class Runtime:
    id: str
    kind: str
    python: str
    jit: bool
    flavors: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    arches: tuple[str, ...] = ("amd64", "arm64")
    image: dict = field(default_factory=dict)
    warmup: str = "fixed"  # "steady": warm up until the timings stop falling (JITs)


def load(path: Path = RUNTIMES_FILE) -> dict[str, Runtime]:
    """Parse and check the runtimes file; errors name the runtime and the key."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read the runtimes file {path}: {exc}") from None
    out = {}
    for rid, spec in data.items():
        try:
            if spec["kind"] not in KINDS:
                raise ValueError(f"kind must be one of {KINDS}, not {spec['kind']!r}")
            warmup = spec.get("warmup", "fixed")
            if warmup not in WARMUPS:
                raise ValueError(f"warmup must be one of {WARMUPS}, not {warmup!r}")
            out[rid] = Runtime(
                id=rid, kind=spec["kind"], python=str(spec["python"]), jit=bool(spec["jit"]),
                flavors=tuple(spec["flavors"]), env={k: str(v) for k, v in spec["env"].items()},
                arches=tuple(spec.get("arches", ("amd64", "arm64"))),
                image=dict(spec.get("image", {})), warmup=warmup)
        except KeyError as exc:
            raise ValueError(f"{path}: runtime {rid!r} lacks the key {exc}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: runtime {rid!r}: {exc}") from None
    return out


def select(ids: list[str], known: dict[str, Runtime]) -> list[Runtime]:
    """The runtimes named by `ids`, or a ValueError naming the unknown ones."""
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ValueError(f"unknown runtime(s) {', '.join(unknown)}; known runtimes: "
                         f"{', '.join(known)} (see {RUNTIMES_FILE.relative_to(ROOT)})")
    return [known[i] for i in ids]


def requirement_files(rt: Runtime) -> list[str]:
    """The pinned requirement files (suite/requirements/) a runtime's venv or image needs:
    the worker's, plus one per flavor family it runs (`<family>.txt`, e.g. numba.txt)."""
    names = ["worker.txt"]
    for fl in rt.flavors:
        fam = flavors.family_of(fl)
        if fam is not None and f"{fam.module_name}.txt" not in names:
            names.append(f"{fam.module_name}.txt")
    return names
