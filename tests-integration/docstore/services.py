"""Real services for the document store tests: Redis replicas and read-only SQL users.

A replica is a real ``redis-server`` started with ``--replicaof`` the Redis under test, on a
free loopback port; a read-only SQL user may only SELECT from the test's table.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import redis
import sqlalchemy
from redis.backoff import NoBackoff
from redis.retry import Retry

from kv_dev.services import MYSQL, POSTGRES, REDIS

REDIS_URL = REDIS.url
MYSQL_URL = MYSQL.url
POSTGRES_URL = POSTGRES.url


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def client(port: int, host: str = "127.0.0.1", db: int = 0) -> redis.Redis:
    """A client that gives up at once on a dead server: no retries, short timeouts.

    redis-py retries a failed command three times with exponential backoff by default,
    which turns a dead replica into seconds of waiting before the failover can happen.
    """
    return redis.Redis(
        host=host,
        port=port,
        db=db,
        socket_timeout=2,
        socket_connect_timeout=1,
        retry=Retry(NoBackoff(), 0),
    )


class RedisReplica:
    """A ``redis-server`` replicating the master at *master_url*, on its own port."""

    def __init__(self, master_url: str, workdir: Path) -> None:
        parts = urlsplit(master_url)
        self.master_host = parts.hostname or "127.0.0.1"
        self.master_port = parts.port or 6379
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisReplica:
        """Start the server and wait until its link to the master is up and synced."""
        self.launch()
        self.wait_synced()
        return self

    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.process is not None and self.process.poll() is None

    def launch(self) -> None:
        """Start the server process without waiting for it to sync."""
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--replicaof",
                self.master_host,
                str(self.master_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--logfile",
                str(self.workdir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_synced(self) -> None:
        """Wait until the replica's link to the master is up and the first sync is done."""
        assert self.process is not None
        probe = client(self.port)
        try:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(redis.RedisError):
                    info = probe.info("replication")
                    if info.get("master_link_status") == "up" and not info.get(
                        "master_sync_in_progress"
                    ):
                        return
                if time.monotonic() > deadline or self.process.poll() is not None:
                    log = (self.workdir / "redis.log").read_text(errors="replace")[-2000:]
                    msg = f"Redis replica on port {self.port} did not sync:\n{log}"
                    raise RuntimeError(msg)
                time.sleep(0.05)
        finally:
            probe.close()

    def kill(self) -> None:
        """Kill the server at once, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server (same as kill: replicas here keep nothing)."""
        self.kill()


def start_replicas(replicas: list[RedisReplica]) -> None:
    """Start replicas together: the master serves them in one sync (it waits a few seconds
    for more replicas before a diskless sync, so starting them one by one costs that twice).
    """
    for replica in replicas:
        if not replica.running():
            replica.launch()
    for replica in replicas:
        replica.wait_synced()


def wait_for_replicas(master: redis.Redis, count: int) -> None:
    """Block until *count* replicas have acknowledged every write so far (Redis WAIT)."""
    acknowledged = master.wait(count, 5000)
    assert acknowledged >= count, f"only {acknowledged} of {count} replicas caught up"


def unlink_prefix(master: redis.Redis, prefix: str) -> None:
    """Remove every key under *prefix* (never FLUSHDB: other tests share the server)."""
    keys = list(master.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 500):
        master.unlink(*keys[start : start + 500])


class ReadOnlySqlUser:
    """A database user of its own that may only SELECT from one table."""

    def __init__(self, admin_url: str, table: str) -> None:
        self.admin = sqlalchemy.create_engine(admin_url)
        self.table = table
        self.name = f"kv_reader_{uuid.uuid4().hex[:10]}"
        self.dialect = self.admin.dialect.name

    def create(self) -> str:
        """Create the user, grant it SELECT on the table, and return a URL that logs in as it."""
        with self.admin.begin() as connection:
            if self.dialect == "postgresql":
                connection.exec_driver_sql(f"CREATE ROLE {self.name} LOGIN")
                connection.exec_driver_sql(f"GRANT SELECT ON {self.table} TO {self.name}")
            else:
                connection.exec_driver_sql(
                    f"CREATE USER '{self.name}'@'%%' IDENTIFIED BY 'reader-pw'"
                )
                connection.exec_driver_sql(
                    f"GRANT SELECT ON test.{self.table} TO '{self.name}'@'%%'"
                )
        url = self.admin.url.set(username=self.name)
        if self.dialect != "postgresql":
            url = url.set(password="reader-pw")
        return url.render_as_string(hide_password=False)

    def drop(self, table_too: bool = True) -> None:
        """Drop the user (and the table, which this user's test owns)."""
        with self.admin.begin() as connection:
            if self.dialect == "postgresql":
                if table_too:
                    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {self.table}")
                connection.exec_driver_sql(f"DROP ROLE IF EXISTS {self.name}")
            else:
                connection.exec_driver_sql(f"DROP USER IF EXISTS '{self.name}'@'%%'")
                if table_too:
                    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {self.table}")
        self.admin.dispose()
