"""The conformance suite fails every deliberately broken store, and passes a correct one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from broken_stores import BROKEN

SOURCE = Path(__file__).with_name("broken_stores.py").read_text()

TEMPLATE = """
import pytest
from kv_core.conformance import StoreConformance
from broken_stores import {name}


class TestUnderCheck(StoreConformance):
    stateful_examples = 40

    @pytest.fixture
    def store_factory(self):
        yield {name}
"""


def _run_suite(pytester: pytest.Pytester, name: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(broken_stores=SOURCE)
    pytester.makepyfile(test_under_check=TEMPLATE.format(name=name))
    pytester.syspathinsert()
    return pytester.runpytest_subprocess(
        "-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *args
    )


@pytest.mark.parametrize("store_class", BROKEN, ids=lambda c: c.__name__)
def test_suite_fails_broken_store(pytester: pytest.Pytester, store_class: type) -> None:
    """Each broken store makes at least one conformance test fail."""
    result = _run_suite(pytester, store_class.__name__)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1, f"{store_class.__name__} passed the suite"


def test_suite_passes_reference_store(pytester: pytest.Pytester) -> None:
    """The same harness with a correct store (MemoryDict) passes, so failures mean bugs."""
    pytester.makepyfile(broken_stores="from kv_core import MemoryDict\n")
    pytester.makepyfile(test_under_check=TEMPLATE.format(name="MemoryDict"))
    pytester.syspathinsert()
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-p", "no:xdist")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0
    assert outcomes.get("passed", 0) > 50


def test_listing_a_list_is_reported_as_such(pytester: pytest.Pytester) -> None:
    """A store whose _iter_keys returns a list fails with a message naming _iter_keys."""
    result = _run_suite(pytester, "ListsInsteadOfIterating", "-k", "listings_are_iterators")
    assert result.parseoutcomes().get("failed", 0) >= 1
    result.stdout.fnmatch_lines(["*returned a list, not an iterator: _iter_keys must return*"])


def test_missing_capabilities_are_reported_as_such(pytester: pytest.Pytester) -> None:
    """A class and its store that both declare no capabilities fail every test, saying so."""
    pytester.makepyfile(
        test_under_check="""
import pytest
from kv_core.conformance import MappingTests


class TestNoCapabilities(MappingTests):
    @pytest.fixture
    def store_factory(self):
        yield dict
"""
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-p", "no:xdist")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) == 0
    assert outcomes.get("errors", 0) + outcomes.get("failed", 0) >= 1
    result.stdout.fnmatch_lines(
        ["*TestNoCapabilities declares no capabilities, and its store, a dict, declares none*"]
    )


def test_declared_capabilities_of_the_wrong_type_fail(pytester: pytest.Pytester) -> None:
    """A test class whose capabilities is not a Capabilities fails every test, saying so."""
    pytester.makepyfile(
        test_under_check="""
import pytest
from kv_core import MemoryDict
from kv_core.conformance import MappingTests


class TestSloppy(MappingTests):
    capabilities = {"persistent": False}

    @pytest.fixture
    def store_factory(self):
        yield MemoryDict
"""
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-p", "no:xdist")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) == 0
    assert outcomes.get("errors", 0) >= 1
    result.stdout.fnmatch_lines(["*TestSloppy.capabilities is {'persistent': False}: declare*"])


def test_plain_mapping_runs_with_declared_capabilities(pytester: pytest.Pytester) -> None:
    """A plain dict runs the mapping tests when its test class declares capabilities for it."""
    pytester.makepyfile(
        test_under_check="""
import dataclasses
import pytest
from kv_core import MemoryDict
from kv_core.conformance import MappingTests


class TestDict(MappingTests):
    capabilities = dataclasses.replace(MemoryDict.capabilities, compare_and_set=False)

    @pytest.fixture
    def store_factory(self):
        yield dict
"""
    )
    # A dict keeps a str value as str and lists no prefixes: not its to pass.
    result = pytester.runpytest_subprocess(
        "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-k", "not setdefault and not listings"
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == outcomes.get("errors", 0) == 0
    assert outcomes.get("passed", 0) > 10


def test_store_capabilities_of_the_wrong_type_fail(pytester: pytest.Pytester) -> None:
    """A store whose capabilities is not a Capabilities fails, saying so."""
    pytester.makepyfile(
        test_under_check="""
import pytest
from kv_core import MemoryDict
from kv_core.conformance import StoreConformance


class Sloppy(MemoryDict):
    capabilities = None


class TestUnderCheck(StoreConformance):
    capabilities = MemoryDict.capabilities

    @pytest.fixture
    def store_factory(self):
        yield Sloppy
"""
    )
    result = pytester.runpytest(
        "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-k", "declared_capabilities"
    )
    assert result.parseoutcomes().get("failed", 0) == 1
    result.stdout.fnmatch_lines(["*Sloppy.capabilities is None, not a Capabilities(...)*"])


DOWN_TEMPLATE = """
import pytest
from kv_core import MemoryDict
from kv_core.conformance import UnavailabilityTests
from broken_stores import {name}


class TestUnderCheck(UnavailabilityTests):
    capabilities = MemoryDict.capabilities

    @pytest.fixture
    def store_factory(self):
        yield MemoryDict

    @pytest.fixture
    def kv_unavailable_store(self):
        yield {name}()
"""


@pytest.mark.parametrize(("name", "failures"), [("ServerDown", 0), ("DownReadsAsMissing", 1)])
def test_unavailability_check(pytester: pytest.Pytester, name: str, failures: int) -> None:
    """A store that raises StoreUnavailable when down passes; one that answers KeyError fails."""
    pytester.makepyfile(broken_stores=SOURCE)
    pytester.makepyfile(test_under_check=DOWN_TEMPLATE.format(name=name))
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-p", "no:xdist")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == failures
    assert outcomes.get("passed", 0) == 1 - failures
    if failures:
        result.stdout.fnmatch_lines(["*store[[]key[]]*raised KeyError*"])
