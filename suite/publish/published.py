"""The published reference set: one run's documents, its report and a README, committed
under `published/<machine-id>/`, and the README tables generated from it.

    publish(paths, machine_id, out) -> Path        python -m suite publish RESULTS...
    readme_tables(published, readme) -> str         the block between the claims markers
    update_readme(readme, published) -> bool        make readme-tables
    stale(readme, published) -> str | None          what tests/test_publish.py checks

Layout of one set (`published/README.md` describes it for readers):

    published/<machine-id>/README.md                 machine, date, load, duration, command
    published/<machine-id>/results/<runtime>.json.gz every document of the run, gzipped
    published/<machine-id>/report/                   report.md (+ charts/), index.html

The documents sit in `results/`, apart from the report, whose `data/` holds its own copies:
a directory walk over the whole set would read every document twice.

`publish` refuses, with every reason, documents that are invalid, that come from more than
one run (`run.id`: every runtime's document of one interleaved run carries the same id), that
repeat a runtime, lack the suite commit (or were measured with uncommitted changes), come
from an interrupted run, or, for containers, lack the image digest. It writes the set into a
temporary directory next to the target and renames it into place only when complete (with
`force`, the set it replaces is kept aside until then), so an error leaves every earlier file
as it was, and it never touches the documents it reads.

With several published sets, `published/reference.txt` names the one the README shows.
"""

from __future__ import annotations

import difflib
import gzip
import json
import os
import re
import shutil
import statistics
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path

from suite import documents
from suite.analysis import claims, machines
from suite.analysis.report import build, headline
from suite.analysis.report.markdown import esc

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "published"
README = ROOT / "README.md"
MACHINE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
RESULTS_DIR = "results"
REPORT_DIR = "report"
REFERENCE_FILE = "reference.txt"
PLACEHOLDER = (
    "_No reference result set is published yet: `make reference` measures one (about 90 "
    "minutes on 2 cores), `make publish` writes it to `published/` and `make readme-tables` "
    "puts its headline claims and fastest options here._")


