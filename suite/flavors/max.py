"""The `max` flavor: each workload as a MAX graph, built and run from Python on the CPU.

    python -m suite.flavors.max [CACHE_DIR]   # compile every graph the profiles need, ahead

What a Python user gets from Modular without writing Mojo: a graph of `max.graph.ops`
(matmul, conv2d, gelu, logsoftmax + gather, and linreg's SGD step), compiled by MAX and
executed by `max.engine` on `max.driver.CPU()` on the cell's thread count (the process is
pinned to that many CPUs: `InferenceSession(num_threads=...)` aborts in MAX 26.7, see
`_session`). Graph dimensions are symbolic, so one compiled model serves every shape of a
workload and dtype (a compile costs minutes on a busy 2-core machine; per shape it would
be tens of them).

linreg is trained as the article trains it: Python loops over epochs and batches and
calls the compiled SGD step once per batch (`w, b, sum r^2 = step(X, y, w, b, ...)`), so
the per-call overhead of MAX is part of the number, as it would be for a user.

Compilation is done before anything is timed (`Flavor.compile`, reported as the cell's
`compile_ns`) and cached across processes: every compiled model is exported as a MEF file
into `<cache>/max/` (named by the graph's name, a digest of its IR, the MAX version and the
CPU), and a later process reads it back instead of compiling (`max.engine.read`). Whether
a process found its model there is reported as `compile_cached`. MAX's own compile cache
is pointed at `<cache>/max/engine` so that clearing the suite's cache clears it too.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from suite.workloads import Flavor, Workload

CACHE_SUBDIR = "max"  # under the Mojo cache dir (.cache/mojo, or the image's /opt/mojo-ext)
THREAD_ENV = "OMP_NUM_THREADS"  # the worker sets it (and friends) to the cell's threads
WORKLOADS_WITH_GRAPHS = ("matmul", "conv2d", "gelu", "xent", "linreg")

_cache_dir: Path | None = None
_sessions: dict[int, Any] = {}  # threads -> InferenceSession (one per process)
_session_threads: int | None = None
_models: dict[tuple[str, int], Any] = {}  # (graph key, threads) -> Model
_compiled: dict[str, dict] = {}  # graph key -> {"seconds", "cached", "mef"}


# ---------------------------------------------------------------------------- set-up


def setup(cache_dir: Path) -> None:
    """Keep compiled models in `<cache_dir>/max` (the worker passes the Mojo cache dir, so
    the image's prebuilt models sit next to its extensions)."""
    global _cache_dir
    if THREAD_ENV in os.environ:  # a worker: pin before MAX starts any thread
        pin_process(threads_from_env())
    _cache_dir = Path(cache_dir).resolve() / CACHE_SUBDIR
    try:
        _cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # a read-only image: its prebuilt models can still be read
    if os.access(_cache_dir, os.W_OK):
        os.environ.setdefault("MODULAR_MAX_CACHE_DIR", str(_cache_dir / "engine"))


def cache_dir() -> Path:
    """Where compiled models are kept: set by setup(), else <Mojo cache dir>/max."""
    if _cache_dir is None:
        from suite.flavors.mojo import default_cache_dir

        setup(default_cache_dir())
    assert _cache_dir is not None
    return _cache_dir


@functools.cache
def max_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("max")
    except metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def cpu_fingerprint() -> str:
    """The machine a MEF was compiled for: arch + CPU model + flags (code is CPU-specific)."""
    info = ""
    try:
        text = Path("/proc/cpuinfo").read_text()
        keep = [ln for ln in text.splitlines() if ln.split(":")[0].strip()
                in ("model name", "flags", "Features", "CPU part")]
        info = "\n".join(sorted(set(keep)))
    except OSError:
        pass
    return hashlib.sha256(f"{platform.machine()}\n{info}".encode()).hexdigest()[:16]


def threads_from_env() -> int:
    """The worker's thread count (it sets OMP_NUM_THREADS and friends for every cell);
    all of this process's CPUs when unset."""
    try:
        return max(1, int(os.environ[THREAD_ENV]))
    except (KeyError, ValueError):
        return len(os.sched_getaffinity(0))


# ---------------------------------------------------------------------------- graphs


@dataclass(frozen=True)
class GraphSpec:
    """One graph: what it computes (`build`) and the name its compiled model is cached by."""

    name: str  # workload-dtype[-variant], e.g. "matmul-float32", "conv2d-float32-k3"
    build: Callable[[], Any]  # -> max.graph.Graph

    @functools.cached_property
    def ir_sha(self) -> str:
        """Digest of the graph's IR text: a changed graph never reuses a stale model."""
        return hashlib.sha256(str(self.build()).encode()).hexdigest()[:12]

    def key(self) -> str:
        return f"{self.name}-{self.ir_sha}-max{max_version()}-{cpu_fingerprint()}"


def _dtype(name: str):
    from max.dtype import DType

    return {"float32": DType.float32, "float64": DType.float64}[name]


def _tensor(dtype: str, shape: tuple):
    from max.graph import DeviceRef, TensorType

    dt = _dtype(dtype) if isinstance(dtype, str) else dtype
    return TensorType(dt, shape, device=DeviceRef.CPU())


def matmul_graph(dtype: str):
    """C = A @ B, A (m, k), B (k, n)."""
    from max.graph import Graph, ops

    g = Graph(f"matmul_{dtype}",
              input_types=[_tensor(dtype, ("m", "k")), _tensor(dtype, ("k", "n"))])
    with g:
        a, b = g.inputs
        g.output(ops.matmul(a, b))
    return g


def conv2d_graph(dtype: str, ksize: int):
    """y = conv2d(x, w) + bias for the workload's NCHW input and FCRS filters, stride 1,
    same padding. MAX's CPU conv2d takes NHWC input and RSCF filters (asking it for NCHW
    fails to compile in 26.7), so the graph permutes in and out, as a user would."""
    from max.graph import Graph, ops

    pad = (ksize - 1) // 2
    g = Graph(f"conv2d_{dtype}_k{ksize}",
              input_types=[_tensor(dtype, ("n", "c", "h", "w")),
                           _tensor(dtype, ("f", "c", ksize, ksize)), _tensor(dtype, ("f",))])
    with g:
        x, w, bias = g.inputs
        nhwc = ops.permute(x, [0, 2, 3, 1])
        rscf = ops.permute(w, [2, 3, 1, 0])
        y = ops.conv2d(nhwc, rscf, padding=(pad, pad, pad, pad), bias=bias)
        g.output(ops.permute(y, [0, 3, 1, 2]))
    return g


def gelu_graph(dtype: str):
    """MAX's tanh-approximated GELU."""
    from max.graph import Graph, ops

    g = Graph(f"gelu_{dtype}", input_types=[_tensor(dtype, ("n",))])
    with g:
        (x,) = g.inputs
        g.output(ops.gelu(x, approximate="tanh"))
    return g


def xent_graph(dtype: str):
    """loss[i] = -logsoftmax(logits)[i, labels[i]], NaN where the reference (NumPy) gives
    NaN: rows holding a NaN or whose max is infinite. MAX's logsoftmax turns those into an
    infinite loss, its max ignores NaN, and `m - m` is simplified away, hence the explicit
    predicates."""
    from max.dtype import DType
    from max.graph import DeviceRef, Graph, ops

    dt = _dtype(dtype)
    g = Graph(f"xent_{dtype}",
              input_types=[_tensor(dtype, ("b", "c")), _tensor(DType.int64, ("b",))])
    with g:
        logits, labels = g.inputs
        picked = ops.gather_nd(ops.logsoftmax(logits), ops.unsqueeze(labels, -1),
                               batch_dims=1)
        has_nan = ops.squeeze(ops.max(ops.cast(ops.is_nan(logits), dt), axis=-1), -1)
        row_max = ops.squeeze(ops.max(logits, axis=-1), -1)
        bad = ops.logical_or(ops.greater(has_nan, ops.constant(0, dt, DeviceRef.CPU())),
                             ops.is_inf(row_max))
        nan = ops.constant(float("nan"), dt, DeviceRef.CPU())
        g.output(ops.where(bad, nan, -picked))
    return g


def sgd_step_graph(dtype: str):
    """One SGD step of linreg (the `numpy` flavor's arithmetic):
    r = X w + b - y; g = r scale; w' = w - lr (g X); b' = b - lr sum(g); also sum(r^2)."""
    from max.graph import Graph, ops

    g = Graph(f"linreg_step_{dtype}",
              input_types=[_tensor(dtype, ("batch", "dim")), _tensor(dtype, ("batch",)),
                           _tensor(dtype, ("dim",)), _tensor(dtype, ()),
                           _tensor(dtype, ()), _tensor(dtype, ())])
    with g:
        x, y, w, b, lr, scale = g.inputs
        r = ops.matmul(x, ops.unsqueeze(w, -1))  # (batch, 1)
        r = ops.squeeze(r, -1) + b - y
        grad = r * scale
        new_w = w - lr * ops.squeeze(ops.matmul(ops.unsqueeze(grad, 0), x), 0)
        new_b = b - lr * ops.squeeze(ops.sum(grad, axis=-1), -1)
        sq = ops.squeeze(ops.sum(r * r, axis=-1), -1)
        g.output(new_w, new_b, sq)
    return g


def spec_for(workload: str, args: tuple) -> GraphSpec:
    """The graph that runs `workload` on these (NumPy flavor) arguments."""
    if workload == "conv2d":
        w = args[1] if len(args) > 1 else None
        if not isinstance(w, np.ndarray) or w.ndim != 4:
            raise ValueError("w must be a 4-D numpy.ndarray (F, C, KH, KW)")
        k = int(w.shape[2])
        if w.shape[3] != k or k % 2 == 0:
            raise ValueError(f"conv2d needs a square filter of odd size, got w {w.shape}")
        return _spec(workload, _float_dtype(args[0], "x"), k)
    if workload not in WORKLOADS_WITH_GRAPHS:
        raise ValueError(f"the max flavor has no graph for workload {workload!r}; "
                         f"it has: {', '.join(WORKLOADS_WITH_GRAPHS)}")
    first = {"matmul": "a", "gelu": "x", "xent": "logits", "linreg": "X"}[workload]
    return _spec(workload, _float_dtype(args[0], first), 0)


@functools.cache
def _spec(workload: str, dtype: str, ksize: int) -> GraphSpec:
    """One GraphSpec per graph and process (its IR digest is computed once)."""
    if workload == "conv2d":
        return GraphSpec(f"conv2d-{dtype}-k{ksize}", lambda: conv2d_graph(dtype, ksize))
    build = {"matmul": matmul_graph, "gelu": gelu_graph, "xent": xent_graph,
             "linreg": sgd_step_graph}[workload]
    name = "linreg_step" if workload == "linreg" else workload
    return GraphSpec(f"{name}-{dtype}", lambda: build(dtype))


def _float_dtype(a: object, name: str) -> str:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must have dtype float32 or float64, got {a.dtype}")
    return a.dtype.name


# ---------------------------------------------------------------------------- compile


def pin_process(threads: int) -> None:
    """Pin every thread of this process to `threads` of its CPUs. sched_setaffinity(0)
    pins only the calling thread: threads MAX started before (at import, while building a
    graph) kept every CPU, and a "1 thread" cell ran at a CPU/wall ratio of 1.7."""
    cpus = sorted(os.sched_getaffinity(0))
    if threads >= len(cpus):
        return
    keep = set(cpus[:threads])
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]
    for tid in tids:
        try:
            os.sched_setaffinity(tid, keep)
        except (ProcessLookupError, PermissionError):
            pass  # a thread that ended meanwhile


