"""The runtimes file (docker/runtimes.toml), read into `Runtime` records."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIMES_FILE = ROOT / "docker" / "runtimes.toml"
KINDS = ("cpython", "mojo", "pypy")
WARMUPS = ("fixed", "steady")  # see suite/worker.py: steady_warmups


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
