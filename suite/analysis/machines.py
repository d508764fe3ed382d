"""Group result documents (from `suite.documents.load_many`) by machine and settings.

A *machine* here is one (architecture, CPU model, core count, emulated) combination measured
with one set of profile settings (processes, warm-ups, values, calibration target, ...):
the report never puts times from two machines, or from two profiles' settings, in one
table (or one row).

Within such a group each runtime's cells are merged across documents, oldest first, by this
rule, which cannot hide data: a newer document's cell replaces the older one of the same id
only if it is ok, or if both have the same status. So an interrupted or failed newer run
keeps the older ok cells, and the newer failures are listed (`RuntimeData.not_shown`) rather
than dropped. Each cell remembers the document (and so the run) it came from: the report
compares speeds across runs only when asked, and labels those comparisons.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

from suite import documents, flavors
from suite.documents import Doc
from suite.measure import profiles
from suite.workloads import WORKLOADS

FLAVOR_ORDER = flavors.ORDER


@dataclass
class RuntimeData:
    id: str
    docs: list[Doc] = field(default_factory=list)  # newest first
    cells: dict[str, dict] = field(default_factory=dict)
    source: dict[str, Doc] = field(default_factory=dict)  # cell id -> document
    not_shown: list[tuple[dict, Doc]] = field(default_factory=list)  # newer, not ok, kept out

    def run_of(self, cell_id: str) -> str:
        """The run id of the document a merged cell came from."""
        return self.source[cell_id].doc["run"]["id"]

    def merge(self, d: Doc) -> None:
        """Merge a document newer than every one merged so far (see the module rule)."""
        self.docs.insert(0, d)
        for c in d.doc["cells"]:
            old = self.cells.get(c["id"])
            if old is None or c["status"] == "ok" or c["status"] == old["status"]:
                self.cells[c["id"]] = c
                self.source[c["id"]] = d
            else:
                self.not_shown.append((c, d))

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
    settings: tuple = ()  # profiles.settings_signature of every document in the group
    profile: str = ""  # the profile name of the newest document
    docs: list[Doc] = field(default_factory=list)
    runtimes: dict[str, RuntimeData] = field(default_factory=dict)

    @property
    def key(self) -> str:
        sig = zlib.crc32(repr(self.settings).encode())
        return (f"{self.arch}-{self.cores}c-{zlib.crc32(self.cpu_model.encode()):08x}"
                f"-{self.profile}-{sig:08x}" + ("-emulated" if self.emulated else ""))

    @property
    def label(self) -> str:
        shape = dict(zip(profiles.SETTINGS_KEYS, self.settings))
        return (f"{self.arch} · {self.cpu_model} · {self.cores} cores · {self.profile} "
                f"profile ({shape.get('processes')} processes x {shape.get('values')} values)"
                + (" · EMULATED" if self.emulated else ""))

    def runs(self) -> list[str]:
        """The run ids the shown (merged) cells come from, newest first."""
        shown = {rt.run_of(i) for rt in self.runtimes.values() for i in rt.cells}
        return [r for r in dict.fromkeys(d.doc["run"]["id"] for d in self.docs) if r in shown]

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
    """Documents -> machines x settings (native first, then emulated), each runtime's cells
    merged by the module's rule."""
    machines: dict[tuple, Machine] = {}
    for d in sorted(docs, key=lambda d: (d.started, d.doc["run"]["id"])):
        h, run = d.doc["host"], d.doc["run"]
        k = (documents.arch_name(h["arch"]), h["cpu_model"], h["cores"], bool(h["emulated"]),
             profiles.settings_signature(run.get("settings", {})))
        m = machines.setdefault(k, Machine(*k))
        m.docs.insert(0, d)
        m.profile = run["profile"]
        m.runtimes.setdefault(d.runtime, RuntimeData(d.runtime)).merge(d)
    return sorted(machines.values(), key=lambda m: (m.emulated, m.arch, m.cpu_model, m.cores,
                                                     m.profile, repr(m.settings)))


def safe_name(name: str) -> str:
    """`name` as one file name part: only [A-Za-z0-9_.+-], never `.`/`..`, at most 64
    characters; a name that had to change gets its CRC so that two stay apart."""
    s = re.sub(r"[^A-Za-z0-9_.+-]|\.\.+", "_", name).lstrip(".")[:64] or "_"
    return s if s == name else f"{s}-{zlib.crc32(name.encode()):08x}"


def assign_data_names(docs: list[Doc]) -> None:
    """data/<arch>/<runtime>/<file>.json (each part a safe_name; .json.gz for a
    gzip-compressed document, copied as it is), unique even when file names repeat."""
    used: set[str] = set()
    for d in docs:
        arch = documents.arch_name(d.doc["host"]["arch"])
        emu = "-emulated" if d.doc["host"].get("emulated") else ""
        stem, suffix = documents.split_name(d.path)
        ext = ".json.gz" if suffix == ".json.gz" else ".json"
        base = f"data/{safe_name(arch + emu)}/{safe_name(d.runtime)}/{safe_name(stem)}"
        name, i = f"{base}{ext}", 1
        while name in used:
            i += 1
            name = f"{base}-{i}{ext}"
        used.add(name)
        d.data_name = name
