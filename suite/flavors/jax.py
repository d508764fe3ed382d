"""The `jax` flavor: each workload as a JAX user writes it, under `jax.jit` on the CPU.

matmul `a @ b`; conv2d `lax.conv_general_dilated` (NCHW/OIHW, stride 1, "same" padding)
plus the bias; gelu `jax.nn.gelu(approximate=True)`; xent as optax's
`softmax_cross_entropy_with_integer_labels` (log-sum-exp of the max-shifted row minus the
label's); linreg the article's SGD loop with `jax.grad` of the mean squared error,
`lax.scan` over the batches and the epochs, the loss of every epoch the mean of its
batches' losses. float64 is enabled (`jax_enable_x64`), so float64 inputs stay float64;
float32 stays float32.

Compilation is apart from the samples: the worker's compile step lowers and compiles the
function for the cell's arguments (`jit(f).lower(*args).compile()`), timed as the cell's
`compile_ns`; the timed call runs the compiled executable and waits for its result
(`block_until_ready()`), so asynchronous dispatch cannot hide work. Inputs are put on the
device (`jax.device_put`) outside the timed call.

Threads: XLA's CPU client has no call to set its thread count; it is fixed when the backend
starts. The harness sets OMP_NUM_THREADS to the cell's thread count for every worker, and
this module reads it before the backend starts: 1 thread is `NPROC=1` (the size of
XLA's client thread pool) with XLA_FLAGS `--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1`, all cores is XLA's default; any other count, or a call
with a count other than the one the backend started with, fails the cell with a message
saying so. JAX is imported only by a jax worker.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np
from jax import lax

from suite.workloads import Flavor, Inputs, Params, Workload

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platforms", "cpu")

NAME = "jax"
# One thread: NPROC sizes the PjRt CPU client's thread pool (XLA's DefaultThreadPoolSize;
# without it XLA runs on 4 busy threads here even with the Eigen flags), the flags keep
# Eigen's own pool single-threaded. Measured per thread in /proc: 1 busy thread.
ONE_THREAD_ENV = {"NPROC": "1",
                  "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}


def matmul(a: jax.Array, b: jax.Array) -> jax.Array:
    return a @ b


def conv2d(x: jax.Array, w: jax.Array, bias: jax.Array) -> jax.Array:
    pad = (w.shape[-1] - 1) // 2
    y = lax.conv_general_dilated(x, w, window_strides=(1, 1), padding=((pad, pad), (pad, pad)),
                                 dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return y + bias[None, :, None, None]


def gelu(x: jax.Array) -> jax.Array:
    return jax.nn.gelu(x, approximate=True)


def xent(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """optax's `softmax_cross_entropy_with_integer_labels`: shift by the row max, then
    log-sum-exp minus the label's logit. (`jax.nn.logsumexp` would turn a +inf logit into
    an infinite loss where the stable formula, and the reference, give NaN.)"""
    shifted = logits - lax.stop_gradient(logits.max(axis=1, keepdims=True))
    picked = jnp.take_along_axis(shifted, labels[:, None], axis=1)[:, 0]
    return jnp.log(jnp.exp(shifted).sum(axis=1)) - picked


def _mse(params: tuple[jax.Array, jax.Array], xb: jax.Array, yb: jax.Array) -> jax.Array:
    w, b = params
    return jnp.mean((xb @ w + b - yb) ** 2)


def linreg(x: jax.Array, y: jax.Array, w0: jax.Array, b0: jax.Array, lr: float,
           epochs: int) -> jax.Array:
    """SGD on the mean squared error: the article's loop, traced once by `jit`."""
    loss_and_grad = jax.value_and_grad(_mse)

    def step(params, batch):
        loss, grads = loss_and_grad(params, *batch)
        return jax.tree.map(lambda p, g: p - lr * g, params, grads), loss

    def epoch(params, _):
        params, losses = lax.scan(step, params, (x, y))
        return params, jnp.mean(losses)

    (w, b), losses = lax.scan(epoch, (w0, b0[0]), None, length=epochs)
    return jnp.concatenate([w, b[None], losses])


KERNELS: dict[str, Callable[..., jax.Array]] = {
    "matmul": matmul, "linreg": linreg, "conv2d": conv2d, "gelu": gelu, "xent": xent}
