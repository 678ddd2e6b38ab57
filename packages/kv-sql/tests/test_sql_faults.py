"""Connections killed by the server, and a database that goes away and comes back."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pymysql
import pytest

from kv_core import StoreUnavailable


class _Proxy:
    """A TCP proxy on loopback in front of a database, that can drop everything and come back."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                pump = threading.Thread(target=self._pump, args=(source, sink), daemon=True)
                pump.start()
                self._threads.append(pump)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """Refuse new connections and cut every open one, like a server going down."""
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = [t for t in self._threads if t.is_alive()]


@pytest.fixture
def proxy_factory() -> Any:
    """Make proxies in front of a URL's host and port; all stopped after the test."""
    made: list[_Proxy] = []

    def make(url: str) -> tuple[_Proxy, str]:
        parts = urlsplit(url)
        proxy = _Proxy(parts.hostname or "127.0.0.1", parts.port or 0)
        proxy.start()
        made.append(proxy)
        user = parts.username or ""
        if parts.password:
            user += f":{parts.password}"
        user += "@" if user else ""
        proxied = f"{parts.scheme}://{user}127.0.0.1:{proxy.port}{parts.path}"
        return proxy, proxied

    yield make
    for proxy in made:
        proxy.stop()


def _kill_connection(url: str, connection_id: int) -> None:
    """KILL a MariaDB connection from an admin connection of its own."""
    parts = urlsplit(url)
    admin = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=parts.path.lstrip("/"),
    )
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"KILL {int(connection_id)}")
    finally:
        admin.close()


def test_mariadb_kill_read_reruns_write_raises_then_recovers(mariadb_backend: Any) -> None:
    """KILL of the store's connection: a read is rerun on a new connection, unseen; a write
    raises StoreUnavailable (it is never sent twice), and the next one works."""
    store = mariadb_backend.store()
    store["k"] = b"1"
    first = int(store._query_one("SELECT CONNECTION_ID()", ()))
    _kill_connection(mariadb_backend.url, first)
    assert store["k"] == b"1"
    second = int(store._query_one("SELECT CONNECTION_ID()", ()))
    assert second != first
    _kill_connection(mariadb_backend.url, second)
    with pytest.raises(StoreUnavailable) as caught:
        store["k"] = b"2"
    assert isinstance(caught.value.__cause__, pymysql.Error)
    assert store["k"] == b"1"
    store["k"] = b"3"
    assert store["k"] == b"3"


def test_postgres_terminate_backend_then_recovers(postgres_backend: Any) -> None:
    """pg_terminate_backend of the store's connection: StoreUnavailable, then it works."""
    store = postgres_backend.store()
    store["k"] = b"1"
    pid = store._query_one("SELECT pg_backend_pid()", ())
    url = postgres_backend.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(StoreUnavailable) as caught:
        store["k"] = b"2"
    assert isinstance(caught.value.__cause__, psycopg.Error)
    store["k"] = b"3"
    assert store["k"] == b"3"


def test_kill_while_a_thread_is_reading(mariadb_backend: Any) -> None:
    """Killed under a busy reader, every read returns the value or raises StoreUnavailable,
    and reads go on, on a new connection."""
    store = mariadb_backend.store()
    store["k"] = b"v" * 1000
    ready = threading.Event()
    stop = threading.Event()
    ids: list[int] = []
    outcomes = {"ok": 0, "unavailable": 0}
    errors: list[BaseException] = []

    def reader() -> None:
        ids.append(int(store._query_one("SELECT CONNECTION_ID()", ())))
        ready.set()
        while not stop.is_set():
            try:
                assert store["k"] == b"v" * 1000
                outcomes["ok"] += 1
            except StoreUnavailable:
                outcomes["unavailable"] += 1
            except BaseException as exc:
                errors.append(exc)
                return
        ids.append(int(store._query_one("SELECT CONNECTION_ID()", ())))

    thread = threading.Thread(target=reader)
    thread.start()
    assert ready.wait(10)
    _kill_connection(mariadb_backend.url, ids[0])
    after_kill = outcomes["ok"]
    deadline = time.monotonic() + 20
    while outcomes["ok"] < after_kill + 200 and time.monotonic() < deadline and not errors:
        time.sleep(0.01)
    stop.set()
    thread.join(30)
    assert errors == []
    assert outcomes["ok"] >= after_kill + 200
    assert ids[1] != ids[0]
    assert store["k"] == b"v" * 1000


@pytest.mark.parametrize("name", ["mariadb", "postgres"])
def test_database_down_and_back(name: str, server_backend_factory: Any, proxy_factory: Any) -> None:
    """Down: StoreUnavailable on reads and writes; back up: the next call works."""
    backend = server_backend_factory(name)
    proxy, url = proxy_factory(backend.url)
    table = backend.new_table()
    store = backend.cls(url, table, engine_kwargs={"connect_args": {"connect_timeout": 3}})
    backend.stores.append(store)
    store["k"] = b"1"
    proxy.stop()
    with pytest.raises(StoreUnavailable):
        store["k"]
    with pytest.raises(StoreUnavailable):
        store["k"] = b"2"
    with pytest.raises(StoreUnavailable):
        len(store)
    proxy.start()  # the same port again
    assert store["k"] == b"1"
    store["k"] = b"3"
    assert store["k"] == b"3"


def test_closed_store_raises_store_unavailable(backend: Any) -> None:
    """A call on a closed store raises StoreUnavailable, not a driver error."""
    store = backend.store()
    store["k"] = b"1"
    other = threading.Thread(target=lambda: store.get("k"))
    other.start()
    other.join()
    store.close()
    with pytest.raises(StoreUnavailable):
        store["k"]


def test_idle_connection_is_pinged_before_use(
    mariadb_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection idle past the threshold goes back through the pool's pre-ping.

    So a connection the server dropped while idle is replaced without an error.
    """
    from kv_sql import _connections

    store = mariadb_backend.store()
    store["k"] = b"1"
    connection_id = int(store._query_one("SELECT CONNECTION_ID()", ()))
    parts = urlsplit(mariadb_backend.url)
    admin = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=parts.path.lstrip("/"),
    )
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"KILL {connection_id}")
    finally:
        admin.close()
    monkeypatch.setattr(_connections, "IDLE_SECONDS", 0.0)
    assert store["k"] == b"1"  # pinged, found dead, replaced: no StoreUnavailable
    assert int(store._query_one("SELECT CONNECTION_ID()", ())) != connection_id
    assert store.engine.pool.checkedout() == 1
