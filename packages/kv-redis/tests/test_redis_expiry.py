"""The three expiry models, checked with TTL/PTTL on the server rather than long sleeps."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import redis

from kv_core import ReadOnlyError
from kv_redis import RedisDict, SlidingExpiryUnsupported

LONG = 100_000  # a TTL no store here would ever set, to see whether a read reset it


def test_no_expiry_by_default(raw: redis.Redis, namespace: str) -> None:
    """Without exp_time keys never expire, and the store declares ttl=False."""
    store = RedisDict(raw, key_prefix=namespace)
    store["k"] = b"v"
    store.set_many({"a": b"1"})
    assert raw.ttl(f"{namespace}k") == -1
    assert raw.ttl(f"{namespace}a") == -1
    assert store.capabilities.ttl is False


def test_exp_time_is_set_with_every_write(raw: redis.Redis, namespace: str) -> None:
    """Every write, single or batched, gives the key exp_time seconds."""
    store = RedisDict(raw, key_prefix=namespace, exp_time=60)
    store["k"] = b"v"
    store.set_many({"a": b"1", "b": b"2"})
    store.setdefault("c", b"3")
    for key in ("k", "a", "b", "c"):
        assert 55 <= raw.ttl(f"{namespace}{key}") <= 60, key
    assert store.capabilities.ttl is True


def test_overwrite_reapplies_exp_time(raw: redis.Redis, namespace: str) -> None:
    """Overwriting a key gives it a full exp_time again."""
    store = RedisDict(raw, key_prefix=namespace, exp_time=60)
    store["k"] = b"v"
    raw.persist(f"{namespace}k")
    store["k"] = b"w"
    assert 55 <= raw.ttl(f"{namespace}k") <= 60
    raw.expire(f"{namespace}k", 5)
    store.set_many({"k": b"x"})
    assert 55 <= raw.ttl(f"{namespace}k") <= 60


def test_fixed_expiry_reads_do_not_extend(raw: redis.Redis, namespace: str) -> None:
    """With sliding_expiry off, reads leave the TTL alone."""
    store = RedisDict(raw, key_prefix=namespace, exp_time=60)
    store["k"] = b"v"
    raw.expire(f"{namespace}k", LONG)
    assert store["k"] == b"v"
    assert store.get_many(["k"]) == {"k": b"v"}
    assert raw.ttl(f"{namespace}k") > 60


def test_fractional_exp_time_uses_milliseconds(raw: redis.Redis, namespace: str) -> None:
    """exp_time=2.5 and a timedelta set the TTL to the millisecond."""
    store = RedisDict(raw, key_prefix=namespace, exp_time=2.5)
    store["k"] = b"v"
    assert 2000 < raw.pttl(f"{namespace}k") <= 2500
    delta = RedisDict(raw, key_prefix=namespace, exp_time=timedelta(minutes=1))
    delta["d"] = b"v"
    assert 55 <= raw.ttl(f"{namespace}d") <= 60


def test_keys_really_expire(raw: redis.Redis, namespace: str) -> None:
    """A key with a 50 ms lifetime is gone shortly after."""
    store = RedisDict(raw, key_prefix=namespace, exp_time=0.05)
    store["k"] = b"v"
    deadline = time.monotonic() + 5
    while "k" in store and time.monotonic() < deadline:
        time.sleep(0.02)
    with pytest.raises(KeyError):
        store["k"]
    assert len(store) == 0


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda s: s["k"], id="getitem"),
        pytest.param(lambda s: s.get("k"), id="get"),
        pytest.param(lambda s: s.get_many(["k", "missing"]), id="get_many"),
        pytest.param(lambda s: dict(s.items()), id="items"),
        pytest.param(lambda s: list(s.values()), id="values"),
        pytest.param(lambda s: s.setdefault("k", b"other"), id="setdefault"),
    ],
)
def test_sliding_reads_reset_the_ttl(
    raw: redis.Redis, namespace: str, read: Callable[[RedisDict], Any]
) -> None:
    """With sliding_expiry, every read sets the TTL back to exp_time."""
    store = RedisDict(raw, key_prefix=namespace, exp_time=60, sliding_expiry=True)
    store["k"] = b"v"
    raw.expire(f"{namespace}k", LONG)
    read(store)
    assert 55 <= raw.ttl(f"{namespace}k") <= 60


@pytest.mark.parametrize(
    "look",
    [
        pytest.param(lambda s: "k" in s, id="contains"),
        pytest.param(lambda s: list(iter(s)), id="iter"),
        pytest.param(len, id="len"),
        pytest.param(lambda s: list(s.keys_with_prefix("k")), id="keys_with_prefix"),
    ],
)
def test_sliding_leaves_ttl_alone_for_in_and_listing(
    raw: redis.Redis, namespace: str, look: Callable[[RedisDict], Any]
) -> None:
    """`in`, iteration and len do not read values, so they do not slide."""
    store = RedisDict(raw, key_prefix=namespace, exp_time=60, sliding_expiry=True)
    store["k"] = b"v"
    raw.expire(f"{namespace}k", LONG)
    look(store)
    assert raw.ttl(f"{namespace}k") > 60


def test_sliding_fractional_exp_time(raw: redis.Redis, namespace: str) -> None:
    """A sliding read with a fractional exp_time resets the PTTL to the millisecond."""
    store = RedisDict(raw, key_prefix=namespace, exp_time=30.5, sliding_expiry=True)
    store["k"] = b"v"
    raw.expire(f"{namespace}k", LONG)
    assert store["k"] == b"v"
    assert 29_000 < raw.pttl(f"{namespace}k") <= 30_500


@pytest.mark.parametrize("bad", [0, -1, -0.5, math.nan, math.inf, 0.0001, timedelta(0)])
def test_invalid_exp_time_is_refused(raw: redis.Redis, bad: Any) -> None:
    """Zero, negative, NaN, infinite and sub-millisecond lifetimes raise ValueError."""
    with pytest.raises(ValueError, match="exp_time"):
        RedisDict(raw, exp_time=bad)


@pytest.mark.parametrize("bad", [True, "60", b"60", [60]])
def test_exp_time_of_wrong_type_is_refused(raw: redis.Redis, bad: Any) -> None:
    """A bool or string exp_time raises TypeError."""
    with pytest.raises(TypeError, match="exp_time"):
        RedisDict(raw, exp_time=bad)


def test_sliding_without_exp_time_is_refused(raw: redis.Redis) -> None:
    """sliding_expiry=True with no exp_time raises ValueError."""
    with pytest.raises(ValueError, match="sliding_expiry"):
        RedisDict(raw, sliding_expiry=True)


def test_sliding_on_server_without_getex_raises(private_server: Callable[..., Any]) -> None:
    """A server that lacks GETEX (here: renamed away) makes sliding reads fail clearly."""
    server = private_server("--rename-command", "GETEX", "")
    with redis.Redis(port=server.port, socket_timeout=2) as client:
        store = RedisDict(client, exp_time=60, sliding_expiry=True)
        store["k"] = b"v"
        with pytest.raises(SlidingExpiryUnsupported, match="GETEX") as info:
            store["k"]
        assert isinstance(info.value.__cause__, redis.ResponseError)
        with pytest.raises(SlidingExpiryUnsupported):
            store.get_many(["k"])
        fixed = RedisDict(client, exp_time=60)
        assert fixed["k"] == b"v"


def test_read_only_replica(private_server: Callable[..., Any]) -> None:
    """On a read-only replica: plain reads work, sliding reads and writes fail clearly."""
    nowhere = private_server()
    master_port = nowhere.port
    nowhere.stop()  # a replica of a master that is gone still serves (stale) reads
    replica = private_server("--replicaof", "127.0.0.1", str(master_port))
    with redis.Redis(port=replica.port, socket_timeout=2) as client:
        plain = RedisDict(client)
        with pytest.raises(KeyError):
            plain["k"]
        assert len(plain) == 0
        with pytest.raises(ReadOnlyError, match="read-only replica"):
            plain["k"] = b"v"
        sliding = RedisDict(client, exp_time=60, sliding_expiry=True)
        with pytest.raises(SlidingExpiryUnsupported, match="replica"):
            sliding["k"]
