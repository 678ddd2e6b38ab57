"""Listing 100k keys: kv-sql's paged iteration against the driver's own cursor.

Two targets per database (issue 15): the first key within 2x the time the raw cursor takes
to give its first row (timed cases below), and at most 2x the raw cursor's memory while
every key is iterated (printed as a ratio before the timing table).

Memory is the growth of the process's peak resident set while every key is iterated, each
side in a fresh interpreter of its own: the drivers keep rows in C memory (libpq's results,
sqlite3's statements) that tracemalloc never sees. Each child opens its connection, reads
a first row (so imports, statement caches and buffers are in place), resets the kernel's
high-water mark (``/proc/self/clear_refs``), iterates all the keys and reports ``VmHWM``
less the ``VmRSS`` it started from. The raw side streams the store's own listing statement
(every live label, one GROUP BY) as a careful user would: sqlite3's cursor row by row,
PyMySQL's ``SSCursor`` (unbuffered), psycopg's ``Cursor.stream`` (single-row mode). The
timed cases use the drivers' default cursors, as before.
"""

from __future__ import annotations

import gc
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from harness import Case
from sqlalchemy.engine import make_url

from kv_sql import GenericSqlDict, MySqlDict, PostgresSqlDict

from .sql import each_database

KEYS = 100_000


def _fill(store: GenericSqlDict) -> None:
    batch = 10_000
    for start in range(0, KEYS, batch):
        store.set_many({f"key:{i:06d}": b"v" for i in range(start, start + batch)})


_BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_STREAMED = {
    "SQLite": "sqlite3 cursor",
    "MariaDB": "pymysql SSCursor",
    "PostgreSQL": "psycopg Cursor.stream",
}
_STORES = {"SQLite": GenericSqlDict, "MariaDB": MySqlDict, "PostgreSQL": PostgresSqlDict}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    msg = f"no {field} in /proc/self/status"
    raise RuntimeError(msg)


def _raw_connection(name: str, url: str) -> Any:
    """A DB-API connection of the driver of *name*, in autocommit mode."""
    if name == "SQLite":
        return sqlite3.connect(make_url(url).database or "", isolation_level=None)
    if name == "MariaDB":
        import pymysql

        u = make_url(url)
        return pymysql.connect(
            host=u.host,
            port=u.port or 3306,
            user=u.username,
            password=u.password or "",
            database=u.database,
            autocommit=True,
        )
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def _streamed(name: str, conn: Any, sql: str) -> Iterator[Any]:
    """The rows of *sql*, one at a time from the server, as a careful user reads them."""
    if name == "SQLite":
        yield from conn.execute(sql)  # sqlite3 steps the statement row by row
    elif name == "MariaDB":
        import pymysql.cursors

        with conn.cursor(pymysql.cursors.SSCursor) as cur:
            cur.execute(sql)
            yield from cur
    else:
        yield from conn.cursor().stream(sql)


def _buffered(conn: Any, sql: str) -> Iterator[Any]:
    """The rows of *sql* through the driver's default cursor, all fetched at once."""
    cur = conn.cursor()
    cur.execute(sql)
    yield from cur.fetchall()


def measure_child(side: str, name: str, url: str, table: str) -> None:
    """In a fresh interpreter: print the keys one iteration yields and its peak RSS growth.

    Before the measured iteration each side counts the keys and reads a first one on its
    own connection: imports, statement caches and SQLite's page cache (which a count fills
    as far as the listing will) are then in place on both sides alike.
    """
    rows: Callable[[], Iterator[Any]]
    store = _STORES[name](url, table)
    if side == "store":
        len(store)
        rows = first_rows = lambda: iter(store)
    else:
        conn = _raw_connection(name, url)
        sql = store._st.keys(low=False, high=False)
        cur = conn.cursor()
        cur.execute(store._st.count())
        cur.fetchall()
        cur.close()
        read = _streamed if side == "stream" else lambda name, conn, sql: _buffered(conn, sql)
        rows = lambda: read(name, conn, sql)  # noqa: E731
        # The first row streamed on both raw sides: a whole fetchall now would leave its
        # freed memory for the measured one to reuse.
        first_rows = lambda: _streamed(name, conn, sql)  # noqa: E731
        store.close()
    first = first_rows()
    next(first)
    close = getattr(first, "close", None)
    if close is not None:
        close()
    del first
    gc.collect()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # the high-water mark starts again from the current resident set
    before = _status_kib("VmRSS:")
    count = sum(1 for _ in rows())
    print(count, (_status_kib("VmHWM:") - before) * 1024)


def _rss_growth(side: str, name: str, url: str, table: str) -> int:
    """Peak RSS growth, in bytes, of iterating every key on *side* in a child process."""
    code = (
        f"import sys; sys.path[:0] = [{_BENCH_DIR!r}]; "
        "from scenarios.sql_iteration import measure_child; measure_child(*sys.argv[1:])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, side, name, url, table],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        msg = f"{name} {side} memory child failed:\n{done.stderr}"
        raise RuntimeError(msg)
    count, growth = (int(word) for word in done.stdout.split())
    if count != KEYS:
        msg = f"{name} {side} child listed {count} keys, not {KEYS}"
        raise RuntimeError(msg)
    return growth


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


def _cases(name: str, url: str, store: GenericSqlDict, cur: Any, label: str) -> list[Case]:
    sql = store._st.keys(low=False, high=False)

    def raw_iterate() -> None:
        cur.execute(sql)
        _drain(cur)

    def raw_first() -> Any:
        cur.execute(sql)
        return cur.fetchone()

    stream_peak = _rss_growth("stream", name, url, store.table_name)
    buffered_peak = _rss_growth("buffered", name, url, store.table_name)
    store_peak = _rss_growth("store", name, url, store.table_name)
    # Growth is counted in 4 KiB pages: a side that grew by none is taken as one page.
    print(
        f"{name} iterate {KEYS:,} keys, peak RSS growth: {type(store).__name__}"
        f" {store_peak / 1024:,.0f} KiB / {_STREAMED[name]} {stream_peak / 1024:,.0f} KiB"
        f" = {store_peak / max(stream_peak, 4096):.2f}x; / default cursor, fetchall"
        f" {buffered_peak / 1024:,.0f} KiB = {store_peak / max(buffered_peak, 4096):.2f}x",
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
        yield _cases("SQLite", f"sqlite:///{path}", store, raw.cursor(), "raw sqlite3 cursor")
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
        yield _cases(name, url, store, raw.cursor(), label)
    finally:
        raw.close()
        with store.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {table}")
        store.close()


def scenario() -> AbstractContextManager[list[Case]]:
    """SQLite always; MariaDB and PostgreSQL when they answer."""
    return each_database("kv-bench-sqlit-", _sqlite, _server)
