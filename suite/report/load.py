"""Read result documents for the report and the claims check, and group them by machine.

A *machine* is one (architecture, CPU model, core count, emulated) combination: the report
never puts times from two machines in one table. Within a machine, each runtime's cells
are merged across documents: for every cell id the newest document (by run start time)
that has it wins, so separate runs (e.g. CPython today, Mojo tomorrow) combine; the
documents used are listed in the environment section.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .. import results
from ..workloads import MOJO_FLAVORS, NUMBA, WORKLOADS

FLAVOR_ORDER = ("pure", "numpy", NUMBA, *MOJO_FLAVORS)


class NoDocuments(ValueError):
    """Nothing to report on (no *.json, or nothing valid)."""


@dataclass
class Doc:
    path: Path
    doc: dict
    data_name: str = ""  # where the report copies the raw JSON (relative to report/)

    @property
    def runtime(self) -> str:
        return self.doc["runtime"]["id"]

    @property
    def started(self) -> str:
        return self.doc["run"]["started"]


@dataclass
class Problem:
    path: Path
    reason: str


def load(paths: list[Path], strict: bool = False) -> tuple[list[Doc], list[Problem]]:
    """Valid documents and the problems with the others (each file named with its reason).

    With `strict`, any problem raises ValueError. No document at all raises NoDocuments.
    """
    files: list[Path] = []
    seen = set()
    for p in paths:
        if not p.exists():
            raise NoDocuments(f"{p}: no such file or directory")
        for f in results.iter_documents([p]):
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                files.append(f)
    if not files:
        raise NoDocuments("no result documents (*.json) under " + ", ".join(map(str, paths))
                          + ": run `make bench` first (or pass result files)")
    docs, problems = [], []
    for f in files:
        try:
            doc = json.loads(f.read_text())
        except OSError as exc:
            problems.append(Problem(f, f"cannot read: {exc.strerror or exc}"))
            continue
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            problems.append(Problem(f, f"not JSON: {exc}"))
            continue
        errs = results.violations(doc)
        if errs:
            more = f" (+{len(errs) - 3} more)" if len(errs) > 3 else ""
            problems.append(Problem(f, "schema violation: " + "; ".join(errs[:3]) + more))
            continue
        docs.append(Doc(f, doc))
    if strict and problems:
        raise ValueError("--strict: invalid result document(s):\n" + "\n".join(
            f"  {p.path}: {p.reason}" for p in problems))
    if not docs:
        raise NoDocuments("no valid result documents among " + ", ".join(map(str, paths))
                          + ":\n" + "\n".join(f"  {p.path}: {p.reason}" for p in problems))
    return docs, problems


@dataclass
class RuntimeData:
    id: str
    docs: list[Doc] = field(default_factory=list)  # newest first
    cells: dict[str, dict] = field(default_factory=dict)
    source: dict[str, Doc] = field(default_factory=dict)  # cell id -> document

    @property
    def info(self) -> dict:
        return self.docs[0].doc["runtime"]

    @property
    def backend(self) -> dict:
        return self.docs[0].doc["backend"]

    @property
    def kind(self) -> str:
        return self.info.get("kind", "")

    def jit_on(self) -> bool:
        j = self.info.get("jit") or {}
        return bool(j.get("built")) and j.get("enabled") is True


@dataclass
class Machine:
    arch: str
    cpu_model: str
    cores: int
    emulated: bool
    docs: list[Doc] = field(default_factory=list)
    runtimes: dict[str, RuntimeData] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.arch}-{self.cores}c-{zlib.crc32(self.cpu_model.encode()):08x}" + (
            "-emulated" if self.emulated else "")

    @property
    def label(self) -> str:
        return (f"{self.arch} · {self.cpu_model} · {self.cores} cores"
                + (" · EMULATED" if self.emulated else ""))

    @property
    def host(self) -> dict:
        return self.docs[0].doc["host"]

    def peak(self, dtype: str, threads: int) -> float | None:
        for d in self.docs:
            pk = (d.doc["host"].get("peak_gflops") or {}).get(dtype) or {}
            if str(threads) in pk:
                return float(pk[str(threads)])
        return None

    def cell_ids(self) -> list[str]:
        ids: dict[str, dict] = {}
        for rt in self.runtimes.values():
            for cid, c in rt.cells.items():
                ids.setdefault(cid, c)
        return sorted(ids, key=lambda i: cell_sort_key(ids[i]))


def cell_sort_key(c: dict) -> tuple:
    worder = list(WORKLOADS)
    w = worder.index(c["workload"]) if c["workload"] in worder else len(worder)
    f = FLAVOR_ORDER.index(c["flavor"]) if c["flavor"] in FLAVOR_ORDER else len(FLAVOR_ORDER)
    params = tuple(sorted((k, str(v).zfill(12) if isinstance(v, int) else str(v))
                          for k, v in c["params"].items()))
    return (w, c["workload"], params, f, c["flavor"], c["threads"])


def group(docs: list[Doc]) -> list[Machine]:
    """Documents -> machines (native first, then emulated), runtimes merged per cell id."""
    machines: dict[tuple, Machine] = {}
    for d in sorted(docs, key=lambda d: (d.started, d.doc["run"]["id"]), reverse=True):
        h = d.doc["host"]
        k = (results.arch_name(h["arch"]), h["cpu_model"], h["cores"], bool(h["emulated"]))
        m = machines.setdefault(k, Machine(*k))
        m.docs.append(d)
        rt = m.runtimes.setdefault(d.runtime, RuntimeData(d.runtime))
        rt.docs.append(d)
        for c in d.doc["cells"]:
            if c["id"] not in rt.cells:
                rt.cells[c["id"]] = c
                rt.source[c["id"]] = d
    return sorted(machines.values(), key=lambda m: (m.emulated, m.arch, m.cpu_model, m.cores))


def assign_data_names(docs: list[Doc]) -> None:
    """data/<arch>/<runtime>/<file>.json, unique even when file names repeat."""
    used: set[str] = set()
    for d in docs:
        arch = results.arch_name(d.doc["host"]["arch"])
        emu = "-emulated" if d.doc["host"].get("emulated") else ""
        base = f"data/{arch}{emu}/{d.runtime}/{d.path.stem}"
        name, i = f"{base}.json", 1
        while name in used:
            i += 1
            name = f"{base}-{i}.json"
        used.add(name)
        d.data_name = name