def _session(threads: int):
    """The process's one MAX session, running on `threads` cores.

    `InferenceSession(num_threads=n)` aborts the process in MAX 26.7 for any n > 0
    ("AsyncRT::getOrCreateCPUDevice called requesting different options"), and MAX's CPU
    runtime is process-wide: it sizes its worker pool from the process's CPU affinity when
    it starts. So the first call pins the process to `threads` of its CPUs, and a later
    call asking for another count raises instead of silently running on the first one.
    """
    global _session_threads
    if _session_threads is None:
        pin_process(threads)
        from max import driver, engine

        _sessions[threads] = engine.InferenceSession(devices=[driver.CPU()])
        _session_threads = threads
    if threads != _session_threads:
        raise RuntimeError(
            f"MAX's CPU runtime already runs on {_session_threads} thread(s) in this process "
            f"and cannot change; run threads={threads} in a new process")
    return _sessions[threads]


def model_for(spec: GraphSpec, threads: int) -> Any:
    """The compiled model of `spec` in the session of `threads` workers: read from the MEF
    cache, else compiled and exported there (one compiler at a time per cache)."""
    key = spec.key()
    if (key, threads) in _models:
        return _models[key, threads]
    from max import engine

    session = _session(threads)
    if key not in _compiled:
        mef = cache_dir() / f"{key}.mef"
        t0 = time.perf_counter()
        with _locked(cache_dir() / f"{key}.lock"):
            cached = mef.is_file()
            if cached:
                artifact = engine.read(mef)
            else:
                artifact = session.compile(spec.build())
                _export(artifact, mef)
        _compiled[key] = {"artifact": artifact, "cached": cached, "mef": str(mef),
                          "seconds": time.perf_counter() - t0}
    _models[key, threads] = session.init(_compiled[key]["artifact"])
    return _models[key, threads]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One compiler per graph and cache (a read-only cache: no lock, nothing to write)."""
    try:
        lock = open(path, "w" if not path.exists() or os.access(path, os.W_OK) else "r")
    except OSError:
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _export(artifact: Any, mef: Path) -> None:
    """Write the compiled model to the cache atomically (skipped if the cache is read-only)."""
    tmp = mef.with_suffix(f".{os.getpid()}.tmp")
    try:
        artifact.export_mef(tmp)
        os.replace(tmp, mef)
    except OSError:
        tmp.unlink(missing_ok=True)


def compile_for(workload: str, args: tuple, threads: int | None = None) -> dict:
    """Compile (or load) the graph for these arguments ahead of timing; returns
    {"cached": whether the compiled model came from the cache, "graph": its key}."""
    spec = spec_for(workload, args)
    model_for(spec, threads or threads_from_env())
    return {"cached": _compiled[spec.key()]["cached"], "graph": spec.key()}


# ---------------------------------------------------------------------------- calls


def _check_threads(threads: object) -> int:
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise TypeError(f"threads must be an int, got {type(threads).__name__}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    return threads


def _contiguous(arrays: dict[str, Any]) -> None:
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
        if a.size == 0:
            raise ValueError(f"{name} must not be empty, got shape {a.shape}")
        if not a.flags.c_contiguous:
            raise ValueError(f"{name} must be C-contiguous (use numpy.ascontiguousarray)")


def _same_dtype(first: str, arrays: dict[str, np.ndarray]) -> None:
    want = arrays[first].dtype
    for name, a in arrays.items():
        if a.dtype != want:
            raise TypeError(f"{name} must have dtype {want} like {first}, got {a.dtype}")


def _run(workload: str, args: tuple, threads: int) -> list:
    model = model_for(spec_for(workload, args), _check_threads(threads))
    return model.execute(*args)


def matmul(a, b, *, threads: int = 1) -> np.ndarray:
    _contiguous({"a": a, "b": b})
    _same_dtype("a", {"a": a, "b": b})
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul needs a (m, k) and b (k, n), got a {a.shape} and b {b.shape}")
    return _run("matmul", (a, b), threads)[0].to_numpy()


def conv2d(x, w, bias, *, threads: int = 1) -> np.ndarray:
    arrays = {"x": x, "w": w, "bias": bias}
    _contiguous(arrays)
    _same_dtype("x", arrays)
    if x.ndim != 4 or w.ndim != 4 or bias.ndim != 1:
        raise ValueError(f"conv2d needs x (N, C, H, W), w (F, C, K, K), bias (F,); got "
                         f"x {x.shape}, w {w.shape}, bias {bias.shape}")
    if w.shape[1] != x.shape[1] or bias.shape[0] != w.shape[0]:
        raise ValueError(f"conv2d shapes do not match: x {x.shape}, w {w.shape}, "
                         f"bias {bias.shape}; need w.shape[1] == x.shape[1] and "
                         f"bias.shape == (w.shape[0],)")
    return _run("conv2d", (x, w, bias), threads)[0].to_numpy()


def gelu(x, *, threads: int = 1) -> np.ndarray:
    _contiguous({"x": x})
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D, got {x.ndim}-D array")
    return _run("gelu", (x,), threads)[0].to_numpy()


def xent(logits, labels, *, threads: int = 1) -> np.ndarray:
    _contiguous({"logits": logits, "labels": labels})
    if labels.dtype != np.int64:
        raise TypeError(f"labels must have dtype int64, got {labels.dtype}")
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"xent needs logits (B, C) and labels (B,), got logits "
                         f"{logits.shape} and labels {labels.shape}")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(f"labels must be in [0, {logits.shape[1]}), got "
                         f"{labels.min()}..{labels.max()}")
    return _run("xent", (logits, labels), threads)[0].to_numpy()


def linreg(X, y, w0, b0, lr, epochs, *, threads: int = 1) -> np.ndarray:
    """Python drives the epochs and batches; each batch is one call of the compiled SGD
    step. Returns [w, b, loss per epoch] like the other flavors."""
    _contiguous({"X": X, "y": y, "w0": w0})
    _same_dtype("X", {"X": X, "y": y, "w0": w0})
    if X.ndim != 3 or y.shape != X.shape[:2] or w0.shape != X.shape[2:]:
        raise ValueError(f"linreg needs X (batches, batch, dim), y (batches, batch), "
                         f"w0 (dim,); got X {X.shape}, y {y.shape}, w0 {w0.shape}")
    t = X.dtype.type
    model = model_for(spec_for("linreg", (X,)), _check_threads(threads))
    w, b = w0, np.array(b0, dtype=X.dtype)
    lr_t, scale = np.array(lr, dtype=X.dtype), np.array(2.0 / X.shape[1], dtype=X.dtype)
    n = t(X.shape[0] * X.shape[1])
    losses = np.empty(epochs, dtype=X.dtype)
    for e in range(epochs):
        total = t(0)
        for xb, yb in zip(X, y):
            w, b, sq = model.execute(xb, yb, w, b, lr_t, scale)
            total += sq.to_numpy()[()]
        losses[e] = total / n
    w_out = w.to_numpy() if epochs else np.array(w0)
    b_out = b.to_numpy() if epochs else np.array(b0, dtype=X.dtype)
    return np.concatenate([w_out.reshape(-1), b_out.reshape(1), losses])


RUNNERS: dict[str, Callable[..., np.ndarray]] = {
    "matmul": matmul, "conv2d": conv2d, "gelu": gelu, "xent": xent, "linreg": linreg}


def facts() -> dict:
    """MAX's version, where compiled models are cached and the CPU they are keyed by
    (whether a cell's process found its model there: the cell's `compile_cached`)."""
    return {"version": max_version(), "cache_dir": str(cache_dir()),
            "cpu_fingerprint": cpu_fingerprint()}


def flavor(w: Workload, name: str) -> Flavor:
    """The `max` flavor of `w`: its graph, compiled (or loaded) before timing."""
    return Flavor(name, RUNNERS[w.name], prepare=w.flavors["numpy"].prepare, threaded=True,
                  compile=lambda args: compile_for(w.name, args))


def graph_specs() -> dict[str, GraphSpec]:
    """Every graph the workloads' parameter sets (all profiles) run, by key."""
    from suite.workloads import WORKLOADS
    from suite.workloads.base import canonical, rng_for

    specs: dict[str, GraphSpec] = {}
    for name in WORKLOADS_WITH_GRAPHS:
        w = WORKLOADS[name]
        for params in {canonical(p): p for ps in w.params.values() for p in ps}.values():
            small = _tiny_params(name, params)
            args = w.flavors["numpy"].prepare(w.make_inputs(small, rng_for(0, name, small)),
                                              small)
            spec = spec_for(name, args)
            specs.setdefault(spec.key(), spec)
    return specs


def _tiny_params(workload: str, p: dict) -> dict:
    """The same graph (dtype, filter size) on a tiny input: only its type matters here."""
    tiny = {"matmul": {"n": 2}, "conv2d": {"batch": 1, "size": 4, "filters": 2},
            "gelu": {"n": 8}, "xent": {"batch": 2, "classes": 3},
            "linreg": {"batches": 1, "batch": 2, "epochs": 1}}
    return {**p, **tiny.get(workload, {})}


def main(argv: list[str]) -> int:
    """Compile (or find cached) every graph the profiles need; one JSON line per graph."""
    import json

    from suite.flavors.mojo import default_cache_dir

    setup(Path(argv[0]) if argv else default_cache_dir())
    for key, spec in graph_specs().items():
        model_for(spec, threads_from_env())
        info = _compiled[key]
        print(json.dumps({"graph": key, "cached": info["cached"],
                          "seconds": round(info["seconds"], 1), "mef": info["mef"]}),
              flush=True)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
