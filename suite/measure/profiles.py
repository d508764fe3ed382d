"""Profiles: how much to measure. Sizes per profile live with each workload."""

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


PROFILES = {
    "smoke": Profile("smoke", processes=2, warmups=1, values=3, min_time_ns=2_000_000,
                     max_loops=1000, budget_s=3.0, timeout_s=120, steady_limit_s=5.0),
    "quick": Profile("quick", processes=3, warmups=1, values=4, min_time_ns=20_000_000,
                     max_loops=10_000, budget_s=25.0, timeout_s=600, steady_limit_s=10.0),
    # full: 10 processes x 10 samples = the article's 100 runs per measurement.
    "full": Profile("full", processes=10, warmups=1, values=10, min_time_ns=100_000_000,
                    max_loops=100_000, budget_s=900.0, timeout_s=3600, steady_limit_s=60.0),
}


def get(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; profiles: {', '.join(PROFILES)}") from None
