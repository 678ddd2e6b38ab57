"""The conformance suite against MemoryDict and every wrapper stacked over it.

No class declares capabilities: the suite reads what each store declares.
"""

from __future__ import annotations

import zlib
from typing import Any

import pytest

from kv_core import (
    MemoryDict,
    RandomChoiceDict,
    SerializedDict,
    TieredStorageDict,
)
from kv_core.conformance import StoreConformance, StoreFactory


def _compress(value: Any) -> bytes:
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"cannot compress a {type(value).__name__}")
    return zlib.compress(bytes(value))


class TestMemoryDict(StoreConformance):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        return MemoryDict


class TestSerializedDictOverMemory(StoreConformance):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        return lambda: SerializedDict(
            MemoryDict(), value_serialize=_compress, value_deserialize=zlib.decompress
        )


class TestRandomChoiceOverMemory(StoreConformance):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        def make() -> RandomChoiceDict:
            shared = MemoryDict()
            return RandomChoiceDict([shared, SerializedDict(shared), shared])

        return make


class TestTieredOverMemory(StoreConformance):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        return lambda: TieredStorageDict([MemoryDict(), MemoryDict(), MemoryDict()])


class TestTieredPromotingOverMemory(StoreConformance):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        return lambda: TieredStorageDict([MemoryDict(), MemoryDict()], promote_on_read=True)
