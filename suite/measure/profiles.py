"""Profiles: how much to measure. Sizes per profile live with each workload.

The worker process is the unit of replication (`suite.measure.stats`): a cell's CI rests
on its per-process medians with P - 1 degrees of freedom, so its half-width shrinks like
t(P - 1) / sqrt(P) (8.98 at P = 2, 1.05 at P = 6, 0.47 at P = 20, in units of the spread of
the per-process medians), while more values per process only shrink the within-process
part of that spread. Hence pyperf's choice, followed here: many processes, few values.
The figures behind these shapes (coverage, A/A false positives, power): docs/report.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    processes: int  # fresh worker processes per cell (after one calibration process)
    warmups: int  # warm-up samples per process, recorded apart from the samples
    values: int  # samples per process
    min_time_ns: int  # calibration target: one sample lasts at least this long
    max_loops: int
    budget_s: float  # a cell estimated to take longer is skipped, with the estimate
    timeout_s: float  # one worker process is killed after this long
    steady_limit_s: float  # `warmup = "steady"` runtimes: warm-up time per process at most

    def settings(self) -> dict:
        d = asdict(self)
        d.pop("name")
        d.pop("timeout_s")
        return d


# The settings that make two documents' times comparable (compare, report rows).
SETTINGS_KEYS = ("processes", "warmups", "values", "min_time_ns", "max_loops", "budget_s")

PROFILES = {
    # smoke: does everything run? 2 processes give a valid but very wide CI (t with 1 df).
    "smoke": Profile("smoke", processes=2, warmups=1, values=3, min_time_ns=2_000_000,
                     max_loops=1000, budget_s=3.0, timeout_s=120, steady_limit_s=5.0),
    # quick: 6 processes x 2 values: 18 calls per cell with the warm-ups (15 for the former
    # 3 x 4) for a CI 2.4x narrower than 3 processes give.
    "quick": Profile("quick", processes=6, warmups=1, values=2, min_time_ns=20_000_000,
                     max_loops=10_000, budget_s=25.0, timeout_s=600, steady_limit_s=10.0),
    # full: 20 processes x 5 values = the article's 100 runs per measurement (pyperf's
    # default is 20 processes x 3 values).
    "full": Profile("full", processes=20, warmups=1, values=5, min_time_ns=100_000_000,
                    max_loops=100_000, budget_s=900.0, timeout_s=3600, steady_limit_s=60.0),
    # reference: the published set (published/, `make reference`): every runtime interleaved
    # in one run at the article's sizes: 91 minutes on a 2-core machine (published/).
    # Time is what sizes it: 240 cells that fit (6 runtimes, both thread counts), and a
    # worker process costs ~2.7 s on such a machine, mostly before its samples (container
    # start, imports, inputs, Numba/JAX/MAX set-up): 10 processes per cell measured 130 min
    # there (the ETA of a real run), so 6 processes (the run took 91 min with calibration).
    # 6 processes x 3 values: the CI half-width is t(5)/sqrt(6) = 1.05 spreads of the
    # per-process medians (0.47 at full's 20); at the 1-5% spreads of docs/report.md's
    # simulation that is +-1-5% per cell and about +-1.5-7% on a ratio, inside the claims'
    # tolerances (10% same hardware, 25% across hardware), so each claim gets a verdict;
    # small differences between runtimes need `full` (the power figures in docs/report.md).
    # 3 values, not 2: a process's median then survives one spiked sample (the median of 2
    # is their mean).
    # budget_s = 120: a probed cell (pure, mojo-naive, mojo-simd) whose 6 x 4 calls would
    # take longer (over 5 s per call) is skipped with its estimate: pure-Python matmul
    # 1024/2048 (~1 min per call on CPython, ~8 s on PyPy), pure conv2d at 32x3x224x224
    # (hours per call), naive and SIMD-only Mojo matmul 2048 (~50 s per call: the probe's
    # extrapolation said ~2 s; the calibration at full size catches that, runner.calibrate).
    # The article's Mojo SIMD matmul 1024 (~3.5-4.5 s per call, the headline "3.3x" claim)
    # fits, so it has a CI. The claims about pure-Python and Mojo SIMD 2048 times use the
    # estimates (claims.json `allow_estimate`).
    "reference": Profile("reference", processes=6, warmups=1, values=3,
                         min_time_ns=20_000_000, max_loops=10_000, budget_s=120.0,
                         timeout_s=900, steady_limit_s=10.0),
}


def get(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; profiles: {', '.join(PROFILES)}") from None


def settings_signature(settings: dict) -> tuple:
    """The comparable part of a document's run.settings, as a hashable key."""
    return tuple(settings.get(k) for k in SETTINGS_KEYS)
