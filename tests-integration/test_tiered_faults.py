"""A real Redis cache in front of a SQL store, frozen (SIGSTOP) and killed: reads go on from
SQL, writes fail without changing anything, and the cache never serves a stale value.

The Redis is a private ``redis-server`` of the test's own, never the shared one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from kv_core import StoreUnavailable, TieredStorageDict
from kv_dev.services import port_open, service_missing
from kv_redis import RedisDict
from kv_sql import GenericSqlDict

sys.path.insert(0, str(Path(__file__).parent))

from docstore.services import free_port


class PrivateRedis:
    """A redis-server on a free loopback port, without persistence."""

    def __init__(self, directory: Path) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            service_missing("the redis-server binary", "PATH", "redis-server is not installed")
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        """Start it (again, on the same port), empty."""
        assert self.binary is not None
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port, timeout=0.2):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        return self

    def signal(self, number: int) -> None:
        """Send *number* to the server process."""
        assert self.process is not None
        os.kill(self.process.pid, number)

    def kill(self) -> None:
        """Kill the server and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[PrivateRedis, GenericSqlDict, TieredStorageDict]]:
    """A private Redis cache over a SQLite source of truth, holding k = old."""
    server = PrivateRedis(tmp_path).start()
    client = redis.Redis(
        port=server.port,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )
    truth = GenericSqlDict(f"sqlite:///{tmp_path}/kv.db", "kv")
    store = TieredStorageDict([RedisDict(client, key_prefix="t:"), truth], promote_on_read=True)
    store["k"] = b"old"
    try:
        yield server, truth, store
    finally:
        server.signal(signal.SIGCONT)
        server.kill()
        store.close()
        client.close()


def test_frozen_cache_is_skipped_and_never_stale(
    stack: tuple[PrivateRedis, GenericSqlDict, TieredStorageDict],
) -> None:
    """Frozen: reads come from SQL, a write fails before SQL changes; thawed: no stale value."""
    server, truth, store = stack
    server.signal(signal.SIGSTOP)
    try:
        assert store["k"] == b"old"
        assert store.get("missing") is None
        assert sorted(store) == ["k"]
        with pytest.raises(StoreUnavailable):
            store["k"] = b"new"
        with pytest.raises(StoreUnavailable):
            del store["k"]
        assert truth["k"] == b"old"
    finally:
        server.signal(signal.SIGCONT)
    assert store["k"] == truth["k"] == b"old"
    store["k"] = b"new"
    assert store["k"] == truth["k"] == b"new"


def test_killed_cache_is_skipped_and_comes_back_empty(
    stack: tuple[PrivateRedis, GenericSqlDict, TieredStorageDict],
) -> None:
    """Killed: reads come from SQL and writes fail; restarted empty, the stack goes on."""
    server, truth, store = stack
    server.kill()
    assert store["k"] == b"old"
    with pytest.raises(StoreUnavailable):
        store["k"] = b"new"
    server.start()
    assert store["k"] == b"old"  # from SQL, and promoted into the empty cache again
    store["k"] = b"new"
    assert store["k"] == truth["k"] == b"new"
