"""The package layout follows the flow: imports point down the stages only, never in a
circle (suite/__init__.py lists the stages)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parents[1] / "suite"
# Lowest first: a module may import its own stage or any stage before it.
STAGES = ("documents", "workloads", "flavors", "runtimes", "measure", "analysis", "publish",
          "commands")
FRONT_DOOR = {"suite.cli": "commands", "suite.__main__": "commands"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SUITE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage(mod: str) -> str | None:
    """The stage a suite module belongs to (None: the root package, importable by all)."""
    if mod in FRONT_DOOR:
        return FRONT_DOOR[mod]
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else None


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """The suite modules `path` imports (lazily inside functions too, unless asked)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "suite"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "suite":
            for a in node.names:  # `from suite.x import y`: y may be a module
                sub = f"{node.module}.{a.name}"
                found.add(sub if sub in MODULES else node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.add(f"relative import in {path}")
    return found


MODULES = {module_name(p): p for p in SUITE.rglob("*.py")}


def test_every_module_is_in_a_stage():
    strays = [m for m in MODULES if m != "suite" and stage(m) not in STAGES]
    assert not strays, f"modules outside the stage packages {STAGES}: {strays}"


@pytest.mark.parametrize("mod", sorted(MODULES))
def test_imports_point_down_the_flow(mod):
    here = stage(mod)
    for target in imports(MODULES[mod]):
        assert not target.startswith("relative import"), f"{mod}: use absolute imports"
        there = stage(target)
        if there is None or here is None:
            assert here is not None or there is None, f"the root package imports {target}"
            continue
        assert STAGES.index(there) <= STAGES.index(here), (
            f"{mod} ({here}) imports {target} ({there}): an upward import; the flow is "
            f"{' <- '.join(STAGES)}")


def test_no_import_cycles():
    graph = {m: {t for t in imports(p, top_level_only=True) if t in MODULES} - {m}
             for m, p in MODULES.items()}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycle = [*path[path.index(t):], t] if t in path else [m, t]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_the_checker_catches_an_upward_import(tmp_path):
    """The rule can fail: a workloads module that imports the runner is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("from suite.measure import runner\nfrom . import x\n")
    found = imports(bad)
    assert "suite.measure.runner" in found and any(f.startswith("relative") for f in found)
    assert STAGES.index(stage("suite.measure.runner")) > STAGES.index(stage("suite.workloads"))
