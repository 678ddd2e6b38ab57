"""Redis Cluster: batches grouped by slot, listing over every primary, hash tags."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.crc import key_slot
from redis.retry import Retry

from kv_core import StoreUnavailable
from kv_core.conformance.services import unique_name
from kv_redis import RedisDict


@pytest.fixture
def cluster_prefix(
    cluster_client: RedisCluster, unlink: Callable[[Any, bytes], None]
) -> Iterator[str]:
    """A key prefix of this test on the cluster, cleaned up afterwards."""
    prefix = unique_name("kvcl") + ":"
    yield prefix
    unlink(cluster_client, prefix.encode())


def test_keys_spread_over_every_primary(cluster_client: RedisCluster, cluster_prefix: str) -> None:
    """Keys land on all three primaries, and listing and len see all of them."""
    store = RedisDict(cluster_client, key_prefix=cluster_prefix)
    keys = [f"k{i}" for i in range(300)]
    store.set_many(dict.fromkeys(keys, b"v"))
    per_node = [
        sum(1 for _ in node.redis_connection.scan_iter(match=f"{cluster_prefix}*".encode()))
        for node in cluster_client.get_primaries()
    ]
    assert len(per_node) == 3
    assert all(count > 0 for count in per_node)
    assert sorted(iter(store)) == sorted(keys)
    assert len(store) == 300


def test_batches_cross_slots_without_error(
    cluster_client: RedisCluster, cluster_prefix: str
) -> None:
    """get_many, set_many and delete_many over keys in many slots raise no CROSSSLOT."""
    store = RedisDict(cluster_client, key_prefix=cluster_prefix)
    data = {f"key-{i}": f"value-{i}".encode() for i in range(200)}
    slots = {key_slot(f"{cluster_prefix}{key}".encode()) for key in data}
    assert len(slots) > 100
    store.set_many(data)
    assert store.get_many([*data, "missing"]) == data
    store.delete_many(list(data)[:100])
    assert len(store) == 100
    store.clear()
    assert len(store) == 0


def test_expiry_batches_on_a_cluster(cluster_client: RedisCluster, cluster_prefix: str) -> None:
    """set_many with exp_time and sliding get_many set TTLs on every node."""
    store = RedisDict(cluster_client, key_prefix=cluster_prefix, exp_time=60, sliding_expiry=True)
    store.set_many({f"k{i}": b"v" for i in range(50)})
    for i in range(50):
        assert 55 <= cluster_client.ttl(f"{cluster_prefix}k{i}") <= 60
        cluster_client.expire(f"{cluster_prefix}k{i}", 100_000)
    assert len(store.get_many([f"k{i}" for i in range(50)])) == 50
    assert all(cluster_client.ttl(f"{cluster_prefix}k{i}") <= 60 for i in range(50))


def test_hash_tag_prefix_keeps_keys_in_one_slot(
    cluster_client: RedisCluster, cluster_prefix: str
) -> None:
    """A prefix with a {hash tag} puts every key of the store in one slot."""
    prefix = "{" + cluster_prefix + "}"
    store = RedisDict(cluster_client, key_prefix=prefix)
    store.set_many({f"k{i}": b"v" for i in range(50)})
    assert len({key_slot(f"{prefix}k{i}".encode()) for i in range(50)}) == 1
    assert len(store) == 50
    store.clear()


def test_pop_and_popitem_on_a_cluster(cluster_client: RedisCluster, cluster_prefix: str) -> None:
    """pop and popitem work whichever node holds the key."""
    store = RedisDict(cluster_client, key_prefix=cluster_prefix)
    store.set_many({f"k{i}": str(i).encode() for i in range(20)})
    assert [store.pop(f"k{i}") for i in range(10)] == [str(i).encode() for i in range(10)]
    popped = dict(store.popitem() for _ in range(10))
    assert popped == {f"k{i}": str(i).encode() for i in range(10, 20)}
    with pytest.raises(KeyError):
        store.popitem()


def test_decoding_cluster_client(cluster: Any, cluster_prefix: str) -> None:
    """A RedisCluster client with decode_responses=True still returns bytes."""
    client = cluster.client(decode_responses=True)
    try:
        store = RedisDict(client, key_prefix=cluster_prefix)
        store.set_many({"a": b"\xff\x00", "b": b"text"})
        assert store["a"] == b"\xff\x00"
        assert store.get_many(["a", "b"]) == {"a": b"\xff\x00", "b": b"text"}
        assert store.pop("b") == b"text"
        assert list(store) == ["a"]
    finally:
        client.close()


def test_cluster_node_killed(private_cluster: Any) -> None:
    """With a primary killed, operations on its keys raise StoreUnavailable, not KeyError."""
    client = private_cluster.client(
        socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 1)
    )
    try:
        store = RedisDict(client, key_prefix="p:")
        store.set_many({f"k{i}": b"v" for i in range(30)})
        victim = private_cluster.servers[1]
        dead = f"127.0.0.1:{victim.port}"
        on_dead = [
            f"k{i}" for i in range(30) if client.get_node_from_key(f"p:k{i}".encode()).name == dead
        ]
        assert on_dead
        victim.stop()
        with pytest.raises(StoreUnavailable):
            store[on_dead[0]]
        with pytest.raises(StoreUnavailable):
            store.get_many(on_dead)
        with pytest.raises(StoreUnavailable):
            len(store)
        with pytest.raises(StoreUnavailable):
            store.pop(on_dead[0])
    finally:
        client.close()
