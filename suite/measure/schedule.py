"""Scheduling: the interleaved order of worker processes, and progress lines with an ETA
from what each remaining process will cost.

Every cell is calibrated first (one process each); then come `processes` rounds in which
every cell still running gets one measuring process, runtimes taking turns cell by cell, so
drift on a noisy machine hits all runtimes alike.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Iterator

from suite.measure.plan import Cell


def order(cells: list[Cell], processes: int) -> Iterator[tuple[str, Cell]]:
    """(phase, cell) in the order they run; a cell that failed or was skipped during
    calibration gets no measuring processes (checked lazily, as the run goes)."""
    for cell in cells:
        yield "calibrate", cell
    for r in range(processes):
        for cell in cells:
            if cell.status == "running":
                yield f"process {r + 1}/{processes}", cell


def process_cost_s(calibration: dict, wall_s: float, samples: int) -> float:
    """What one measuring process of a cell should take, in seconds, from its calibration
    process: start-up (the calibration's wall time minus the worker's own elapsed time),
    set-up (inputs, conversion, compilation), then `samples` samples of `loops` calls at
    the calibrated time per call, each followed by its output check."""
    launch_s = max(0.0, wall_s - calibration.get("elapsed_ns", 0) / 1e9)
    setup_s = calibration.get("setup_ns", 0) / 1e9
    sample_s = calibration["loops"] * calibration["warmups"][-1] / 1e9
    check_s = calibration.get("check_ns", 0) / 1e9 / max(1, calibration.get("checks", 0))
    return launch_s + setup_s + samples * (sample_s + check_s)


class Costs:
    """The ETA of a run from what each remaining worker process will cost.

    Each calibrated cell has an estimate per measuring process (`process_cost_s`); the ETA
    sums those of the processes still to run, times a scale learnt from the processes that
    ran (their wall time over their estimates: overheads the estimate misses, longer
    warm-ups, a busy machine). Cells not calibrated yet count one calibration (the mean so
    far) plus their processes at the mean estimate of the calibrated cells."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.per_process: dict[str, float] = {}
        self.calibrations: list[float] = []
        self.spent_s = 0.0
        self.expected_s = 0.0

    def calibrated(self, key: str, wall_s: float, estimate_s: float | None) -> None:
        self.calibrations.append(wall_s)
        if estimate_s is not None:
            self.per_process[key] = estimate_s

    def measured(self, key: str, wall_s: float) -> None:
        if key in self.per_process:
            self.spent_s += wall_s
            self.expected_s += self.per_process[key]

    @property
    def scale(self) -> float:
        return self.spent_s / self.expected_s if self.expected_s > 0 else 1.0

    def remaining_s(self, todo: list[tuple[str, bool, int]]) -> float:
        """Seconds left for `todo`: (cell key, calibrated yet, measuring processes left)."""
        mean = statistics.fmean
        first = mean(self.calibrations) if self.calibrations else 0.0
        guess = mean(self.per_process.values()) if self.per_process else first
        total = 0.0
        for key, calibrated, left in todo:
            if not calibrated:
                total += first
            total += left * self.scale * self.per_process.get(key, guess)
        return total


class Progress:
    """`[n/m] what ... ETA` lines on stderr."""

    def __init__(self, total: int, out=sys.stderr) -> None:
        self.total, self.done, self.t0, self.out = total, 0, time.monotonic(), out

    def step(self, what: str, eta_s: float) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.t0
        print(f"[{self.done:>4}/{self.total}] {what}  (elapsed {fmt_s(elapsed)}, "
              f"ETA {fmt_s(eta_s)})", file=self.out, flush=True)


def fmt_s(s: float) -> str:
    return f"{s:.0f}s" if s < 120 else f"{s / 60:.1f}min"
