"""Validate result documents (*.json, or gzip-compressed *.json.gz) against
schemas/result.schema.json (Draft 2020-12).

Exit 0 when every document is valid; otherwise each violation is printed with its JSON
path and the exit status is 1."""

from __future__ import annotations

import argparse
from pathlib import Path

from suite import documents


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", type=Path, metavar="FILE",
                   help="result documents (directories are searched for *.json and "
                        "*.json.gz)")


def run(args: argparse.Namespace) -> int:
    bad = 0
    files = list(documents.iter_documents(args.paths))
    if not files:
        print("error: no result documents (*.json, *.json.gz) under "
              + ", ".join(map(str, args.paths)))
        return 1
    for path in files:
        try:
            doc = documents.read(path)
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror or exc}")
            bad += 1
            continue
        except documents.Unreadable as exc:
            print(f"{path}: {exc}")
            bad += 1
            continue
        errors = documents.violations(doc)
        if errors:
            bad += 1
            print(f"{path}: INVALID ({len(errors)} violation(s))")
            for e in errors:
                print(f"  {e}")
        else:
            print(f"{path}: valid (schema {doc.get('schema_version')}, "
                  f"{len(doc.get('cells', []))} cells)")
    return 1 if bad else 0
