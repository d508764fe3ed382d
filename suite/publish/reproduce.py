"""Reproduce a published result document: check it, rerun its cells the way it says they
ran, and compare.

1. read the document (a local file or an http(s) URL);
2. refuse it, with every reason, if it is inconsistent: schema violations; a container
   result without a well-formed image digest; a runtime, workload, flavor or parameter set
   the suite does not define for that profile; a cell id that does not match its fields;
   an `inputs_sha256` other than the one the seeded generator produces now;
3. get the runtime: natively for a native document (same runtime id); for a container
   document the exact image digest it names, pulled, or rebuilt from docker/runtimes.toml
   when it cannot be pulled (a rebuilt image whose digest differs is reported as such);
4. rerun exactly the document's cells (workload, params, flavor, threads) with its seed,
   its profile settings (processes, warm-ups, samples, calibration target) and its loop
   counts per cell, with the same backend;
5. compare with `suite.compare.compare_documents` (ratio of medians, bootstrap CI) and
   print a verdict per cell: reproduced / faster / slower / not comparable.
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import compare, profiles, results, runtimes
from .backends import Backend, Unavailable
from .profiles import Profile
from .runner import Cell, InputStore, Run, cell_id, prepare_runtimes
from .workloads import WORKLOADS, canonical, flavor_names

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
VERDICT_WORDS = {"not significant": "reproduced", "faster": "faster", "slower": "slower",
                 "not comparable": "not comparable", "no data": "no data"}
MAX_DOWNLOAD = 64 << 20


class Refused(Exception):
    """The document cannot be reproduced as it stands; `reasons` says why, one per line."""

    def __init__(self, source: str, reasons: list[str]) -> None:
        super().__init__(f"{source}: refused: " + "; ".join(reasons))
        self.source = source
        self.reasons = reasons


# -- reading -------------------------------------------------------------------------------
def read(source: str, timeout: float = 60) -> dict:
    """The JSON document at a path or an http(s) URL (Refused if it is not JSON)."""
    if re.match(r"^https?://", source):
        try:
            with urllib.request.urlopen(source, timeout=timeout,
                                        context=ssl.create_default_context()) as r:
                data = r.read(MAX_DOWNLOAD + 1)
        except (OSError, urllib.error.URLError) as exc:
            raise OSError(f"cannot download {source}: {getattr(exc, 'reason', exc)}") from None
        if len(data) > MAX_DOWNLOAD:
            raise Refused(source, [f"larger than {MAX_DOWNLOAD >> 20} MiB: not a result "
                                   "document"])
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise OSError(f"cannot read {source}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(source, [f"not JSON: {exc}"]) from None
    return doc


# -- checking ------------------------------------------------------------------------------
def audit(doc: object, inputs_dir: Path,
          known: dict[str, runtimes.Runtime] | None = None) -> list[str]:
    """Every reason the document cannot be reproduced as it stands (empty: it can)."""
    errors = results.violations(doc)
    if errors:
        return [f"schema-invalid: {e}" for e in errors[:12]] + (
            [f"... and {len(errors) - 12} more schema violations"] if len(errors) > 12 else [])
    assert isinstance(doc, dict)
    known = runtimes.load() if known is None else known
    reasons: list[str] = []
    rid = doc["runtime"]["id"]
    rt = known.get(rid)
    if rt is None:
        reasons.append(f"runtime {rid!r} is not in docker/runtimes.toml (known: "
                       f"{', '.join(known)})")
    elif doc["runtime"]["kind"] != rt.kind:
        reasons.append(f"runtime {rid!r} is of kind {rt.kind!r} in docker/runtimes.toml, "
                       f"the document says {doc['runtime']['kind']!r}")
    backend = doc["backend"]
    if backend["kind"] == "container":
        digest, image = backend.get("digest"), backend.get("image")
        if not digest:
            reasons.append("container result without an image digest (backend.digest): the "
                           "image it was measured in cannot be identified")
        elif not DIGEST.match(str(digest)):
            reasons.append(f"backend.digest {digest!r} is malformed (expected sha256:<64 hex>)")
        if not image:
            reasons.append("container result without an image reference (backend.image)")
        elif "@" in image and digest and image.split("@", 1)[1] != digest:
            reasons.append(f"backend.image {image} names another digest than backend.digest "
                           f"{digest}")
    elif backend.get("digest") or backend.get("image"):
        reasons.append("a native result names an image (backend.image/digest): the document "
                       "is inconsistent")
    profile = doc["run"]["profile"]
    seed = doc["run"]["seed"]
    store = InputStore(inputs_dir, seed)
    for c in doc["cells"]:
        where = f"cell {c['id']}"
        w = WORKLOADS.get(c["workload"])
        if w is None:
            reasons.append(f"{where}: unknown workload {c['workload']!r} (known: "
                           f"{', '.join(WORKLOADS)})")
            continue
        defined = w.params.get(profile, [])
        if c["params"] not in defined:
            reasons.append(f"{where}: params {canonical(c['params'])} do not match the "
                           f"suite's {profile} profile for {w.name} (defined: "
                           f"{'; '.join(canonical(p) for p in defined) or 'none'})")
            continue
        if c["flavor"] not in flavor_names(w):
            reasons.append(f"{where}: {w.name} has no flavor {c['flavor']!r}")
            continue
        if rt is not None and c["flavor"] not in rt.flavors:
            reasons.append(f"{where}: runtime {rid} does not run the flavor {c['flavor']!r}")
        expected_id = cell_id(w.name, c["params"], c["flavor"], c["threads"])
        if c["id"] != expected_id:
            reasons.append(f"{where}: the id does not match its fields (expected "
                           f"{expected_id})")
        sha = c.get("inputs_sha256")
        if sha is None:
            if c["status"] == "ok":
                reasons.append(f"{where}: no inputs_sha256, so its inputs cannot be checked")
            continue
        _, now = store.path(w, c["params"])
        if sha != now:
            reasons.append(f"{where}: inputs_sha256 {sha[:16]}... does not match what the "
                           f"seeded generator produces now (seed {seed}: {now[:16]}...)")
    return reasons


def profile_from(doc: dict) -> Profile:
    """The document's profile with the document's own settings (repetition counts,
    calibration target, budget), whatever the suite's current defaults are."""
    base = profiles.get(doc["run"]["profile"])
    s = doc["run"]["settings"]
    return replace(base, processes=s["processes"], warmups=s["warmups"], values=s["values"],
                   min_time_ns=s["min_time_ns"], max_loops=s.get("max_loops", base.max_loops),
                   budget_s=s["budget_s"])


