"""The suite owns the stores it tests: it closes every one it made or reopened."""

from __future__ import annotations

import pytest

# A persistent store: every handle on one name sees the same dict, so it can be reopened.
SHARED = """
import dataclasses
import uuid

from kv_core import MemoryDict

DATA = {}
OPENED = []


class Shared(MemoryDict):
    capabilities = dataclasses.replace(MemoryDict.capabilities, persistent=True)

    def __init__(self, name=None):
        super().__init__()
        self.name = name or uuid.uuid4().hex
        self._data = DATA.setdefault(self.name, {})
        self._bind_dict_methods()
        OPENED.append(self)
"""

SUITE = """
import functools

import pytest
from kv_core.conformance import StoreConformance
from shared_store import OPENED, Shared


class TestShared(StoreConformance):
    stateful_examples = 10

    @pytest.fixture
    def store_factory(self):
        first = len(OPENED)
        yield Shared
        left_open = [store.name for store in OPENED[first:] if not store.closed]
        assert left_open == [], "stores left open when the factory's teardown ran"

    def opener(self, store):
        return functools.partial(Shared, store.name)

    def test_a_store_the_suite_did_not_make(self, store_factory):
        store_factory()["k"] = b"v"
"""


def test_suite_closes_what_it_made_and_reopened(pytester: pytest.Pytester) -> None:
    """Every store made or reopened by the suite is closed before the factory's teardown.

    The factory closes nothing and declares nothing: the suite reads the store's
    capabilities, reopens it (persistence, the state machine) and closes every handle; the
    one store a test made behind the suite's back is the one found open.
    """
    pytester.makepyfile(shared_store=SHARED, test_under_check=SUITE)
    pytester.syspathinsert()
    result = pytester.runpytest_subprocess(
        "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-m", "not kv_slow", "-rA"
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0
    assert outcomes.get("passed", 0) > 50
    assert outcomes.get("errors", 0) == 1
    result.stdout.fnmatch_lines(["*ERROR at teardown of TestShared.test_a_store_the_suite_did*"])
    result.stdout.fnmatch_lines(["*AssertionError: stores left open when the factory's teardown*"])
    result.stdout.fnmatch_lines(["PASSED*test_data_survives_reopen"])
