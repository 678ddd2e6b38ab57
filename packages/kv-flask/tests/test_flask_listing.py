"""Listing pages: every key exactly once, in sorted order, whatever the limit and prefix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from kv_core import MemoryDict
from kv_flask import FlaskKvDict, ServerThread

KEYS = [
    "a",
    "a/b",
    "a/b/c",
    "a-z",
    "a0",
    "ab",
    "users/1",
    "users/10",
    "users/2",
    "users/\u00e9",
    "users/\u65e5",
    "users/\U0001f600",
    "users/ x",
    "users/%2F",
    "users/a b",
    "users/z",
    "usersx",
    "z",
]


def _pages(url: str, prefix: str, limit: int) -> list[list[str]]:
    pages = []
    cursor: str | None = None
    with requests.Session() as session:
        while True:
            params: dict[str, Any] = {"prefix": prefix, "limit": limit}
            if cursor is not None:
                params["cursor"] = cursor
            answer = session.get(url + "/", params=params, timeout=10)
            assert answer.status_code == 200
            document = answer.json()
            pages.append(document["keys"])
            cursor = document["next_cursor"]
            if cursor is None:
                return pages


@pytest.mark.parametrize("limit", [1, 2, 1000])
@pytest.mark.parametrize("prefix", ["", "users/", "a", "nothing"])
def test_pages_hold_every_key_once_in_order(store, limit, prefix):
    """Following next_cursor yields the matching keys exactly once, sorted, pages <= limit."""
    store.update(dict.fromkeys(KEYS, b"v"))
    expected = sorted(key for key in KEYS if key.startswith(prefix))
    with ServerThread(store, threads=2) as server:
        pages = _pages(server.url, prefix, limit)
        assert all(len(page) <= limit for page in pages)
        assert all(pages[:-1])  # only the last page may be short (or empty, for no keys)
        listed = [key for page in pages for key in page]
        assert listed == expected
        with FlaskKvDict(server.url) as kv:
            assert list(kv.keys_with_prefix(prefix)) == expected


@pytest.mark.parametrize(("limit", "count"), [(1, 300), (2, 600), (1000, 2_500)])
def test_many_keys_page_through_exactly_once(limit, count):
    """Many keys under a prefix among others: each page continues where the last stopped."""
    store = MemoryDict()
    store.update({f"p/{i:05d}": b"v" for i in reversed(range(count))})
    store.update({f"q/{i}": b"v" for i in range(100)})
    expected = sorted(key for key in store if key.startswith("p/"))
    with ServerThread(store, threads=2, list_limit=1000) as server:
        pages = _pages(server.url, "p/", limit)
    assert [key for page in pages for key in page] == expected
    assert len(pages) == -(-len(expected) // limit)


def test_cursor_past_a_deleted_key_continues(store):
    """The cursor is a position: a page still follows after its last key was deleted."""
    store.update(dict.fromkeys(["k1", "k2", "k3", "k4"], b"v"))
    with ServerThread(store, threads=2) as server, requests.Session() as session:
        first = session.get(server.url + "/", params={"limit": 2}, timeout=10).json()
        assert first["keys"] == ["k1", "k2"]
        del store["k2"]
        params = {"limit": 2, "cursor": first["next_cursor"]}
        second = session.get(server.url + "/", params=params, timeout=10).json()
    assert second == {"keys": ["k3", "k4"], "next_cursor": None}


class _UnsortedMapping(dict[str, bytes]):
    """A plain mapping (no keys_with_prefix) listing its keys in reverse insertion order."""

    def __iter__(self) -> Iterator[str]:
        return reversed(list(super().__iter__()))


class _OneShotLister(MemoryDict):
    """keys_with_prefix returns a one-shot iterator in no particular order."""

    def keys_with_prefix(self, prefix: object) -> Iterator[str]:
        keys = list(super().keys_with_prefix(prefix))
        keys.reverse()
        return iter(keys)


@pytest.mark.parametrize("kind", [_UnsortedMapping, _OneShotLister])
@pytest.mark.parametrize("limit", [1, 2, 1000])
def test_any_listing_order_and_shape_pages_correctly(kind, limit):
    """Plain mappings and one-shot iterators, in any order, page the same way."""
    store = kind()
    for key in KEYS:
        store[key] = b"v"
    with ServerThread(store, threads=2) as server:
        for prefix in ("", "users/", "a/"):
            pages = _pages(server.url, prefix, limit)
            listed = [key for page in pages for key in page]
            assert listed == sorted(key for key in KEYS if key.startswith(prefix))
