"""Noise you can see: CPU time next to wall time for every sample, the machine's load around
every measuring process, preempted samples counted and warned about.

A single-thread sample that was not interrupted spends its wall time on the CPU: its CPU
time (user + system of the worker process) equals its wall time. When the wall time exceeds
the CPU time by more than `PREEMPTED_WALL_OVER_CPU`, the worker waited for a core (another
process ran, or it slept on I/O or a page fault from disk): the sample was preempted, and
its time includes someone else's work. Multi-thread cells use several cores on purpose, so
there the CPU/wall ratio says how many cores the call really kept busy; they are not counted.
Every raw value stays in the document (`noise.sample_cpu_ns`, parallel to `samples`).
"""

from __future__ import annotations

# A single-thread sample whose wall time exceeds its CPU time by more than this share was
# preempted (lost that share of its time to waiting).
PREEMPTED_WALL_OVER_CPU = 0.05
# A cell with more than this share of preempted samples gets a `preempted` warning.
MAX_PREEMPTED_SHARE = 0.10
THRESHOLDS = {"preempted_wall_over_cpu": PREEMPTED_WALL_OVER_CPU,
              "max_preempted_share": MAX_PREEMPTED_SHARE}


def is_preempted(wall_ns: int, cpu_ns: int) -> bool:
    """Whether a single-thread sample waited: wall > (1 + threshold) x CPU."""
    return wall_ns > (1.0 + PREEMPTED_WALL_OVER_CPU) * cpu_ns


def empty() -> dict:
    """The cell's `noise` record before any measuring process."""
    return {"sample_cpu_ns": [], "load_avg": [], "cpu_wall_ratio": None, "preempted": None}


def add_process(noise: dict, samples: list[int], cpus: list[int],
                load_avg: list[float | None], threads: int) -> None:
    """Add one measuring process: its samples' CPU ns per call (in order) and its load
    average [before, after]. `samples` are the cell's wall times so far, this process's
    last, parallel to `sample_cpu_ns`. Updates the cores-used ratio and the preempted count."""
    noise["sample_cpu_ns"] += cpus
    noise["load_avg"].append(load_avg)
    cpu_all = noise["sample_cpu_ns"]
    if len(cpu_all) != len(samples):
        raise ValueError(f"{len(cpu_all)} CPU times for {len(samples)} samples")
    noise["cpu_wall_ratio"] = sum(cpu_all) / sum(samples) if samples else None
    noise["preempted"] = (sum(is_preempted(w, c) for w, c in zip(samples, cpu_all))
                          if threads == 1 else None)


def warnings_for(noise: dict | None) -> list[dict]:
    """A `preempted` warning when more than MAX_PREEMPTED_SHARE of the samples waited."""
    if not noise or not noise.get("preempted") or not noise["sample_cpu_ns"]:
        return []
    n, total = noise["preempted"], len(noise["sample_cpu_ns"])
    share = n / total
    if share <= MAX_PREEMPTED_SHARE:
        return []
    return [{"code": "preempted", "value": share, "threshold": MAX_PREEMPTED_SHARE,
             "message": f"{n} of {total} samples were preempted (wall time more than "
                        f"{PREEMPTED_WALL_OVER_CPU:.0%} over CPU time): the machine was busy"}]
