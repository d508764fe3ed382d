"""The `mojo-lib` flavor: Modular's own CPU kernels, called from our `lib_kernels` extension.

What a Mojo user calls instead of writing a kernel, as a NumPy user calls OpenBLAS:
`linalg.matmul.cpu.matmul` for matmul (float32 and float64) and `nn.conv.conv
.ConvDirectNHWC` for conv2d (float32), from the `max` package's compiled kernel libraries
(mojo/lib_kernels.mojo, built by suite/flavors/mojo.py's `build(..., module="lib_kernels")`).
The calling convention is the other Mojo flavors': NumPy arrays in, checked with the GIL
held, output allocated with numpy.empty, kernel on the arrays' memory with the GIL released.

mojo-lib covers matmul and conv2d. nn also has `activations.gelu_tanh` (a per-SIMD-vector
function, to be driven by `max.algorithm.elementwise`) and `softmax.logsoftmax` (rows of a
TileTensor): gelu and xent through those are not wired up yet. linreg's SGD loop has no
library kernel, so that cell stays absent (mojo/README.md).

Threads: linalg's matmul takes `num_threads`, so each call runs on the cell's count. nn's
convolution splits its work by the Mojo runtime's worker count (`parallelism_level()`),
which the runtime takes from the process's CPU affinity when it starts: `setup()` pins the
worker process to `threads` CPUs first (the thread count the worker's environment gives),
and a conv2d call asking for another count than the runtime has raises.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from suite.flavors import mojo
from suite.workloads import Flavor, Workload

MODULE = "lib_kernels"
WORKLOADS = ("matmul", "conv2d")
THREAD_ENV = "OMP_NUM_THREADS"  # the worker sets it (and friends) to the cell's threads

_module: Any = None


def pin_to_threads(threads: int) -> None:
    """Restrict this process to `threads` of its CPUs (before the Mojo runtime starts)."""
    cpus = sorted(os.sched_getaffinity(0))
    if 1 <= threads < len(cpus):
        os.sched_setaffinity(0, cpus[:threads])


def setup(cache_dir: Path) -> None:
    """Pin to the worker's thread count, then load lib_kernels built into `cache_dir`."""
    try:
        pin_to_threads(int(os.environ.get(THREAD_ENV, "0")))
    except ValueError:
        pass
    load(cache_dir)


def load(cache_dir: Path | None = None) -> Any:
    """Build (if needed) and import lib_kernels once per process."""
    global _module
    if _module is None:
        cache = Path(cache_dir).resolve() if cache_dir is not None else mojo.default_cache_dir()
        info = mojo.build(cache, module=MODULE)
        _module = mojo.import_extension(MODULE, info["path"])
    return _module


def runtime_threads() -> int:
    """The Mojo runtime's worker count in this process (nn's conv parallelism)."""
    return int(load().info()["parallelism_level"])


def matmul(a, b, *, threads: int = 1):
    """a @ b through linalg's CPU matmul on `threads` threads."""
    return mojo._checked(load().matmul, a, b, threads)


def conv2d(x, w, bias, *, threads: int = 1):
    """NCHW conv2d (stride 1, same padding) through nn's direct CPU convolution."""
    if isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1:
        have = runtime_threads()
        if threads != have:
            raise RuntimeError(
                f"nn's convolution runs on the Mojo runtime's {have} worker thread(s) in "
                f"this process, not {threads}; start a process pinned to {threads} CPU(s) "
                f"(suite.flavors.mojo_lib.pin_to_threads before loading)")
    return mojo._checked(load().conv2d, x, w, bias, threads)


RUNNERS: dict[str, Callable[..., Any]] = {"matmul": matmul, "conv2d": conv2d}


def flavor(w: Workload, name: str) -> Flavor:
    """The `mojo-lib` flavor of `w` (matmul or conv2d)."""
    return Flavor(name, RUNNERS[w.name], prepare=w.flavors["numpy"].prepare, threaded=True)
