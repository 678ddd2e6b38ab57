"""The benchmark harness: time named cases side by side and print ratios to a baseline.

A scenario module in ``scenarios/`` defines ``scenario()``, a context manager that sets up
what it measures, yields a list of :class:`Case`, and cleans up afterwards. Cases with the
same ``op`` form one comparison; the one marked ``baseline`` is the denominator of the ratio.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

__all__ = ["Case", "Result", "measure", "render"]


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


def _calibrate(case: Case, min_round_s: float) -> int:
    """How many calls of *case* make a round of at least *min_round_s*."""
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            case.fn()
        if time.perf_counter() - start >= min_round_s or calls >= 1 << 20:
            return calls
        calls *= 2


def _time_round(case: Case, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        case.fn()
    return (time.perf_counter() - start) / (calls * case.ops_per_call)


def measure(
    name: str, factory: ScenarioFactory, *, rounds: int = 7, min_round_s: float = 0.05
) -> list[Result]:
    """Set up scenario *name*, time its cases interleaved round by round, and clean up.

    Every round times each case once, in turn, so a case and its baseline see the same
    machine: on shared, noisy CPUs, load that comes and goes then shifts both alike. The
    median over rounds is reported.
    """
    with factory() as cases:
        gc.collect()
        calls = [_calibrate(case, min_round_s) for case in cases]
        samples: list[list[float]] = [[] for _ in cases]
        for _ in range(rounds):
            for index, case in enumerate(cases):
                samples[index].append(_time_round(case, calls[index]))
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
