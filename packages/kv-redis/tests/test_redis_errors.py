"""Server down, never started, stalled, wrong password: StoreUnavailable, never KeyError."""

from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from redis import exceptions as rx
from redis.backoff import NoBackoff
from redis.retry import Retry

from kv_core import AccessDeniedError, OutOfSpaceError, StoreUnavailable, ValueTooLargeError
from kv_redis import RedisDict
from kv_redis._errors import translate

OPERATIONS: dict[str, Callable[[RedisDict], object]] = {
    "getitem": lambda s: s["k"],
    "setitem": lambda s: s.__setitem__("k", b"v"),
    "delitem": lambda s: s.__delitem__("k"),
    "contains": lambda s: "k" in s,
    "get": lambda s: s.get("k"),
    "pop": lambda s: s.pop("k"),
    "pop with default": lambda s: s.pop("k", None),
    "popitem": lambda s: s.popitem(),
    "len": len,
    "iter": lambda s: list(iter(s)),
    "keys_with_prefix": lambda s: list(s.keys_with_prefix("k")),
    "get_many": lambda s: s.get_many(["k", "j"]),
    "set_many": lambda s: s.set_many({"k": b"v", "j": b"w"}),
    "delete_many": lambda s: s.delete_many(["k", "j"]),
    "clear": lambda s: s.clear(),
}


def assert_unavailable(store: RedisDict, cause: type[BaseException] | None = None) -> None:
    """Every operation raises StoreUnavailable with a redis-py error as its cause."""
    for name, operation in OPERATIONS.items():
        with pytest.raises(StoreUnavailable) as info:
            operation(store)
        assert isinstance(info.value.__cause__, cause or rx.RedisError), name


def dead_client(port: int, **kwargs: Any) -> redis.Redis:
    """A client that fails fast: short timeouts and no retries."""
    options: dict[str, Any] = {
        "socket_timeout": 0.5,
        "socket_connect_timeout": 0.5,
        "retry": Retry(NoBackoff(), 0),
    }
    options.update(kwargs)
    return redis.Redis(port=port, **options)


def test_server_never_started(private_server: Callable[..., Any]) -> None:
    """Nothing listens on the port: every operation raises StoreUnavailable."""
    server = private_server()
    port = server.port
    server.stop()
    with dead_client(port) as client:
        assert_unavailable(RedisDict(client, key_prefix="p:"), rx.ConnectionError)


def test_server_never_started_with_default_retries(private_server: Callable[..., Any]) -> None:
    """redis-py's default retry policy ends in StoreUnavailable too, not a hang."""
    server = private_server()
    port = server.port
    server.stop()
    with redis.Redis(port=port, socket_connect_timeout=0.5) as client:
        store = RedisDict(client)
        with pytest.raises(StoreUnavailable) as info:
            store["k"]
        assert isinstance(info.value.__cause__, rx.ConnectionError)


def test_server_killed_mid_run(private_server: Callable[..., Any]) -> None:
    """A store that worked raises StoreUnavailable once its server is killed."""
    server = private_server()
    with dead_client(server.port) as client:
        store = RedisDict(client, key_prefix="p:")
        store["k"] = b"v"
        assert store["k"] == b"v"
        server.stop()
        assert_unavailable(store)


def test_stalled_server_times_out(private_server: Callable[..., Any]) -> None:
    """A server that stops answering (SIGSTOP) gives StoreUnavailable after socket_timeout."""
    server = private_server()
    with dead_client(server.port, socket_timeout=0.3) as client:
        store = RedisDict(client, key_prefix="p:")
        store["k"] = b"v"
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            with pytest.raises(StoreUnavailable) as info:
                store["k"]
            assert isinstance(info.value.__cause__, rx.TimeoutError)
            with pytest.raises(StoreUnavailable):
                store.pop("k")
        finally:
            os.kill(server.process.pid, signal.SIGCONT)


@pytest.mark.parametrize("retries", [0, 2])
def test_stalled_server_within_the_configured_timeouts(
    private_server: Callable[..., Any], retries: int
) -> None:
    """With Retry(NoBackoff(), n), a stopped server gives StoreUnavailable in (n+1) timeouts.

    A bound, not a benchmark: each operation must fail within a generous 5x of what the
    client's configuration promises (one socket_timeout per attempt, no backoff sleeps).
    """
    timeout = 0.3
    server = private_server()
    with dead_client(
        server.port, socket_timeout=timeout, retry=Retry(NoBackoff(), retries)
    ) as client:
        store = RedisDict(client, key_prefix="p:")
        store.set_many({"k": b"v", "j": b"w"})
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            for name in ("getitem", "setitem", "pop", "len", "get_many"):
                started = time.monotonic()
                with pytest.raises(StoreUnavailable) as info:
                    OPERATIONS[name](store)
                elapsed = time.monotonic() - started
                assert isinstance(info.value.__cause__, rx.TimeoutError), name
                assert elapsed < 5 * timeout * (retries + 1), (name, elapsed)
        finally:
            os.kill(server.process.pid, signal.SIGCONT)


