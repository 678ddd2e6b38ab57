"""Concurrent pops and deletes of one key, beside pruning writers; keys wider than the table."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from kv_core import ConflictError, InvalidKeyError, StoreUnavailable
from kv_sql import _transactions

THREADS = 6


def _together(work: Any) -> list[BaseException]:
    """Run *work()* in THREADS threads released at once; return what they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def guarded() -> None:
        try:
            barrier.wait(30)
            work()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


@pytest.mark.parametrize("prune", [False, True], ids=["plain", "prune"])
@pytest.mark.parametrize("operation", ["pop", "del"])
def test_one_winner_among_concurrent_pops_and_deletes(
    shared_backend: Any, operation: str, prune: bool
) -> None:
    """Threads popping (or deleting) one key at once: one wins, the others get KeyError."""
    store = shared_backend.store(prune_on_write=prune)
    rounds = 30
    for round_ in range(rounds):
        store["k"] = b"v%d" % round_
        won: list[Any] = []
        missing: list[str] = []

        def work(won: list[Any] = won, missing: list[str] = missing) -> None:
            try:
                if operation == "pop":
                    won.append(store.pop("k"))
                else:
                    del store["k"]
                    won.append(True)
            except KeyError:
                missing.append("k")

        assert _together(work) == []
        assert len(won) == 1, f"round {round_}: {len(won)} winners"
        assert len(missing) == THREADS - 1
        if operation == "pop":
            assert won == [b"v%d" % round_]
    deleted = [v.deleted for v in store.history("k")]
    # One value and one tombstone a round: a losing delete wrote nothing.
    assert deleted == ([True] if prune else [False, True] * rounds)


@pytest.mark.parametrize("name", ["mariadb", "postgres"])
def test_pops_and_deletes_beside_pruning_writers(name: str, server_backend_factory: Any) -> None:
    """Pruning writers, poppers and deleters on a few keys: no error, no outage reported.

    MariaDB reported its deadlock on the AUTO-INC lock of an ``INSERT ... SELECT`` from the
    table (error 1467) and the store called a healthy database unavailable.
    """
    store = server_backend_factory(name).store(prune_on_write=True)
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            for index in range(120):
                key = f"k{index % 3}"
                if index % 10 == 9:
                    store.pop(key, None)
                elif index % 10 == 4:
                    store.delete_many([key, f"k{(index + 1) % 3}"])
                elif index % 10 == 7:
                    with contextlib.suppress(KeyError):
                        del store[key]
                else:
                    store[key] = b"%d-%d" % (number, index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    for key in ("k0", "k1", "k2"):
        store[key] = b"last"
        assert [v.value for v in store.history(key)] == [b"last"]


def _alter_label(url: str, table: str, column_type: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text(f'ALTER TABLE "{table}" ALTER COLUMN label TYPE {column_type}'))
            else:
                conn.execute(text(f"ALTER TABLE `{table}` MODIFY label {column_type} NOT NULL"))
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", ["mariadb", "postgres"])
def test_key_length_wider_than_the_table(name: str, server_backend_factory: Any) -> None:
    """A table made with key_length=10 refuses key_length=100; nothing is ever truncated.

    MariaDB runs with ``sql_mode=''`` on the session, where it would truncate silently.
    """
    backend = server_backend_factory(name)
    kwargs: dict[str, Any] = {}
    if name == "mariadb":
        kwargs["engine_kwargs"] = {"connect_args": {"init_command": "SET SESSION sql_mode=''"}}
    table = backend.new_table()
    backend.store(table, key_length=10, **kwargs).close()
    with pytest.raises(ValueError, match="key_length=10 or less"):
        backend.cls(backend.url, table, key_length=100, **kwargs)
    store = backend.store(table, key_length=10, **kwargs)
    if name == "mariadb":
        mode = store._query_one("SELECT @@SESSION.sql_mode", ())
        assert "STRICT_ALL_TABLES" in mode.split(",")
    longest = "\U0001f600" * 10 if name == "mariadb" else "k" * 10
    store[longest] = b"whole"
    assert list(store) == [longest]
    assert store[longest] == b"whole"
    narrower = backend.store(table, key_length=4, **kwargs)  # within the column: fine
    assert narrower.key_length == 4
    narrower["abcd"] = b"4"
    assert store["abcd"] == b"4"


@pytest.mark.parametrize("name", ["mariadb", "postgres"])
def test_column_narrowed_under_an_open_store(name: str, server_backend_factory: Any) -> None:
    """A key the column no longer holds raises InvalidKeyError, never a driver error."""
    backend = server_backend_factory(name)
    kwargs: dict[str, Any] = {}
    if name == "mariadb":
        kwargs["engine_kwargs"] = {"connect_args": {"init_command": "SET SESSION sql_mode=''"}}
    table = backend.new_table()
    store = backend.store(table, key_length=10, **kwargs)
    store["short"] = b"1"
    _alter_label(
        backend.url, table, "VARBINARY(20)" if name == "mariadb" else 'VARCHAR(5) COLLATE "C"'
    )
    key = "\U0001f600" * 6 if name == "mariadb" else "k" * 6  # 24 bytes; 6 characters
    with pytest.raises(InvalidKeyError):
        store[key] = b"too wide now"
    with pytest.raises(InvalidKeyError):
        store.set_many({key: b"too wide now", "other": b"2"})
    assert list(store) == ["short"]


@pytest.mark.parametrize("code", [1213, 1467])
def test_deadlocks_are_rerun_and_never_reported_as_an_outage(
    code: int, mariadb_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deadlock (1467 is MariaDB's on the AUTO-INC lock) reruns the transaction; too many
    in a row raise ConflictError, not StoreUnavailable, and the connection stays usable."""
    pymysql = pytest.importorskip("pymysql")
    store = mariadb_backend.store(prune_on_write=True)
    original = store._insert
    failures = {"left": 3}

    def deadlocking(cur: Any, params: Any) -> int:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise pymysql.err.OperationalError(code, "deadlock, as the server reports it")
        return original(cur, params)

    store._insert = deadlocking  # type: ignore[method-assign]
    store["k"] = b"1"  # three deadlocks, then it goes through
    assert failures["left"] == 0
    assert store["k"] == b"1"
    monkeypatch.setattr(_transactions, "_DEADLOCK_ATTEMPTS", 4)
    failures["left"] = 10
    with pytest.raises(ConflictError) as caught:
        store["k"] = b"2"
    assert not isinstance(caught.value, StoreUnavailable)
    del store._insert
    assert store["k"] == b"1"
    store["k"] = b"3"
    assert [v.value for v in store.history("k")] == [b"3"]
