"""The benchmark harness: time named cases side by side and print ratios to a baseline.

A scenario module in ``scenarios/`` defines ``scenario()``, a context manager that sets up
what it measures, yields a list of :class:`Case`, and cleans up afterwards. Cases with the
same ``op`` form one comparison; the one marked ``baseline`` is the denominator of the ratio.

A scenario whose cases all run in this process (no server, no child process) may set
``CLOCK = "cpu"`` in its module: its rounds are then timed by this thread's CPU time
(``time.thread_time_ns``), which leaves out the time the thread waits while another
process has the CPU. On a shared machine that is most of the noise of a sub-microsecond
case. Every other scenario is timed by the wall clock (``time.perf_counter_ns``), since
the time a server or a child process spends is part of what it measures.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

__all__ = ["CLOCKS", "Case", "Result", "measure", "render"]

#: The clocks a scenario can be timed by, by name: nanoseconds since some fixed point.
CLOCKS: dict[str, Callable[[], int]] = {
    "wall": time.perf_counter_ns,
    "cpu": time.thread_time_ns,
}


@dataclass
class Case:
    """One thing to time: *fn* performs *ops_per_call* operations of kind *op* on *subject*."""

    op: str
    subject: str
    fn: Callable[[], object]
    baseline: bool = False
    ops_per_call: int = 1


@dataclass
class Result:
    """The median cost of one operation of a case, in microseconds."""

    scenario: str
    case: Case
    median_us: float


ScenarioFactory = Callable[[], AbstractContextManager[list[Case]]]


def _calibrate(case: Case, min_round_s: float, clock: Callable[[], int]) -> int:
    """How many calls of *case* make a round of at least *min_round_s* on *clock*."""
    calls = 1
    while True:
        start = clock()
        for _ in range(calls):
            case.fn()
        if clock() - start >= min_round_s * 1e9 or calls >= 1 << 20:
            return calls
        calls *= 2


def _time_round(case: Case, calls: int, clock: Callable[[], int]) -> float:
    """Seconds per operation of *case* over *calls* calls."""
    start = clock()
    for _ in range(calls):
        case.fn()
    return (clock() - start) / 1e9 / (calls * case.ops_per_call)


def measure(
    name: str,
    factory: ScenarioFactory,
    *,
    rounds: int = 7,
    min_round_s: float = 0.05,
    clock: str = "wall",
) -> list[Result]:
    """Set up scenario *name*, time its cases interleaved round by round, and clean up.

    Every round times each case once, in turn, so a case and its baseline see the same
    machine: on shared, noisy CPUs, load that comes and goes then shifts both alike. The
    median over rounds is reported. *clock* names one of :data:`CLOCKS`.
    """
    read_clock = CLOCKS[clock]
    with factory() as cases:
        gc.collect()
        calls = [_calibrate(case, min_round_s, read_clock) for case in cases]
        samples: list[list[float]] = [[] for _ in cases]
        for _ in range(rounds):
            for index, case in enumerate(cases):
                samples[index].append(_time_round(case, calls[index], read_clock))
        return [
            Result(name, case, statistics.median(times) * 1e6)
            for case, times in zip(cases, samples, strict=True)
        ]


def render(results: list[Result]) -> str:
    """A plain-text table: one row per case, with its ratio to the baseline of its op."""
    baselines: dict[tuple[str, str], float] = {}
    for r in results:
        if r.case.baseline:
            baselines[(r.scenario, r.case.op)] = r.median_us
    header = ("scenario", "operation", "subject", "median µs", "ops/s", "ratio")
    rows = [header]
    for r in results:
        base = baselines.get((r.scenario, r.case.op))
        ratio = f"{r.median_us / base:.2f}x" if base else "-"
        mark = " (baseline)" if r.case.baseline else ""
        per_second = f"{1e6 / r.median_us:,.0f}" if r.median_us else "-"
        rows.append(
            (r.scenario, r.case.op, r.case.subject + mark, f"{r.median_us:,.2f}", per_second, ratio)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.ljust(w) if i < 3 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
