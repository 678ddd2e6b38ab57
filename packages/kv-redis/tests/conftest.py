"""Fixtures for the kv-redis tests: the shared Redis, private servers and a private cluster.

Every test works under its own key prefix (``unique_name``) and removes its own keys with
SCAN and UNLINK afterwards; nothing here ever runs FLUSHDB or FLUSHALL.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from kv_dev.services import REDIS, port_open, service_missing, unique_name

REDIS_URL = REDIS.url
TIMEOUTS: dict[str, Any] = {"socket_timeout": 2.0, "socket_connect_timeout": 2.0}


def escape_glob(raw: bytes) -> bytes:
    """Escape Redis glob characters, independently of the code under test."""
    return b"".join(b"\\" + bytes([c]) if c in b"*?[]\\" else bytes([c]) for c in raw)


def unlink_prefix(client: Any, prefix: bytes) -> None:
    """Remove every key that starts with *prefix*, on every primary if *client* is a cluster."""
    nodes = (
        [n.redis_connection for n in client.get_primaries()]
        if isinstance(client, RedisCluster)
        else [client]
    )
    for node in nodes:
        keys = [
            k
            for k in node.scan_iter(match=escape_glob(prefix) + b"*", count=1000)
            if k.startswith(prefix)
        ]
        for key in keys:
            node.unlink(key)


def free_port() -> int:
    """A loopback port nothing listens on, whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair found")


def _redis_server() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        service_missing("redis-server binary", "PATH", "redis-server is not installed")
    return binary


class Server:
    """A private redis-server process on a loopback port."""

    def __init__(self, directory: Path, *extra: str) -> None:
        self.port = free_port()
        self.directory = directory
        args = [
            _redis_server(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            *extra,
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port, timeout=0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        """The server's redis:// URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        """Kill the server and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The shared Redis; skips (or fails in CI) when it is unreachable."""
    return REDIS.require()


@pytest.fixture
def make_client(redis_url: str) -> Iterator[Callable[..., redis.Redis]]:
    """Make clients on the shared Redis with short timeouts; all closed afterwards."""
    made: list[redis.Redis] = []

    def make(**kwargs: Any) -> redis.Redis:
        client = redis.Redis.from_url(redis_url, **{**TIMEOUTS, **kwargs})
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def raw(make_client: Callable[..., redis.Redis]) -> redis.Redis:
    """A plain bytes client for looking at what the store wrote."""
    return make_client()


@pytest.fixture
def namespace(raw: redis.Redis) -> Iterator[str]:
    """A key prefix only this test uses; its keys are unlinked afterwards."""
    prefix = unique_name("kvredis") + ":"
    yield prefix
    unlink_prefix(raw, prefix.encode())


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start private redis-servers with extra arguments; every one is killed afterwards."""
    started: list[Server] = []

    def start(*extra: str) -> Server:
        _redis_server()
        directory = tmp_path / f"server{len(started)}"
        directory.mkdir()
        server = Server(directory, *extra)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class Cluster:
    """A three-primary Redis Cluster of private servers."""

    def __init__(self, directory: Path) -> None:
        self.servers: list[Server] = []
        try:
            for index in range(3):
                node_dir = directory / f"node{index}"
                node_dir.mkdir()
                self.servers.append(
                    Server(
                        node_dir,
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(node_dir / "nodes.conf"),
                    )
                )
            cli = shutil.which("redis-cli")
            if cli is None:
                service_missing("redis-cli binary", "PATH", "redis-cli is not installed")
            subprocess.run(
                [
                    cli,
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{s.port}" for s in self.servers),
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=60,
            )
            self._wait_ok()
        except BaseException:
            self.stop()
            raise

    def _wait_ok(self) -> None:
        # cluster_state:ok on one node is not enough: until every node maps every slot
        # the same way, clients get MOVED replies and refresh their maps mid-test.
        deadline = time.monotonic() + 30
        nodes = [redis.Redis(port=server.port, **TIMEOUTS) for server in self.servers]
        try:
            while True:
                states = [node.cluster("INFO").get("cluster_state") for node in nodes]
                maps = [sorted(map(repr, node.execute_command("CLUSTER SLOTS"))) for node in nodes]
                if all(state in ("ok", b"ok") for state in states) and all(
                    m == maps[0] for m in maps
                ):
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError("the test cluster never settled on one slot map")
                time.sleep(0.1)
        finally:
            for node in nodes:
                node.close()

    def add_replica(self, primary: Server, directory: Path) -> Server:
        """Start a server in *directory*, join it as a replica of *primary*, wait for sync."""
        replica = Server(
            directory,
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(directory / "nodes.conf"),
        )
        self.servers.append(replica)
        with redis.Redis(port=primary.port, **TIMEOUTS) as node:
            primary_id = node.execute_command("CLUSTER", "MYID").decode()
        cli = shutil.which("redis-cli")
        assert cli is not None
        subprocess.run(
            [
                cli,
                "--cluster",
                "add-node",
                f"127.0.0.1:{replica.port}",
                f"127.0.0.1:{primary.port}",
                "--cluster-slave",
                "--cluster-master-id",
                primary_id,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        deadline = time.monotonic() + 30
        with redis.Redis(port=replica.port, **TIMEOUTS) as node:
            while node.info("replication").get("master_link_status") != "up":
                if time.monotonic() > deadline:
                    raise RuntimeError("the test replica never synced with its primary")
                time.sleep(0.1)
        return replica

    @property
    def url(self) -> str:
        """A redis+cluster:// URL of one of its nodes."""
        return f"redis+cluster://127.0.0.1:{self.servers[0].port}/"

    def client(self, **kwargs: Any) -> RedisCluster:
        """A new RedisCluster client on it (the caller closes it)."""
        return RedisCluster(host="127.0.0.1", port=self.servers[0].port, **{**TIMEOUTS, **kwargs})

    def stop(self) -> None:
        """Kill every node."""
        for server in self.servers:
            server.stop()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A private three-primary cluster for this test session (one per xdist worker)."""
    _redis_server()
    started = Cluster(tmp_path_factory.mktemp("cluster"))
    yield started
    started.stop()


@pytest.fixture
def cluster_client(cluster: Cluster) -> Iterator[RedisCluster]:
    """A RedisCluster client on the private cluster, closed afterwards."""
    client = cluster.client()
    yield client
    client.close()


@pytest.fixture
def unlink() -> Callable[[Any, bytes], None]:
    """The cleanup helper: ``unlink(client, prefix)`` removes keys starting with prefix."""
    return unlink_prefix


@pytest.fixture
def private_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A three-primary cluster of this test alone, for tests that break it."""
    _redis_server()
    (tmp_path / "cluster").mkdir()
    started = Cluster(tmp_path / "cluster")
    yield started
    started.stop()
