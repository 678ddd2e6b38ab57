"""Large values on MariaDB: LONGBLOB, pieces over half the packet, a clear error beyond it."""

from __future__ import annotations

import os
from typing import Any

import pytest

from kv_core import ValueTooLargeError


def test_value_near_max_allowed_packet_round_trips(mariadb_backend: Any) -> None:
    """A value just under max_allowed_packet (16 MB by default) is stored whole, in pieces."""
    store = mariadb_backend.store(prune_on_write=True)
    limit = int(store._query_one("SELECT @@max_allowed_packet", ()))
    value = os.urandom(min(limit - 8192, 40 * 1024 * 1024))
    store["big"] = value
    assert store["big"] == value
    over_half = value[: limit // 2 + 1024]
    store.set_many({"big": value[:100], "other": over_half})
    assert store["other"] == over_half
    assert store["big"] == value[:100]
    assert len(store.history("other")) == 1


def test_value_over_max_allowed_packet_is_refused(mariadb_backend: Any) -> None:
    """A value the server cannot take raises ValueTooLargeError and leaves the store working."""
    store = mariadb_backend.store()
    store["k"] = b"small"
    limit = int(store._query_one("SELECT @@max_allowed_packet", ()))
    if limit > 64 * 1024 * 1024:
        pytest.skip(f"max_allowed_packet is {limit}: too large to exceed in a unit test")
    with pytest.raises(ValueTooLargeError):
        store["k"] = bytes(limit + 1)
    with pytest.raises(ValueTooLargeError):
        store.set_many({"a": b"1", "k": bytes(limit + 1)})
    assert store["k"] == b"small"
    assert "a" not in store
    assert len(store.history("k")) == 1


def test_value_over_sqlite_length_limit(sqlite_backend: Any) -> None:
    """A value over SQLite's length limit raises ValueTooLargeError; nothing is written."""
    import sqlite3

    store = sqlite_backend.store()
    store["k"] = b"small"
    lease = store._leases.lease()
    lease.connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 10_000)
    with pytest.raises(ValueTooLargeError):
        store["k"] = bytes(20_000)
    with pytest.raises(ValueTooLargeError):
        store.set_many({"a": b"1", "k": bytes(20_000)})
    assert store["k"] == b"small"
    assert "a" not in store
