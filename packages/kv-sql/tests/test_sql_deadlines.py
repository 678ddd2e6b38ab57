"""Deadlines: a server that never answers, or freezes, gives StoreUnavailable in time.

Faults are real: a port that accepts and never answers, and private servers stopped with
SIGSTOP (never the shared ones).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pymysql
import pytest

from kv_core import StoreUnavailable, open_store
from kv_dev.services import unique_name
from kv_sql import GenericSqlDict, MySqlDict, PostgresSqlDict
from kv_sql._deadlines import CONNECT_TIMEOUT, READ_TIMEOUT, timed_out

SHORT = {"connect_timeout": 1, "read_timeout": 1}


def within(seconds: float, call: Callable[[], Any]) -> BaseException | None:
    """Run *call* in a thread; fail if it is still waiting after *seconds*; return its error."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    return outcome[0]


@pytest.fixture
def stores() -> Iterator[list[GenericSqlDict]]:
    """Stores made by a test, closed at its end."""
    made: list[GenericSqlDict] = []
    yield made
    for store in made:
        store.close()


def _connection(store: GenericSqlDict) -> Any:
    store["probe"] = b"1"
    return store._leases.lease().connection


def test_mysql_defaults(private_mariadb: Any, stores: list[GenericSqlDict]) -> None:
    """A MySQL store from a URL connects within 10 s and waits 30 s at most for an answer."""
    stores.append(MySqlDict(private_mariadb.url(), unique_name("kvsql")))
    connection = _connection(stores[-1])
    assert connection.connect_timeout == CONNECT_TIMEOUT == 10
    assert connection._read_timeout == READ_TIMEOUT == 30
    assert connection._write_timeout == READ_TIMEOUT


def test_postgres_defaults(private_postgres: Any, stores: list[GenericSqlDict]) -> None:
    """A PostgreSQL store from a URL gets libpq's connect_timeout and a deadline per wait."""
    stores.append(PostgresSqlDict(private_postgres.url(), unique_name("kvsql")))
    connection = _connection(stores[-1])
    assert connection.read_timeout == READ_TIMEOUT
    options = {o.keyword: o.val for o in connection.pgconn.info}
    assert options[b"connect_timeout"] == str(CONNECT_TIMEOUT).encode()


@pytest.mark.parametrize("how", ["url", "engine_kwargs", "open_store"])
@pytest.mark.parametrize("server", ["mariadb", "postgres"])
def test_deadlines_can_be_overridden(
    how: str, server: str, request: pytest.FixtureRequest, stores: list[GenericSqlDict]
) -> None:
    """connect_timeout and read_timeout come from the URL or engine_kwargs' connect_args."""
    private = request.getfixturevalue(f"private_{server}")
    table = unique_name("kvsql")
    url = private.url()
    if how == "url":
        stores.append(GenericSqlDict(f"{url}?connect_timeout=3&read_timeout=4", table))
    elif how == "open_store":
        # With the driver named: a bare mysql:// or postgresql:// takes SQLAlchemy's default
        # driver (mysqlclient, psycopg2) where it is installed, as the dev environment does.
        stores.append(open_store(f"{url}?table={table}&connect_timeout=3&read_timeout=4"))  # type: ignore[arg-type]
    else:
        options = {"connect_args": {"connect_timeout": 3, "read_timeout": 4}}
        stores.append(GenericSqlDict(url, table, engine_kwargs=options))
    connection = _connection(stores[-1])
    if server == "mariadb":
        assert (connection.connect_timeout, connection._read_timeout) == (3, 4)
    else:
        assert connection.read_timeout == 4
        options = {o.keyword: o.val for o in connection.pgconn.info}
        assert options[b"connect_timeout"] == b"3"


@pytest.mark.parametrize(
    "url",
    [
        "mysql+pymysql://root@127.0.0.1:{port}/test?connect_timeout=1&read_timeout=1",
        "postgresql+psycopg://postgres@127.0.0.1:{port}/test?connect_timeout=1",
    ],
    ids=["mysql", "postgres"],
)
def test_server_that_never_answers(url: str, silent_listener: Any) -> None:
    """A port that accepts and never answers gives StoreUnavailable within the deadline."""
    error = within(15, lambda: GenericSqlDict(url.format(port=silent_listener.port), "kv"))
    assert isinstance(error, StoreUnavailable)


@pytest.mark.parametrize("server", ["mariadb", "postgres"])
def test_frozen_server_then_recovers(
    server: str, request: pytest.FixtureRequest, stores: list[GenericSqlDict]
) -> None:
    """A server frozen with SIGSTOP: reads and writes raise StoreUnavailable in time; once
    it runs again, the store works."""
    private = request.getfixturevalue(f"private_{server}")
    store = GenericSqlDict(
        private.url(), unique_name("kvsql"), engine_kwargs={"connect_args": dict(SHORT)}
    )
    stores.append(store)
    store["k"] = b"1"
    with private.frozen():
        error = within(15, lambda: store["k"])
        assert isinstance(error, StoreUnavailable)
        assert timed_out(error.__cause__)  # type: ignore[arg-type]
        assert isinstance(error.__cause__, pymysql.Error | psycopg.Error)
        error = within(15, lambda: store.__setitem__("k", b"2"))
        assert isinstance(error, StoreUnavailable)
    assert store["k"] == b"1"
    store["k"] = b"3"
    assert store["k"] == b"3"


def test_frozen_postgres_backend(private_postgres: Any, stores: list[GenericSqlDict]) -> None:
    """Only the store's backend frozen: StoreUnavailable in time, then a new backend serves."""
    store = GenericSqlDict(f"{private_postgres.url()}?read_timeout=1", unique_name("kvsql"))
    stores.append(store)
    store["k"] = b"1"
    pid = int(store._query_one("SELECT pg_backend_pid()", ()))
    with private_postgres.frozen(pid):
        # In this thread, which holds the frozen backend's connection (a thread of its own
        # would get a connection of its own); the pytest timeout catches a hang.
        with pytest.raises(StoreUnavailable):
            store["k"]
        assert store["k"] == b"1"  # a new connection, to a new backend
        assert int(store._query_one("SELECT pg_backend_pid()", ())) != pid
