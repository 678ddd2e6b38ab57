"""Value edge cases: any bytes, any size up to 10 MB, str stored as UTF-8."""

from __future__ import annotations

import os

import pytest

from ..errors import ValueTooLargeError
from ._base import SuiteBase

__all__ = ["ValueTests"]

from ..store import Store


class ValueTests(SuiteBase):
    """Values come back byte for byte, as exactly ``bytes``."""

    def test_empty_value(self, store: Store) -> None:
        """An empty value is stored, counted and read back as b''."""
        store["k"] = b""
        assert "k" in store
        assert len(store) == 1
        assert store["k"] == b""
        assert store.get("k", b"default") == b""
        assert store.get_many(["k"]) == {"k": b""}

    def test_every_byte_value(self, store: Store) -> None:
        """All 256 byte values survive, NUL and invalid UTF-8 included."""
        everything = bytes(range(256))
        store["k"] = everything
        store["r"] = everything[::-1]
        assert store["k"] == everything
        assert store["r"] == everything[::-1]

    def test_reads_return_bytes(self, store: Store) -> None:
        """Reads return bytes, not str, bytearray or memoryview."""
        store["b"] = b"bytes"
        store["s"] = "text"
        store["a"] = bytearray(b"array")
        store["m"] = memoryview(b"view")
        for key, expected in {"b": b"bytes", "s": b"text", "a": b"array", "m": b"view"}.items():
            value = store[key]
            assert type(value) is bytes, f"{key!r} came back as {type(value).__name__}"
            assert value == expected
        assert all(type(v) is bytes for v in store.get_many(["b", "s", "a", "m"]).values())
        assert all(type(v) is bytes for v in store.values())

    def test_str_value_is_stored_as_utf8(self, store: Store) -> None:
        """A str value is stored as its UTF-8 bytes."""
        text = "h\u00e9llo \u2713 \U0001f600 \x00 end"
        store["k"] = text
        assert store["k"] == text.encode("utf-8")
        store.set_many({"m": text})
        assert store["m"] == text.encode("utf-8")

    def test_bytearray_is_copied(self, store: Store) -> None:
        """Changing a bytearray after writing it does not change the stored value."""
        buffer = bytearray(b"before")
        store["k"] = buffer
        buffer[:] = b"after!"
        assert store["k"] == b"before"

    def test_one_megabyte_value(self, store: Store) -> None:
        """A 1 MB random value round-trips."""
        value = os.urandom(min(1024 * 1024, self.max_value))
        store["big"] = value
        assert store["big"] == value

    @pytest.mark.kv_slow
    def test_largest_value(self, store: Store) -> None:
        """A 10 MB value (or the declared maximum) round-trips and can be replaced."""
        value = os.urandom(self.max_value)
        store["big"] = value
        assert store["big"] == value
        store["big"] = b"small"
        assert store["big"] == b"small"

    def test_value_over_declared_limit(self, store: Store) -> None:
        """A value over the declared maximum raises ValueTooLargeError and keeps the old one."""
        limit = self.capabilities.max_value_size
        if limit is None:
            return
        store["k"] = b"old"
        with pytest.raises(ValueTooLargeError):
            store["k"] = b"x" * (limit + 1)
        assert store["k"] == b"old"
