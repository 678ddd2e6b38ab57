"""Compare-and-set on RedisDict: versions, prefixes, expiry, scripts, cluster, servers down."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from kv_core import ConflictError, ReadOnlyError, StoreUnavailable
from kv_core.conformance import closed_port
from kv_dev.services import unique_name
from kv_redis import RedisDict, _cas

LONG = 100_000


def test_version_is_the_sha1_of_the_value(raw: redis.Redis, namespace: str) -> None:
    """A value written by hand (or by kv-redis 0.3) has a version; set_if adds no other key."""
    raw.set(f"{namespace}old", b"from 0.3")
    store = RedisDict(raw, key_prefix=namespace)
    value, version = store.get_with_version("old")
    assert value == b"from 0.3"
    assert version == hashlib.sha1(b"from 0.3").hexdigest()
    store.set_if("old", b"new", version=version)
    store.set_if("fresh", b"1", version=None)
    assert sorted(raw.scan_iter(match=f"{namespace}*")) == [
        f"{namespace}fresh".encode(),
        f"{namespace}old".encode(),
    ]
    assert raw.get(f"{namespace}old") == b"new"


def test_prefixes_separate_versions(raw: redis.Redis, namespace: str) -> None:
    """set_if and delete_if act on the prefixed key only; another prefix's key is untouched."""
    mine = RedisDict(raw, key_prefix=f"{namespace}a:")
    other = RedisDict(raw, key_prefix=f"{namespace}b:")
    other["k"] = b"theirs"
    raw.set("k" + namespace, b"unprefixed")
    version = mine.set_if("k", b"mine", version=None)
    assert other["k"] == b"theirs"
    with pytest.raises(ConflictError):
        other.set_if("k", b"x", version=version)
    mine.delete_if("k", version=version)
    assert other["k"] == b"theirs"
    assert "k" not in mine
    raw.unlink("k" + namespace)


def test_set_if_gives_exp_time_as_a_write_does(raw: redis.Redis, namespace: str) -> None:
    """With exp_time, set_if gives the key a full lifetime, created or replaced."""
    store = RedisDict(raw, key_prefix=namespace, exp_time=60)
    version = store.set_if("k", b"1", version=None)
    assert 55 <= raw.ttl(f"{namespace}k") <= 60
    raw.expire(f"{namespace}k", 5)
    store.set_if("k", b"2", version=version)
    assert 55 <= raw.ttl(f"{namespace}k") <= 60
    millis = RedisDict(raw, key_prefix=namespace, exp_time=1.5)
    millis.set_if("m", b"1", version=None)
    assert 1000 < raw.pttl(f"{namespace}m") <= 1500


def test_set_if_without_exp_time_clears_a_lifetime(raw: redis.Redis, namespace: str) -> None:
    """Without exp_time, set_if leaves the key without expiry, as store[key] = value does."""
    store = RedisDict(raw, key_prefix=namespace)
    store["k"] = b"1"
    raw.expire(f"{namespace}k", LONG)
    store.set_if("k", b"2", version=store.get_with_version("k")[1])
    assert raw.ttl(f"{namespace}k") == -1


def test_failed_condition_keeps_the_lifetime(raw: redis.Redis, namespace: str) -> None:
    """A set_if that conflicts changes neither the value nor the key's lifetime."""
    store = RedisDict(raw, key_prefix=namespace, exp_time=60)
    store["k"] = b"1"
    raw.expire(f"{namespace}k", LONG)
    with pytest.raises(ConflictError):
        store.set_if("k", b"2", version=None)
    assert raw.ttl(f"{namespace}k") > 60
    assert store["k"] == b"1"


def test_expired_key_has_no_version(raw: redis.Redis, namespace: str) -> None:
    """A key that expired is absent: its old version conflicts, version=None creates it."""
    store = RedisDict(raw, key_prefix=namespace, exp_time=0.05)
    version = store.set_if("k", b"1", version=None)
    deadline = time.monotonic() + 5
    while raw.exists(f"{namespace}k") and time.monotonic() < deadline:
        time.sleep(0.02)
    with pytest.raises(ConflictError):
        store.set_if("k", b"2", version=version)
    with pytest.raises(KeyError):
        store.get_with_version("k")
    store.set_if("k", b"3", version=None)
    assert store["k"] == b"3"


def test_sliding_get_with_version_resets_the_lifetime(raw: redis.Redis, namespace: str) -> None:
    """With sliding_expiry, get_with_version is a read like any other: it slides."""
    store = RedisDict(raw, key_prefix=namespace, exp_time=60, sliding_expiry=True)
    store["k"] = b"1"
    raw.expire(f"{namespace}k", LONG)
    store.get_with_version("k")
    assert 55 <= raw.ttl(f"{namespace}k") <= 60


def test_unknown_script_is_sent_whole(
    raw: redis.Redis, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the server lacks the script (NOSCRIPT), it is sent with EVAL and runs once."""
    monkeypatch.setattr(_cas.WRITE_IF, "sha", "0" * 40)
    monkeypatch.setattr(_cas.DELETE_IF, "sha", "0" * 40)
    store = RedisDict(raw, key_prefix=namespace)
    version = store.set_if("k", b"1", version=None)
    with pytest.raises(ConflictError):
        store.set_if("k", b"1", version=None)
    store.delete_if("k", version=version)
    assert "k" not in store


def test_decoding_client_gets_bytes_and_versions(make_client: object, namespace: str) -> None:
    """A decode_responses client works with compare-and-set, values still bytes."""
    client = make_client(decode_responses=True)  # type: ignore[operator]
    store = RedisDict(client, key_prefix=namespace)
    version = store.set_if("k", b"\xff\x00", version=None)
    assert store.get_with_version("k") == (b"\xff\x00", version)
    store.delete_if("k", version=version)


def test_cluster_keys_in_every_slot(cluster_client: RedisCluster) -> None:
    """On a cluster each key's script runs on its own node: many keys, all slots' nodes."""
    store = RedisDict(cluster_client, key_prefix=unique_name("kvcas") + ":")
    versions = {
        f"key{index}": store.set_if(f"key{index}", b"0", version=None) for index in range(40)
    }
    for key, version in versions.items():
        store.set_if(key, b"1", version=version)
        with pytest.raises(ConflictError):
            store.delete_if(key, version=version)
    assert dict(store.items()) == dict.fromkeys(versions, b"1")
    store.clear()


def test_server_down_is_unavailable() -> None:
    """Every compare-and-set call on a server that is down raises StoreUnavailable."""
    client = redis.Redis(
        port=closed_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    store = RedisDict(client, key_prefix="down:")
    with pytest.raises(StoreUnavailable):
        store.get_with_version("k")
    with pytest.raises(StoreUnavailable):
        store.set_if("k", b"v", version=None)
    with pytest.raises(StoreUnavailable):
        store.delete_if("k", version="0" * 40)
    client.close()


def test_read_only_replica_refuses_conditional_writes(private_server: Any) -> None:
    """On a read-only replica set_if raises ReadOnlyError; get_with_version still reads."""
    nowhere = private_server()
    master_port = nowhere.port
    nowhere.stop()
    replica = private_server("--replicaof", "127.0.0.1", str(master_port))
    with redis.Redis(port=replica.port, socket_timeout=2) as client:
        store = RedisDict(client, key_prefix="r:")
        with pytest.raises(ReadOnlyError):
            store.set_if("k", b"v", version=None)
        with pytest.raises(KeyError):
            store.get_with_version("k")
