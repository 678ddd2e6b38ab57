"""The suite with no test code: ``pytest --kv-store URL`` and ``--kv-factory MOD:FN``.

Each run is a process of its own: in one process, a second run would meet the classes of
the first (kv_core caches the names it imports lazily), and declared capabilities of one
run's Capabilities class would not be Capabilities to the next.
"""

from __future__ import annotations

import pytest


def test_suite_runs_against_a_url(pytester: pytest.Pytester) -> None:
    """--kv-store memory:// runs the whole suite against that store, and it passes."""
    result = pytester.runpytest_subprocess("--kv-store", "memory://", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0
    assert outcomes.get("passed", 0) > 50
    result.stdout.fnmatch_lines(["kv store under test: memory://"])


def test_header_shows_versions_and_capabilities(pytester: pytest.Pytester) -> None:
    """The run prints kv-core's version and the capabilities of the store under test."""
    result = pytester.runpytest_subprocess(
        "--kv-store", "memory://", "--collect-only", "-p", "no:xdist"
    )
    result.stdout.fnmatch_lines(
        ["kv conformance: kv-core *, hypothesis *", "kv store *: Capabilities(persistent=False*"]
    )


def test_suite_runs_against_a_factory(pytester: pytest.Pytester) -> None:
    """--kv-factory module:callable runs the suite against the stores it makes."""
    pytester.makepyfile(my_backend="from kv_core import MemoryDict\nmake = MemoryDict\n")
    pytester.syspathinsert()
    result = pytester.runpytest_subprocess(
        "--kv-factory", "my_backend:make", "-q", "-p", "no:xdist"
    )
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
    result = pytester.runpytest_subprocess(
        "--kv-factory", "my_backend:make", "-q", "-p", "no:xdist"
    )
    assert result.parseoutcomes().get("failed", 0) >= 1


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    """The suite's markers are known to pytest, so --strict-markers accepts them."""
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(
        ["@pytest.mark.kv_slow*", "@pytest.mark.kv_processes*", "@pytest.mark.kv_reopens(*"]
    )


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
    result = pytester.runpytest_subprocess(
        "--kv-factory", "my_backend:make", "-q", "-p", "no:xdist"
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == outcomes.get("errors", 0) == 0


def _factory_run(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    pytester.makepyfile(my_backend=source)
    pytester.syspathinsert()
    return pytester.runpytest_subprocess("--kv-factory", "my_backend:make", "-q", "-p", "no:xdist")


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


# A persistent store for the opener tests: every handle on one name sees the same dict.
SHARED_BACKEND = """
import dataclasses
import functools
import uuid

from kv_core import MemoryDict

DATA = {}


class Shared(MemoryDict):
    capabilities = dataclasses.replace(MemoryDict.capabilities, persistent=True)

    def __init__(self, name=None):
        super().__init__()
        self.name = name or uuid.uuid4().hex
        self._data = DATA.setdefault(self.name, {})
        self._bind_dict_methods()


def make():
    return Shared()


def reopen(store):
    return functools.partial(Shared, store.name)


def elsewhere(store):
    return functools.partial(Shared, "somewhere else")


def with_opener():
    return Shared()


with_opener.opener = reopen
"""


def _shared_run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(my_backend=SHARED_BACKEND)
    pytester.syspathinsert()
    return pytester.runpytest_subprocess("-q", "-p", "no:xdist", "-p", "no:cacheprovider", *args)


def test_factory_without_opener_lists_what_it_did_not_test(pytester: pytest.Pytester) -> None:
    """Without an opener the reopen tests are not run, and the summary says which and why."""
    result = _shared_run(pytester, "--kv-factory", "my_backend:make", "-m", "not kv_slow")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == outcomes.get("errors", 0) == 0
    assert outcomes.get("deselected", 0) >= 2  # kv_slow's and test_data_survives_reopen
    result.stdout.fnmatch_lines(
        [
            "*- kv conformance: not tested without an opener -*",
            "  test_data_survives_reopen (the store declares persistent)",
            "  test_random_operations_match_dict: its reopen step (the store declares persistent)",
            "To test them, give --kv-opener MODULE:CALLABLE, or an opener attribute on the*",
        ]
    )
    assert "test_data_survives_reopen" not in result.stdout.str().split("not tested")[0]
    assert "reopen a store" not in result.stdout.str()  # no skip saying so


def test_kv_opener_runs_the_reopen_tests(pytester: pytest.Pytester) -> None:
    """--kv-opener MODULE:CALLABLE reopens the factory's stores, and nothing is left out."""
    result = _shared_run(
        pytester,
        "--kv-factory",
        "my_backend:make",
        "--kv-opener",
        "my_backend:reopen",
        "-k",
        "survives_reopen or random_operations",
        "-rA",
    )
    outcomes = result.parseoutcomes()
    assert (outcomes.get("passed"), outcomes.get("failed", 0)) == (2, 0)
    result.stdout.fnmatch_lines(["PASSED*test_data_survives_reopen"])
    assert "not tested without an opener" not in result.stdout.str()


def test_factory_opener_attribute_is_used(pytester: pytest.Pytester) -> None:
    """A factory's opener attribute reopens its stores, as --kv-opener would."""
    result = _shared_run(
        pytester, "--kv-factory", "my_backend:with_opener", "-k", "survives_reopen", "-rA"
    )
    result.stdout.fnmatch_lines(["PASSED*test_data_survives_reopen"])
    assert "not tested without an opener" not in result.stdout.str()


def test_opener_that_opens_other_data_fails(pytester: pytest.Pytester) -> None:
    """An opener that does not reach the same data fails the persistence test."""
    result = _shared_run(
        pytester,
        "--kv-factory",
        "my_backend:make",
        "--kv-opener",
        "my_backend:elsewhere",
        "-k",
        "survives_reopen",
    )
    assert result.parseoutcomes().get("failed", 0) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kv-opener", "my_backend:reopen"], "*--kv-opener reopens the stores of --kv-factory*"),
        (
            ["--kv-store", "memory://", "--kv-opener", "my_backend:reopen"],
            "*--kv-opener reopens the stores of --kv-factory*",
        ),
        (
            ["--kv-factory", "my_backend:make", "--kv-opener", "my_backend:nothing"],
            "*--kv-opener my_backend:nothing: cannot load it*",
        ),
        (
            ["--kv-factory", "my_backend:make", "--kv-opener", "my_backend:DATA"],
            "*--kv-opener my_backend:DATA is a dict, not a callable*",
        ),
    ],
)
def test_opener_misuse_is_a_usage_error(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    """--kv-opener without --kv-factory, or naming no callable, stops the run, saying why."""
    result = _shared_run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_url_runs_need_no_opener(pytester: pytest.Pytester) -> None:
    """A --kv-store run reopens through its URL: the summary lists nothing as left out."""
    result = pytester.runpytest_subprocess(
        "--kv-store", "memory://", "-q", "-p", "no:xdist", "-k", "reopen or random_operations"
    )
    assert result.parseoutcomes().get("failed", 0) == 0
    assert "not tested without an opener" not in result.stdout.str()
