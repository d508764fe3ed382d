"""The command line: one module per subcommand under suite/commands/, dispatched here."""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, one-line help). Each module defines add_arguments() and run().
COMMANDS = {
    "run": ("suite.commands.run", "run the benchmark cells on one or more runtimes"),
    "list": ("suite.commands.list", "list runtimes, workloads, flavors and profiles"),
    "validate": ("suite.commands.validate", "validate result documents against the schema"),
    "exec": ("suite.commands.exec", "run one implementation once and save its output"),
    "check": ("suite.commands.check", "check any implementation's output against the reference"),
    "compare": ("suite.commands.compare", "compare two result documents cell by cell"),
    "report": ("suite.commands.report", "render an HTML + Markdown report from results"),
    "claims": ("suite.commands.claims", "check the article's claims against results"),
    "reproduce": ("suite.commands.reproduce", "rerun a published result and compare"),
    "publish": ("suite.commands.publish", "publish one run as a reference set (published/), "
                "or regenerate README's tables"),
    "images": ("suite.commands.images", "build the runtime images that are missing, and list them"),
}


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with usage, like argparse, but clearer
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m suite", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    modules = {}
    for name, (modname, help_) in COMMANDS.items():
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name != modname:
                raise
            continue
        modules[name] = mod
        p = sub.add_parser(name, help=help_, description=(mod.__doc__ or help_).strip())
        mod.add_arguments(p)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return int(modules[args.command].run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
