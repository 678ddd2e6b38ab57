"""The database URLs people already have, and failures that say what to do about them."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from kv_core import (
    AccessDeniedError,
    InvalidStoreURL,
    ReadOnlyError,
    StoreUnavailable,
    UnknownStoreError,
    open_store,
)
from kv_dev.services import unique_name
from kv_sql import GenericSqlDict, MySqlDict, PostgresSqlDict

from .conftest import Backend


def _with_scheme(url: str, scheme: str) -> str:
    return f"{scheme}://{url.split('://', 1)[1]}"


def _with_table(url: str, table: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}table={table}"


def test_sqlite_with_its_driver_named(tmp_path: Path) -> None:
    """sqlite+pysqlite:// is SQLAlchemy's spelling of sqlite:// and opens the same file."""
    with open_store(f"sqlite+pysqlite:///{tmp_path / 'kv.db'}") as store:
        assert type(store) is GenericSqlDict
        store["k"] = b"v"
    with open_store(f"sqlite:///{tmp_path / 'kv.db'}") as store:
        assert store["k"] == b"v"


@pytest.mark.parametrize(
    ("name", "scheme", "cls"),
    [
        ("mariadb", "mysql+pymysql", MySqlDict),
        ("mariadb", "mariadb+pymysql", MySqlDict),
        ("postgres", "postgresql+psycopg", PostgresSqlDict),
        ("postgres", "postgres", PostgresSqlDict),
        ("postgres", "postgres+psycopg", PostgresSqlDict),
    ],
)
def test_server_urls_in_every_spelling(
    server_backend_factory: Callable[[str], Backend], name: str, scheme: str, cls: type
) -> None:
    """dialect+driver forms and Heroku's postgres:// open the right store on the server."""
    backend = server_backend_factory(name)
    url = _with_table(_with_scheme(backend.url, scheme), backend.new_table())
    with open_store(url) as store:
        assert type(store) is cls
        store["k"] = b"v"
        assert store["k"] == b"v"
        assert store.engine.dialect.name in ("mysql", "mariadb", "postgresql")


def test_postgres_spelling_in_the_constructor(postgres_backend: Backend) -> None:
    """PostgresSqlDict takes postgres:// as well."""
    url = _with_scheme(postgres_backend.url, "postgres")
    with postgres_backend.store(url_or_engine=url) as store:
        store["k"] = b"v"
        assert store.engine.url.get_backend_name() == "postgresql"


@pytest.mark.parametrize(
    ("scheme", "module", "package"),
    [
        ("postgresql+psycopg2", "psycopg2", "psycopg2-binary"),
        ("postgresql+pg8000", "pg8000", "pg8000"),
        ("mysql+mysqldb", "MySQLdb", "mysqlclient"),
        ("mysql+mysqlconnector", "mysql.connector", "mysql-connector-python"),
    ],
)
def test_a_driver_that_is_not_installed_says_what_to_install(
    scheme: str, module: str, package: str
) -> None:
    """A URL naming a driver that is not installed names the pip package (and kv-sql's)."""
    try:
        installed = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        installed = False
    if installed:
        pytest.skip(f"{module} is installed here, so {scheme}:// opens")
    with pytest.raises(UnknownStoreError) as caught:
        open_store(f"{scheme}://user:s3cret@127.0.0.1:1/db")
    message = str(caught.value)
    assert f"pip install {package}" in message
    assert "kv-sql[" in message
    assert "s3cret" not in message


def test_an_unknown_driver_is_a_bad_url() -> None:
    """A driver SQLAlchemy does not have is an InvalidStoreURL naming it."""
    with pytest.raises(InvalidStoreURL, match="postgresql\\+nosuch"):
        open_store("postgresql+nosuch://127.0.0.1/db")


def test_an_asyncio_driver_is_refused() -> None:
    """asyncio drivers cannot serve a synchronous store: the message says what to use."""
    with pytest.raises(InvalidStoreURL, match="synchronous"):
        open_store("postgresql+asyncpg://127.0.0.1/db")


def test_sqlite_file_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    """A database file whose folder does not exist is AccessDeniedError, not unavailable."""
    with pytest.raises(AccessDeniedError, match="does not exist") as caught:
        open_store(f"sqlite:///{tmp_path / 'no' / 'such' / 'kv.db'}")
    assert not isinstance(caught.value, StoreUnavailable)
    assert caught.value.__cause__ is not None