INPUTS: dict[str, tuple[str, ...]] = {
    "matmul": ("a", "b"), "linreg": ("x", "y", "w0", "b0"), "conv2d": ("x", "w", "bias"),
    "gelu": ("x",), "xent": ("logits", "labels")}
STATIC: dict[str, tuple[str, ...]] = {"linreg": ("lr", "epochs")}  # params baked into a trace

_threads: list[int] = []  # the thread count the backend started with
_BASE_FLAGS = os.environ.get("XLA_FLAGS", "").strip()  # the caller's, before ours


def one_thread_env() -> dict[str, str]:
    return {**ONE_THREAD_ENV, "XLA_FLAGS": f"{_BASE_FLAGS} {ONE_THREAD_ENV['XLA_FLAGS']}".strip()}


def start_backend(threads: int | None = None) -> int:
    """Start XLA's CPU backend (once) on `threads` threads, by default the count the harness
    gave this process (OMP_NUM_THREADS; all cores if unset); returns the count it runs on.
    Asking for another count once it runs is an error: XLA cannot change it."""
    cores = os.cpu_count() or 1
    if threads is None:
        threads = _threads[0] if _threads else int(os.environ.get("OMP_NUM_THREADS") or cores)
    if _threads and threads != _threads[0]:
        raise RuntimeError(f"JAX's CPU backend started with {_threads[0]} thread(s); it "
                           f"cannot run on {threads} (one count per process)")
    if not _threads:
        if threads == 1:
            os.environ.update(one_thread_env())
        elif threads != cores:
            raise RuntimeError(f"XLA's CPU backend runs on 1 thread or on all {cores} cores, "
                               f"not {threads} (OMP_NUM_THREADS={threads})")
        jax.devices("cpu")  # starts the backend: NPROC and XLA_FLAGS are read now
        _threads.append(threads)
    return _threads[0]


def prepare(workload: str) -> Callable[[Inputs, Params], tuple]:
    """Inputs -> `(jitted function, *device arrays)`; nothing here is timed."""

    def prep(i: Inputs, p: Params) -> tuple:
        start_backend()
        static = {k: p[k] for k in STATIC.get(workload, ())}
        fn = jax.jit(lambda *a: KERNELS[workload](*a, **static))
        return (Compiled(fn), *(jax.device_put(i[k]) for k in INPUTS[workload]))

    return prep


class Compiled:
    """A jitted function, compiled ahead of timing for one set of arguments."""

    def __init__(self, fn: Callable[..., jax.Array]) -> None:
        self.fn = fn
        self.executable: Callable[..., jax.Array] | None = None

    def compile(self, *args: jax.Array) -> None:
        self.executable = self.fn.lower(*args).compile()

    def __call__(self, *args: jax.Array) -> jax.Array:
        if self.executable is None:
            self.compile(*args)
        return self.executable(*args)


def run(kernel: Compiled, *args: jax.Array, threads: int = 1) -> jax.Array:
    """The timed call: the compiled executable, waited for."""
    start_backend(threads)
    return kernel(*args).block_until_ready()


def compile_ahead(args: tuple) -> None:
    """Lower and compile for these arguments (the worker times this)."""
    kernel, *arrays = args
    kernel.compile(*arrays)


def finish(out: jax.Array, p: Params) -> np.ndarray:
    return np.asarray(out)


def facts() -> dict:
    """JAX's versions, backend, precision and the XLA flags the backend started with."""
    return {
        "version": jax.__version__,
        "jaxlib_version": jaxlib.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "x64": bool(jax.config.jax_enable_x64),
        # XLA's CPU threads are fixed when its backend starts: its environment (XLA_FLAGS,
        # NPROC) by the cell's thread count
        "env_by_threads": {"1": one_thread_env(),
                           str(os.cpu_count() or 1): {"XLA_FLAGS": _BASE_FLAGS}},
    }


def flavor(w: Workload, name: str) -> Flavor:
    """The `jax` flavor of `w`."""
    if name != NAME:
        raise ValueError(f"the jax family has no flavor {name!r}; flavors: ({NAME!r},)")
    return Flavor(name, run, prepare=prepare(w.name), finish=finish, threaded=True,
                  compile=compile_ahead)
