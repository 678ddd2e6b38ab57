"""The pytest plugin every kv-core install carries costs other projects nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Run in a fresh interpreter: this test session has imported the whole suite already.
IMPORTS = """
import json, sys
import pytest
before = set(sys.modules)
import kv_core.conformance.plugin
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_plugin_imports_only_pytest_the_stdlib_and_kv_core() -> None:
    """Loading the plugin imports no Hypothesis and none of the suite."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS], capture_output=True, text=True, check=True
    )
    new = json.loads(done.stdout)
    foreign = [
        name
        for name in new
        if name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] != "kv_core"
    ]
    assert foreign == []
    suite = [name for name in new if name.startswith("kv_core.conformance._")]
    assert suite == []
    assert "kv_core.conformance.plugin" in new


def test_suite_names_load_on_first_use() -> None:
    """The names of kv_core.conformance are there once asked for, and only those."""
    import kv_core.conformance as conformance

    assert conformance.StoreConformance.__name__ == "StoreConformance"
    assert set(conformance.__all__) <= set(dir(conformance))
    with pytest.raises(AttributeError, match="NoSuchTests"):
        conformance.NoSuchTests  # noqa: B018


def test_a_run_that_does_not_ask_prints_nothing_of_kv(pytester: pytest.Pytester) -> None:
    """Another project's test run shows no kv header and loads no suite."""
    pytester.makepyfile(
        test_theirs="""
import sys

def test_unrelated():
    assert "kv_core.conformance._suite" not in sys.modules
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "kv conformance" not in result.stdout.str()
    assert "kv store" not in result.stdout.str()
