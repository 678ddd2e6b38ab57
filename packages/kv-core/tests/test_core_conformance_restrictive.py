"""The suite over wrappers stacked on a store that refuses keys: validation passes through."""

from __future__ import annotations

import dataclasses

import pytest

from kv_core import (
    InvalidKeyError,
    MemoryDict,
    RandomChoiceDict,
    SerializedDict,
    TieredStorageDict,
)
from kv_core.conformance import StoreConformance, StoreFactory


class Restrictive(MemoryDict):
    """A store with a key length limit and a refused character, declared."""

    capabilities = dataclasses.replace(
        MemoryDict.capabilities,
        max_key_length=64,
        invalid_keys=("nul\x00key", "k" * 65),
        refused_characters=frozenset("\x00"),
    )

    def _validate_key(self, key: str) -> None:
        if "\x00" in key or len(key) > 64:
            raise InvalidKeyError(f"refused: {key[:20]!r}")


class TestRestrictiveStore(StoreConformance):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        return Restrictive


class TestTieredOverRestrictive(StoreConformance):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        return lambda: TieredStorageDict([MemoryDict(), Restrictive()], promote_on_read=True)


class TestRandomChoiceOverRestrictive(StoreConformance):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        def make() -> RandomChoiceDict:
            shared = Restrictive()
            return RandomChoiceDict([shared, SerializedDict(shared)])

        return make
