"""kv-sql's generic path (SQLAlchemy Core) against hand-written Core and the tuned path.

On SQLite (a file in a temp dir) and PostgreSQL (psycopg 3; skipped when not reachable):
the baseline is SQLAlchemy Core written by hand on one held connection, with prebuilt
statements (the engine's compiled cache), ending each call's transaction as the generic
path does; then the generic path (``CorePathSqlDict``, the store held to SQLAlchemy Core)
and the tuned path (the store's hand-written SQL on the DB-API cursor). Goal: generic
within 1.1x of hand-written Core.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

from harness import Case
from sqlalchemy import text

from kv_dev.services import port_open
from kv_sql import GenericSqlDict, PostgresSqlDict
from kv_sql._dialects import CorePathSqlDict
from scenarios.sql import KEY, POSTGRES_URL, VALUE, _core_cases


def _fill(store: GenericSqlDict) -> None:
    store.set_many({f"key:{i:05d}": VALUE for i in range(200)})


def _cases(name: str, tuned: GenericSqlDict, generic: GenericSqlDict) -> list[Case]:
    core_get, core_set, _ = _core_cases(generic, "hand-written Core", KEY)
    return [
        Case(f"{name} get", "hand-written Core", core_get, baseline=True),
        Case(f"{name} get", "generic path", lambda: generic[KEY]),
        Case(f"{name} get", "tuned path", lambda: tuned[KEY]),
        Case(f"{name} set", "hand-written Core", core_set, baseline=True),
        Case(f"{name} set", "generic path", lambda: generic.__setitem__(KEY, VALUE)),
        Case(f"{name} set", "tuned path", lambda: tuned.__setitem__(KEY, VALUE)),
    ]


@contextmanager
def _pair(url: str, cls: type[GenericSqlDict], table: str) -> Iterator[tuple[Any, Any]]:
    tuned = cls(url, table)
    generic = CorePathSqlDict(url, table)
    try:
        _fill(tuned)
        yield tuned, generic
    finally:
        generic.close()
        tuned.close()


@contextmanager
def _scenario() -> Iterator[list[Case]]:
    tmp = tempfile.mkdtemp(prefix="kv-bench-sql-generic-")
    try:
        with ExitStack() as stack:
            url = f"sqlite:///{os.path.join(tmp, 'kv.db')}"
            tuned, generic = stack.enter_context(_pair(url, GenericSqlDict, "kv"))
            cases = _cases("SQLite", tuned, generic)
            if port_open(POSTGRES_URL):
                table = f"bench_{uuid.uuid4().hex[:10]}"
                tuned, generic = stack.enter_context(_pair(POSTGRES_URL, PostgresSqlDict, table))
                stack.callback(_drop, POSTGRES_URL, table)
                cases += _cases("PostgreSQL", tuned, generic)
            yield cases
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _drop(url: str, table: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()


def scenario() -> AbstractContextManager[list[Case]]:
    """SQLite always; PostgreSQL when it answers."""
    return _scenario()
