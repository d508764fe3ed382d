"""What a workload is: parameters, seeded inputs, a float64 reference, flavors, a tolerance.

A workload module builds one `Workload`. Everything the harness needs to know about a
workload lives there, so the worker (inside the runtime under test) and the orchestrator
(on the host) read the same facts. Only the standard library and NumPy are imported here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Params = dict[str, Any]
Inputs = dict[str, np.ndarray]


@dataclass(frozen=True)
class Flavor:
    """One implementation of a workload.

    `prepare` turns the NumPy inputs into the arguments `run` takes (list conversion for
    `pure`); it is never timed. `run(*args, threads=...)` is the timed call. `finish` turns
    what `run` returned into a NumPy array for the output check (never timed).
    """

    name: str
    run: Callable[..., Any]
    prepare: Callable[[Inputs, Params], tuple] | None = None
    finish: Callable[[Any, Params], np.ndarray] | None = None
    threaded: bool = False  # whether the thread count changes what it does
    # ahead of timing (numba, max), timed apart; may return {"cached": bool} when the
    # compiled code came from a cache kept across processes
    compile: Callable[[tuple], dict | None] | None = None


@dataclass(frozen=True)
class Workload:
    """A benchmark workload: the single source of truth for its facts."""

    name: str
    summary: str
    params: dict[str, list[Params]]  # per profile: the parameter sets to run
    make_inputs: Callable[[Params, np.random.Generator], Inputs]
    reference: Callable[[Inputs, Params], np.ndarray]  # float64
    error_scale: Callable[[Inputs, Params, np.ndarray], np.ndarray]  # per-element magnitude
    tolerance: Callable[[Params], float]  # bound on |out - ref| / scale
    flavors: dict[str, Flavor]
    work: Callable[[Params], float]  # relative cost, used to extrapolate from a probe
    flops: Callable[[Params], float] | None = None
    probe: Callable[[Params], Params | None] = lambda p: None  # smaller size for estimates
    validate_reference: Callable[[Inputs, Params, np.ndarray], str | None] = lambda i, p, r: None
    notes: str = ""
    parallel_loops: bool = True  # the `pure` outer loop is independent (numba: prange)
    # a 1-D output made of named parts: [(name, length), ...] (linreg: w, b, loss)
    output_parts: Callable[[Params], list[tuple[str, int]]] | None = None

    def describe_output(self, params: Params) -> str:
        """The output's layout in words, e.g. '[w (10), b (1), loss (5)]'."""
        if self.output_parts is None:
            return ""
        return "[" + ", ".join(f"{n} ({k})" for n, k in self.output_parts(params)) + "]"

    def name_element(self, params: Params, index: tuple[int, ...]) -> str:
        """`index` of the output as the reader knows it: 'loss[2]' for linreg, else '(i, j)'."""
        if self.output_parts is not None and len(index) == 1:
            at = index[0]
            for name, length in self.output_parts(params):
                if at < length:
                    return f"{name}[{at}]" if length > 1 else name
                at -= length
        return str(tuple(int(i) for i in index))


def eps(dtype: str) -> float:
    """Machine epsilon of a NumPy float dtype name."""
    return float(np.finfo(np.dtype(dtype)).eps)


def rng_for(seed: int, workload: str, params: Params) -> np.random.Generator:
    """The one seeded generator: same seed, workload and params give the same inputs."""
    key = [seed, *(ord(c) for c in workload), *(ord(c) for c in canonical(params))]
    return np.random.default_rng(np.random.SeedSequence(key))


def canonical(params: Params) -> str:
    """`k=v,k=v` with sorted keys: the parameter part of a cell id."""
    return ",".join(f"{k}={params[k]}" for k in sorted(params))


def to_lists(a: np.ndarray) -> list:
    """NumPy array -> nested Python lists of floats (for the `pure` flavor)."""
    return a.tolist()
