"""The `torch` and `torch-compile` flavors: what a PyTorch user writes, on the CPU.

`torch` runs eagerly: matmul `a @ b`; conv2d `F.conv2d` (the workload's filters and bias,
stride 1, "same" padding, NCHW); gelu `F.gelu(approximate="tanh")`; xent
`F.cross_entropy(reduction="none")`; linreg the article's training loop as PyTorch code:
`nn.Linear`, `nn.MSELoss`, autograd and `optim.SGD` with the workload's lr, batches and
epochs, the loss of every epoch accumulated as the mean of its batches' losses. Inputs
become tensors outside the timed call (`torch.from_numpy`: no copy); each call returns a
tensor, turned into a NumPy array for the check (never timed).

`torch-compile` is the same code under `torch.compile` (Inductor, C++ kernels built with the
machine's compiler, `dynamic=False`: a cell's shapes never change). Compilation happens on
the first call, so the worker's compile step (`Flavor.compile`) makes that first call, and
its time (tracing, code generation, the C++ build and one execution) is the cell's
`compile_ns`, never a sample. Each worker process compiles cold: Inductor's on-disk caches
go to a fresh directory per process (removed at exit), as Numba compiles with `cache=False`.

Threads: the cell's thread count through `torch.set_num_threads` (intra-op; OpenMP, MKL and
oneDNN follow it), set when it changes and read back: a mismatch fails the cell. Torch is
imported only by the worker of a torch cell.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from suite.workloads import Flavor, Inputs, Params, Workload

EAGER, COMPILED = "torch", "torch-compile"
NAMES = (EAGER, COMPILED)


def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a @ b


def conv2d(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return F.conv2d(x, w, bias, stride=1, padding=(w.shape[-1] - 1) // 2)


def gelu(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


def xent(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels, reduction="none")


class LinearRegression:
    """The article's SGD loop as a PyTorch user writes it. The model and optimizer are
    built once (in `prepare`, untimed); every call resets the weights to `w0, b0` and
    trains. Under `torch-compile` the loss (forward and, through AOTAutograd, backward) is
    compiled; the optimizer step stays eager, as `torch.compile(model)` leaves it."""

    def __init__(self, dim: int, dtype: torch.dtype, lr: float, compiled: bool) -> None:
        self.model = torch.nn.Linear(dim, 1, dtype=dtype)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr)
        self.mse = torch.nn.MSELoss()
        self.loss = torch.compile(self._loss, dynamic=False) if compiled else self._loss

    def _loss(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return self.mse(self.model(xb).squeeze(1), yb)

    def __call__(self, x: torch.Tensor, y: torch.Tensor, w0: torch.Tensor,
                 b0: torch.Tensor, epochs: int) -> torch.Tensor:
        with torch.no_grad():
            self.model.weight.copy_(w0.unsqueeze(0))
            self.model.bias.copy_(b0)
        losses = []
        for _ in range(epochs):
            total = torch.zeros((), dtype=x.dtype)
            for xb, yb in zip(x, y):
                self.opt.zero_grad()
                loss = self.loss(xb, yb)
                loss.backward()
                self.opt.step()
                total += loss.detach()
            losses.append(total / len(x))
        return torch.cat([self.model.weight.detach()[0], self.model.bias.detach(),
                          torch.stack(losses)])


KERNELS: dict[str, Callable[..., torch.Tensor]] = {
    "matmul": matmul, "conv2d": conv2d, "gelu": gelu, "xent": xent}
INPUTS: dict[str, tuple[str, ...]] = {
    "matmul": ("a", "b"), "conv2d": ("x", "w", "bias"), "gelu": ("x",),
    "xent": ("logits", "labels")}


def prepare(workload: str, compiled: bool) -> Callable[[Inputs, Params], tuple]:
    """Inputs -> the timed call's arguments: `(kernel, *tensors)`, never timed. The
    kernel is built here, so every worker process gets its own (and compiles it afresh)."""

    def prep(i: Inputs, p: Params) -> tuple:
        if workload == "linreg":
            x = torch.from_numpy(i["x"])
            trainer = LinearRegression(p["dim"], x.dtype, p["lr"], compiled)
            return (trainer, x, torch.from_numpy(i["y"]), torch.from_numpy(i["w0"]),
                    torch.from_numpy(i["b0"]), p["epochs"])
        kernel = KERNELS[workload]
        if compiled:
            kernel = torch.compile(kernel, dynamic=False)
        return (kernel, *(torch.from_numpy(i[k]) for k in INPUTS[workload]))

    return prep


def set_threads(threads: int) -> None:
    """Give torch's intra-op pool `threads` threads; fail if it does not take them."""
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
        if torch.get_num_threads() != threads:
            raise RuntimeError(f"torch.set_num_threads({threads}) left "
                               f"{torch.get_num_threads()} intra-op threads")


def run(kernel: Callable[..., Any], *args: Any, threads: int = 1) -> torch.Tensor:
    """The timed call: the thread count (when it changes), then the kernel."""
    set_threads(threads)
    return kernel(*args)


def finish(out: torch.Tensor, p: Params) -> np.ndarray:
    return out.detach().numpy()


_cache_dir: list[str] = []


def cold_inductor_cache() -> str:
    """A fresh Inductor cache directory for this process (removed at exit): every worker
    process compiles from scratch. Must run before the first compile."""
    if not _cache_dir:
        import torch._inductor.config as inductor_config

        d = tempfile.mkdtemp(prefix="suite-inductor-")
        atexit.register(shutil.rmtree, d, ignore_errors=True)
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = d
        inductor_config.compile_threads = 1  # no pool of compile subprocesses
        _cache_dir.append(d)
    return _cache_dir[0]


def compile_first_call(args: tuple) -> None:
    """`torch-compile`: compile by making the first call (the worker times this)."""
    cold_inductor_cache()
    run(*args, threads=torch.get_num_threads())


def _config_line(pattern: str) -> str | None:
    m = re.search(pattern, torch.__config__.show() + torch.__config__.parallel_info())
    return m.group(1).strip() if m else None


def facts() -> dict:
    """Torch's version and build, its CPU libraries and threading."""
    return {
        "version": torch.__version__,
        "cuda_build": torch.version.cuda,  # the CUDA the wheel was built for, None: CPU wheel
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "parallel_backend": _config_line(r"ATen parallel backend: (.+)"),
        "openmp": _config_line(r"(OpenMP [\d.]+)"),
        "mkl": _config_line(r"(Intel\(R\) oneAPI Math Kernel Library Version [^\n]+?)-Product"),
        "onednn": _config_line(r"(Intel\(R\) MKL-DNN v[\d.]+)"),
        "inter_op_threads": torch.get_num_interop_threads(),
        "intra_op_threads": "the cell's: torch.set_num_threads(threads), read back",
        "inductor_cache": "fresh per worker process (cold compile)" if _cache_dir else None,
    }


def flavor(w: Workload, name: str) -> Flavor:
    """Flavor `name` (`torch` or `torch-compile`) of workload `w`."""
    if name not in NAMES:
        raise ValueError(f"the torch family has no flavor {name!r}; flavors: {NAMES}")
    compiled = name == COMPILED
    return Flavor(name, run, prepare=prepare(w.name, compiled), finish=finish,
                  threaded=True, compile=compile_first_call if compiled else None)
