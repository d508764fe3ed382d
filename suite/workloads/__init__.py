"""Workloads: one module per workload (definition, seeded inputs, float64 reference, error
bound and tolerance, `pure` and `numpy` flavors), looked up by name here.

May import: documents only (and NumPy); the worker carries this package into every runtime.
"""

from __future__ import annotations

from suite.workloads import conv2d, gelu, linreg, matmul, xent
from suite.workloads.base import Flavor, Inputs, Params, Workload, canonical, rng_for

WORKLOADS: dict[str, Workload] = {
    w.name: w for w in (m.WORKLOAD for m in (matmul, linreg, conv2d, gelu, xent))
}

__all__ = ["WORKLOADS", "Flavor", "Inputs", "Params", "Workload", "canonical", "get",
           "make_inputs", "rng_for"]


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
