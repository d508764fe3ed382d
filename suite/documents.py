"""Result documents: assembly, schema validation, atomic writes, loading.

A document is read from `NAME.json` or, gzip-compressed, from `NAME.json.gz` (how
`published/` stores them): `read` tells the two apart by gzip's magic bytes, which no JSON
text starts with, and decompresses at most `MAX_DECOMPRESSED` bytes, since documents are
untrusted input and a small .gz can expand to gigabytes.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from jsonschema import Draft202012Validator

from suite import __version__

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "schemas" / "result.schema.json"
SCHEMA_VERSION = "1.2.0"  # what this suite writes; SCHEMA_PATH is its schema
# Older versions stay readable: each is validated against its own frozen schema.
ARCHIVED = {v: ROOT / "schemas" / "archive" / f"result-{v}.schema.json" for v in ("1.0.0", "1.1.0")}


# The current schema's name patterns and bounds: documents of every version must meet them
# (names become file names, counts size a rerun), whatever their archived schema allowed.
LIMIT_KEYWORDS = ("pattern", "maximum", "maxItems", "maxLength")


class InvalidDocument(Exception):
    """A result document that does not satisfy the schema; `errors` are `path: message`."""

    def __init__(self, where: str, errors: list[str]) -> None:
        super().__init__(f"{where}: {len(errors)} schema violation(s)")
        self.where = where
        self.errors = errors


def schema(version: str = SCHEMA_VERSION) -> dict:
    return json.loads(ARCHIVED.get(version, SCHEMA_PATH).read_text())


_VALIDATORS: dict[str, Draft202012Validator] = {}


def validator(version: str = SCHEMA_VERSION) -> Draft202012Validator:
    """The validator for documents of `version` (the current one unless archived)."""
    key = version if version in ARCHIVED else SCHEMA_VERSION
    if key not in _VALIDATORS:
        s = schema(key)
        Draft202012Validator.check_schema(s)
        _VALIDATORS[key] = Draft202012Validator(
            s, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return _VALIDATORS[key]


def violations(doc: object) -> list[str]:
    """Every schema violation as `$.json.path: message` (empty when valid)."""
    version = doc.get("schema_version") if isinstance(doc, dict) else None
    if version not in (SCHEMA_VERSION, *ARCHIVED):
        known = ", ".join([SCHEMA_VERSION, *ARCHIVED])
        return [f"$.schema_version: {version!r} is not a result schema version this suite "
                f"knows ({known})"]
    errs = list(validator(version).iter_errors(doc))
    if version != SCHEMA_VERSION:  # the current names and bounds apply to old documents too
        errs += [e for e in validator().iter_errors(doc) if e.validator in LIMIT_KEYWORDS]
    errs.sort(key=lambda e: list(map(str, e.absolute_path)))
    return list(dict.fromkeys(f"{e.json_path}: {e.message}" for e in errs))


def validate(doc: object, where: str = "document") -> None:
    errors = violations(doc)
    if errors:
        raise InvalidDocument(where, errors)


SUFFIXES = (".json", ".json.gz")  # what a directory walk reads as result documents
GZIP_MAGIC = b"\x1f\x8b"
MAX_DECOMPRESSED = 64 << 20  # a gzip-compressed document may expand to at most this


class Unreadable(ValueError):
    """A document file that is not (gzip-compressed) JSON; the message names no path."""


def is_document(path: Path) -> bool:
    """Whether a directory walk takes `path` for a result document (*.json, *.json.gz)."""
    return path.name.endswith(SUFFIXES)


def split_name(path: Path) -> tuple[str, str]:
    """(stem, suffix) of a document file: `a.json.gz` -> ("a", ".json.gz"); any other name
    keeps its last suffix (`a.json` -> ("a", ".json"))."""
    name = path.name
    for suffix in (".json.gz", ".json"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], suffix
    return path.stem, path.suffix


def decode(data: bytes, limit: int = MAX_DECOMPRESSED) -> bytes:
    """The JSON bytes of a document file's contents: gunzipped (to at most `limit` bytes)
    when they start with gzip's magic bytes, else as they are. Raises Unreadable."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(limit + 1)  # bounded: never more than limit + 1 bytes in memory
    except (OSError, EOFError, zlib.error) as exc:
        raise Unreadable(f"not a valid gzip file: {exc}") from None
    if len(out) > limit:
        raise Unreadable(f"decompresses to more than {limit >> 20} MiB (refused: a result "
                         f"document is far smaller; decompress it yourself if you trust it)")
    return out


def read(path: Path) -> object:
    """The parsed JSON of one document file, plain or gzip-compressed (not validated).
    Raises OSError (cannot read) or Unreadable (not gzip, too large, not JSON)."""
    data = decode(Path(path).read_bytes())
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Unreadable(f"not JSON: {exc}") from None


def load(path: Path) -> dict:
    """Read and validate one document (.json or .json.gz); raises OSError, ValueError or
    InvalidDocument."""
    try:
        doc = read(path)
    except Unreadable as exc:
        raise ValueError(f"{path}: {exc}") from None
    validate(doc, str(path))
    assert isinstance(doc, dict)
    return doc


def write_atomic(path: Path, doc: dict) -> None:
    """Validate, then write via a uniquely named temporary file, fsync it, rename it over
    `path` and fsync the directory: readers never see half a file, and after a crash or a
    power cut the file is the old or the new document, never empty."""
    validate(doc, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable (fsync of the directory itself)."""
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def process_load_averages(cells: Iterable[dict]) -> list[float]:
    """The 1-minute load average around each measuring process of these cells: the mean of
    its `noise.load_avg` [before, after] pair (non-numbers ignored)."""
    out = []
    for c in cells:
        for pair in ((c.get("noise") or {}).get("load_avg") or []):
            xs = [x for x in (pair or []) if isinstance(x, (int, float))]
            if xs:
                out.append(sum(xs) / len(xs))
    return out


def iter_documents(paths: list[Path]) -> Iterator[Path]:
    """Every *.json and *.json.gz under the given directories (sorted), and the given files."""
    for p in paths:
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*") if is_document(q) and q.is_file())
        else:
            yield p


def suite_info() -> dict:
    """Suite version and the git commit of the checkout (None outside git)."""
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  check=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None
    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"version": __version__,
            "git_commit": commit if commit and len(commit) == 40 else None,
            "git_dirty": None if status is None else bool(status)}


def arch_name(machine: str) -> str:
    """Docker's architecture names: x86_64 -> amd64, aarch64 -> arm64."""
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine.lower(), machine.lower())


class NoDocuments(ValueError):
    """Nothing to report on (no *.json or *.json.gz, or nothing valid)."""


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


def load_many(paths: list[Path], strict: bool = False) -> tuple[list[Doc], list[Problem]]:
    """Valid documents and the problems with the others (each file named with its reason).

    With `strict`, any problem raises ValueError. No document at all raises NoDocuments.
    """
    files: list[Path] = []
    seen = set()
    for p in paths:
        if not p.exists():
            raise NoDocuments(f"{p}: no such file or directory")
        for f in iter_documents([p]):
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                files.append(f)
    if not files:
        raise NoDocuments("no result documents (*.json, *.json.gz) under "
                          + ", ".join(map(str, paths))
                          + ": run `make bench` first (or pass result files)")
    docs, problems = [], []
    for f in files:
        try:
            doc = read(f)
        except OSError as exc:
            problems.append(Problem(f, f"cannot read: {exc.strerror or exc}"))
            continue
        except Unreadable as exc:
            problems.append(Problem(f, str(exc)))
            continue
        errs = violations(doc)
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
