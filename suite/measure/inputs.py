"""The inputs every runtime shares: generated once from the seed, stored as files that every
worker loads, and kept across runs under a content key.

One entry per (workload, params, seed) in the cache's `inputs/` directory:

    <workload>-<what>-<code>.npz            the inputs (what `suite exec --inputs` reads too)
    <workload>-<what>-<code>.reference.npy  the float64 reference the outputs are checked against
    <workload>-<what>-<code>.scale.npy      the error scale (the workload's error bound)
    <workload>-<what>-<code>.json           the key and inputs_sha256; written last

`<what>` hashes the workload, params and seed; `<code>` hashes what generates the files: the
workload's module and the workload package's shared code (seeded generator, eps), NumPy's
version and this layout's version. A later run with the same key reuses the files (the 1.7 GB
of the full-size conv2d are not regenerated); a change to the code writes a new entry, and
`prune` removes the stale ones (the run command calls it while it holds the cache's
exclusive lock, when no run is reading them). The reference and scale are `.npy` so that
workers can memory-map them (`np.load(mmap_mode="r")`) instead of holding 1.6 GB each.

Files are written under unique temporary names, fsynced and renamed into place, the key file
last, so a reader (another run, a crash halfway) sees a whole entry or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from suite.workloads import WORKLOADS, Params, Workload, canonical, make_inputs

LAYOUT = 2  # bump when the files of an entry change
PACKAGE = Path(__file__).resolve().parents[1] / "workloads"
SHARED_CODE = ("__init__.py", "base.py")  # generator and helpers every workload uses


def reference_paths(inputs: Path) -> tuple[Path, Path]:
    """The reference and scale files stored next to an inputs file."""
    stem = inputs.name.removesuffix(".npz")
    return inputs.with_name(f"{stem}.reference.npy"), inputs.with_name(f"{stem}.scale.npy")


def code_hash(w: Workload) -> str:
    """SHA-256 of what generates a workload's inputs, reference and scale."""
    h = hashlib.sha256(f"layout={LAYOUT};numpy={np.__version__};".encode())
    module = Path(sys.modules[w.make_inputs.__module__].__file__ or "")
    for f in (module, *(PACKAGE / n for n in SHARED_CODE)):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def inputs_sha256(arrays: dict[str, np.ndarray]) -> str:
    """The content hash of the inputs (names, dtypes, shapes and bytes) that cells record."""
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(f"{k}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


class InputStore:
    """Seeded inputs with their float64 reference and error scale, computed once per content
    key and reused by every runtime of this run and of later runs."""

    def __init__(self, directory: Path, seed: int) -> None:
        self.dir = directory
        self.seed = seed
        self.sha: dict[str, str] = {}

    def key(self, w: Workload, params: Params) -> dict:
        return {"workload": w.name, "params": canonical(params), "seed": self.seed,
                "code": code_hash(w)}

    def path(self, w: Workload, params: Params) -> tuple[Path, str]:
        """The inputs file for (w, params) and the inputs' SHA-256; generated if missing."""
        key = self.key(w, params)
        what = _digest({k: key[k] for k in ("workload", "params", "seed")})[:16]
        stem = f"{w.name}-{what}-{key['code'][:12]}"
        npz = self.dir / f"{stem}.npz"
        if stem not in self.sha:
            self.sha[stem] = self._cached(stem, key) or self._generate(w, params, stem, key)
        return npz, self.sha[stem]

    def _files(self, stem: str) -> list[Path]:
        npz = self.dir / f"{stem}.npz"
        return [npz, *reference_paths(npz)]

    def _cached(self, stem: str, key: dict) -> str | None:
        """The inputs' SHA-256 if a whole entry with this key is stored."""
        try:
            meta = json.loads((self.dir / f"{stem}.json").read_text())
            whole = all(f.stat().st_size == meta["sizes"][f.name] for f in self._files(stem))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return meta["inputs_sha256"] if whole and meta.get("key") == key else None

    def _generate(self, w: Workload, params: Params, stem: str, key: dict) -> str:
        arrays = make_inputs(w, params, self.seed)
        ref = np.asarray(w.reference(arrays, params), dtype=np.float64, order="C")
        scale = np.asarray(w.error_scale(arrays, params, ref), dtype=np.float64, order="C")
        self.dir.mkdir(parents=True, exist_ok=True)
        npz, ref_path, scale_path = self._files(stem)
        _write(npz, lambda f: np.savez(f, **arrays))
        _write(ref_path, lambda f: np.save(f, ref, allow_pickle=False))
        _write(scale_path, lambda f: np.save(f, scale, allow_pickle=False))
        sha = inputs_sha256(arrays)
        meta = {"key": key, "inputs_sha256": sha,
                "sizes": {f.name: f.stat().st_size for f in self._files(stem)}}
        _write(self.dir / f"{stem}.json", lambda f: f.write(json.dumps(meta).encode()))
        # Imported here: workers import this module (reference_paths) and have no jsonschema.
        from suite.documents import fsync_directory

        fsync_directory(self.dir)
        return sha



def prune(directory: Path) -> list[Path]:
    """Remove the entries that today's code would not make (another workload module, NumPy
    or layout: another `<code>` part) and unknown files; returns what was removed. Only
    while no run reads the directory (the cache's exclusive lock)."""
    current = {name: code_hash(w)[:12] for name, w in WORKLOADS.items()}
    removed = []
    for f in sorted(directory.glob("*")) if directory.is_dir() else []:
        workload, _, rest = f.name.partition("-")
        code = rest.split("-", 1)[-1].split(".", 1)[0]
        if f.is_file() and current.get(workload) != code:
            f.unlink(missing_ok=True)
            removed.append(f)
    return removed


def _write(path: Path, fill: Callable[[BinaryIO], object]) -> None:
    """Write `path` through a uniquely named temporary file, fsynced, then renamed."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
