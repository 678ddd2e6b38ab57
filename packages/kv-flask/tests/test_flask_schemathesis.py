"""schemathesis over /openapi.json of a live server: no 5xx, nothing outside the document.

Runs ``tools/fuzz_openapi.py`` (schemathesis's CLI in its own process, so its HTTP stack
stays out of this test run), bounded to a few cases per operation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[3] / "tools" / "fuzz_openapi.py"


@pytest.mark.parametrize("options", [[], ["--token", "--prefix", "/kv"]], ids=["open", "token"])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(options):
    """Every applicable check of schemathesis passes over the served document (bounded run)."""
    if not TOOL.exists():
        pytest.skip("tools/fuzz_openapi.py is not in this checkout (an installed package)")
    if shutil.which("st", path=str(Path(sys.executable).parent)) is None:
        message = "schemathesis is not installed: pip install 'kv-flask[test]'"
        if os.environ.get("CI") == "true":
            pytest.fail(message)  # requirements-dev.txt installs it: CI must run this
        pytest.skip(message)
    result = subprocess.run(
        [sys.executable, str(TOOL), "--max-examples", "15", *options],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
