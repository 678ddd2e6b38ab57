"""Fixtures for kv-sql tests: database URLs, one table per test, dropped afterwards."""

from __future__ import annotations

import contextlib
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, create_engine, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.pool import NullPool

from kv_dev.services import FIREBIRD, MYSQL, POSTGRES, in_ci, unique_name
from kv_sql import GenericSqlDict, MySqlDict, PostgresSqlDict
from kv_sql._dialects import CorePathSqlDict

sys.path.insert(0, str(Path(__file__).parent))

from kvsql_private_servers import PrivateMariaDB, PrivatePostgres, SilentListener

BACKENDS = ("sqlite", "memory", "mariadb", "postgres")


def mysql_url() -> str:
    """The MariaDB/MySQL URL to test against; skips (fails in CI) when unreachable."""
    return MYSQL.require()


def postgres_url() -> str:
    """The PostgreSQL URL to test against; skips (fails in CI) when unreachable."""
    return POSTGRES.require()


def firebird_url() -> str:
    """The Firebird URL to test against; skips (fails in CI) when unset or unreachable."""
    return FIREBIRD.require()


def with_scheme(url: str, scheme: str) -> str:
    """*url* with its ``dialect+driver`` replaced by *scheme*."""
    return f"{scheme}://{url.split('://', 1)[1]}"


def _require_module(module: str, package: str) -> None:
    """Skip (locally) or fail (in CI, which installs every driver) without *module*."""
    try:
        __import__(module)
    except ImportError:
        msg = f"{module} is not installed: pip install {package}"
        if in_ci():
            pytest.fail(f"{msg}. CI=true: requirements-dev.txt installs it.")
        pytest.skip(msg)


def drop_table(url: str, table: str) -> None:
    """Drop *table* (if it exists) through a throwaway connection."""
    for attempt in range(20):
        try:
            _drop_table(url, table)
            return
        except DatabaseError:
            # Firebird: two workers changing the catalog at once conflict; again.
            if attempt == 19 or not url.startswith("firebird"):
                raise
            time.sleep(0.05 * random.random())


