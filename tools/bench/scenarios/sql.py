"""kv-sql against the raw DB-API drivers, SQLAlchemy Core, sqlitedict and diskcache.

SQLite (a file in a temp dir, WAL + synchronous=NORMAL everywhere), MariaDB and PostgreSQL
(skipped when not reachable; ``KV_TEST_MYSQL_URL`` / ``KV_TEST_POSTGRES_URL`` point elsewhere).
The raw and Core baselines run the very statements the store runs, on the same table.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any

from harness import Case
from sqlalchemy import bindparam, desc, insert, select

from kv_dev.services import MYSQL, POSTGRES, port_open
from kv_sql import GenericSqlDict, MySqlDict, PostgresSqlDict
from kv_sql._schema import build_table

VALUE = b"x" * 100
KEY = "key:00042"
LIVE_KEYS = 2_000
MYSQL_URL = MYSQL.url
POSTGRES_URL = POSTGRES.url


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _core_cases(store: GenericSqlDict, label: str, key: Any) -> tuple[Callable[[], Any], ...]:
    """get and set through SQLAlchemy Core on one connection: compiled statements cached,
    the connection set up as the store's are."""
    table = build_table(store.table_name, store.key_length, store.engine.dialect.name)
    conn = store.engine.connect()
    if store.engine.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
        conn.commit()
    get_stmt = (
        select(table.c.item, table.c.is_deleted)
        .where(table.c.label == bindparam("k"))
        .order_by(desc(table.c.sequence_number))
        .limit(1)
    )
    set_stmt = insert(table)

    def get() -> Any:
        row = conn.execute(get_stmt, {"k": key}).first()
        conn.rollback()
        return row

    def put() -> None:
        conn.execute(set_stmt, {"label": key, "item": VALUE, "is_deleted": 0, "created": _now()})
        conn.commit()

    return get, put, conn.close


@contextmanager
def _sqlite(tmp: str) -> Iterator[list[Case]]:
    path = os.path.join(tmp, "kv.db")
    store = GenericSqlDict(f"sqlite:///{path}", "kv")
    store.set_many({f"key:{i:05d}": VALUE for i in range(LIVE_KEYS)})
    for _ in range(10_000):
        store["hot"] = VALUE
    raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    raw.execute("PRAGMA synchronous=NORMAL")
    cur = raw.cursor()
    get_sql = store._st.get
    set_sql = store._st.insert

    def raw_get() -> Any:
        cur.execute(get_sql, (KEY,))
        return cur.fetchone()

    def raw_set() -> None:
        cur.execute(set_sql, (KEY, VALUE, _now().isoformat(" ", "microseconds")))

    group_sql = (
        "SELECT cur.label FROM kv cur JOIN (SELECT label, MAX(sequence_number) AS seq FROM kv"
        " GROUP BY label) newest ON cur.sequence_number = newest.seq WHERE cur.is_deleted = 0"
    )
    window_sql = (
        "SELECT label FROM (SELECT label, is_deleted, ROW_NUMBER() OVER (PARTITION BY label"
        " ORDER BY sequence_number DESC) AS rn FROM kv) WHERE rn = 1 AND is_deleted = 0"
    )
    core_get, core_set, core_close = _core_cases(store, "sqlite", KEY)

    from diskcache import Cache
    from sqlitedict import SqliteDict

    cache = Cache(os.path.join(tmp, "diskcache"))
    sdict = SqliteDict(
        os.path.join(tmp, "sqlitedict.db"), autocommit=True, encode=bytes, decode=bytes
    )
    sdict_raw = sqlite3.connect(os.path.join(tmp, "sqlitedict.db"))
    sdict_raw.execute("PRAGMA journal_mode=WAL")
    sdict_raw.close()
    for i in range(LIVE_KEYS):
        cache[f"key:{i:05d}"] = VALUE
    sdict.update({f"key:{i:05d}": VALUE for i in range(200)})
    sdict.commit()
    try:
        yield [
            Case("sqlite get", "raw sqlite3", raw_get, baseline=True),
            Case("sqlite get", "SQLAlchemy Core", core_get),
            Case("sqlite get", "GenericSqlDict", lambda: store[KEY]),
            Case("sqlite get", "diskcache", lambda: cache[KEY]),
            Case("sqlite get", "sqlitedict", lambda: sdict[KEY]),
            Case("sqlite set WAL+NORMAL", "raw sqlite3", raw_set, baseline=True),
            Case("sqlite set WAL+NORMAL", "SQLAlchemy Core", core_set),
            Case("sqlite set WAL+NORMAL", "GenericSqlDict", lambda: store.__setitem__(KEY, VALUE)),
            Case("sqlite set WAL+NORMAL", "diskcache", lambda: cache.set(KEY, VALUE)),
            Case("sqlite set WAL+NORMAL", "sqlitedict", lambda: sdict.__setitem__(KEY, VALUE)),
            Case(
                "sqlite get by history",
                "key with 1 version",
                lambda: store["key:01999"],
                baseline=True,
            ),
            Case("sqlite get by history", "key with 10,000 versions", lambda: store["hot"]),
            Case(
                f"sqlite list {LIVE_KEYS} keys",
                "raw GROUP BY max() join",
                lambda: raw.execute(group_sql).fetchall(),
                baseline=True,
            ),
            Case(
                f"sqlite list {LIVE_KEYS} keys",
                "raw window function",
                lambda: raw.execute(window_sql).fetchall(),
            ),
            # iter(): list(store) would first call len(store), a second query, as for any Sized.
            Case(f"sqlite list {LIVE_KEYS} keys", "GenericSqlDict", lambda: list(iter(store))),
            Case(f"sqlite list {LIVE_KEYS} keys", "GenericSqlDict len", lambda: len(store)),
        ]
    finally:
        core_close()
        raw.close()
        cache.close()
        sdict.close()
        store.close()


