"""A connection the server closes while it is idle (MySQL ``wait_timeout``, PostgreSQL
``idle_session_timeout``) costs no failed call: it is replaced before use, and a read that
still meets it is run again. A write is never sent twice.

The timeouts are session settings of the store's own connections, on private servers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from kv_core import StoreUnavailable
from kv_dev.services import unique_name
from kv_sql import GenericSqlDict, _connections

# Each server's session setting that closes an idle connection soon (MariaDB: 1 s at
# least), and how long the tests then stay idle.
IDLE_TIMEOUTS = {
    "mariadb": {"init_command": "SET SESSION wait_timeout = 1"},
    "postgres": {"options": "-c idle_session_timeout=300"},
}
IDLE = {"mariadb": 1.6, "postgres": 0.8}
CONNECTION_ID = {"mariadb": "SELECT CONNECTION_ID()", "postgres": "SELECT pg_backend_pid()"}


@pytest.fixture(params=sorted(IDLE_TIMEOUTS))
def idle_store(request: pytest.FixtureRequest) -> Iterator[tuple[str, GenericSqlDict]]:
    """A store on a private server that closes connections idle for a second."""
    server = request.getfixturevalue(f"private_{request.param}")
    store = GenericSqlDict(
        server.url(),
        unique_name("kvsql"),
        engine_kwargs={"connect_args": IDLE_TIMEOUTS[request.param]},
    )
    yield request.param, store
    store.close()


def test_idle_connection_is_replaced_before_a_read_or_write(
    idle_store: tuple[str, GenericSqlDict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Write, idle past the server's timeout, read, idle, write: every call works."""
    name, store = idle_store
    monkeypatch.setattr(_connections, "PEEK_SECONDS", IDLE[name] / 2)
    store["k"] = b"1"
    first = store._query_one(CONNECTION_ID[name], ())
    time.sleep(IDLE[name])
    assert store["k"] == b"1"
    time.sleep(IDLE[name])
    store["k"] = b"2"
    assert store["k"] == b"2"
    assert store._query_one(CONNECTION_ID[name], ()) != first


def test_read_on_a_closed_connection_is_run_again(
    idle_store: tuple[str, GenericSqlDict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the look before use, a read meeting a closed connection is still answered,
    and a write raises StoreUnavailable rather than being sent again; the next one works."""
    name, store = idle_store
    monkeypatch.setattr(_connections, "PEEK_SECONDS", 1e9)
    store["k"] = b"1"
    time.sleep(IDLE[name])
    assert store["k"] == b"1"
    time.sleep(IDLE[name])
    assert "k" in store
    time.sleep(IDLE[name])
    with pytest.raises(StoreUnavailable):
        store["k"] = b"2"
    store["k"] = b"3"
    assert store["k"] == b"3"
    assert [version.value for version in store.history("k")] == [b"1", b"3"]
