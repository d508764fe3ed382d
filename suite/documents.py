"""Result documents: assembly, schema validation, atomic writes, loading."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from jsonschema import Draft202012Validator

from . import __version__

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "schemas" / "result.schema.json"
SCHEMA_VERSION = "1.1.0"  # what this suite writes; SCHEMA_PATH is its schema
# Older versions stay readable: each is validated against its own frozen schema.
ARCHIVED = {"1.0.0": ROOT / "schemas" / "archive" / "result-1.0.0.schema.json"}


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
    errs = sorted(validator(version).iter_errors(doc),
                  key=lambda e: list(map(str, e.absolute_path)))
    return [f"{e.json_path}: {e.message}" for e in errs]


def validate(doc: object, where: str = "document") -> None:
    errors = violations(doc)
    if errors:
        raise InvalidDocument(where, errors)


def load(path: Path) -> dict:
    """Read and validate one document; raises OSError, ValueError or InvalidDocument."""
    try:
        doc = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None
    validate(doc, str(path))
    return doc


def write_atomic(path: Path, doc: dict) -> None:
    """Validate, then write via a temporary file and rename: readers never see half a file."""
    validate(doc, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=False)
            f.write("\n")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def iter_documents(paths: list[Path]) -> Iterator[Path]:
    """Every *.json under the given files and directories, sorted."""
    for p in paths:
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*.json") if q.is_file())
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
