"""RedisDict: a kv store on a Redis server or a Redis Cluster, through a redis-py client."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from operator import methodcaller
from typing import Any, NoReturn

import redis
from redis.cluster import RedisCluster

from kv_core import Capabilities, ConflictError, Store, ValueTooLargeError
from kv_core.codec import Deserializer, Serializer

from ._cas import DELETE_IF, WRITE_IF, version_of
from ._client import (
    RAW,
    Client,
    call_once,
    close_client,
    describe_client,
    group_by_slot,
    is_cluster,
    scan_batches,
    scan_targets,
)
from ._errors import DRIVER_ERRORS, translate
from ._expiry import ExpTime, expiry_args
from ._namespace import KEY_ERRORS, Namespace

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

    Compare-and-set runs as one Lua script on the key's server (its node, on a cluster); a
    version is the SHA-1 of the value. ``set_if`` is a write: it gives the key *exp_time*,
    or no expiry, as ``d[k] = v`` does. ``get_with_version`` is a read: with
    *sliding_expiry* it resets the lifetime. See the README, "Compare-and-set".

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
            # Keys go to the server as UTF-8 with surrogatepass: every str is a key.
            invalid_keys=(),
            refused_characters=frozenset(),
            compare_and_set=True,
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
        if isinstance(error, ValueTooLargeError) and "INVALID BULK LENGTH" in str(exc).upper():
            # After a protocol error the server closes the connection, which redis-py has
            # put back in its pool: drop the idle ones, or the next call may meet the reset.
            pool = getattr(self._client, "connection_pool", None)
            if pool is not None:
                pool.disconnect(inuse_connections=False)
        raise error from exc

    # -- single keys -----------------------------------------------------------------------

    def _read(self, key: str) -> bytes:
        server_key = self._ns.raw_prefix + key.encode("utf-8", KEY_ERRORS)
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
        server_key = self._ns.raw_prefix + key.encode("utf-8", KEY_ERRORS)
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

    # -- compare-and-set: one script, sent once (see _cas) ---------------------------------

    def _read_with_version(self, key: str) -> tuple[bytes, str]:
        value = self._read(key)
        return value, version_of(value)

    def _write_if(self, key: str, value: bytes, version: str | None) -> str:
        server_key = self._ns.raw_prefix + key.encode("utf-8", KEY_ERRORS)
        try:
            written = WRITE_IF.run(self._client, server_key, version or "", value, *self._expiry)
        except DRIVER_ERRORS as exc:
            self._fail(exc, "EVALSHA")
        if not written:
            if version is None:
                msg = f"{key!r} exists; set_if(version=None) only creates a key"
            else:
                msg = f"{key!r} no longer has version {version!r}"
            raise ConflictError(msg)
        return version_of(value)

    def _delete_if(self, key: str, version: str) -> None:
        server_key = self._ns.server_key(key)
        try:
            removed = DELETE_IF.run(self._client, server_key, version)
        except DRIVER_ERRORS as exc:
            self._fail(exc, "EVALSHA")
        if not removed:
            msg = f"{key!r} no longer has version {version!r}"
            raise ConflictError(msg)

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

    def _scan(self, prefix: str) -> Iterator[list[bytes]]:
        """Yield batches of our server keys that start with *prefix*, one batch per SCAN reply.

        SCAN returns a key twice only when the server's table shrinks (or starts rehashing
        into a smaller one) in the middle of the scan: the cursor then falls back to the
        start of the smaller bucket, and the keys of that bucket already handed out, by this
        reply or the one before it, come again. So only the keys of the previous reply are
        remembered, and repeats of those are dropped: memory stays at about two replies,
        whatever the store's size (see the README, "Listing"). The order is SCAN's.
        """
        listed = self._ns.raw_prefix + prefix.encode("utf-8", KEY_ERRORS)
        pattern = self._ns.scan_pattern(listed)
        # Repeats MATCH on the client, so no pattern subtlety can ever leak a foreign key.
        ours = methodcaller("startswith", listed)
        try:
            for node in scan_targets(self._client):
                previous: set[bytes] = set()
                for batch in scan_batches(node, pattern, SCAN_COUNT):
                    if listed:
                        batch = list(filter(ours, batch))
                    page = set(batch)
                    if len(page) != len(batch) or not page.isdisjoint(previous):
                        batch = [key for key in page if key not in previous]
                    previous = page
                    yield batch
        except DRIVER_ERRORS as exc:
            self._fail(exc, "SCAN")

    def _names(self, server_keys: list[bytes]) -> list[str]:
        """The user keys of *server_keys*, skipping those that are not UTF-8.

        Such keys cannot have been written by this store and cannot be addressed with a
        ``str`` key, so listing, ``len`` and ``clear`` all leave them alone.
        """
        if not server_keys:
            return []
        ns = self._ns
        raw_prefix = ns.raw_prefix
        if b"\0" not in raw_prefix:
            # One decode and one split for the whole reply instead of one per key. Splitting
            # on NUL + prefix is exact when that occurs only at the joins: the prefix holds no
            # NUL, so two occurrences never overlap and the count says so. UTF-8 is valid
            # across the joins exactly when every key is (NUL is never part of a sequence).
            joined = b"\0".join(server_keys)
            if joined.count(b"\0" + raw_prefix) == len(server_keys) - 1:
                try:
                    text = joined.decode("utf-8", KEY_ERRORS)
                except UnicodeDecodeError:
                    pass
                else:
                    names = text.split("\0" + ns.prefix)
                    # Slice, not lstrip: lstrip removes characters, not a prefix.
                    names[0] = names[0][len(ns.prefix) :]
                    return names
        cut = len(raw_prefix)
        names = []
        for key in server_keys:
            try:
                names.append(key[cut:].decode("utf-8", KEY_ERRORS))
            except UnicodeDecodeError:
                continue
        return names

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        for batch in self._scan(prefix):
            yield from self._names(batch)

    def _count(self) -> int:
        # One SCAN of the store's own keys: cost grows with the keys in the whole database
        # (SCAN walks all of them, MATCH only filters), not with the store's share.
        return sum(len(self._names(batch)) for batch in self._scan(""))

    def _clear(self) -> None:
        raw_prefix = self._ns.raw_prefix
        pending: list[bytes] = []
        for batch in self._scan(""):
            pending.extend(
                raw_prefix + name.encode("utf-8", KEY_ERRORS) for name in self._names(batch)
            )
            if len(pending) >= _CLEAR_BATCH:
                self._delete_raw(pending)
                pending = []
        if pending:
            self._delete_raw(pending)

    def _delete_raw(self, server_keys: list[bytes]) -> None:
        try:
            self._unlink(server_keys)
        except DRIVER_ERRORS as exc:
            self._fail(exc, "UNLINK")

    # -- lifecycle ---------------------------------------------------------------------------

    def _close(self) -> None:
        if self._owns_client:
            close_client(self._client)
