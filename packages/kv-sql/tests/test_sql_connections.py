"""Each thread's connection: held while the thread lives, returned when it ends."""

from __future__ import annotations

import gc
import os
import threading
import warnings
from typing import Any

import pytest
from sqlalchemy import create_engine


def test_ended_threads_give_their_connection_back(shared_backend: Any) -> None:
    """A thread's connection goes back to the pool when the thread ends."""
    store = shared_backend.store()
    store["k"] = b"0"
    for round_ in range(8):
        thread = threading.Thread(target=store.__setitem__, args=("k", str(round_)))
        thread.start()
        thread.join()
    gc.collect()
    assert store.engine.pool.checkedout() == 1  # the main thread's own
    assert store["k"] == b"7"
    store.close()
    assert store.engine.pool.checkedout() == 0


def test_user_engine_connections_come_back_unchanged(server_backend_factory: Any) -> None:
    """Connections lent by a user's Engine are returned out of autocommit mode."""
    backend = server_backend_factory("mariadb")
    engine = create_engine(backend.url)
    try:
        store = backend.cls(engine, backend.new_table())
        store["k"] = b"1"
        store.close()
        with engine.connect() as conn:
            assert conn.connection.dbapi_connection.get_autocommit() is False
    finally:
        engine.dispose()


def test_in_memory_store_is_shared_by_threads(memory_backend: Any) -> None:
    """An in-memory SQLite store is one database for every thread."""
    store = memory_backend.store()
    threads = [threading.Thread(target=store.__setitem__, args=(f"t{n}", b"x")) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(store) == [f"t{n}" for n in range(6)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_opens_its_own_connections(backend: Any) -> None:
    """After fork the child uses new connections (or its copy of a memory database)."""
    store = backend.store()
    store["k"] = b"parent"
    read, write = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a process with threads; this child only
        # touches its own new connections.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            store["child"] = b"1"
            code = 0 if store["k"] == b"parent" else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(0)
    os.close(write)
    outcome = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    assert outcome == b"\x00"
    if backend.name == "memory":
        assert "child" not in store  # the child wrote to its own copy
    else:
        assert store["child"] == b"1"
    assert store["k"] == b"parent"


def test_two_stores_on_one_memory_engine_share_its_lock(memory_backend: Any) -> None:
    """Two stores on one in-memory engine, used by threads at once, never mix transactions."""
    first = memory_backend.store(prune_on_write=True)
    second = memory_backend.store(url_or_engine=first.engine, prune_on_write=True)
    errors: list[BaseException] = []

    def work(store: Any, name: str) -> None:
        try:
            for index in range(100):
                store.set_many({f"{name}{index % 7}": b"x", "common": name.encode()})
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(store, name))
        for store, name in ((first, "a"), (second, "b"), (first, "c"), (second, "d"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(first) == 15
    assert len(second) == 15


def test_interrupted_transaction_drops_its_connection(backend: Any) -> None:
    """A write interrupted mid-transaction leaves no open transaction behind."""
    store = backend.store(prune_on_write=True)
    store["k"] = b"1"
    original = store._insert

    def interrupted(cur: Any, params: Any) -> int:
        original(cur, params)
        raise KeyboardInterrupt

    store._insert = interrupted  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        store["k"] = b"2"
    del store._insert
    assert store["k"] == b"1"  # rolled back
    store["k"] = b"3"
    assert store["k"] == b"3"
    assert [v.value for v in store.history("k")] == [b"3"]


def test_reader_never_sees_a_stale_snapshot(shared_backend: Any) -> None:
    """A store reading a key sees another store's later write (no REPEATABLE READ snapshot)."""
    reader = shared_backend.store()
    writer = shared_backend.store(reader.table_name)
    writer["k"] = b"1"
    assert reader["k"] == b"1"
    assert len(reader) == 1
    writer["k"] = b"2"
    writer["new"] = b"x"
    assert reader["k"] == b"2"
    assert len(reader) == 2
    del writer["k"]
    assert "k" not in reader
