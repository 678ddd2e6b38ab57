"""Persistence: what was written is there after close() and a new open."""

from __future__ import annotations

import pytest

from ._base import SuiteBase

__all__ = ["PersistenceTests"]

from ..store import Store


class PersistenceTests(SuiteBase):
    """Close and reopen, where the store declares ``persistent``."""

    @pytest.mark.kv_reopens("persistent")
    def test_data_survives_reopen(self, store: Store) -> None:
        """Values, empty values, binary values and deletions survive close and reopen."""
        if not self.capabilities.persistent:
            pytest.skip("the store declares persistent=False")
        data = {"a": b"1", "empty": b"", "binary": bytes(range(256)), "\u00e9": b"accent"}
        store.update(data)
        store["gone"] = b"x"
        del store["gone"]
        store["a"] = b"overwritten"
        data["a"] = b"overwritten"
        again = self.reopen(store)
        assert dict(again.items()) == data
        assert len(again) == len(data)
        assert "gone" not in again

    def test_close_is_idempotent(self, store: Store) -> None:
        """close() can be called twice, and the store works as a context manager."""
        with store as entered:
            assert entered is store
        store.close()
