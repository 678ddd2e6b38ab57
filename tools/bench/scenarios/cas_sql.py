"""Compare-and-set on SQL stores and over HTTP: ``set_if`` against a plain write.

- ``<database> set_if vs set``: ``store.set_if(key, value, version=v)`` with the version
  of the previous call (every call holds), against ``store[key] = value`` on the same key,
  for SQLite (a file), MariaDB and PostgreSQL (when they answer).
- ``<database> create vs set``: ``set_if(new_key, value, version=None)`` on keys that never
  existed, against plain writes of new keys.
- ``HTTP over SQLite set_if vs set``: the same through ``FlaskKvDict`` to a ``kv_flask.serve``
  process over a SQLite file (``If-Match`` handed to the store's ``set_if``).
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager

from harness import Case
from sqlalchemy import text

from kv_flask import FlaskKvDict
from kv_sql import GenericSqlDict
from scenarios.sql import each_database

VALUE = b"x" * 100

_SERVER = """
import sys
from kv_flask import serve
from kv_sql import GenericSqlDict
serve(GenericSqlDict(sys.argv[2], "kv"), "127.0.0.1", int(sys.argv[1]), threads=4)
"""


def _store_cases(name: str, store: GenericSqlDict) -> list[Case]:
    last = [store.set_if("cas", VALUE, version=None)]
    fresh = itertools.count()

    def set_if() -> None:
        last[0] = store.set_if("cas", VALUE, version=last[0])

    def create() -> None:
        store.set_if(f"new:{next(fresh)}", VALUE, version=None)

    def plain_new() -> None:
        store[f"plain:{next(fresh)}"] = VALUE

    return [
        Case(f"{name} set_if vs set", "store[k] = v", lambda: store.__setitem__("k", VALUE), True),
        Case(f"{name} set_if vs set", "set_if(k, v, version=v)", set_if),
        Case(f"{name} create vs set", "store[new] = v", plain_new, baseline=True),
        Case(f"{name} create vs set", "set_if(new, v, version=None)", create),
    ]


@contextmanager
def _sqlite(tmp: str) -> Iterator[list[Case]]:
    with GenericSqlDict(f"sqlite:///{os.path.join(tmp, 'kv.db')}", "kv") as store:
        yield _store_cases("sqlite", store)


@contextmanager
def _server(name: str, url: str, cls: type[GenericSqlDict]) -> Iterator[list[Case]]:
    table = f"kv_bench_cas_{os.getpid()}"
    with cls(url, table) as store:
        try:
            yield _store_cases(name, store)
        finally:
            with store.engine.begin() as conn:
                conn.execute(text(f"DROP TABLE {table}"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _http(tmp: str) -> Iterator[list[Case]]:
    port = _free_port()
    url = f"sqlite:///{os.path.join(tmp, 'http.db')}"
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(port), url],
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the kv server did not start") from None
                time.sleep(0.1)
        with FlaskKvDict(f"http://127.0.0.1:{port}") as kv:
            last = [kv.set_if("cas", VALUE, version=None)]

            def set_if() -> None:
                last[0] = kv.set_if("cas", VALUE, version=last[0])

            op = "HTTP over SQLite set_if vs set"
            yield [
                Case(op, "kv[k] = v", lambda: kv.__setitem__("k", VALUE), baseline=True),
                Case(op, "set_if(k, v, version=v)", set_if),
            ]
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def _all() -> Iterator[list[Case]]:
    with ExitStack() as stack:
        cases = list(stack.enter_context(each_database("kv-bench-cas-", _sqlite, _server)))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="kv-bench-cas-http-"))
        cases += stack.enter_context(_http(tmp))
        yield cases


def scenario() -> AbstractContextManager[list[Case]]:
    """SQLite and HTTP over SQLite always; MariaDB and PostgreSQL when they answer."""
    return _all()
