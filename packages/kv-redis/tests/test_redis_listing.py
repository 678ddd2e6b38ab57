"""Listing: SCAN's repeats are dropped with bounded memory, and each reply's keys are turned
back into user keys exactly, whatever bytes they hold."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from kv_redis import RedisDict
from kv_redis import _store as store_module


def _replay(monkeypatch: pytest.MonkeyPatch, shape: Callable[[list[list[bytes]]], Any]) -> None:
    """Make every listing see the real SCAN replies rearranged by *shape*."""
    real = store_module.scan_batches

    def replies(node: Any, pattern: bytes | None, count: int) -> Iterator[list[bytes]]:
        yield from shape(list(real(node, pattern, count)))

    monkeypatch.setattr(store_module, "scan_batches", replies)


def _pages(store: RedisDict, keys: list[str], size: int) -> list[list[bytes]]:
    raw = [store.key_prefix.encode() + key.encode() for key in keys]
    return [raw[i : i + size] for i in range(0, len(raw), size)]


def test_a_reply_repeating_part_of_the_previous_one_is_listed_once(
    raw: redis.Redis, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The repeats a shrinking table causes (the tail of one reply, again at the head of the
    next, and twice within a reply) are each listed once."""
    store = RedisDict(raw, key_prefix=namespace)
    keys = [f"k{i:03d}" for i in range(30)]
    store.update(dict.fromkeys(keys, b"v"))
    pages = _pages(store, keys, 10)

    def shrinking(_: list[list[bytes]]) -> Iterator[list[bytes]]:
        yield pages[0]
        yield pages[0][5:] + pages[1] + pages[1][:3]
        yield pages[1][7:] + pages[2]

    _replay(monkeypatch, shrinking)
    assert Counter(iter(store)) == Counter(keys)
    assert len(store) == len(keys)
    assert sorted(store.keys_with_prefix("k00")) == keys[:10]


def test_only_the_previous_reply_is_remembered(
    raw: redis.Redis, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory is bounded: a key SCAN could only repeat after a resize of over a thousand
    times, two replies later, is not remembered (see the README)."""
    store = RedisDict(raw, key_prefix=namespace)
    keys = [f"k{i}" for i in range(6)]
    store.update(dict.fromkeys(keys, b"v"))
    pages = _pages(store, keys, 2)
    _replay(monkeypatch, lambda _: iter([pages[0], pages[1], pages[0], pages[2]]))
    assert Counter(iter(store)) == Counter(keys + keys[:2])


def test_each_key_once_across_a_real_shrink(private_server: Callable[..., Any]) -> None:
    """The server's table shrinks in the middle of a listing: every kept key comes once."""
    server = private_server("--hz", "100")
    client = redis.Redis(port=server.port, socket_timeout=30)
    try:
        keep = {f"{i:05d}": b"k" for i in range(3000)}
        with client.pipeline(transaction=False) as pipe:
            for start in range(0, 60_000, 1000):
                pipe.mset({f"junk:{i:06d}": b"j" for i in range(start, start + 1000)})
            pipe.execute()
        store = RedisDict(client, key_prefix="keep:")
        store.update(keep)
        listed: Counter[str] = Counter()
        keys = iter(store)
        listed[next(keys)] += 1
        for batch in client.scan_iter(match="junk:*", count=1000):
            client.unlink(*batch)
        time.sleep(0.5)  # serverCron (100 Hz here) shrinks and rehashes the table
        listed.update(keys)
        assert listed == Counter(list(keep))
    finally:
        client.close()


@pytest.mark.parametrize(
    "prefix", ["", "p:", "p\x00:", "\udcff:", "é:"], ids=["none", "plain", "nul", "surrogate", "é"]
)
def test_listed_names_are_exact_whatever_the_keys_hold(
    raw: redis.Redis, namespace: str, prefix: str
) -> None:
    """Keys holding NUL, the prefix itself after a NUL, surrogates or foreign non-UTF-8 bytes
    come back exactly (the one-pass decoding of a reply falls back when it must)."""
    store_prefix = f"{namespace}{prefix}"
    store = RedisDict(raw, key_prefix=store_prefix)
    keys = [
        "plain",
        "with\x00nul",
        f"tail\x00{store_prefix}",
        f"\x00{store_prefix}x",
        "\ud800lone",
        "ünïcode",
        "",
        "\x00",
    ]
    store.update(dict.fromkeys(keys, b"v"))
    raw.set(store_prefix.encode("utf-8", "surrogatepass") + b"\xff\xfe not utf-8", b"x")
    assert Counter(iter(store)) == Counter(keys)
    assert len(store) == len(keys)
    assert sorted(store.keys_with_prefix("\x00")) == sorted(k for k in keys if k[:1] == "\x00")
    store.clear()
    assert list(store) == []
    leftover = store_prefix.encode("utf-8", "surrogatepass") + b"\xff\xfe not utf-8"
    assert raw.exists(leftover)
    raw.unlink(leftover)


def test_plain_replies_take_the_one_pass_decoding(raw: redis.Redis, namespace: str) -> None:
    """A reply of ordinary keys is decoded in one pass, and the names match per-key slicing."""
    store = RedisDict(raw, key_prefix=namespace)
    server_keys = [f"{namespace}k{i}".encode() for i in range(50)]
    assert store._names(server_keys) == [f"k{i}" for i in range(50)]
    assert store._names([]) == []
    foreign = [f"{namespace}a".encode(), namespace.encode() + b"\xff", f"{namespace}b".encode()]
    assert store._names(foreign) == ["a", "b"]


def test_keys_outside_the_prefix_are_never_listed(raw: redis.Redis, namespace: str) -> None:
    """A reply holding a key outside the prefix (were MATCH ever to let one through) lists
    only the store's own keys, wherever the foreign key sits and whatever NULs it holds."""
    store = RedisDict(raw, key_prefix=namespace)
    a, b, c = (f"{namespace}{name}".encode() for name in "abc")
    foreign = b"elsewhere"
    assert store._names([a, foreign, b]) == ["a", "b"]
    assert store._names([foreign, a, b]) == ["a", "b"]
    assert store._names([a, b, foreign]) == ["a", "b"]
    # Joined, these hold as many NUL + prefix as there are joins: only the NUL count tells
    # that the prefix after the key's own NUL is not at a join.
    tricky = a + b"\x00" + namespace.encode() + b"z"
    assert store._names([tricky, foreign]) == ["a\x00" + namespace + "z"]
    assert store._names([a, b, c]) == ["a", "b", "c"]
