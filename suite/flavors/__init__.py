"""Flavors: the implementations of each workload, and the one registry that names them.

A workload module carries its `pure` and `numpy` implementations (standard library and
NumPy only). Families that need a toolchain of their own (Numba, our Mojo extension, ...)
live here, one module each, and are registered in `FAMILIES` below with the flavor names
they provide and whether a flavor uses more than one thread. A family module is imported
only when one of its flavors is run, so planning and reporting need none of the
toolchains. A family module exposes `flavor(workload, name) -> Flavor`, and may expose
`setup(cache_dir)` (load what was built ahead of time) and `facts()` (versions and
threading, recorded in the document's `runtime` under the family's key).

May import: workloads, documents (and the family's own toolchain).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from suite.workloads import Flavor, Workload


@dataclass(frozen=True)
class Family:
    """Flavors that share a toolchain, implemented by one module in this package."""

    module_name: str  # suite.flavors.<module_name>, imported on first use
    names: tuple[str, ...]
    threaded: Callable[[Workload, str], bool]  # whether flavor `name` of `w` is parallel
    # flavors that exist for some workloads only: name -> those workloads (default: all)
    covers: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def has(self, w: Workload, name: str) -> bool:
        """Whether flavor `name` of this family exists for workload `w`."""
        return name in self.names and w.name in self.covers.get(name, (w.name,))

    def module(self) -> ModuleType:
        return importlib.import_module(f"{__name__}.{self.module_name}")

    def setup(self, cache_dir: Path) -> None:
        setup = getattr(self.module(), "setup", None)
        if setup is not None:
            setup(cache_dir)

    def flavor(self, w: Workload, name: str) -> Flavor:
        return self.module().flavor(w, name)


FAMILIES: dict[str, Family] = {
    # the `pure` loops under numba.njit; independent outer loops use prange
    "numba": Family("numba", ("numba",), lambda w, name: w.parallel_loops),
    # our Mojo kernels, compiled ahead of time into a Python extension (mojo/);
    # mojo-hybrid: the article's Python loop calling Mojo once per batch (linreg only)
    "mojo": Family("mojo", ("mojo-naive", "mojo-simd", "mojo", "mojo-hybrid"),
                   lambda w, name: name == "mojo",
                   covers={"mojo-hybrid": ("linreg",)}),
    # Modular's own CPU kernels (linalg matmul, nn conv) called from our extension
    "mojo-lib": Family("mojo_lib", ("mojo-lib",), lambda w, name: True,
                       covers={"mojo-lib": ("matmul", "conv2d")}),
    # MAX graphs built and run from Python on the CPU (compiled models cached on disk)
    "max": Family("max", ("max",), lambda w, name: True),
    # PyTorch on the CPU, eager and under torch.compile (Inductor); intra-op threads
    "torch": Family("torch", ("torch", "torch-compile"), lambda w, name: True),
    # JAX: jax.jit on XLA's CPU backend, float64 enabled
    "jax": Family("jax", ("jax",), lambda w, name: True),
}
MOJO_FLAVORS = FAMILIES["mojo"].names
NUMBA = "numba"
# The order flavors appear in (reports, listings): built-in ones, then each family's.
ORDER: tuple[str, ...] = ("pure", "numpy", *(n for f in FAMILIES.values() for n in f.names))


def family_of(name: str) -> Family | None:
    return next((f for f in FAMILIES.values() if name in f.names), None)


def names(w: Workload) -> list[str]:
    """Every flavor the workload has, in every runtime."""
    return [*w.flavors, *(n for f in FAMILIES.values() for n in f.names if f.has(w, n))]


def threaded(w: Workload, name: str) -> bool:
    """Whether flavor `name` of `w` runs on more than one thread (without importing it)."""
    if name in w.flavors:
        return w.flavors[name].threaded
    fam = family_of(name)
    return bool(fam and fam.has(w, name) and fam.threaded(w, name))


def get(w: Workload, name: str) -> Flavor:
    """The implementation `name` of workload `w` (family flavors import their toolchain)."""
    if name in w.flavors:
        return w.flavors[name]
    fam = family_of(name)
    if fam is None or not fam.has(w, name):
        raise ValueError(f"workload {w.name!r} has no flavor {name!r}; "
                         f"flavors: {', '.join(names(w))}")
    return fam.flavor(w, name)


def setup(name: str, cache_dir: Path) -> None:
    """Load what flavor `name` needs from `cache_dir` (e.g. the built Mojo extension)."""
    fam = family_of(name)
    if fam is not None:
        fam.setup(cache_dir)


def facts() -> dict[str, dict]:
    """Facts of every family imported so far, by family key (e.g. Numba's threading)."""
    out = {}
    for key, fam in FAMILIES.items():
        mod = sys.modules.get(f"{__name__}.{fam.module_name}")
        if mod is not None and hasattr(mod, "facts"):
            out[key] = mod.facts()
    return out
