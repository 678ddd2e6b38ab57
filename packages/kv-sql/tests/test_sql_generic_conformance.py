"""The conformance suite through the generic path (SQLAlchemy Core) and other drivers.

DuckDB and Firebird have no tuned profile; pg8000 is served by the generic path; psycopg2
and mysqlclient by the tuned one. SQLite and PostgreSQL also run forced onto the generic
path, so both paths are held to one contract on the same databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from kv_core.conformance import closed_port
from kv_sql import GenericSqlDict

from .conftest import Backend
from .test_sql_conformance import _capabilities, _SqlSuite

_NO_NUL = _capabilities(invalid=("a\x00b",), refused="\x00", compare_and_set=False)


class TestDuckDB(_SqlSuite):
    backend_name = "duckdb"
    # DuckDB locks its file to the process that opened it.
    capabilities = _capabilities(processes=False, compare_and_set=False)


class TestDuckDBPrune(TestDuckDB):
    prune = True


class TestFirebird(_SqlSuite):
    backend_name = "firebird"
    capabilities = _NO_NUL

    @pytest.fixture
    def kv_unavailable_store(self, firebird_backend: Backend) -> Iterator[GenericSqlDict]:
        """A store whose Firebird server went away after it was opened (a closed port)."""
        from firebird.driver import connect

        parts = make_url(firebird_backend.url)
        port = [parts.port or 3050]

        def connect_now() -> Any:
            dsn = f"{parts.host}/{port[0]}:{parts.database}"
            return connect(dsn, user=parts.username, password=parts.password, charset="UTF8")

        engine = create_engine(parts, creator=connect_now)
        store = firebird_backend.store(url_or_engine=engine)
        port[0] = closed_port()
        engine.dispose()
        yield store
        engine.dispose()


class TestFirebirdPrune(TestFirebird):
    prune = True


class TestPg8000(_SqlSuite):
    backend_name = "pg8000"
    capabilities = _NO_NUL


class TestPsycopg2(_SqlSuite):
    # The tuned SQL, so compare-and-set too.
    backend_name = "psycopg2"
    capabilities = _capabilities(invalid=("a\x00b",), refused="\x00")


class TestMysqlclient(_SqlSuite):
    backend_name = "mysqlclient"
    capabilities = _capabilities()


class TestSqliteGeneric(_SqlSuite):
    backend_name = "sqlite_generic"
    capabilities = _capabilities(compare_and_set=False)


class TestSqliteGenericPrune(TestSqliteGeneric):
    prune = True


class TestPostgresGeneric(_SqlSuite):
    backend_name = "postgres_generic"
    capabilities = _NO_NUL


class TestPostgresGenericPrune(TestPostgresGeneric):
    prune = True


@pytest.mark.parametrize(
    ("name", "generic"),
    [
        ("duckdb", True),
        ("firebird", True),
        ("pg8000", True),
        ("psycopg2", False),
        ("mysqlclient", False),
        ("sqlite_generic", True),
        ("postgres_generic", True),
    ],
)
def test_each_driver_takes_its_path(
    request: pytest.FixtureRequest, name: str, generic: bool
) -> None:
    """Drivers the tuned SQL serves take it; the others, and other databases, the generic path."""
    backend: Backend = request.getfixturevalue(f"{name}_backend")
    store: Any = backend.store()
    assert store._generic is generic
    store["k"] = b"v"
    assert store["k"] == b"v"


def test_the_tuned_sql_refuses_pg8000() -> None:
    """pg8000 is never given the hand-written SQL, which it would answer wrongly."""
    from sqlalchemy import create_engine

    from kv_sql._profiles import POSTGRESQL
    from kv_sql._sql import Statements

    pytest.importorskip("pg8000")
    engine = create_engine("postgresql+pg8000://u@127.0.0.1:1/db")
    with pytest.raises(ValueError, match="pg8000"):
        Statements.build(engine.dialect, POSTGRESQL, "kv", snapshot=False)
    engine.dispose()


def test_pg8000_reads_what_it_wrote(pg8000_backend: Backend) -> None:
    """A key just written through pg8000 is read back (it raised KeyError before)."""
    store = pg8000_backend.store()
    store["100%"] = b"v"
    store["a"] = "é"
    assert store["100%"] == b"v"
    assert store["a"] == "é".encode()
    assert sorted(store.keys_with_prefix("10")) == ["100%"]


def test_firebird_key_length_beyond_the_column_is_refused(firebird_backend: Backend) -> None:
    """Opening a Firebird table with a longer key_length than its OCTETS label holds fails."""
    table = firebird_backend.new_table()
    firebird_backend.store(table, key_length=10).close()
    with pytest.raises(ValueError, match="key_length=10"):
        firebird_backend.store(table, key_length=11)
