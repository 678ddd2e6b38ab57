"""The redis-py client as RedisDict drives it: raw replies, one-shot commands, cluster slots."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import redis
from redis import exceptions as rx
from redis.client import NEVER_DECODE
from redis.cluster import RedisCluster
from redis.crc import key_slot

__all__ = [
    "RAW",
    "Client",
    "call_once",
    "close_client",
    "describe_client",
    "group_by_slot",
    "is_cluster",
    "scan_batches",
    "scan_targets",
]

Client = redis.Redis | RedisCluster

# redis-py's own per-command option (its DUMP and search commands use it): read this reply
# without decoding, whatever decode_responses the user's client has. Values therefore come
# back as bytes from any client, and no second connection pool is needed.
RAW: dict[str, Any] = {NEVER_DECODE: []}

_OLD_GET_CONNECTION = tuple(int(part) for part in redis.__version__.split(".")[:2]) < (5, 3)


def is_cluster(client: object) -> bool:
    """Whether *client* is a ``RedisCluster``."""
    return isinstance(client, RedisCluster)


def describe_client(client: Any) -> str:
    """Where *client* connects, for ``repr`` and messages; never a password."""
    if is_cluster(client):
        node = client.get_default_node()
        where = node.name if node is not None else "?"
        return f"cluster via {where}"
    kwargs = client.connection_pool.connection_kwargs
    db = kwargs.get("db", 0)
    if kwargs.get("path"):
        return f"unix:{kwargs['path']}/{db}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{db}"


def _call_once_standalone(client: Any, *args: Any) -> Any:
    if client.connection is not None:
        # A single-connection client serialises commands behind its own lock; go through it.
        return client.execute_command(*args, **RAW)
    pool = client.connection_pool
    conn = pool.get_connection(args[0]) if _OLD_GET_CONNECTION else pool.get_connection()
    try:
        conn.send_command(*args)
        return client.parse_response(conn, args[0], **RAW)
    except rx.ResponseError:
        raise  # the reply was read whole; the connection is still in step
    except BaseException:
        conn.disconnect()
        raise
    finally:
        pool.release(conn)


def call_once(client: Any, key: bytes, *args: Any) -> Any:
    """Send *args* (a command on *key*) once, without redis-py's retry on connection errors.

    For commands that are not idempotent (GETDEL): if the connection drops after the server
    ran the command, a retry would find the key gone and report it missing, losing the value
    silently. Failing with the connection error is the honest answer.
    """
    if is_cluster(client):
        node = client.get_node_from_key(key)
        if node is None or node.redis_connection is None:
            return client.execute_command(*args, **RAW)
        try:
            return _call_once_standalone(node.redis_connection, *args)
        except rx.AskError:
            # MOVED / ASK: the node did not run the command, so sending it again through the
            # cluster client, which follows redirects and refreshes its slot map, is safe.
            return client.execute_command(*args, **RAW)
    return _call_once_standalone(client, *args)


def close_client(client: Any) -> None:
    """Close *client* and every connection it opened."""
    client.close()
    if is_cluster(client):
        # RedisCluster.from_url builds its node clients on pools they do not own, so
        # close() leaves those sockets open (redis-py 8.1); the startup nodes may also
        # hold clients outside the slot map. Disconnect every pool explicitly.
        manager = client.nodes_manager
        for node in (*manager.nodes_cache.values(), *manager.startup_nodes.values()):
            if node.redis_connection is not None:
                node.redis_connection.connection_pool.disconnect()


def group_by_slot(keys: Iterable[bytes]) -> dict[int, list[bytes]]:
    """*keys* grouped by cluster hash slot, so no multi-key command crosses slots."""
    groups: defaultdict[int, list[bytes]] = defaultdict(list)
    for key in keys:
        groups[key_slot(key)].append(key)
    return groups


def scan_targets(client: Any) -> list[Any]:
    """The servers that together hold every key: each primary of a cluster, else *client*."""
    if is_cluster(client):
        return [node.redis_connection for node in client.get_primaries() if node.redis_connection]
    return [client]


def scan_batches(node: Any, pattern: bytes | None, count: int) -> Iterator[list[bytes]]:
    """SCAN *node* to the end, yielding each reply's keys (which may repeat across replies)."""
    args: list[Any] = []
    if pattern is not None:
        args += ["MATCH", pattern]
    args += ["COUNT", count]
    cursor: Any = 0
    while True:
        cursor, batch = node.execute_command("SCAN", cursor, *args, **RAW)
        yield batch
        if int(cursor) == 0:
            return
