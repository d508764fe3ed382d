"""Publish one run as a reference set: OUT/<machine-id>/ with the run's documents gzipped
(results/<runtime>.json.gz), its report (report/report.md with charts, report/index.html)
and a README naming the machine, the date, the load during the run, its duration and the
exact command, with how to check it.

The documents must all be valid and come from one run (the same run.id; --run picks one
from a directory holding several), carry the suite commit, and, for containers, their image
digest; an existing OUT/<machine-id> is replaced only with --force, and only once the new set
is complete. The documents given are read, never changed.

With --readme-tables, rewrite instead the block between <!-- claims:begin --> and
<!-- claims:end --> in README.md from the published reference set (the only one under OUT,
or the one OUT/reference.txt names): what `python -m suite claims --markdown --report-link
<its report.md> OUT/<id>/results` prints, or a placeholder when nothing is published;
--check only says whether the README is up to date.

Exit 0 on success (and, with --check, when up to date); 1 when the documents are refused or
the README is stale; 2 on bad input."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from suite.publish import published


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", type=Path, metavar="RESULTS",
                   help="the run's result documents or directories (searched for *.json, "
                        "*.json.gz)")
    p.add_argument("--machine-id", metavar="ID",
                   help="the set's directory name: lowercase letters, digits and dashes "
                        "(e.g. epyc-9r14-2c)")
    p.add_argument("--out", type=Path, default=published.PUBLISHED,
                   help="where sets go (default: %(default)s)")
    p.add_argument("--run", metavar="RUN_ID", help="publish this run's documents only")
    p.add_argument("--command", metavar="CMD", dest="launched",  # args.command: the CLI's
                   help="how the run was launched (e.g. 'make reference'): named in the "
                        "README beside the command the documents record; needed when they "
                        "record none")
    p.add_argument("--force", action="store_true", help="replace an existing set")
    p.add_argument("--allow-dirty", action="store_true",
                   help="publish documents measured with uncommitted changes (the README "
                        "says so)")
    p.add_argument("--readme-tables", action="store_true",
                   help="rewrite README.md's claims block from the published reference set "
                        "instead of publishing")
    p.add_argument("--readme", type=Path, default=published.README,
                   help="with --readme-tables: the README (default: the project's)")
    p.add_argument("--check", action="store_true",
                   help="with --readme-tables: change nothing, exit 1 when the block is stale")


def run(args: argparse.Namespace) -> int:
    if args.readme_tables:
        if args.paths or args.machine_id:
            print("error: --readme-tables reads the published set under --out; it takes no "
                  "RESULTS or --machine-id", file=sys.stderr)
            return 2
        return readme(args)
    if args.check:
        print("error: --check only goes with --readme-tables", file=sys.stderr)
        return 2
    if not args.paths or not args.machine_id:
        print("error: give the run's documents and --machine-id (python -m suite publish "
              "RESULTS... --machine-id ID)", file=sys.stderr)
        return 2
    try:
        dest = published.publish(args.paths, args.machine_id, args.out, run_id=args.run,
                                 command=args.launched, force=args.force,
                                 allow_dirty=args.allow_dirty)
    except published.Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"published {dest}/: README.md, {published.RESULTS_DIR}/, {published.REPORT_DIR}/")
    print(f"next: make readme-tables (the README shows {published.REFERENCE_FILE}'s set when "
          "there are several)")
    return 0


def readme(args: argparse.Namespace) -> int:
    if args.check:
        why = published.stale(args.readme, args.out)
        if why:
            print(why, file=sys.stderr)
            return 1
        print(f"{args.readme}: the claims tables are up to date")
        return 0
    changed = published.update_readme(args.readme, args.out)
    print(f"{args.readme}: claims tables {'rewritten' if changed else 'already up to date'}")
    return 0