def test_mariadb_unknown_user_and_database(mariadb_backend: Backend) -> None:
    """A login MariaDB refuses and a database it lacks are AccessDeniedError with the cause."""
    base = mariadb_backend.url.split("://", 1)[1].split("@", 1)[1]  # host:port/db
    host = base.split("/", 1)[0]
    for url in (
        f"mysql+pymysql://kv_no_such_user:s3cret@{host}/test",
        f"mysql+pymysql://root@{host}/{unique_name('kv_no_such_db')}",
    ):
        with pytest.raises(AccessDeniedError) as caught:
            MySqlDict(url, "t")
        assert "s3cret" not in str(caught.value)
        assert not isinstance(caught.value, StoreUnavailable)
        assert type(caught.value.__cause__).__module__.startswith("pymysql")


def test_postgres_unknown_role_and_database(postgres_backend: Backend) -> None:
    """A role PostgreSQL does not know and a missing database are AccessDeniedError."""
    host = postgres_backend.url.split("@", 1)[1].split("/", 1)[0]
    for url in (
        f"postgresql+psycopg://kv_no_such_role:s3cret@{host}/test",
        f"postgresql+psycopg://{postgres_backend.url.split('://', 1)[1].split('@', 1)[0]}"
        f"@{host}/{unique_name('kv_no_such_db')}",
    ):
        with pytest.raises(AccessDeniedError) as caught:
            PostgresSqlDict(url, "t")
        assert "s3cret" not in str(caught.value)
        assert type(caught.value.__cause__).__module__.startswith("psycopg")


@pytest.fixture
def mariadb_reader(mariadb_backend: Backend) -> Iterator[tuple[str, str, str]]:
    """A private MariaDB user allowed only to read one private table; dropped afterwards.

    Yields the URL of that user (with its password), the table, and the password.
    """
    table = mariadb_backend.new_table()
    mariadb_backend.store(table).close()
    user, password = unique_name("kv_reader")[:32], "right-pw"
    admin = create_engine(mariadb_backend.url, poolclass=NullPool)
    database = admin.url.database
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"))
            conn.execute(text(f"GRANT SELECT ON `{database}`.`{table}` TO '{user}'@'%'"))
        host = f"{admin.url.host or '127.0.0.1'}:{admin.url.port or 3306}"
        yield f"mysql+pymysql://{user}:{password}@{host}/{database}", table, password
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
        admin.dispose()


def test_mariadb_wrong_password(mariadb_reader: tuple[str, str, str]) -> None:
    """The wrong password for a real user is AccessDeniedError; the right one works."""
    url, table, password = mariadb_reader
    with pytest.raises(AccessDeniedError) as caught:
        MySqlDict(url.replace(password, "wrong-pw"), table)
    assert "wrong-pw" not in str(caught.value)
    with MySqlDict(url, table) as store:
        assert len(store) == 0


def test_mariadb_privilege_refused_at_write(mariadb_reader: tuple[str, str, str]) -> None:
    """A write the user may not make is AccessDeniedError; the store keeps working."""
    url, table, _ = mariadb_reader
    with MySqlDict(url, table) as store:
        with pytest.raises(AccessDeniedError):
            store["k"] = b"v"
        assert "k" not in store


def test_postgres_privilege_refused_at_write(postgres_backend: Backend) -> None:
    """On PostgreSQL, a role without INSERT on the table gets AccessDeniedError on write."""
    table = postgres_backend.new_table()
    postgres_backend.store(table).close()
    role = unique_name("kv_reader")
    admin = create_engine(postgres_backend.url, poolclass=NullPool)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
            conn.execute(text(f'GRANT SELECT ON "{table}" TO "{role}"'))
        host = f"{admin.url.host or '127.0.0.1'}:{admin.url.port or 5432}"
        url = f"postgresql+psycopg://{role}@{host}/{admin.url.database}"
        with PostgresSqlDict(url, table) as store:
            assert len(store) == 0
            with pytest.raises(AccessDeniedError):
                store["k"] = b"v"
            assert "k" not in store
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'REVOKE ALL ON "{table}" FROM "{role}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def test_purge_removes_every_row_of_the_keys(backend: Backend) -> None:
    """purge erases history and tombstones of its keys and leaves other keys alone."""
    store = backend.store()
    for version in (b"1", b"2", b"3"):
        store["gone"] = version
        store["kept"] = version
    del store["gone"]
    store["gone/too"] = b"x"
    assert len(store.history("gone")) == 4
    store.purge(["gone", "gone/too", "never-written"])
    assert store.history("gone") == []
    assert store.history("gone/too") == []
    assert [v.value for v in store.history("kept")] == [b"1", b"2", b"3"]
    future = store.snapshot(datetime.now(UTC) + timedelta(days=1))
    try:
        assert "gone" not in future
        with pytest.raises(ReadOnlyError):
            future.purge(["kept"])
    finally:
        future.close()
    with pytest.raises(TypeError):
        store.purge([1])  # type: ignore[list-item]
    assert store["kept"] == b"3"


