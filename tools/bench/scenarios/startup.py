"""Start-up cost: a fresh interpreter importing kv-core, and the ``kv`` command's help.

Every target is one printed ratio, its bound in the subject's name, each against a fresh
``python -c pass`` timed in the same rounds:

- ``import kv_core``: ``python -c "import kv_core"`` (≤2.5x). The package imports its names
  on first use, so this is what every backend, the ``kv`` command and the pytest plugin every
  kv-core install carries pay before they use anything.
- ``kv --help``: the ``kv`` console script printing its help (≤4x), which lists the store
  URL schemes installed, read from the ``kv.stores`` entry points (the ``entry_points.txt``
  files on ``sys.path``, as ``importlib.metadata`` finds them, without importing it). The page
  comes without click (``kv_cli._entry``); the console script itself imports ``re``. On a
  terminal narrower than 80 columns click lays the page out: printed too, without a bound.

Each call is one whole process, started and waited for; the harness times several per round
and reports the median round. Pin it (``taskset -c 0``): the child processes inherit the CPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import Case

PYTHON = sys.executable
KV = str(Path(sys.executable).with_name("kv"))


def _run(*command: str, **variables: str) -> Callable[[], object]:
    # No PYTHONPATH or the like from the caller: each process starts as a user's would.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(variables)

    def run() -> object:
        return subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)

    return run


@contextmanager
def scenario() -> Iterator[list[Case]]:
    """``import kv_core`` and ``kv --help``, each against ``python -c pass``."""
    bare = _run(PYTHON, "-c", "pass")
    yield [
        Case("import kv_core", "python -c pass", bare, baseline=True),
        Case("import kv_core", "import kv_core (<=2.5x)", _run(PYTHON, "-c", "import kv_core")),
        Case("kv --help", "python -c pass", bare, baseline=True),
        Case("kv --help", "kv --help (<=4x)", _run(KV, "--help")),
        # Narrower than 80 columns the page is click's to lay out: what click itself costs.
        Case("kv --help", "kv --help, 60 columns (click)", _run(KV, "--help", COLUMNS="60")),
    ]
