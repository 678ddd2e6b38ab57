"""The suite with no test code: ``pytest --kv-store URL`` and ``--kv-factory MOD:FN``."""

from __future__ import annotations

import pytest


def test_suite_runs_against_a_url(pytester: pytest.Pytester) -> None:
    """--kv-store memory:// runs the whole suite against that store, and it passes."""
    result = pytester.runpytest("--kv-store", "memory://", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0
    assert outcomes.get("passed", 0) > 50
    result.stdout.fnmatch_lines(["kv store under test: memory://"])


def test_header_shows_versions_and_capabilities(pytester: pytest.Pytester) -> None:
    """The run prints kv-core's version and the capabilities of the store under test."""
    result = pytester.runpytest("--kv-store", "memory://", "--collect-only", "-p", "no:xdist")
    result.stdout.fnmatch_lines(
        ["kv conformance: kv-core *, hypothesis *", "kv store *: Capabilities(persistent=False*"]
    )


def test_suite_runs_against_a_factory(pytester: pytest.Pytester) -> None:
    """--kv-factory module:callable runs the suite against the stores it makes."""
    pytester.makepyfile(my_backend="from kv_core import MemoryDict\nmake = MemoryDict\n")
    pytester.syspathinsert()
    result = pytester.runpytest("--kv-factory", "my_backend:make", "-q", "-p", "no:xdist")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0
    assert outcomes.get("passed", 0) > 50


def test_suite_fails_a_broken_factory_store(pytester: pytest.Pytester) -> None:
    """A broken store named on the command line fails the run."""
    pytester.makepyfile(
        my_backend="""
from kv_core import MemoryDict

class Forgetful(MemoryDict):
    def _delete(self, key):
        self._data.pop(key, None)

make = Forgetful
"""
    )
    pytester.syspathinsert()
    result = pytester.runpytest("--kv-factory", "my_backend:make", "-q", "-p", "no:xdist")
    assert result.parseoutcomes().get("failed", 0) >= 1


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    """The suite's markers are known to pytest, so --strict-markers accepts them."""
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.kv_slow*", "@pytest.mark.kv_processes*"])


def test_suite_handles_stores_that_refuse_use_after_close(pytester: pytest.Pytester) -> None:
    """A store that raises once closed (like a file) passes: cleanup uses a fresh handle."""
    pytester.makepyfile(
        my_backend="""
from kv_core import MemoryDict

class Strict(MemoryDict):
    def _read(self, key):
        if self.closed:
            raise ValueError("I/O operation on closed store")
        return super()._read(key)

    def _clear(self):
        if self.closed:
            raise ValueError("I/O operation on closed store")
        super()._clear()

make = Strict
"""
    )
    pytester.syspathinsert()
    result = pytester.runpytest("--kv-factory", "my_backend:make", "-q", "-p", "no:xdist")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == outcomes.get("errors", 0) == 0


def _factory_run(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    pytester.makepyfile(my_backend=source)
    pytester.syspathinsert()
    return pytester.runpytest("--kv-factory", "my_backend:make", "-q", "-p", "no:xdist")


def test_non_empty_store_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """A store holding data stops the run with a usage error saying it is not empty."""
    result = _factory_run(
        pytester,
        "from kv_core import MemoryDict\nFULL = MemoryDict({'a': b'1'})\nmake = lambda: FULL\n",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: my_backend:make is not empty: it holds 1 key(s)*"])
    assert "Traceback" not in result.stderr.str()


def test_store_without_capabilities_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """A factory whose stores declare no capabilities stops the run, saying so."""
    result = _factory_run(pytester, "make = dict\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: my_backend:make makes a dict, which declares no*"])


def test_abstract_store_class_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """A Store subclass that forgot capabilities is reported as abstract, naming what is missing."""
    result = _factory_run(
        pytester,
        """
from kv_core import Store

class NoCapabilities(Store):
    def _read(self, key):
        raise KeyError(key)

    def _write(self, key, value):
        pass

    def _delete(self, key):
        raise KeyError(key)

    def _iter_keys(self, prefix):
        return iter(())

make = NoCapabilities
""",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: my_backend:make cannot make a store: NoCapabilities is abstract*capabilities*"]
    )
