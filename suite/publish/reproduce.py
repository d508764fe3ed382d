"""Reproduce a published result document: check it, rerun its cells the way it says they
ran, and compare.

1. read the document (a local file or an http(s) URL; .json or gzip-compressed .json.gz);
2. refuse it, with every reason, if it is inconsistent: schema violations; a container
   result without a well-formed image digest; a runtime, workload, flavor or parameter set
   the suite does not define for that profile; a cell id that does not match its fields;
   an `inputs_sha256` other than the one the seeded generator produces now;
3. get the runtime: natively for a native document (same runtime id); for a container
   document the exact image digest it names, pulled, or rebuilt from docker/runtimes.toml
   when it cannot be pulled (a rebuilt image whose digest differs is reported as such).
   Only trusted images run (`check_image_trust`): the project's registry namespace
   (SUITE_IMAGE_NAMESPACE, default the GitHub origin's ghcr.io/<owner>/<repo>/) and
   images built here (localhost/bench/); any other needs `--trust-image REF` and is named
   before it runs;
4. rerun exactly the document's cells (workload, params, flavor, threads) with its seed,
   its profile settings (processes, warm-ups, samples, calibration target) and its loop
   counts per cell, with the same backend;
5. compare with `suite.analysis.compare.compare_documents` (ratio of the cells' times with
   its 95% CI over worker processes) and print a verdict per cell, an equivalence test
   with the threshold t: `reproduced` only when the whole CI lies within [1/(1+t), 1+t];
   `faster` / `slower` when it lies wholly outside on one side; `inconclusive` otherwise
   (with about how many processes would decide it); `not comparable` (other hardware or
   emulation); `failed` (the rerun crashed or computed a wrong answer).

Exit status (`exit_status`): 0 every rerun cell reproduced; 1 some cell differs (faster,
slower, failed, or missing in the rerun); 3 otherwise undecided (inconclusive or not
comparable); 2 (the command's) the document is refused or cannot be rerun here.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from suite import documents, flavors, runtimes
from suite.analysis import compare
from suite.measure import profiles
from suite.measure.inputs import InputStore
from suite.measure.plan import Cell, cell_id
from suite.measure.profiles import Profile
from suite.measure.runner import Run, prepare_runtimes
from suite.runtimes.backend import Backend, Unavailable
from suite.workloads import WORKLOADS, canonical

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
VERDICTS = ("reproduced", "faster", "slower", "inconclusive", "not comparable", "failed")
EXIT_REPRODUCED, EXIT_DIFFERS, EXIT_BAD_INPUT, EXIT_INCONCLUSIVE = 0, 1, 2, 3
MAX_DOWNLOAD = 64 << 20


class Refused(Exception):
    """The document cannot be reproduced as it stands; `reasons` says why, one per line."""

    def __init__(self, source: str, reasons: list[str]) -> None:
        super().__init__(f"{source}: refused: " + "; ".join(reasons))
        self.source = source
        self.reasons = reasons


# -- reading -------------------------------------------------------------------------------
def read(source: str, timeout: float = 60) -> dict:
    """The JSON document at a path or an http(s) URL, plain or gzip-compressed (Refused if
    it is not JSON)."""
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
        doc = json.loads(documents.decode(data))  # gunzips a .json.gz, bounded
    except documents.Unreadable as exc:
        raise Refused(source, [str(exc)]) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(source, [f"not JSON: {exc}"]) from None
    return doc


# -- checking ------------------------------------------------------------------------------
def audit(doc: object, inputs_dir: Path,
          known: dict[str, runtimes.Runtime] | None = None) -> list[str]:
    """Every reason the document cannot be reproduced as it stands (empty: it can)."""
    errors = documents.violations(doc)
    if errors:
        return [f"schema-invalid: {e}" for e in errors[:12]] + (
            [f"... and {len(errors) - 12} more schema violations"] if len(errors) > 12 else [])
    assert isinstance(doc, dict)
    known = runtimes.load() if known is None else known
    reasons: list[str] = thread_reasons(doc)
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
        if c["flavor"] not in flavors.names(w):
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


def thread_reasons(doc: dict, cpus: int | None = None) -> list[str]:
    """Cells asking for more threads than the document's host had, or than this machine
    has (a rerun would oversubscribe it), with their JSON paths."""
    cpus = cpus or os.cpu_count() or 1
    cores = doc["host"]["cores"]
    out = []
    for i, c in enumerate(doc["cells"]):
        if c["threads"] > cores:
            out.append(f"$.cells[{i}].threads: {c['threads']} threads, more than the "
                       f"document's own host.cores ({cores})")
        elif c["threads"] > cpus:
            out.append(f"$.cells[{i}].threads: {c['threads']} threads, more than this "
                       f"machine's {cpus} CPUs")
    return out


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
    return documents.arch_name(doc["runtime"].get("machine") or doc["host"]["arch"])


# -- trust: which images reproduce runs ----------------------------------------------------
LOCAL_NAMESPACE = "localhost/bench/"  # images built here from docker/runtimes.toml


def bare(ref: str) -> str:
    """`ref` without its tag or digest."""
    repo = ref.split("@", 1)[0]
    return repo.rsplit(":", 1)[0] if ":" in repo.rsplit("/", 1)[-1] else repo


def repository(ref: str) -> str:
    """`ref` without tag or digest, with its registry spelled out (docker.io/library/ for
    Docker Hub's short names), so that prefixes can be compared."""
    repo = bare(ref)
    first = repo.split("/", 1)[0]
    if "/" not in repo:
        return f"docker.io/library/{repo}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{repo}"
    return repo


def pinned_ref(doc: dict) -> str:
    """The document's image by digest: `repository@sha256:...`."""
    return f"{bare(doc['backend']['image'])}@{doc['backend']['digest']}"


def project_namespace() -> str | None:
    """The project's registry namespace: $SUITE_IMAGE_NAMESPACE, else ghcr.io/<owner>/<repo>/
    of this checkout's GitHub origin (what bench.yml pushes to), else None."""
    from suite.publish import matrix

    ns = os.environ.get("SUITE_IMAGE_NAMESPACE", "").strip()
    if ns:
        return repository(ns.rstrip("/") + "/x")[:-1]
    try:
        url = subprocess.run(["git", "remote", "get-url", "origin"], cwd=documents.ROOT,
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"github\.com[:/]([\w.-]+/[\w.-]+?)(?:\.git)?/?$", url)
    return matrix.image_name(m.group(1), "") if m else None


def trusted_namespaces() -> list[str]:
    return [LOCAL_NAMESPACE, *filter(None, [project_namespace()])]


def image_trust(doc: dict, trust: Sequence[str] = ()) -> tuple[bool, str]:
    """(may run, why) for a container document's image: trusted when it is under a
    trusted namespace, or named by `--trust-image` (repository or repository@digest)."""
    ref = pinned_ref(doc)
    repo = repository(ref)
    spaces = trusted_namespaces()
    if any(repo.startswith(ns) for ns in spaces):
        return True, f"image {ref} is from a trusted namespace"
    named = {repository(t) + ("@" + t.split("@", 1)[1] if "@" in t else "") for t in trust}
    if repo in named or f"{repo}@{doc['backend']['digest']}" in named:
        return True, (f"running image {ref}, which is NOT from a trusted namespace "
                      f"({', '.join(spaces)}): trusted because --trust-image names it")
    return False, (f"backend.image {ref} is not from a trusted namespace ({', '.join(spaces)}): "
                   "reproduce runs only the project's images and images built here from "
                   "docker/runtimes.toml; to run this one anyway, name it: "
                   f"--trust-image {ref} (make reproduce ... TRUST_IMAGE={ref})")


def get_image(doc: dict, engine, rt: runtimes.Runtime, cache_dir: Path, log=print) -> Image:
    """Pull the document's exact image digest; if that fails, rebuild from the runtimes
    file and say whether the rebuilt digest is the same."""
    from suite.runtimes import images

    b = doc["backend"]
    pinned = pinned_ref(doc)
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
    from suite.runtimes.container import ContainerBackend

    return ContainerBackend(cache_dir, arch=image_arch(doc), engine=engine_name,
                            images_given={doc["runtime"]["id"]: image.ref})


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
    return path, documents.load(path), status


# -- the whole thing -------------------------------------------------------------------------
def judge(cell: dict, threshold: float) -> tuple[str, str]:
    """(verdict, advice) of one compared cell (`compare.compare_cells` output): the
    equivalence test of the module docstring."""
    if cell["verdict"] == "not comparable":
        return "not comparable", cell.get("note") or ""
    if cell["verdict"] == "no data" or cell["ci95"] is None:
        return "failed", cell.get("note") or "no timing"
    v = compare.equivalence(cell["ci95"], threshold)
    if v != "inconclusive":
        return v, ""
    lo, hi = compare.bounds(threshold)
    procs = min((p for p in cell.get("processes") or [] if p), default=0)
    need = compare.processes_to_decide(cell["ratio"], cell["ci95"], threshold, procs)
    advice = (f"the CI straddles the band {lo:.3f}-{hi:.3f}; "
              + (f"about {need} processes per side (now {procs}) would decide it"
                 if need else f"more processes narrow the CI, but at this estimate no "
                              f"number up to {compare.MAX_PROCESSES} decides it"))
    return v, advice


@dataclass
class Outcome:
    comparison: dict
    new_path: Path
    notes: list[str]
    not_rerun: list[str]

    def verdicts(self) -> list[tuple[dict, str, str]]:
        """(compared cell, verdict, advice) for every rerun cell."""
        t = self.comparison["threshold"]
        return [(c, *judge(c, t)) for c in self.comparison["cells"]]

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, v, _ in self.verdicts():
            out[v] = out.get(v, 0) + 1
        return out


def exit_status(o: Outcome) -> int:
    """0 every rerun cell reproduced; 1 some cell differs, failed or is missing in the
    rerun; 3 otherwise (inconclusive or not comparable)."""
    counts = o.counts
    if any(counts.get(v) for v in ("faster", "slower", "failed")) or \
            o.comparison["only_base"]:
        return EXIT_DIFFERS
    if not counts or set(counts) != {"reproduced"} or not o.comparison["comparable"]:
        return EXIT_INCONCLUSIVE
    return EXIT_REPRODUCED


def reproduce(source: str, out_dir: Path, cache_dir: Path, engine: str | None = None,
              threshold: float = compare.DEFAULT_THRESHOLD, log=print,
              trust: Sequence[str] = ()) -> Outcome:
    doc = read(source)
    reasons = audit(doc, cache_dir / "inputs")
    if reasons:
        raise Refused(source, reasons)
    if doc["backend"]["kind"] == "container":
        ok, why = image_trust(doc, trust)
        if not ok:
            raise Refused(source, [why])
        log(why)
    notes = []
    theirs, ours = doc["suite"].get("git_commit"), documents.suite_info()["git_commit"]
    if theirs and ours and theirs != ours:
        notes.append(f"the document was measured with suite commit {theirs[:12]}, this "
                     f"checkout is {ours[:12]} (`git checkout {theirs[:12]}` for the exact "
                     "harness; the workloads were checked to be the same)")
    kind = doc["backend"]["kind"]
    rid = doc["runtime"]["id"]
    if kind == "native":
        from suite.runtimes.native import NativeBackend

        backend = NativeBackend(cache_dir, log=log)
        notes.append(f"native rerun of {rid}")
    else:
        from suite.runtimes.engine import NoEngine, detect

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
    # A cell the document skipped or failed is listed as not rerun, never as missing.
    measured = {c["id"] for c in doc["cells"] if c["status"] == "ok"}
    comparison["only_base"] = [i for i in comparison["only_base"] if i in measured]
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
    for c, v, advice in o.verdicts():
        ratio = "-" if c["ratio"] is None else f"{c['ratio']:.3f}"
        ci = "-" if c["ci95"] is None else f"{c['ci95'][0]:.3f}-{c['ci95'][1]:.3f}"
        if advice:
            v += f" ({advice})"
        lines.append(f"{c['id']:<{width}}  {ratio:>15}  {ci:>13}  {v}")
    for x in o.not_rerun:
        lines.append(f"not rerun: {x}")
    for i in res["only_base"]:
        lines.append(f"missing in the rerun: {i}")
    lines.append("")
    counts = o.counts
    lines.append("summary: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in VERDICTS))
    lo, hi = compare.bounds(res["threshold"])
    lines.append(f"reproduced = the whole 95% CI of rerun/published lies within {lo:.3f}-"
                 f"{hi:.3f} (1/(1+t)..1+t, t = {res['threshold']:.0%}); faster/slower = it "
                 "lies wholly outside on one side; inconclusive = neither (a wide CI is not "
                 "evidence of reproduction). CIs rest on the worker processes.")
    lines.append(f"exit status {exit_status(o)}: 0 reproduced, 1 differs (faster, slower, "
                 "failed or missing), 3 inconclusive or not comparable, 2 refused")
    return "\n".join(lines)
