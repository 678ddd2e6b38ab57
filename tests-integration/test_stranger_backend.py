"""A store from no kv package runs the conformance suite as a third party would."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kv_core.conformance import StoreConformance, StoreFactory

# Spawned processes must import the store by a plain module name, as a third party's own
# package would be imported; spawn passes sys.path on to its children.
sys.path.insert(0, str(Path(__file__).parent / "stranger"))

from dbm_store import DbmStore


class TestStrangerDbmStore(StoreConformance):
    capabilities = DbmStore.capabilities
    stateful_examples = 10

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Iterator[StoreFactory]:
        made: list[DbmStore] = []

        def make() -> DbmStore:
            made.append(DbmStore(tmp_path / f"db{len(made)}"))
            return made[-1]

        yield make
        for store in made:
            store.close()

    def opener(self, store: DbmStore) -> functools.partial[DbmStore]:  # type: ignore[override]
        return functools.partial(DbmStore, store.path)
