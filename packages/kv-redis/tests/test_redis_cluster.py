"""Redis Cluster: batches grouped by slot, listing over every primary, hash tags."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.crc import key_slot
from redis.retry import Retry

from kv_core import StoreUnavailable
from kv_dev.services import unique_name
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


def _owner(port: int, slot: int) -> int | None:
    """The port of the primary that the node on *port* says serves *slot*."""
    with redis.Redis(port=port, socket_timeout=2) as node:
        for start, end, primary, *_ in node.execute_command("CLUSTER", "SLOTS"):
            if int(start) <= slot <= int(end):
                return int(primary[1])
    return None


def test_pop_after_a_failover(private_cluster: Any, tmp_path: Path) -> None:
    """A primary dies and its replica takes over: pop fails once, then reaches the new one.

    The failed pop is not sent again (the dead primary may have run it), but it refreshes
    the client's slot map, so the next pop goes to the promoted replica instead of raising
    StoreUnavailable until something else happens to refresh the map.
    """
    client = private_cluster.client(
        socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    try:
        store = RedisDict(client, key_prefix="p:")
        victim = private_cluster.servers[1]
        on_victim = [
            f"k{i}"
            for i in range(60)
            if client.get_node_from_key(f"p:k{i}".encode()).port == victim.port
        ][:3]
        assert len(on_victim) == 3
        (tmp_path / "replica").mkdir()
        replica = private_cluster.add_replica(victim, tmp_path / "replica")
        store.set_many({key: key.encode() for key in on_victim})
        with redis.Redis(port=victim.port, socket_timeout=5) as primary:
            assert primary.execute_command("WAIT", 1, 5000) == 1
        slot = key_slot(f"p:{on_victim[0]}".encode())

        victim.stop()
        with redis.Redis(port=replica.port, socket_timeout=5) as promoted:
            promoted.execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
        others = [s for s in private_cluster.servers if s is not victim]
        deadline = time.monotonic() + 30
        while not all(_owner(s.port, slot) == replica.port for s in others):
            assert time.monotonic() < deadline, "the failover never reached every node"
            time.sleep(0.1)

        # The client's map still names the dead primary: this pop fails, and is not resent.
        with pytest.raises(StoreUnavailable):
            store.pop(on_victim[0])
        # ... but it refreshed the map: the next pops reach the promoted replica.
        assert store.pop(on_victim[1]) == on_victim[1].encode()
        assert client.get_node_from_key(f"p:{on_victim[2]}".encode()).port == replica.port
        assert dict([store.popitem() for _ in range(2)]) == {
            key: key.encode() for key in (on_victim[0], on_victim[2])
        }
    finally:
        client.close()


def test_listing_with_a_primary_killed(private_cluster: Any) -> None:
    """Listing, len and clear raise StoreUnavailable, never a partial answer.

    (popitem may still succeed: it needs one key, and the live primaries have some.)
    """
    client = private_cluster.client(
        socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    try:
        store = RedisDict(client, key_prefix="p:")
        store.set_many({f"k{i}": b"v" for i in range(30)})
        private_cluster.servers[2].stop()
        operations: dict[str, Callable[[], object]] = {
            "iter": lambda: list(iter(store)),
            "keys_with_prefix": lambda: list(store.keys_with_prefix("k")),
            "len": lambda: len(store),
            "clear": store.clear,
        }
        for name, operation in operations.items():
            with pytest.raises(StoreUnavailable):
                operation()
            assert name
    finally:
        client.close()


def test_listing_reaches_a_primary_without_a_client(
    cluster_client: RedisCluster, cluster_prefix: str
) -> None:
    """A primary whose node client is not made yet is connected, not skipped.

    Fault injection: redis-py leaves ``redis_connection`` unset until a node is used (and
    redis-py 5 resets it after a connection error); listing must still visit that node.
    """
    store = RedisDict(cluster_client, key_prefix=cluster_prefix)
    store.set_many({f"k{i}": b"v" for i in range(100)})
    primary = cluster_client.get_primaries()[0]
    saved = primary.redis_connection
    primary.redis_connection = None
    try:
        assert len(store) == 100
        assert sorted(store) == sorted(f"k{i}" for i in range(100))
    finally:
        if primary.redis_connection is not None and primary.redis_connection is not saved:
            primary.redis_connection.close()
        primary.redis_connection = saved


def test_pop_follows_ask_and_moved(private_cluster: Any) -> None:
    """pop during a slot migration (ASK) and after it (MOVED) finds the key where it went."""
    client = private_cluster.client(socket_timeout=2, retry=Retry(NoBackoff(), 0))
    try:
        store = RedisDict(client, key_prefix="{p}:")
        store.set_many({"a": b"1", "b": b"2", "c": b"3"})
        slot = key_slot(b"{p}:a")
        source = client.get_node_from_key(b"{p}:a")
        target = next(n for n in client.get_primaries() if n.name != source.name)
        src = redis.Redis(port=source.port, socket_timeout=5)
        dst = redis.Redis(port=target.port, socket_timeout=5)
        try:
            src_id = src.execute_command("CLUSTER", "MYID").decode()
            dst_id = dst.execute_command("CLUSTER", "MYID").decode()
            dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
            src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
            src.execute_command(
                "MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", b"{p}:a", b"{p}:b"
            )
            # Mid-migration: the source answers ASK for keys that already left.
            assert store.pop("a") == b"1"
            assert store.pop("c") == b"3"  # still on the source: no redirect
            for server in private_cluster.servers:
                with redis.Redis(port=server.port, socket_timeout=5) as node:
                    node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
            # After it: the client's map is stale, the source answers MOVED.
            assert client.get_node_from_key(b"{p}:b").name == source.name
            assert store.pop("b") == b"2"
            assert client.get_node_from_key(b"{p}:b").name == target.name
            assert len(store) == 0
        finally:
            src.close()
            dst.close()
    finally:
        client.close()
