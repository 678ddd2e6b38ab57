"""Listings stream in keyset pages: every key once, across pages, prefixes and writes."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from kv_sql import GenericSqlDict
from kv_sql._profiles import GENERIC, MYSQL, POSTGRESQL, SQLITE, profile_for

# More than the first page (64) and one full later page (256 on a server, 128 on SQLite):
# three statements at least.
MANY = 2_500


def _fill(store: Any) -> set[str]:
    keys = {f"k{i:05d}" for i in range(MANY)}
    store.set_many(dict.fromkeys(keys, b"v"))
    return keys


def test_listing_spans_pages(backend: Any) -> None:
    """Iterating more keys than several pages hold yields each live key once, in order."""
    store = backend.store()
    keys = _fill(store)
    store.delete_many([f"k{i:05d}" for i in range(0, MANY, 3)])
    live = sorted(key for key in keys if int(key[1:]) % 3)
    assert list(iter(store)) == live


def test_tombstones_fill_whole_pages(backend: Any) -> None:
    """A run of deleted keys longer than a page does not end the listing early."""
    store = backend.store()
    _fill(store)
    store.delete_many([f"k{i:05d}" for i in range(MANY - 1)])
    store["zz"] = b"last"
    assert list(iter(store)) == [f"k{MANY - 1:05d}", "zz"]


def test_later_pages_read_at_most_the_profiles_page(
    backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages grow from the first one to the profile's listing_page labels and no further:
    that one page is all a listing holds, whatever the table holds."""
    store = backend.store()
    keys = _fill(store)
    sizes: list[int] = []
    statements = type(store._st)
    real = statements.keys_page

    def spy(self: Any, size: int, **where: bool) -> str:
        sizes.append(size)
        return real(self, size, **where)

    monkeypatch.setattr(statements, "keys_page", spy)
    assert list(iter(store)) == sorted(keys)
    largest = store._profile.listing_page
    assert sizes[0] == 64
    assert max(sizes) == largest
    assert sizes.count(largest) >= (MANY - 64 - 4 * 64) // largest


def test_page_sizes_and_page_cursors() -> None:
    """SQLite pages of 128, servers' of 256; only psycopg's results are read a chunk at a
    time from a cursor of the page's own (SQLite's cursor would hold its statement open)."""
    assert SQLITE.listing_page == 128
    assert MYSQL.listing_page == POSTGRESQL.listing_page == 256
    assert POSTGRESQL.page_cursor
    assert not SQLITE.page_cursor
    assert not MYSQL.page_cursor
    assert not GENERIC.page_cursor


def test_page_cursors_are_closed(backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where pages are cursors, each is closed once read, and an iterator dropped in the
    middle of a page closes its cursor; the store keeps working meanwhile."""
    store = backend.store()
    if not store._profile.page_cursor:
        pytest.skip("pages are fetched whole on this database")
    keys = _fill(store)
    cursors: list[Any] = []
    real = type(store)._query_cursor

    def spy(self: Any, sql: str, params: tuple[Any, ...]) -> Any:
        cursors.append(real(self, sql, params))
        return cursors[-1]

    monkeypatch.setattr(type(store), "_query_cursor", spy)
    assert list(iter(store)) == sorted(keys)
    assert len(cursors) > 2
    assert all(cur.closed for cur in cursors)
    cursors.clear()
    listing = iter(store)
    first = [next(listing) for _ in range(100)]  # into the second page
    store["k00000y"] = b"written on the same connection meanwhile"
    assert store["k00001"] == b"v"
    assert next(listing) == "k00100"
    assert len(cursors) == 2
    assert not cursors[-1].closed
    listing.close()  # type: ignore[attr-defined]
    assert all(cur.closed for cur in cursors)
    assert first == sorted(keys)[:100]


def test_prefix_listing_spans_pages(backend: Any) -> None:
    """A prefix listing over several pages yields exactly the keys with the prefix."""
    store = backend.store()
    keys = _fill(store)
    store.set_many({"j": b"1", "l": b"2", "k": b"3", "k\U0010ffff": b"4"})
    expected = sorted(key for key in keys if key.startswith("k0"))
    assert list(store.keys_with_prefix("k0")) == expected
    assert list(store.keys_with_prefix("k")) == sorted([*keys, "k", "k\U0010ffff"])


def test_writes_during_iteration(backend: Any) -> None:
    """Keys present throughout are listed once each while the loop writes and deletes."""
    store = backend.store()
    keys = _fill(store)
    seen: list[str] = []
    for index, key in enumerate(iter(store)):
        seen.append(key)
        if index % 100 == 0:
            store[f"k{index:05d}x"] = b"new"  # just after the current key
            store.pop(key)
    assert len(seen) == len(set(seen))
    assert keys <= set(seen)
    assert seen == sorted(seen)


def test_snapshot_listing_spans_pages(backend: Any) -> None:
    """A snapshot lists the keys of its moment across pages, not the ones written later."""
    store = backend.store()
    keys = _fill(store)
    moment = datetime.now(UTC)
    while datetime.now(UTC) <= moment:
        pass
    store.delete_many(sorted(keys)[:1500])
    store["later"] = b"x"
    with store.snapshot(moment) as past:
        assert list(iter(past)) == sorted(keys)


def test_unknown_dialect_gets_the_generic_profile() -> None:
    """A dialect without a profile is served by the conservative generic one."""
    assert profile_for("no-such-database") is GENERIC
    assert not GENERIC.ordered_keys
    assert not GENERIC.locking
    assert not GENERIC.returning
    assert profile_for(make_url("sqlite://").get_backend_name()) is not GENERIC


def test_store_takes_no_private_parameters() -> None:
    """The public constructor has no underscore parameter."""
    parameters = inspect.signature(GenericSqlDict).parameters
    assert [name for name in parameters if name.startswith("_")] == []