def _drop_table(url: str, table: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            if engine.dialect.name.startswith("firebird"):
                # No DROP TABLE IF EXISTS there.
                Table(table, MetaData()).drop(conn, checkfirst=True)
                return
            quoted = engine.dialect.identifier_preparer.quote(table)
            conn.execute(text(f"DROP TABLE IF EXISTS {quoted}"))
    finally:
        engine.dispose()


class Backend:
    """One database under test: makes stores on fresh tables and drops them all at the end."""

    def __init__(self, name: str, tmp_path: Path) -> None:
        self.name = name
        self.tables: list[tuple[str, str]] = []
        self.stores: list[GenericSqlDict] = []
        self.cls: type[GenericSqlDict] = GenericSqlDict
        if name == "sqlite":
            self.url = f"sqlite:///{tmp_path / 'kv.db'}"
        elif name == "memory":
            self.url = "sqlite://"
        elif name == "mariadb":
            self.url, self.cls = mysql_url(), MySqlDict
        elif name == "postgres":
            self.url, self.cls = postgres_url(), PostgresSqlDict
        elif name == "duckdb":
            _require_module("duckdb_engine", "'kv-sql[duckdb]'")
            self.url = f"duckdb:///{tmp_path / 'kv.duckdb'}"
        elif name == "firebird":
            _require_module("sqlalchemy_firebird", "'kv-sql[firebird]'")
            self.url = firebird_url()
        elif name == "mysqlclient":
            _require_module("MySQLdb", "'kv-sql[mysqlclient]'")
            self.url, self.cls = with_scheme(mysql_url(), "mysql+mysqldb"), MySqlDict
        elif name in ("psycopg2", "pg8000"):
            _require_module(name, f"'kv-sql[{name}]'")
            self.url, self.cls = with_scheme(postgres_url(), f"postgresql+{name}"), PostgresSqlDict
        elif name == "sqlite_generic":
            self.url, self.cls = f"sqlite:///{tmp_path / 'kv.db'}", CorePathSqlDict
        elif name == "postgres_generic":
            self.url, self.cls = postgres_url(), CorePathSqlDict
        else:
            msg = f"no backend {name!r}"
            raise ValueError(msg)

    @property
    def server(self) -> bool:
        """Whether the database is a server (tables must be dropped)."""
        return self.name not in ("sqlite", "memory", "duckdb", "sqlite_generic")

    def new_table(self) -> str:
        """A table name no other test uses, dropped at the end of the test."""
        table = unique_name("kvsql")
        if self.server:
            self.tables.append((self.url, table))
        return table

    def store(
        self, table: str | None = None, *, url_or_engine: Any = None, **kwargs: Any
    ) -> GenericSqlDict:
        """A store on *table* (a new one by default), closed at the end of the test."""
        made = self.cls(url_or_engine or self.url, table or self.new_table(), **kwargs)
        self.stores.append(made)
        return made

    def cleanup(self) -> None:
        """Close every store and drop every table made."""
        for made in self.stores:
            with contextlib.suppress(Exception):
                made.close()
        for url, table in self.tables:
            drop_table(url, table)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each database in turn: SQLite file, SQLite memory, MariaDB, PostgreSQL."""
    made = Backend(request.param, tmp_path)
    yield made
    made.cleanup()


@pytest.fixture(params=("sqlite", "mariadb", "postgres"))
def shared_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The databases several processes can share: SQLite file, MariaDB, PostgreSQL."""
    made = Backend(request.param, tmp_path)
    yield made
    made.cleanup()


@pytest.fixture
def server_backend_factory(tmp_path: Path) -> Iterator[Callable[[str], Backend]]:
    """Make a Backend by name; cleaned up after the test."""
    made: list[Backend] = []

    def make(name: str) -> Backend:
        made.append(Backend(name, tmp_path))
        return made[-1]

    yield make
    for one in made:
        one.cleanup()


@pytest.fixture
def mariadb_backend(tmp_path: Path) -> Iterator[Backend]:
    """MariaDB/MySQL only."""
    made = Backend("mariadb", tmp_path)
    yield made
    made.cleanup()


@pytest.fixture
def postgres_backend(tmp_path: Path) -> Iterator[Backend]:
    """PostgreSQL only."""
    made = Backend("postgres", tmp_path)
    yield made
    made.cleanup()


@pytest.fixture
def sqlite_backend(tmp_path: Path) -> Iterator[Backend]:
    """A SQLite file only."""
    made = Backend("sqlite", tmp_path)
    yield made
    made.cleanup()


@pytest.fixture
def memory_backend(tmp_path: Path) -> Iterator[Backend]:
    """An in-memory SQLite database only."""
    made = Backend("memory", tmp_path)
    yield made
    made.cleanup()


@pytest.fixture(scope="session")
def private_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMariaDB]:
    """A MariaDB server of this session's (this xdist worker's) own, to freeze or fill."""
    server = PrivateMariaDB(tmp_path_factory.mktemp("mariadb"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this session's (this xdist worker's) own, to freeze or fill."""
    server = PrivatePostgres()
    yield server
    server.stop()


@pytest.fixture
def silent_listener() -> Iterator[SilentListener]:
    """A loopback port that accepts connections and never answers."""
    listener = SilentListener()
    yield listener
    listener.close()


def _named_backend(name: str) -> Callable[..., Iterator[Backend]]:
    def fixture(tmp_path: Path) -> Iterator[Backend]:
        made = Backend(name, tmp_path)
        yield made
        made.cleanup()

    fixture.__doc__ = f"The {name} backend only."
    return pytest.fixture(name=f"{name}_backend")(fixture)


# The drivers and databases served by the generic path or the tuned one through other drivers.
duckdb_backend = _named_backend("duckdb")
firebird_backend = _named_backend("firebird")
mysqlclient_backend = _named_backend("mysqlclient")
psycopg2_backend = _named_backend("psycopg2")
pg8000_backend = _named_backend("pg8000")
sqlite_generic_backend = _named_backend("sqlite_generic")
postgres_generic_backend = _named_backend("postgres_generic")
