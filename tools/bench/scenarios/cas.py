"""Compare-and-set against plain reads and writes, per backend, as ratios in one run.

For each backend in :data:`BACKENDS`, on one key of 100 bytes among a few:

- ``set_if vs write``: ``store.set_if(key, value, version=current)`` against
  ``store[key] = value`` (the baseline); every call writes the other of two values, so
  each changes the key's version.
- ``get_with_version vs get``: the versioned read against ``store[key]``.
- ``increment``: a whole optimistic read-modify-write (``get_with_version`` then
  ``set_if``) against a read then a plain write, which is what it replaces.

A backend is a name and a context manager that yields a fresh, empty store and removes it
afterwards; add a row by appending one to ``BACKENDS``. ``memory`` is a ``MemoryDict``;
``fs`` a ``FileSystemDict(durable=False)`` on tmpfs (``/dev/shm``), so the lock file's cost
is not hidden behind the disk's; ``redis`` a private ``redis-server`` started by the
``redis`` scenario's helper (or ``KV_BENCH_REDIS_URL``), under one fresh prefix;
``sqlite`` a ``GenericSqlDict`` on a file in a temporary directory; ``mariadb`` and
``postgres`` a fresh table on the test servers (when they answer; dropped afterwards);
``http`` a ``FlaskKvDict`` talking to a ``kv_flask.serve`` process over a SQLite file
(``If-Match`` handed to the store's ``set_if``). Pin with
``taskset -c 1 python tools/bench/run.py cas``.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

import redis
from harness import Case
from sqlalchemy import text

from kv_core import MemoryDict, Store
from kv_dev.services import MYSQL, POSTGRES, port_open, unique_name
from kv_flask import FlaskKvDict
from kv_fs import FileSystemDict
from kv_redis import RedisDict
from kv_sql import GenericSqlDict, MySqlDict, PostgresSqlDict
from scenarios.flask import server_process
from scenarios.redis import _server as redis_server
from scenarios.redis import _unlink_prefix

VALUES = (b"a" * 100, b"b" * 100)


@contextmanager
def memory() -> Iterator[Store]:
    """A MemoryDict."""
    with MemoryDict() as store:
        yield store


@contextmanager
def fs() -> Iterator[Store]:
    """A FileSystemDict on tmpfs, not durable."""
    base = tempfile.mkdtemp(prefix="kvbench-cas-", dir="/dev/shm")
    try:
        with FileSystemDict(f"{base}/data", f"{base}/scratch", durable=False) as store:
            yield store
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def redis_store() -> Iterator[Store]:
    """A RedisDict on a private server, under a fresh prefix."""
    prefix = f"kvbench:{uuid.uuid4().hex[:8]}:"
    with redis_server() as url, ExitStack() as stack:
        client = redis.Redis.from_url(url)
        stack.callback(client.close)
        stack.callback(_unlink_prefix, client, prefix.encode())
        with RedisDict(client, key_prefix=prefix) as store:
            yield store


@contextmanager
def sqlite() -> Iterator[Store]:
    """A GenericSqlDict on a SQLite file (WAL, synchronous=NORMAL: the store's defaults)."""
    base = tempfile.mkdtemp(prefix="kvbench-cas-sqlite-")
    try:
        with GenericSqlDict(f"sqlite:///{base}/kv.db", "kv") as store:
            yield store
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _sql_server(url: str, cls: type[GenericSqlDict]) -> Callable[[], AbstractContextManager[Store]]:
    @contextmanager
    def make() -> Iterator[Store]:
        """A fresh table on the server, dropped afterwards."""
        table = unique_name("kvbench_cas")
        with cls(url, table) as store:
            try:
                yield store
            finally:
                with store.engine.begin() as conn:
                    conn.execute(text(f"DROP TABLE {table}"))

    return make


_HTTP_SERVER = """
import sys
from kv_flask import serve
from kv_sql import GenericSqlDict
serve(GenericSqlDict(sys.argv[2], "kv"), "127.0.0.1", int(sys.argv[1]), threads=4)
"""


@contextmanager
def http() -> Iterator[Store]:
    """A FlaskKvDict to a kv_flask.serve process over a SQLite file."""
    base = tempfile.mkdtemp(prefix="kvbench-cas-http-")
    try:
        with (
            server_process(_HTTP_SERVER, f"sqlite:///{base}/kv.db") as url,
            FlaskKvDict(url) as store,
        ):
            yield store
    finally:
        shutil.rmtree(base, ignore_errors=True)


#: (name, a context manager yielding a fresh store); the SQL servers when they answer.
BACKENDS: list[tuple[str, Callable[[], AbstractContextManager[Store]]]] = [
    ("memory", memory),
    ("fs", fs),
    ("redis", redis_store),
    ("sqlite", sqlite),
    *([("mariadb", _sql_server(MYSQL.url, MySqlDict))] if port_open(MYSQL.url) else []),
    *(
        [("postgres", _sql_server(POSTGRES.url, PostgresSqlDict))]
        if port_open(POSTGRES.url)
        else []
    ),
    ("http", http),
]


def _cases(name: str, store: Any) -> list[Case]:
    # Each case has a key of its own, so no case changes the version another one holds.
    for index in range(8):
        store[f"cas:other{index}"] = VALUES[0]
    for key in ("plain", "cond", "inc-plain", "inc-cond"):
        store[f"cas:{key}"] = VALUES[0]
    state = {"turn": 0, "version": store.get_with_version("cas:cond")[1]}

    def write() -> None:
        state["turn"] ^= 1
        store["cas:plain"] = VALUES[state["turn"]]

    def set_if() -> None:
        state["turn"] ^= 1
        state["version"] = store.set_if("cas:cond", VALUES[state["turn"]], version=state["version"])

    def read_write() -> None:
        value = store["cas:inc-plain"]
        store["cas:inc-plain"] = VALUES[value == VALUES[0]]

    def increment() -> None:
        value, version = store.get_with_version("cas:inc-cond")
        store.set_if("cas:inc-cond", VALUES[value == VALUES[0]], version=version)

    return [
        Case(f"set_if vs write, {name}", "store[key] = value", write, baseline=True),
        Case(f"set_if vs write, {name}", "set_if(key, value, version=v)", set_if),
        Case(f"get_with_version vs get, {name}", "store[key]",
             lambda: store["cas:plain"], baseline=True),
        Case(f"get_with_version vs get, {name}", "get_with_version(key)",
             lambda: store.get_with_version("cas:cond")),
        Case(f"increment, {name}", "store[key], then store[key] = v", read_write, baseline=True),
        Case(f"increment, {name}", "get_with_version, then set_if", increment),
    ]  # fmt: skip


@contextmanager
def scenario() -> Iterator[list[Case]]:
    """Every backend's cases, set up together so they are timed in the same rounds."""
    with ExitStack() as stack:
        cases: list[Case] = []
        for name, make in BACKENDS:
            cases.extend(_cases(name, stack.enter_context(make())))
        yield cases
