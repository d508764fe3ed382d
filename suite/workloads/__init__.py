"""The workload registry: one module per workload, looked up by name."""

from __future__ import annotations

from . import conv2d, gelu, linreg, matmul, xent
from .base import Flavor, Inputs, Params, Workload, canonical, rng_for

WORKLOADS: dict[str, Workload] = {
    w.name: w for w in (m.WORKLOAD for m in (matmul, linreg, conv2d, gelu, xent))
}

__all__ = ["WORKLOADS", "Flavor", "Inputs", "Params", "Workload", "canonical", "get",
           "make_inputs", "rng_for", "threaded"]


def get(name: str) -> Workload:
    """The workload called `name`, or a ValueError that lists the known ones."""
    try:
        return WORKLOADS[name]
    except KeyError:
        raise ValueError(
            f"unknown workload {name!r}; known workloads: {', '.join(WORKLOADS)}") from None


def make_inputs(w: Workload, params: Params, seed: int) -> Inputs:
    """The one seeded input generator every flavor and runtime shares."""
    return w.make_inputs(params, rng_for(seed, w.name, params))


MOJO_FLAVORS = ("mojo-naive", "mojo-simd", "mojo")
NUMBA = "numba"  # the `pure` loops under numba.njit (suite/numba_kernels.py)


def flavor_names(w: Workload) -> list[str]:
    """Every flavor the workload has, in every runtime."""
    return [*w.flavors, NUMBA, *MOJO_FLAVORS]


def threaded(w: Workload, name: str) -> bool:
    """Whether flavor `name` of `w` runs on more than one thread (without importing it)."""
    if name == NUMBA:
        return w.parallel_loops
    return name in ("mojo",) or (name in w.flavors and w.flavors[name].threaded)


def flavor(w: Workload, name: str) -> Flavor:
    """The implementation `name` of workload `w` (Mojo flavors load the built extension)."""
    if name in w.flavors:
        return w.flavors[name]
    if name in MOJO_FLAVORS:
        from .. import mojo_kernels

        fn = mojo_kernels.FLAVORS[w.name][name]
        return Flavor(name, fn, prepare=w.flavors["numpy"].prepare, threaded=name == "mojo")
    if name == NUMBA:
        from .. import numba_kernels as nk

        return Flavor(name, nk.runner(w.name), prepare=w.flavors["numpy"].prepare,
                      threaded=w.parallel_loops,
                      compile=lambda args: nk.compile_for(w.name, args))
    raise ValueError(f"workload {w.name!r} has no flavor {name!r}; "
                     f"flavors: {', '.join(flavor_names(w))}")