@contextmanager
def _server(name: str, url: str, cls: type[GenericSqlDict]) -> Iterator[list[Case]]:
    table = f"bench_{uuid.uuid4().hex[:10]}"
    store = cls(url, table)
    binary = name == "MariaDB"
    key = KEY.encode() if binary else KEY
    store.set_many({f"key:{i:05d}": VALUE for i in range(200)})
    if binary:
        import pymysql
        from sqlalchemy.engine import make_url

        u = make_url(url)
        raw: Any = pymysql.connect(
            host=u.host,
            port=u.port or 3306,
            user=u.username,
            password=u.password or "",
            database=u.database,
            autocommit=True,
        )
    else:
        import psycopg

        raw = psycopg.connect(
            url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
        )
    cur = raw.cursor()
    get_sql, set_sql = store._st.get, store._st.insert

    def raw_get() -> Any:
        cur.execute(get_sql, (key,))
        return cur.fetchone()

    def raw_set() -> None:
        cur.execute(set_sql, (key, VALUE, _now()))

    core_get, core_set, core_close = _core_cases(store, name, key)
    try:
        yield [
            Case(
                f"{name} get", f"raw {type(raw).__module__.split('.')[0]}", raw_get, baseline=True
            ),
            Case(f"{name} get", "SQLAlchemy Core", core_get),
            Case(f"{name} get", cls.__name__, lambda: store[KEY]),
            Case(
                f"{name} set", f"raw {type(raw).__module__.split('.')[0]}", raw_set, baseline=True
            ),
            Case(f"{name} set", "SQLAlchemy Core", core_set),
            Case(f"{name} set", cls.__name__, lambda: store.__setitem__(KEY, VALUE)),
        ]
    finally:
        core_close()
        cur.close()
        raw.close()
        with store.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {table}")
        store.close()


SqliteCases = Callable[[str], AbstractContextManager[list[Case]]]
ServerCases = Callable[[str, str, type[GenericSqlDict]], AbstractContextManager[list[Case]]]


@contextmanager
def each_database(prefix: str, sqlite: SqliteCases, server: ServerCases) -> Iterator[list[Case]]:
    """The cases of *sqlite* (in a temporary directory), then of *server* on MariaDB and
    PostgreSQL when they answer: the one driver of every SQL scenario."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        with ExitStack() as stack:
            cases = list(stack.enter_context(sqlite(tmp)))
            if port_open(MYSQL_URL):
                cases += stack.enter_context(server("MariaDB", MYSQL_URL, MySqlDict))
            if port_open(POSTGRES_URL):
                cases += stack.enter_context(server("PostgreSQL", POSTGRES_URL, PostgresSqlDict))
            yield cases
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def scenario() -> AbstractContextManager[list[Case]]:
    """SQLite always; MariaDB and PostgreSQL when they answer."""
    return each_database("kv-bench-sql-", _sqlite, _server)
