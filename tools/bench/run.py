"""Run named benchmark scenarios and print median µs per operation with ratios.

Usage: ``python tools/bench/run.py [SCENARIO ...] [--rounds N]``; with no name, every
scenario in ``tools/bench/scenarios/`` runs. ``--list`` names them. Pin the process (and
any server it talks to) to one CPU for stable numbers: ``taskset -c 1 python ...``.

A scenario is timed by the clock its module names in ``CLOCK`` (``"cpu"`` for one that runs
entirely in this process; ``"wall"`` if it names none); ``--clock`` times every scenario
by the one given.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import CLOCKS, Result, measure, render  # noqa: E402


def available() -> list[str]:
    """The names of the scenario modules."""
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE / "scenarios")]))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help="scenario names (default: all)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per case")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        help="time every scenario by this clock (default: the one each scenario names)",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    names = available()
    if args.list:
        print("\n".join(names))
        return 0
    unknown = sorted(set(args.scenarios) - set(names))
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(names)}")
    results: list[Result] = []
    for name in args.scenarios or names:
        module = importlib.import_module(f"scenarios.{name}")
        clock = args.clock or getattr(module, "CLOCK", "wall")
        print(f"running {name} ({clock} clock) ...", file=sys.stderr, flush=True)
        results.extend(measure(name, module.scenario, rounds=args.rounds, clock=clock))
    print(render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
