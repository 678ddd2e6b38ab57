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
    capabilities = {name}.capabilities
    stateful_examples = 40

    @pytest.fixture
    def store_factory(self):
        yield {name}
"""


def _run_suite(pytester: pytest.Pytester, name: str) -> pytest.RunResult:
    pytester.makepyfile(broken_stores=SOURCE)
    pytester.makepyfile(test_under_check=TEMPLATE.format(name=name))
    pytester.syspathinsert()
    return pytester.runpytest("-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist")


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
    result = pytester.runpytest("-q", "-p", "no:cacheprovider", "-p", "no:xdist")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0
    assert outcomes.get("passed", 0) > 50
