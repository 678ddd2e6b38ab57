"""The redis-py client as RedisDict drives it: raw replies, one-shot commands, cluster slots."""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import nullcontext, suppress
from typing import Any

import redis
from redis import exceptions as rx
from redis.client import NEVER_DECODE
from redis.cluster import NodesManager, RedisCluster
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

# redis-py 6+ refreshes the slot map trying the failed node last; older versions cannot.
_HAS_LAST_FAILED = "last_failed_node_name" in inspect.signature(NodesManager.initialize).parameters

# As redis-py's RedisClusterRequestTTL: redirections followed before giving up.
_MAX_REDIRECTS = 16


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


def _call_once_standalone(client: Any, *args: Any, asking: bool = False) -> Any:
    """Send *args* on one connection of *client*, once; ASKING first if *asking*."""
    conn = client.connection
    if conn is not None:
        # A single-connection client: take its lock, as its own execute_command does, and
        # use its one connection; a failed send disconnects it, the next command reconnects.
        lock = getattr(client, "single_connection_lock", None) or nullcontext()
        with lock:
            return _send_once(client, conn, args, asking)
    pool = client.connection_pool
    conn = pool.get_connection(args[0]) if _OLD_GET_CONNECTION else pool.get_connection()
    try:
        return _send_once(client, conn, args, asking)
    finally:
        pool.release(conn)


def _send_once(client: Any, conn: Any, args: tuple[Any, ...], asking: bool) -> Any:
    try:
        if asking:
            conn.send_command("ASKING")
            client.parse_response(conn, "ASKING")
        conn.send_command(*args)
        return client.parse_response(conn, args[0], **RAW)
    except rx.ResponseError:
        raise  # the reply was read whole; the connection is still in step
    except BaseException:
        conn.disconnect()
        raise


def _refresh_slot_map(client: Any, failed: Any) -> None:
    """Re-learn the cluster layout after *failed* (a node) broke a connection.

    What redis-py does on its own path: a failover moves the failed primary's slots to a
    replica, and without a refresh every later command would still go to the dead node.
    Failures of the refresh itself are left to the next command; the caller re-raises the
    original error.
    """
    if failed.redis_connection is not None:
        # Its idle connections lead to the same dead server: drop them, not those in use.
        failed.redis_connection.connection_pool.disconnect(inuse_connections=False)
    manager = client.nodes_manager
    with suppress(rx.RedisError, rx.RedisClusterException, OSError):
        if _HAS_LAST_FAILED:
            if hasattr(manager, "move_node_to_end_of_cached_nodes"):
                manager.move_node_to_end_of_cached_nodes(failed.name)
            manager.initialize(last_failed_node_name=failed.name)
        else:
            manager.initialize()


def _call_once_cluster(client: Any, key: bytes, args: tuple[Any, ...]) -> Any:
    try:
        node = client.get_node_from_key(key)
    except rx.SlotNotCoveredError:
        # Nothing was sent; as redis-py does, re-learn the layout for the next command.
        with suppress(rx.RedisError, rx.RedisClusterException, OSError):
            client.nodes_manager.initialize()
        raise
    asking = False
    for _ in range(_MAX_REDIRECTS):
        server = client.get_redis_connection(node)
        try:
            return _call_once_standalone(server, *args, asking=asking)
        except rx.MovedError:
            # The node did not run the command: learn the new layout and send it there.
            client.nodes_manager.initialize()
            node = client.get_node_from_key(key)
            asking = False
        except rx.AskError as exc:
            # The slot is migrating and the key already left: the node did not run it.
            target = client.get_node(host=exc.host, port=exc.port)
            if target is None:
                client.nodes_manager.initialize()
                target = client.get_node(host=exc.host, port=exc.port)
            if target is None:
                msg = f"ASK redirect to {exc.host}:{exc.port}, a node the cluster does not list"
                raise rx.TryAgainError(msg) from exc
            node, asking = target, True
        except (rx.ConnectionError, rx.TimeoutError, ConnectionError, TimeoutError):
            # Not sent again (the server may have run it), but the next command must not
            # go to a failed primary's address again: refresh, as redis-py's own path does.
            _refresh_slot_map(client, node)
            raise
        except rx.ClusterDownError:
            _refresh_slot_map(client, node)
            raise
    msg = f"{args[0]} was redirected more than {_MAX_REDIRECTS} times"
    raise rx.ClusterError(msg)


def call_once(client: Any, key: bytes, *args: Any) -> Any:
    """Send *args* (a command on *key*) once, without redis-py's retry on connection errors.

    For commands that are not idempotent (GETDEL): if the connection drops after the server
    ran the command, a retry would find the key gone and report it missing, losing the value
    silently. Failing with the connection error is the honest answer.

    On a cluster, MOVED and ASK replies are followed (the node that sent them did not run
    the command), and a connection error or timeout refreshes the slot map before it is
    raised, so that after a failover the next command goes to the new primary.
    """
    if is_cluster(client):
        return _call_once_cluster(client, key, args)
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
        primaries = client.get_primaries()
        if not primaries:
            msg = "the cluster client knows no primary"
            raise rx.ConnectionError(msg)
        targets = []
        for node in primaries:
            # get_redis_connection makes the node's client if the slot map has none yet;
            # skipping a node instead would list, count and clear only part of the store.
            server = client.get_redis_connection(node)
            if server is None:
                msg = f"no connection to cluster primary {node.name}"
                raise rx.ConnectionError(msg)
            targets.append(server)
        return targets
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