@pytest.mark.parametrize("single", [False, True], ids=["pool", "single_connection_client"])
def test_pop_is_sent_once(
    private_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, single: bool
) -> None:
    """pop is not retried by redis-py's retry policy: GETDEL goes out once, then fails."""
    server = private_server()
    sent: list[bytes] = []
    real_send = redis.connection.Connection.send_packed_command

    def counting_send(self: Any, command: Any, *args: Any, **kwargs: Any) -> None:
        parts = [command] if isinstance(command, bytes | str) else list(command)
        sent.append(b"".join(p.encode() if isinstance(p, str) else bytes(p) for p in parts))
        real_send(self, command, *args, **kwargs)

    def count(command: bytes) -> int:
        return sum(b"\r\n" + command + b"\r\n" in packet for packet in sent)

    # A spy on what goes out on the wire; the fault itself (a server that does not answer
    # writes while connections and reads still work) is real: CLIENT PAUSE ... WRITE.
    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counting_send)
    retrying = Retry(NoBackoff(), 3)
    with (
        redis.Redis(
            port=server.port,
            socket_timeout=0.3,
            retry=retrying,
            single_connection_client=single,
        ) as client,
        redis.Redis(port=server.port, socket_timeout=2) as admin,
    ):
        store = RedisDict(client)
        store["k"] = b"v"
        admin.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
        try:
            with pytest.raises(StoreUnavailable) as info:
                store.pop("k")
            assert isinstance(info.value.__cause__, rx.TimeoutError)
            assert count(b"GETDEL") == 1
            # A write that is safe to repeat is retried by redis-py, as configured.
            with pytest.raises(StoreUnavailable):
                store["k"] = b"w"
            assert count(b"SET") == 1 + 4
        finally:
            admin.execute_command("CLIENT", "UNPAUSE")
        # The failed connection was dropped; the client reconnects and the store goes on.
        store["k2"] = b"v2"
        assert store.pop("k2") == b"v2"


def test_wrong_password(private_server: Callable[..., Any]) -> None:
    """A wrong password raises AccessDeniedError (not unavailable) on every operation."""
    server = private_server("--requirepass", "right")
    with dead_client(server.port, password="wrong") as client:
        store = RedisDict(client)
        for name, operation in OPERATIONS.items():
            with pytest.raises(AccessDeniedError) as info:
                operation(store)
            assert not isinstance(info.value, StoreUnavailable), name
            assert isinstance(info.value.__cause__, rx.AuthenticationError), name


def test_missing_password(private_server: Callable[..., Any]) -> None:
    """No password on a server that needs one raises AccessDeniedError, never KeyError."""
    server = private_server("--requirepass", "right")
    with dead_client(server.port) as client:
        store = RedisDict(client)
        with pytest.raises(AccessDeniedError) as info:
            store["k"]
        assert isinstance(info.value.__cause__, rx.AuthenticationError)


def test_right_password_works(private_server: Callable[..., Any]) -> None:
    """With the right password the store works, and repr never shows it."""
    server = private_server("--requirepass", "s3cret-pw")
    with dead_client(server.port, password="s3cret-pw") as client:
        store = RedisDict(client)
        store["k"] = b"v"
        assert store["k"] == b"v"
        assert "s3cret-pw" not in repr(store)


@pytest.mark.parametrize(
    "error",
    [
        rx.BusyLoadingError("Redis is loading the dataset in memory"),
        rx.ClusterDownError("CLUSTERDOWN The cluster is down"),
        rx.MasterDownError("MASTERDOWN Link with MASTER is down"),
        rx.TryAgainError("TRYAGAIN"),
        rx.MaxConnectionsError("Too many connections"),
        rx.ResponseError("BUSY Redis is busy running a script."),
        rx.TimeoutError("Timeout reading from socket"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_server_states_that_mean_unavailable(error: Exception) -> None:
    """Loading, cluster down, busy script and friends all map to StoreUnavailable."""
    # These states cannot be produced on demand on a small test server; check the mapping.
    assert isinstance(translate(error, "GET", "here"), StoreUnavailable)


def test_value_over_the_server_limit(private_server: Callable[..., Any]) -> None:
    """A value over proto-max-bulk-len is refused, never stored, and the store goes on.

    The server replies with an error and drops the connection: ValueTooLargeError when the
    reply is read, StoreUnavailable when the drop breaks the write first (a race).
    """
    server = private_server("--proto-max-bulk-len", "1mb")
    with dead_client(server.port, socket_timeout=2) as client:
        store = RedisDict(client)
        with pytest.raises((ValueTooLargeError, StoreUnavailable)) as info:
            store["k"] = b"x" * (2 * 1024 * 1024)
        assert isinstance(info.value.__cause__, rx.ResponseError | rx.ConnectionError)
        assert "k" not in store
        store["k"] = b"x" * 1024
        assert len(store["k"]) == 1024


def test_server_out_of_memory(private_server: Callable[..., Any]) -> None:
    """A server at maxmemory that may not evict refuses writes: OutOfSpaceError, an OSError
    with errno ENOSPC; reads and deletes go on, and freeing memory lets writes in again."""
    server = private_server("--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
    with dead_client(server.port, socket_timeout=2) as client:
        store = RedisDict(client, key_prefix="p:")
        store["k"] = b"old"
        with pytest.raises(OutOfSpaceError) as info:  # noqa: PT012 - the loop ends in the error
            for number in range(1000):
                store[f"fill{number}"] = b"x" * 64 * 1024
        assert info.value.errno == errno.ENOSPC
        assert isinstance(info.value.__cause__, rx.ResponseError)
        with pytest.raises(OutOfSpaceError):
            store.set_many({"a": b"x" * 64 * 1024})
        assert store["k"] == b"old"
        store.delete_many([key for key in store if key.startswith("fill")])
        store["k"] = b"new"
        assert store["k"] == b"new"


def test_other_errors_pass_through(raw: redis.Redis, namespace: str) -> None:
    """A key of the wrong type (WRONGTYPE) is a ResponseError, not StoreUnavailable."""
    raw.lpush(f"{namespace}list", b"x")
    store = RedisDict(raw, key_prefix=namespace)
    with pytest.raises(rx.ResponseError, match="WRONGTYPE"):
        store["list"]