# -- images --------------------------------------------------------------------------------
@dataclass
class Image:
    ref: str  # what the container backend runs
    digest: str | None  # the digest of what runs
    notes: list[str] = field(default_factory=list)


def image_arch(doc: dict) -> str:
    return results.arch_name(doc["runtime"].get("machine") or doc["host"]["arch"])


def get_image(doc: dict, engine, rt: runtimes.Runtime, cache_dir: Path, log=print) -> Image:
    """Pull the document's exact image digest; if that fails, rebuild from the runtimes
    file and say whether the rebuilt digest is the same."""
    from . import images

    b = doc["backend"]
    repo = b["image"].split("@", 1)[0]
    if ":" in repo.rsplit("/", 1)[-1]:
        repo = repo.rsplit(":", 1)[0]
    pinned = f"{repo}@{b['digest']}"
    arch = image_arch(doc)
    local = images.inspect(engine, pinned)
    if local is not None:
        return Image(pinned, b["digest"], [f"image {pinned} is present locally"])
    log(f"pulling {pinned}")
    proc = subprocess.run(engine.cmd("pull", *engine.platform_args(arch), pinned),
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode == 0:
        return Image(pinned, b["digest"], [f"pulled {pinned}"])
    why = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
    log(f"cannot pull {pinned} ({why[0]}): rebuilding it from docker/runtimes.toml")
    mode = b.get("build_mode") or "optimized"
    spec, info, _ = images.ensure(engine, rt, arch, images.build_mode(mode), cache_dir, log)
    got = info.get("digest")
    notes = [f"could not pull {pinned} ({why[0]}); rebuilt {spec.ref} ({mode} mode)"]
    if got == b["digest"]:
        notes.append(f"the rebuilt image has the published digest {got}")
    else:
        notes.append(f"REBUILT IMAGE DIGEST DIFFERS: published {b['digest']}, rebuilt {got}; "
                     "the rerun measures the rebuilt image, not the published one")
    return Image(spec.ref, got, notes)


def container_backend(doc: dict, image: Image, engine_name: str | None, cache_dir: Path):
    """The container backend, running `image.ref` for the document's runtime."""
    import inspect as pyinspect

    try:
        from .backends.container import ContainerBackend
    except ImportError as exc:
        raise Unavailable(f"the container backend is not available: {exc}") from None
    if "image" not in pyinspect.signature(ContainerBackend).parameters:
        raise Unavailable("suite.backends.container.ContainerBackend takes no `image=` "
                          "argument: it cannot be told to run an exact image@digest")
    return ContainerBackend(cache_dir, arch=image_arch(doc), engine=engine_name,
                            image=image.ref)


# -- rerunning -----------------------------------------------------------------------------
class Rerun(Run):
    """A Run over exactly the given cells, each with the published loop count."""

    def __init__(self, *args, loops: dict[str, int], **kw) -> None:
        super().__init__(*args, **kw)
        self.published_loops = loops

    def calibrate(self, cell: Cell) -> None:
        super().calibrate(cell)
        want = self.published_loops.get(cell.id)
        if cell.status == "running" and want:
            cell.loops = want  # the same work per sample as the published run


def rerun(doc: dict, backend: Backend, out_dir: Path, cache_dir: Path, source: str,
          log: Callable[[str], None] = print) -> tuple[Path, dict, int]:
    """Rerun the document's measured cells; (path, new document, runner status)."""
    rt = runtimes.load()[doc["runtime"]["id"]]
    ready, records, missing = prepare_runtimes(backend, [rt], log=log)
    if not ready:
        raise Unavailable(missing.get(rt.id, f"runtime {rt.id} could not be set up"))
    todo = [c for c in doc["cells"] if c["status"] == "ok"]
    workloads = sorted({c["workload"] for c in todo})
    run = Rerun(ready, backend, profile_from(doc), out_dir, cache_dir,
                seed=doc["run"]["seed"], workloads=workloads, command=f"make reproduce "
                f"FROM={source}", log=log, backend_records=records,
                loops={c["id"]: c["loops"] for c in todo})
    run.cells = [Cell(ready[0], WORKLOADS[c["workload"]], dict(c["params"]), c["flavor"],
                      c["threads"]) for c in todo]
    status = run.execute()
    path = run.paths[rt.id]
    return path, results.load(path), status


# -- the whole thing -------------------------------------------------------------------------
@dataclass
class Outcome:
    comparison: dict
    new_path: Path
    notes: list[str]
    not_rerun: list[str]

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.comparison["cells"]:
            v = VERDICT_WORDS.get(c["verdict"], c["verdict"])
            out[v] = out.get(v, 0) + 1
        return out


def reproduce(source: str, out_dir: Path, cache_dir: Path, engine: str | None = None,
              threshold: float = compare.DEFAULT_THRESHOLD, log=print) -> Outcome:
    doc = read(source)
    reasons = audit(doc, cache_dir / "inputs")
    if reasons:
        raise Refused(source, reasons)
    notes = []
    theirs, ours = doc["suite"].get("git_commit"), results.suite_info()["git_commit"]
    if theirs and ours and theirs != ours:
        notes.append(f"the document was measured with suite commit {theirs[:12]}, this "
                     f"checkout is {ours[:12]} (`git checkout {theirs[:12]}` for the exact "
                     "harness; the workloads were checked to be the same)")
    kind = doc["backend"]["kind"]
    rid = doc["runtime"]["id"]
    if kind == "native":
        from .backends.native import NativeBackend

        backend = NativeBackend(cache_dir, log=log)
        notes.append(f"native rerun of {rid}")
    else:
        from .backends.engine import NoEngine, detect

        try:
            eng = detect(engine)
        except NoEngine as exc:
            raise Unavailable(str(exc)) from None
        image = get_image(doc, eng, runtimes.load()[rid], cache_dir, log)
        notes += image.notes
        backend = container_backend(doc, image, eng.name, cache_dir)
    not_rerun = [f"{c['id']}: {c['status']} in the document"
                 + (f" ({c.get('error') or c.get('skip', {}).get('reason')})"
                    if c["status"] != "ok" else "")
                 for c in doc["cells"] if c["status"] != "ok"]
    if len(not_rerun) == len(doc["cells"]):
        raise Refused(source, ["the document has no measured cell to reproduce"])
    path, new, _status = rerun(doc, backend, out_dir, cache_dir, source, log)
    if kind == "container":
        got = new["backend"].get("digest")
        if got != doc["backend"]["digest"]:
            notes.append(f"the rerun ran in digest {got}, the document names "
                         f"{doc['backend']['digest']}")
    for key, what in (("implementation", "implementation"), ("version", "version")):
        a, b = doc["runtime"].get(key), new["runtime"].get(key)
        if a != b:
            notes.append(f"the runtime's {what} differs: published {a}, rerun {b}")
    if doc["runtime"]["jit"].get("enabled") != new["runtime"]["jit"].get("enabled"):
        notes.append(f"the JIT state differs: published enabled="
                     f"{doc['runtime']['jit'].get('enabled')}, rerun enabled="
                     f"{new['runtime']['jit'].get('enabled')}")
    comparison = compare.compare_documents(doc, new, threshold)
    return Outcome(comparison, path, notes, not_rerun)


def render(o: Outcome, source: str) -> str:
    res = o.comparison
    b, n = res["base"], res["new"]
    lines = [f"published: {source}",
             f"  {b['runtime']} {b['version']} run {b['run']} ({b['profile']}; {b['arch']}, "
             f"{b['cpu_model']}, {b['cores']} cores{', emulated' if b['emulated'] else ''})",
             f"rerun:     {o.new_path}",
             f"  {n['runtime']} {n['version']} run {n['run']} ({n['profile']}; {n['arch']}, "
             f"{n['cpu_model']}, {n['cores']} cores{', emulated' if n['emulated'] else ''})"]
    lines += [f"note: {x}" for x in o.notes]
    if not res["comparable"]:
        lines.append("NOT COMPARABLE (the timings are shown, no verdict is drawn):")
        lines += [f"  - {r}" for r in res["reasons"]]
    lines += [f"warning: {w}" for w in res["warnings"]]
    lines.append("")
    width = max([len(c["id"]) for c in res["cells"]] + [4])
    lines.append(f"{'cell':<{width}}  {'rerun/published':>15}  {'95% CI':>13}  verdict")
    for c in res["cells"]:
        ratio = "-" if c["ratio"] is None else f"{c['ratio']:.3f}"
        ci = "-" if c["ci95"] is None else f"{c['ci95'][0]:.3f}-{c['ci95'][1]:.3f}"
        v = VERDICT_WORDS.get(c["verdict"], c["verdict"])
        if c.get("note"):
            v += f" ({c['note']})"
        lines.append(f"{c['id']:<{width}}  {ratio:>15}  {ci:>13}  {v}")
    for x in o.not_rerun:
        lines.append(f"not rerun: {x}")
    for i in res["only_base"]:
        lines.append(f"missing in the rerun: {i}")
    lines.append("")
    counts = o.counts
    lines.append("summary: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in
                                         ("reproduced", "faster", "slower", "not comparable",
                                          "no data")))
    lines.append(f"reproduced = the 95% bootstrap CI of the ratio of medians includes 1 or "
                 f"the change is within {res['threshold']:.0%}; faster/slower = the rerun "
                 "differs significantly.")
    return "\n".join(lines)