def test_purge_checks_every_key_first(sqlite_backend: Backend) -> None:
    """A batch with one invalid key purges nothing."""
    store = sqlite_backend.store(key_length=5)
    store["a"] = b"1"
    with pytest.raises(ValueError, match=r"longer|length"):
        store.purge(["a", "much-too-long"])
    assert store["a"] == b"1"


@pytest.mark.parametrize(
    ("name", "scheme", "cls", "generic"),
    [
        ("postgres", "postgresql+psycopg2", PostgresSqlDict, False),
        ("postgres", "postgresql+pg8000", PostgresSqlDict, True),
        ("mariadb", "mysql+mysqldb", MySqlDict, False),
    ],
)
def test_other_drivers_open_by_url(
    server_backend_factory: Callable[[str], Backend],
    name: str,
    scheme: str,
    cls: type,
    generic: bool,
) -> None:
    """psycopg2, pg8000 and mysqlclient URLs open, each on the path that serves it."""
    module = {"postgresql+psycopg2": "psycopg2", "postgresql+pg8000": "pg8000"}.get(
        scheme, "MySQLdb"
    )
    pytest.importorskip(module)
    backend = server_backend_factory(name)
    url = _with_table(_with_scheme(backend.url, scheme), backend.new_table())
    with open_store(url) as store:
        assert type(store) is cls
        assert store._generic is generic
        store["k"] = b"v"
        assert store["k"] == b"v"


def test_duckdb_url(tmp_path: Path) -> None:
    """duckdb:///path opens a GenericSqlDict on the generic path, with its options."""
    pytest.importorskip("duckdb_engine")
    with open_store(f"duckdb:///{tmp_path / 'kv.duckdb'}?table=things&prune=1") as store:
        assert type(store) is GenericSqlDict
        assert store._generic
        assert store.table_name == "things"
        assert store.prune_on_write
        assert store.capabilities.processes is False
        store["k"] = b"v"
    with open_store(f"duckdb:///{tmp_path / 'kv.duckdb'}?table=things") as store:
        assert store["k"] == b"v"


def test_firebird_url() -> None:
    """firebird:// and firebird+firebird:// open a GenericSqlDict on the generic path."""
    pytest.importorskip("sqlalchemy_firebird")
    from kv_dev.services import FIREBIRD

    url = FIREBIRD.require()
    for scheme in ("firebird+firebird", "firebird"):
        table = unique_name("kvsql")
        try:
            with open_store(_with_table(_with_scheme(url, scheme), table)) as store:
                assert type(store) is GenericSqlDict
                assert store._generic
                store["k"] = b"v"
                assert store["k"] == b"v"
        finally:
            from .conftest import drop_table

            drop_table(url, table)


@pytest.mark.parametrize(
    ("scheme", "module"), [("duckdb", "duckdb_engine"), ("firebird", "sqlalchemy_firebird")]
)
def test_a_missing_dialect_package_says_what_to_install(scheme: str, module: str) -> None:
    """duckdb:// or firebird:// without its dialect package names kv-sql's extra."""
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here, so {scheme}:// opens")
    with pytest.raises(UnknownStoreError, match=rf"kv-sql\[{scheme}\]"):
        open_store(f"{scheme}://u:s3cret@127.0.0.1:1//db")


def test_pg8000_and_psycopg2_get_deadlines() -> None:
    """pg8000 gets its socket timeout (read_timeout sets it), psycopg2 libpq's connect_timeout."""
    from sqlalchemy.engine import make_url

    from kv_sql._deadlines import CONNECT_TIMEOUT, READ_TIMEOUT, apply_deadlines

    args: dict[str, object] = {}
    url, _ = apply_deadlines(make_url("postgresql+pg8000://u@h/db"), args)
    assert args == {"timeout": READ_TIMEOUT}
    args = {}
    url, _ = apply_deadlines(make_url("postgresql+pg8000://u@h/db?read_timeout=5"), args)
    assert args == {"timeout": 5.0}
    assert "read_timeout" not in url.query
    args = {}
    apply_deadlines(make_url("postgresql+psycopg2://u@h/db"), args)
    assert args["connect_timeout"] == CONNECT_TIMEOUT
