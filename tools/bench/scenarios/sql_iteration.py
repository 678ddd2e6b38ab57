"""Listing 100k keys: kv-sql's paged iteration against the driver's own cursor.

Two targets per database (issue 15): the first key within 2x the time the raw cursor takes
to give its first row (timed cases below), and at most 2x the raw cursor's memory while
every key is iterated (tracemalloc peak, measured once at setup and printed as a ratio
before the timing table). The raw cursor runs the store's own listing statement (every
live label, one GROUP BY) on the same table: sqlite3's cursor, PyMySQL's and psycopg's
default (client-side) cursors.
"""

from __future__ import annotations

import os
import sqlite3
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from harness import Case
from sqlalchemy.engine import make_url

from kv_sql import GenericSqlDict

from .sql import each_database

KEYS = 100_000


def _fill(store: GenericSqlDict) -> None:
    batch = 10_000
    for start in range(0, KEYS, batch):
        store.set_many({f"key:{i:06d}": b"v" for i in range(start, start + batch)})


def _peak(fn: Callable[[], object]) -> int:
    """The tracemalloc peak, in bytes, of *fn* above what was allocated before it."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _drain(rows: Any) -> None:
    for _ in rows:
        pass


def _first_store_key(store: GenericSqlDict) -> str:
    keys = iter(store)
    try:
        return next(keys)
    finally:
        close = getattr(keys, "close", None)
        if close is not None:
            close()


def _cases(name: str, store: GenericSqlDict, cur: Any, label: str) -> list[Case]:
    sql = store._st.keys(low=False, high=False)

    def raw_iterate() -> None:
        cur.execute(sql)
        _drain(cur)

    def raw_first() -> Any:
        cur.execute(sql)
        return cur.fetchone()

    raw_peak = _peak(raw_iterate)
    store_peak = _peak(lambda: _drain(iter(store)))
    print(
        f"{name} iterate {KEYS:,} keys, tracemalloc peak: {type(store).__name__}"
        f" {store_peak / 1024:,.0f} KiB / {label} {raw_peak / 1024:,.0f} KiB"
        f" = {store_peak / max(raw_peak, 1):.2f}x",
        flush=True,
    )
    op = f"{name} first of {KEYS // 1000}k keys"
    every = f"{name} all of {KEYS // 1000}k keys"
    return [
        Case(op, label, raw_first, baseline=True),
        Case(op, type(store).__name__, lambda: _first_store_key(store)),
        Case(every, label, raw_iterate, baseline=True),
        Case(every, type(store).__name__, lambda: _drain(iter(store))),
    ]


@contextmanager
def _sqlite(tmp: str) -> Iterator[list[Case]]:
    path = os.path.join(tmp, "kv.db")
    store = GenericSqlDict(f"sqlite:///{path}", "kv")
    _fill(store)
    raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        yield _cases("SQLite", store, raw.cursor(), "raw sqlite3 cursor")
    finally:
        raw.close()
        store.close()


@contextmanager
def _server(name: str, url: str, cls: type[GenericSqlDict]) -> Iterator[list[Case]]:
    table = f"bench_{uuid.uuid4().hex[:10]}"
    store = cls(url, table)
    raw: Any
    if name == "MariaDB":
        import pymysql

        u = make_url(url)
        raw = pymysql.connect(
            host=u.host,
            port=u.port or 3306,
            user=u.username,
            password=u.password or "",
            database=u.database,
            autocommit=True,
        )
        label = "raw pymysql cursor"
    else:
        import psycopg

        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        raw = psycopg.connect(dsn, autocommit=True)
        label = "raw psycopg cursor"
    try:
        _fill(store)
        # As autovacuum (or InnoDB's persistent statistics) would soon after a bulk load:
        # without statistics PostgreSQL guesses 200 labels and sorts them all for a page.
        with store.engine.begin() as conn:
            conn.exec_driver_sql(f"ANALYZE {'TABLE ' if name == 'MariaDB' else ''}{table}")
        yield _cases(name, store, raw.cursor(), label)
    finally:
        raw.close()
        with store.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {table}")
        store.close()


def scenario() -> AbstractContextManager[list[Case]]:
    """SQLite always; MariaDB and PostgreSQL when they answer."""
    return each_database("kv-bench-sqlit-", _sqlite, _server)