class Refused(ValueError):
    """Documents that cannot be published as they stand; `reasons` says why, one per line."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("refused to publish:\n" + "\n".join(f"  - {r}" for r in reasons))
        self.reasons = reasons


def check_machine_id(machine_id: str, where: str = "machine id") -> str:
    if not MACHINE_ID.fullmatch(machine_id):
        raise ValueError(f"{where} {machine_id!r} is not a safe name: use 1-63 lowercase "
                         "letters, digits and dashes, starting with a letter or digit "
                         "(e.g. epyc-9r14-2c)")
    return machine_id


# -- choosing and checking the documents ---------------------------------------------------
def select(paths: list[Path], run_id: str | None = None) -> list[documents.Doc]:
    """The valid documents of one run among `paths` (all of them must be valid); with
    several runs present, `run_id` picks one, else Refused names them."""
    docs, problems = documents.load_many(paths)
    if problems:
        raise Refused([f"{p.path}: {p.reason} (a published set holds valid documents only)"
                       for p in problems])
    runs: dict[str, list[documents.Doc]] = {}
    for d in docs:
        runs.setdefault(d.doc["run"]["id"], []).append(d)

    def listing() -> str:
        return "; ".join(f"{r} ({', '.join(sorted(d.runtime for d in ds))})"
                         for r, ds in sorted(runs.items()))
    if run_id is not None:
        if run_id not in runs:
            raise Refused([f"no document of run {run_id} among the given documents (runs "
                           f"found: {listing()})"])
        return runs[run_id]
    if len(runs) > 1:
        raise Refused([f"the documents come from {len(runs)} runs ({listing()}); a published "
                       "set is one interleaved run: pass only that run's documents, or "
                       "--run RUN_ID (make publish RUN=...)"])
    return docs


def reasons(docs: list[documents.Doc], allow_dirty: bool = False) -> list[str]:
    """Every reason the documents of one run cannot be published (empty: they can)."""
    out = []
    for rid, n in sorted(Counter(d.runtime for d in docs).items()):
        if n > 1:
            files = ", ".join(str(d.path) for d in docs if d.runtime == rid)
            out.append(f"runtime {rid} has {n} documents in one run ({files}); a run writes "
                       "one per runtime: pass only one of them")
    commits = {d.doc["suite"].get("git_commit") for d in docs}
    for d in docs:
        s, run, be = d.doc["suite"], d.doc["run"], d.doc["backend"]
        if not s.get("git_commit"):
            out.append(f"{d.path}: no suite commit (suite.git_commit is null): run the suite "
                       "from a git checkout, so that the set can be reproduced from its commit")
        if s.get("git_dirty") and not allow_dirty:
            out.append(f"{d.path}: measured with uncommitted changes (suite.git_dirty): commit "
                       "them and rerun, or pass --allow-dirty (the README then says so)")
        if not run.get("complete"):
            why = f" ({run['interrupted']})" if run.get("interrupted") else ""
            out.append(f"{d.path}: the run did not complete{why}: a reference set is a "
                       "finished run")
        if be.get("kind") == "container" and not be.get("digest"):
            out.append(f"{d.path}: a container result without its image digest "
                       "(backend.digest): it could not be reproduced from the same image")
    if len(commits - {None}) > 1:
        out.append("the documents name different suite commits: "
                   + ", ".join(sorted(c for c in commits if c)))
    return out


def file_name(d: documents.Doc) -> str:
    """`<runtime>.json.gz`: one run has one document per runtime."""
    return f"{machines.safe_name(d.runtime)}.json.gz"


# -- the README of a set -------------------------------------------------------------------
def _when(text: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def duration(seconds: float) -> str:
    s = max(0, round(seconds))
    return (f"{s // 3600} h {s % 3600 // 60:02d} min" if s >= 3600
            else f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s")


def load_figures(docs: list[documents.Doc]) -> dict:
    """What the documents recorded about the machine's load: the 1-minute load average
    around each measuring process (the mean of its [before, after] pair, from the cells'
    `noise.load_avg`), and the single-thread samples that were preempted (`noise.preempted`)."""
    per_process = documents.process_load_averages(c for d in docs for c in d.doc["cells"])
    preempted, single = 0, 0
    for d in docs:
        for c in d.doc["cells"]:
            noise = c.get("noise") or {}
            if noise.get("preempted") is not None:
                preempted += noise["preempted"]
                single += len(c.get("samples") or [])
    return {"processes": len(per_process),
            "median": statistics.median(per_process) if per_process else None,
            "max": max(per_process) if per_process else None,
            "preempted": preempted, "single_thread_samples": single}


def summary(docs: list[documents.Doc], command: str | None = None) -> dict:
    """The facts a set's README states, all from the documents (`command`: how the run was
    launched, when the documents do not record it or as well)."""
    first = docs[0].doc
    starts = [t for t in (_when(d.doc["run"]["started"]) for d in docs) if t]
    ends = [t for t in (_when(d.doc["run"].get("finished") or d.doc["run"]["updated"])
                        for d in docs) if t]
    recorded = sorted({d.doc["run"]["command"] for d in docs if d.doc["run"].get("command")})
    cells = Counter((d.runtime, c["status"]) for d in docs for c in d.doc["cells"])
    return {
        "run": first["run"]["id"], "profile": first["run"]["profile"],
        "settings": first["run"]["settings"], "host": first["host"], "suite": first["suite"],
        "started": min(starts).isoformat().replace("+00:00", "Z") if starts else None,
        "finished": max(ends).isoformat().replace("+00:00", "Z") if ends else None,
        "seconds": (max(ends) - min(starts)).total_seconds() if starts and ends else None,
        "recorded_commands": recorded, "command": command,
        "load": load_figures(docs),
        "runtimes": [{"id": d.runtime, "version": d.doc["runtime"].get("version", "?"),
                      "file": file_name(d), "backend": d.doc["backend"],
                      "ok": cells[(d.runtime, "ok")], "skipped": cells[(d.runtime, "skipped")],
                      "failed": cells[(d.runtime, "failed")]}
                     for d in sorted(docs, key=lambda d: d.runtime)],
    }


def code(s: object) -> str:
    """`s` as a Markdown code span, whatever backticks or newlines it holds (text from a
    document is untrusted: in a code span nothing is markup)."""
    text = " ".join(str(s).splitlines())
    ticks = "`" * (1 + max((len(r) for r in re.findall("`+", text)), default=0))
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def render_readme(machine_id: str, where: str, s: dict) -> str:
    """The set's README.md (`where`: the set's path as the commands in it should name it).
    Every string from the documents goes through `esc` or `code`."""
    h, st, load = s["host"], s["settings"], s["load"]
    mem = f", {h['memory_bytes'] / 2**30:.0f} GiB RAM" if h.get("memory_bytes") else ""
    emulated = (" **EMULATED (QEMU): these timings say nothing about speed; they check that "
                "the answers agree.**" if h.get("emulated") else "")
    day = (s["started"] or "?")[:10]
    lines = [
        f"# Reference results: {code(machine_id)}", "",
        f"Measured on **{esc(h['cpu_model'])}** ({esc(h['arch'])}, {h['cores']} cores{mem}; "
        f"{esc(h['os'])}, kernel {esc(h['kernel'])}) on {esc(day)} (UTC).{emulated}", "",
        f"- **Run**: {code(s['run'])}, profile {code(s['profile'])} ({st['processes']} processes x "
        f"{st['values']} values per cell, {st['warmups']} warm-up, samples of at least "
        f"{st['min_time_ns'] / 1e6:g} ms, cells estimated over {st['budget_s']:g} s skipped "
        "with their estimates).",
    ]
    if s["seconds"] is not None:
        lines.append(f"- **Duration**: {duration(s['seconds'])}, from {esc(s['started'])} to "
                     f"{esc(s['finished'])}.")
    if load["processes"]:
        lines.append(
            f"- **Load during the run**: 1-minute load average {load['median']:.2f} (median; "
            f"at most {load['max']:.2f}) around the {load['processes']} measuring processes, "
            f"on {h['cores']} cores; {load['preempted']} of {load['single_thread_samples']} "
            "single-thread samples were preempted (recorded per cell as `noise`).")
    else:
        lines.append("- **Load during the run**: not recorded by these documents.")
    for c in s["recorded_commands"]:
        lines.append(f"- **Command** (recorded in the documents): {code(c)}")
    if s["command"] and s["command"] not in s["recorded_commands"]:
        lines.append(f"- **Launched as**: {code(s['command'])}")
    commit = s["suite"].get("git_commit")
    dirty = " **with uncommitted changes**" if s["suite"].get("git_dirty") else ""
    lines += [f"- **Suite**: version {esc(s['suite']['version'])}, commit {code(commit)}{dirty}.",
              "",
              "| runtime | version | backend | image | cells ok / skipped / failed | document |",
              "|---|---|---|---|---|---|"]
    for r in s["runtimes"]:
        be = r["backend"]
        image = code(be["digest"]) if be.get("digest") else "-"
        lines.append(f"| {esc(r['id'])} | {esc(r['version'])} | {esc(be.get('kind', '?'))} | "
                     f"{image} | {r['ok']} / "
                     f"{r['skipped']} / {r['failed']} | [{r['file']}]({RESULTS_DIR}/"
                     f"{r['file']}) |")
    doc = s["runtimes"][0]["file"]
    lines += [
        "", f"The report: [{REPORT_DIR}/report.md]({REPORT_DIR}/report.md) (renders on GitHub), "
        f"and [{REPORT_DIR}/index.html]({REPORT_DIR}/index.html) (self-contained; open it "
        "locally).", "",
        "## Check it", "",
        "```sh",
        f"git checkout {commit}    # the suite these documents were measured with",
        f"python -m suite validate {where}/{RESULTS_DIR}     # valid under the schema",
        f"make report RESULTS={where}/{RESULTS_DIR}          # renders report/ from them",
        f"python -m suite claims {where}/{RESULTS_DIR}       # the article's claims",
        f"make reproduce FROM={where}/{RESULTS_DIR}/{doc}   # rerun one runtime's cells",
        "```", "",
        "`make reproduce` reruns the document's cells in the image it names and gives a "
        "verdict per cell on the same hardware; on other hardware it says `not comparable` "
        "and still checks that the answers agree (docs/reproducing.md).", ""]
    return "\n".join(lines)


# -- writing a set -------------------------------------------------------------------------
def publish(paths: list[Path], machine_id: str, out: Path = PUBLISHED, *,
            run_id: str | None = None, command: str | None = None, force: bool = False,
            allow_dirty: bool = False) -> Path:
    """Write `out/<machine_id>/` from one run's documents (see the module docstring)."""
    check_machine_id(machine_id)
    dest = out / machine_id
    if (dest.exists() or dest.is_symlink()) and not force:
        raise ValueError(f"{dest} already exists: pass --force (make publish FORCE=1) to "
                         "replace it, or choose another machine id")
    docs = select(paths, run_id)
    problems = reasons(docs, allow_dirty)
    s = summary(docs, command)
    if not s["recorded_commands"] and not command:
        problems.append("the documents record no command (run.command is empty): pass "
                        "--command with the one that made them")
    if problems:
        raise Refused(problems)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{machine_id}.", suffix=".tmp", dir=out))
    try:
        results = tmp / RESULTS_DIR
        results.mkdir()
        for d in docs:
            raw = documents.decode(d.path.read_bytes())  # the document's own bytes
            data = gzip.compress(raw, compresslevel=9, mtime=0)  # same bytes every time
            if json.loads(gzip.decompress(data)) != d.doc:
                raise ValueError(f"{d.path}: the compressed copy does not read back equal")
            (results / file_name(d)).write_bytes(data)
            os.chmod(results / file_name(d), 0o644)
        build([results], tmp / REPORT_DIR, strict=True)  # as `suite report` renders it
        (tmp / "README.md").write_text(render_readme(machine_id, shown_path(dest), s))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a published set is for everyone
        _swap(tmp, dest, replace=force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def shown_path(p: Path) -> str:
    """`p` as the commands in a README name it: relative to the checkout when inside it."""
    try:
        return p.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(p)


def _swap(new: Path, dest: Path, replace: bool) -> None:
    """Put `new` at `dest`. With `replace`, an existing `dest` is moved aside first and
    removed only once `new` is in place (put back if that fails)."""
    if not (dest.exists() or dest.is_symlink()):
        new.rename(dest)
        return
    if not replace:
        raise ValueError(f"{dest} appeared while publishing: pass --force to replace it")
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
    aside = old / dest.name
    dest.rename(aside)
    try:
        new.rename(dest)
    except BaseException:
        aside.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


# -- the README tables ---------------------------------------------------------------------
def published_sets(published: Path = PUBLISHED) -> list[str]:
    """The machine ids of the sets under `published` (directories with a results/)."""
    if not published.is_dir():
        return []
    return sorted(p.name for p in published.iterdir()
                  if p.is_dir() and MACHINE_ID.fullmatch(p.name) and (p / RESULTS_DIR).is_dir())


def reference_set(published: Path = PUBLISHED) -> Path | None:
    """The set the README shows: the only one, or the one `reference.txt` names (None when
    nothing is published)."""
    sets = published_sets(published)
    named = published / REFERENCE_FILE
    if named.exists():
        name = named.read_text().strip()
        check_machine_id(name, f"{named} names the machine id")
        if name not in sets:
            raise ValueError(f"{named} names {name!r}, but {published / name / RESULTS_DIR} "
                             f"does not exist (published sets: {', '.join(sets) or 'none'})")
        return published / name
    if not sets:
        return None
    if len(sets) > 1:
        raise ValueError(f"{len(sets)} published sets ({', '.join(sets)}): write the machine "
                         f"id of the one README.md shows into {named}")
    return published / sets[0]


def placeholder() -> str:
    return f"{headline.BEGIN}\n{PLACEHOLDER}\n{headline.END}\n"


def readme_tables(published: Path = PUBLISHED, readme: Path = README) -> str:
    """The block between the claims markers, as the suite generates it now: what
    `python -m suite claims --markdown --report-link <report.md> <set>/results` prints for
    the reference set (the link relative to the README), or the placeholder."""
    ref = reference_set(published)
    if ref is None:
        return placeholder()
    link = Path(os.path.relpath(ref / REPORT_DIR / "report.md", readme.parent)).as_posix()
    docs, _ = documents.load_many([ref / RESULTS_DIR], strict=True)
    groups = machines.group(docs)
    data = claims.load_claims()
    return headline.markdown(groups, claims.evaluate(groups, data), data, link)


def _block_span(lines: list[str], where: str) -> tuple[int, int]:
    begins = [i for i, ln in enumerate(lines) if ln.rstrip("\r\n") == headline.BEGIN]
    ends = [i for i, ln in enumerate(lines) if ln.rstrip("\r\n") == headline.END]
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise ValueError(f"{where}: needs exactly one line {headline.BEGIN} followed by one "
                         f"line {headline.END} (found {len(begins)} and {len(ends)})")
    return begins[0], ends[0]


def current_block(text: str, where: str = "README") -> str:
    """The block between (and with) the claims markers in `text`."""
    lines = text.splitlines(keepends=True)
    b, e = _block_span(lines, where)
    return "".join(lines[b:e + 1])


def splice(text: str, block: str, where: str = "README") -> str:
    """`text` with its claims block replaced by `block`."""
    lines = text.splitlines(keepends=True)
    b, e = _block_span(lines, where)
    return "".join(lines[:b]) + block + "".join(lines[e + 1:])


def update_readme(readme: Path = README, published: Path = PUBLISHED) -> bool:
    """Rewrite the README's claims block from the published set; whether it changed."""
    text = readme.read_text()
    new = splice(text, readme_tables(published, readme), str(readme))
    if new == text:
        return False
    readme.write_text(new)
    return True


def stale(readme: Path = README, published: Path = PUBLISHED) -> str | None:
    """None when the README's claims block is what the suite generates from the published
    set; else a unified diff (README -> generated) and how to fix it."""
    have = current_block(readme.read_text(), str(readme))
    want = readme_tables(published, readme)
    if have == want:
        return None
    diff = "".join(difflib.unified_diff(have.splitlines(keepends=True),
                                        want.splitlines(keepends=True),
                                        f"{readme} (committed)", "generated from "
                                        f"{reference_set(published) or published}"))
    return f"{readme}'s tables are stale: run `make readme-tables`\n{diff}"
