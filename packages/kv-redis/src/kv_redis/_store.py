"""RedisDict: a kv store on a Redis server or a Redis Cluster, through a redis-py client."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

import redis
from redis.cluster import RedisCluster

from kv_core import Capabilities, Store
from kv_core.codec import Deserializer, Serializer

from ._client import (
    RAW,
    Client,
    call_once,
    describe_client,
    group_by_slot,
    is_cluster,
    scan_batches,
    scan_targets,
)
from ._errors import DRIVER_ERRORS, translate
from ._expiry import ExpTime, expiry_args
from ._namespace import Namespace, check_encodable

__all__ = ["SCAN_COUNT", "RedisDict"]

#: The COUNT hint of every SCAN: with Redis's default of 10, listing costs ~12x more
#: round trips; 1000 keeps each reply small enough not to stall the server.
SCAN_COUNT = 1000

_CLEAR_BATCH = 1000


class RedisDict(Store):
    """A ``MutableMapping`` of ``str`` keys to ``bytes`` values kept in Redis.

    :param redis_conn: A ``redis.Redis`` or ``redis.cluster.RedisCluster`` client, made by
        you; ``decode_responses`` may be on or off: values always come back as ``bytes``.
        The store does not close it: ``close()`` leaves your client open.
    :param key_prefix: Put before every key on the server and invisible to you: listing,
        ``len`` and ``clear`` see only the keys that start with it. ``""`` (the default)
        means every key of the database belongs to this store.
    :param exp_time: Lifetime of every written key, in seconds (int, float, or a
        ``timedelta``); set in the same command as the write, and renewed by every
        overwrite. ``None`` (the default): keys never expire.
    :param sliding_expiry: Every read (``d[k]``, ``get``, ``get_many``, ``items``,
        ``values``) also resets the key's lifetime to *exp_time*, in the same round trip
        (GETEX, Redis >= 6.2 on a primary). ``in`` and listing leave lifetimes alone.
    :param serializer: Applied to every value before it is stored; see ``kv_core.Store``.
    :param deserializer: Applied to the stored bytes of every value read.
    :raises TypeError: *redis_conn* is not a synchronous redis-py client.
    :raises ValueError: *exp_time* is zero, negative or NaN; *sliding_expiry* without
        *exp_time*.
    """

    def __init__(
        self,
        redis_conn: Client,
        *,
        key_prefix: str = "",
        exp_time: ExpTime | None = None,
        sliding_expiry: bool = False,
        serializer: Serializer | None = None,
        deserializer: Deserializer | None = None,
    ) -> None:
        super().__init__(serializer=serializer, deserializer=deserializer)
        given: object = redis_conn
        if not isinstance(given, redis.Redis | RedisCluster):
            msg = (
                "redis_conn must be a redis.Redis or redis.cluster.RedisCluster client, "
                f"not {type(given).__module__}.{type(given).__qualname__} "
                "(asyncio clients are not supported)"
            )
            raise TypeError(msg)
        prefix: object = key_prefix
        if not isinstance(prefix, str):
            msg = f"key_prefix must be str, not {type(prefix).__name__}"
            raise TypeError(msg)
        self._expiry = expiry_args(exp_time)
        if sliding_expiry and not self._expiry:
            msg = "sliding_expiry=True needs an exp_time to slide"
            raise ValueError(msg)
        self._ns = Namespace(key_prefix)
        self._client: Any = redis_conn
        self._cluster = is_cluster(redis_conn)
        self._exp_time = exp_time
        self._sliding = bool(sliding_expiry)
        self._target = describe_client(redis_conn)
        self._owns_client = False
        self._capabilities = Capabilities(
            persistent=True,
            processes=True,
            ttl=exp_time is not None,
            history=False,
            max_key_length=None,  # Redis keys hold up to 512 MB
            max_value_size=None,  # the server's proto-max-bulk-len, 512 MB by default
            empty_key=True,
            hierarchical_keys=False,
            invalid_keys=("\ud800",),  # no UTF-8 form
        )

    # -- what the store is ------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """What this store supports; ``ttl`` is true when it was given an ``exp_time``."""
        return self._capabilities

    @property
    def redis(self) -> Client:
        """The redis-py client the store talks through."""
        return self._client  # type: ignore[no-any-return]

    @property
    def key_prefix(self) -> str:
        """The text put before every key on the server."""
        return self._ns.prefix

    @property
    def exp_time(self) -> ExpTime | None:
        """The lifetime given to every write, or ``None``."""
        return self._exp_time

    @property
    def sliding_expiry(self) -> bool:
        """Whether reads reset the lifetime of the key they read."""
        return self._sliding

    def _describe(self) -> str:
        parts = [self._target]
        if self._ns.prefix:
            parts.append(f"key_prefix={self._ns.prefix!r}")
        if self._exp_time is not None:
            parts.append(f"exp_time={self._exp_time!r}")
        if self._sliding:
            parts.append("sliding_expiry=True")
        return ", ".join(parts)

    def _fail(self, exc: BaseException, command: str) -> NoReturn:
        error = translate(exc, command, self._target)
        if error is exc:
            raise exc
        raise error from exc

    # -- keys ------------------------------------------------------------------------------

    def _validate_key(self, key: str) -> None:
        check_encodable(key)

    def _validate_prefix(self, prefix: str) -> None:
        check_encodable(prefix, "prefix")

    # -- single keys -----------------------------------------------------------------------

    def _read(self, key: str) -> bytes:
        server_key = self._ns.raw_prefix + key.encode("utf-8")
        try:
            if self._sliding:
                value = self._client.execute_command("GETEX", server_key, *self._expiry, **RAW)
            else:
                value = self._client.execute_command("GET", server_key, **RAW)
        except DRIVER_ERRORS as exc:
            self._fail(exc, "GETEX" if self._sliding else "GET")
        if value is None:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def _write(self, key: str, value: bytes) -> None:
        server_key = self._ns.raw_prefix + key.encode("utf-8")
        try:
            self._client.execute_command("SET", server_key, value, *self._expiry, **RAW)
        except DRIVER_ERRORS as exc:
            self._fail(exc, "SET")

    def _delete(self, key: str) -> None:
        server_key = self._ns.server_key(key)
        try:
            removed = self._client.execute_command("UNLINK", server_key, **RAW)
        except DRIVER_ERRORS as exc:
            self._fail(exc, "UNLINK")
        if not removed:
            raise KeyError(key)

    def _contains(self, key: str) -> bool:
        # EXISTS, not GETEX: `in` does not slide the lifetime (documented).
        server_key = self._ns.server_key(key)
        try:
            return bool(self._client.execute_command("EXISTS", server_key, **RAW))
        except DRIVER_ERRORS as exc:
            self._fail(exc, "EXISTS")

    def _pop(self, key: str) -> bytes:
        # GETDEL reads and removes in one atomic command, sent once: a retry after a dropped
        # reply would find the key gone and report it missing.
        server_key = self._ns.server_key(key)
        try:
            value = call_once(self._client, server_key, "GETDEL", server_key)
        except DRIVER_ERRORS as exc:
            self._fail(exc, "GETDEL")
        if value is None:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    # -- batches: one round trip -----------------------------------------------------------

    def _read_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        server_keys = [self._ns.server_key(key) for key in keys]
        try:
            values = self._fetch(server_keys)
        except DRIVER_ERRORS as exc:
            self._fail(exc, "GETEX" if self._sliding else "MGET")
        return {key: value for key, value in zip(keys, values, strict=True) if value is not None}

    def _fetch(self, server_keys: list[bytes]) -> list[bytes | None]:
        client = self._client
        if self._sliding:
            with client.pipeline(transaction=False) as pipe:
                for server_key in server_keys:
                    pipe.execute_command("GETEX", server_key, *self._expiry, **RAW)
                return pipe.execute()  # type: ignore[no-any-return]
        if not self._cluster:
            return client.execute_command("MGET", *server_keys, **RAW)  # type: ignore[no-any-return]
        groups = group_by_slot(server_keys)
        with client.pipeline(transaction=False) as pipe:
            for group in groups.values():
                pipe.execute_command("MGET", *group, **RAW)
            replies = pipe.execute()
        found: dict[bytes, bytes | None] = {}
        for group, values in zip(groups.values(), replies, strict=True):
            found.update(zip(group, values, strict=True))
        return [found[server_key] for server_key in server_keys]

    def _write_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        pairs = [(self._ns.server_key(key), value) for key, value in items]
        client = self._client
        try:
            if not self._expiry and not self._cluster:
                client.execute_command("MSET", *(part for pair in pairs for part in pair), **RAW)
                return
            with client.pipeline(transaction=False) as pipe:
                if self._expiry:
                    for server_key, value in pairs:
                        pipe.execute_command("SET", server_key, value, *self._expiry, **RAW)
                else:
                    values = dict(pairs)
                    for group in group_by_slot(values).values():
                        flat = (
                            part
                            for server_key in group
                            for part in (server_key, values[server_key])
                        )
                        pipe.execute_command("MSET", *flat, **RAW)
                pipe.execute()
        except DRIVER_ERRORS as exc:
            self._fail(exc, "SET")

    def _delete_many(self, keys: Sequence[str]) -> None:
        try:
            self._unlink([self._ns.server_key(key) for key in keys])
        except DRIVER_ERRORS as exc:
            self._fail(exc, "UNLINK")

    def _unlink(self, server_keys: list[bytes]) -> None:
        client = self._client
        if not self._cluster:
            client.execute_command("UNLINK", *server_keys, **RAW)
            return
        with client.pipeline(transaction=False) as pipe:
            for group in group_by_slot(server_keys).values():
                pipe.execute_command("UNLINK", *group, **RAW)
            pipe.execute()

    # -- listing: SCAN, never KEYS -----------------------------------------------------------

    def _scan(self, prefix: str) -> Iterator[tuple[bytes, str]]:
        """Yield ``(server_key, user_key)`` for each of our keys starting with *prefix*, once."""
        namespace = self._ns
        listed = namespace.raw_prefix + prefix.encode("utf-8")
        pattern = namespace.scan_pattern(listed)
        # SCAN may return a key more than once (when the server rehashes mid-scan).
        seen: set[bytes] = set()
        try:
            for node in scan_targets(self._client):
                for batch in scan_batches(node, pattern, SCAN_COUNT):
                    for server_key in batch:
                        if server_key in seen:
                            continue
                        seen.add(server_key)
                        key = namespace.user_key(server_key, listed)
                        if key is not None:
                            yield server_key, key
        except DRIVER_ERRORS as exc:
            self._fail(exc, "SCAN")

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        for _, key in self._scan(prefix):
            yield key

    def _count(self) -> int:
        # One SCAN of the store's own keys: cost grows with the keys in the whole database
        # (SCAN walks all of them, MATCH only filters), not with the store's share.
        return sum(1 for _ in self._scan(""))

    def _clear(self) -> None:
        batch: list[bytes] = []
        for server_key, _ in self._scan(""):
            batch.append(server_key)
            if len(batch) >= _CLEAR_BATCH:
                self._delete_raw(batch)
                batch = []
        if batch:
            self._delete_raw(batch)

    def _delete_raw(self, server_keys: list[bytes]) -> None:
        try:
            self._unlink(server_keys)
        except DRIVER_ERRORS as exc:
            self._fail(exc, "UNLINK")

    # -- lifecycle ---------------------------------------------------------------------------

    def _close(self) -> None:
        if self._owns_client:
            self._client.close()
