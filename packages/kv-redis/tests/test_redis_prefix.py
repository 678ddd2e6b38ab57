"""Key prefixes: invisible to the user, glob characters literal, foreign keys untouched."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from kv_dev.services import unique_name
from kv_redis import RedisDict
from kv_redis import _store as store_module

GLOB_PREFIX_TAIL = "[1]*?\\:"


@pytest.fixture
def glob_prefix(raw: redis.Redis, unlink: Callable[[Any, bytes], None]) -> Iterator[str]:
    """A prefix full of glob metacharacters; every key starting with its stem is removed."""
    stem = unique_name("kvglob")
    yield stem + GLOB_PREFIX_TAIL
    unlink(raw, stem.encode())


def plant_foreign(raw: redis.Redis, prefix: str) -> dict[bytes, bytes]:
    """Write keys an unescaped pattern or a sloppy prefix check would wrongly take as ours."""
    stem = prefix[: -len(GLOB_PREFIX_TAIL)]
    foreign = {
        f"{stem}1xx:a".encode(): b"matches the unescaped glob",
        f"{stem}[1]*?\\;a".encode(): b"one character different",
        f"{stem}[1]*?\\".encode(): b"the prefix without its last character",
        f"{stem}[2]*?\\:a".encode(): b"another bracket",
        f"{stem}1*?\\:a".encode(): b"[1] as a class would match this",
    }
    raw.mset(foreign)
    return foreign


def test_prefix_is_added_on_the_server(raw: redis.Redis, namespace: str) -> None:
    """d['k'] is stored as prefix + 'k' and listed without the prefix."""
    store = RedisDict(raw, key_prefix=namespace)
    store["k"] = b"v"
    assert raw.get(f"{namespace}k") == b"v"
    assert list(store) == ["k"]


def test_glob_prefix_lists_only_its_own_keys(raw: redis.Redis, glob_prefix: str) -> None:
    """Listing, len, prefix listing and items ignore foreign keys that look alike."""
    plant_foreign(raw, glob_prefix)
    store = RedisDict(raw, key_prefix=glob_prefix)
    store.update({"a": b"1", "b*": b"2", "[c]": b"3", "": b"4"})
    assert sorted(store) == ["", "[c]", "a", "b*"]
    assert len(store) == 4
    assert sorted(store.keys_with_prefix("b*")) == ["b*"]
    assert sorted(store.keys_with_prefix("[")) == ["[c]"]
    assert dict(store.items()) == {"a": b"1", "b*": b"2", "[c]": b"3", "": b"4"}


def test_clear_leaves_foreign_keys(raw: redis.Redis, glob_prefix: str) -> None:
    """clear() removes the store's keys and nothing else in the database."""
    foreign = plant_foreign(raw, glob_prefix)
    store = RedisDict(raw, key_prefix=glob_prefix)
    store.update({f"k{i}": b"v" for i in range(2500)})
    store.clear()
    assert len(store) == 0
    assert {key: raw.get(key) for key in foreign} == foreign


def test_popitem_takes_only_own_keys(raw: redis.Redis, glob_prefix: str) -> None:
    """popitem() never picks a foreign key."""
    foreign = plant_foreign(raw, glob_prefix)
    store = RedisDict(raw, key_prefix=glob_prefix)
    store["mine"] = b"v"
    assert store.popitem() == ("mine", b"v")
    with pytest.raises(KeyError):
        store.popitem()
    assert all(raw.exists(key) for key in foreign)


def test_prefix_is_removed_by_slicing(raw: redis.Redis, namespace: str) -> None:
    """Keys that start with the prefix's characters come back whole (no lstrip)."""
    prefix = namespace + "ab:"
    store = RedisDict(raw, key_prefix=prefix)
    keys = ["ab:ab:x", "a", "b", ":", "ba:", prefix]
    for key in keys:
        store[key] = b"v"
    assert sorted(store) == sorted(keys)


def test_sibling_prefixes_are_separate(raw: redis.Redis, namespace: str) -> None:
    """Two stores with sibling prefixes in one database see only their own keys."""
    first = RedisDict(raw, key_prefix=namespace + "a:")
    second = RedisDict(raw, key_prefix=namespace + "ab:")
    first["x"] = b"1"
    second["y"] = b"2"
    assert list(first) == ["x"]
    assert list(second) == ["y"]
    second.clear()
    assert list(first) == ["x"]


def test_nested_prefix_sees_the_inner_store(raw: redis.Redis, namespace: str) -> None:
    """A prefix that extends another's lies inside it, as documented: 'a:' lists 'b:y'."""
    outer = RedisDict(raw, key_prefix=namespace + "a:")
    inner = RedisDict(raw, key_prefix=namespace + "a:b:")
    inner["y"] = b"2"
    assert list(outer) == ["b:y"]
    assert outer["b:y"] == b"2"


def test_undecodable_keys_under_the_prefix_are_skipped(raw: redis.Redis, namespace: str) -> None:
    """A foreign key under the prefix that is not UTF-8 is not listed, counted or cleared."""
    alien = namespace.encode() + b"\xff\xfe"
    raw.set(alien, b"binary name")
    store = RedisDict(raw, key_prefix=namespace)
    store["ok"] = b"v"
    assert list(store) == ["ok"]
    assert len(store) == 1
    store.clear()
    assert raw.get(alien) == b"binary name"


def test_listing_works_without_keys_command(private_server: Callable[..., Any]) -> None:
    """Listing uses SCAN: it works on a server where KEYS is disabled."""
    server = private_server("--rename-command", "KEYS", "")
    with redis.Redis(port=server.port, socket_timeout=2) as client:
        with pytest.raises(redis.ResponseError):
            client.keys("*")
        store = RedisDict(client, key_prefix="p:")
        store.update({f"k{i}": b"v" for i in range(50)})
        assert len(store) == 50
        assert sorted(store) == sorted(f"k{i}" for i in range(50))
        store.clear()
        assert client.dbsize() == 0


def test_scan_duplicates_are_yielded_once(
    raw: redis.Redis, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key SCAN returns twice (as it may while the server rehashes) is listed once."""
    store = RedisDict(raw, key_prefix=namespace)
    store.update({"a": b"1", "b": b"2"})
    real = store_module.scan_batches

    def twice(node: Any, pattern: bytes | None, count: int) -> Iterator[list[bytes]]:
        for batch in real(node, pattern, count):
            yield batch
            yield batch

    # SCAN's duplicates cannot be provoked on demand, so replay each reply twice.
    monkeypatch.setattr(store_module, "scan_batches", twice)
    assert sorted(store) == ["a", "b"]
    assert len(store) == 2


def test_scan_asks_for_a_thousand_keys_and_escapes_the_pattern(
    raw: redis.Redis, glob_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SCAN runs with COUNT 1000 and the prefix's glob characters escaped."""
    store = RedisDict(raw, key_prefix=glob_prefix)
    seen: list[tuple[bytes | None, int]] = []
    real = store_module.scan_batches

    def spy(node: Any, pattern: bytes | None, count: int) -> Iterator[list[bytes]]:
        seen.append((pattern, count))
        return real(node, pattern, count)

    monkeypatch.setattr(store_module, "scan_batches", spy)
    list(iter(store))  # list(store) would call len() first: a second SCAN
    stem = glob_prefix[: -len(GLOB_PREFIX_TAIL)].encode()
    assert seen == [(stem + b"\\[1\\]\\*\\?\\\\:*", 1000)]
