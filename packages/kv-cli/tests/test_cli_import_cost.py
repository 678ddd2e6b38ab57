"""``kv --help`` loads only what it shows: no command's own module, no store protocol."""

from __future__ import annotations

import json
import subprocess
import sys

# The modules of single commands, and what only opening a store needs.
DEFERRED = (
    "kv_cli._bench",
    "kv_cli._check",
    "kv_cli._copy",
    "kv_core.store",
    "kv_core.urls",
    "logging",
    "sqlalchemy",
    "redis",
    "flask",
)

HELP = """
import json, sys
from kv_cli._main import main
sys.argv = ["kv", "--help"]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def test_help_imports_no_command_module_and_no_store() -> None:
    """The help (with its list of installed schemes) needs none of the deferred modules."""
    done = subprocess.run([sys.executable, "-c", HELP], capture_output=True, text=True, check=True)
    assert "Store URL schemes installed here" in done.stdout
    assert "memory://" in done.stdout
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert sorted(m for m in DEFERRED if m in modules) == []
