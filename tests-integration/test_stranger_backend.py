"""A store from no kv package runs the conformance suite as a third party would."""

from __future__ import annotations

import functools
import itertools
import sys
from pathlib import Path

import pytest

from kv_core.conformance import StoreConformance, StoreFactory

# Spawned processes must import the store by a plain module name, as a third party's own
# package would be imported; spawn passes sys.path on to its children.
sys.path.insert(0, str(Path(__file__).parent / "stranger"))

from dbm_store import DbmStore


class TestStrangerDbmStore(StoreConformance):
    """Only what a third party writes: a factory and an opener (the suite closes the stores)."""

    stateful_examples = 10

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> StoreFactory:
        paths = (tmp_path / f"db{index}" for index in itertools.count())
        return lambda: DbmStore(next(paths))

    def opener(self, store: DbmStore) -> functools.partial[DbmStore]:  # type: ignore[override]
        return functools.partial(DbmStore, store.path)
