"""Lock-wait timeouts on prune_on_write are rerun as whole transactions."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from kv_sql import _transactions
from kv_sql._failures import is_retryable


def _hold_rows(url: str, table: str, seconds: float, locked: threading.Event) -> None:
    """Lock every row of the table from another connection for *seconds*."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            quoted = engine.dialect.identifier_preparer.quote(table)
            conn.execute(text(f"SELECT * FROM {quoted} FOR UPDATE")).fetchall()
            locked.set()
            time.sleep(seconds)
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", ["mariadb", "postgres"])
def test_lock_timeout_is_retried(
    name: str, server_backend_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pruning write that times out waiting for a lock runs again and succeeds."""
    retried: list[BaseException] = []

    def spy(dialect_name: str, error: BaseException) -> bool:
        answer = is_retryable(dialect_name, error)
        if answer:
            retried.append(error)
        return answer

    monkeypatch.setattr(_transactions, "is_retryable", spy)
    backend = server_backend_factory(name)
    if name == "mariadb":
        connect_args = {"init_command": "SET SESSION innodb_lock_wait_timeout = 1"}
    else:
        connect_args = {"options": "-c lock_timeout=300"}
    table = backend.new_table()
    store = backend.cls(
        backend.url, table, prune_on_write=True, engine_kwargs={"connect_args": connect_args}
    )
    backend.stores.append(store)
    store["k"] = b"1"
    locked = threading.Event()
    holder = threading.Thread(target=_hold_rows, args=(backend.url, table, 1.6, locked))
    holder.start()
    try:
        assert locked.wait(10)
        store["k"] = b"2"  # waits, times out at least once, is rerun after the lock goes
    finally:
        holder.join(30)
    assert retried, "the write never timed out waiting for the lock"
    assert store["k"] == b"2"
    assert [v.value for v in store.history("k")] == [b"2"]
