"""Making the SQLAlchemy engine, creating the table, and per-connection settings."""

from __future__ import annotations

import importlib.util
import logging
import os
import random
import time
from typing import Any
from urllib.parse import quote

from sqlalchemy import Table, create_engine, inspect
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import StaticPool
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.types import BINARY, VARBINARY, LargeBinary

from kv_core import InvalidStoreURL, UnknownStoreError, redact_url

from ._deadlines import apply_deadlines
from ._failures import connection_failure, driver_error, is_retryable
from ._profiles import profile_for
from ._schema import build_table

__all__ = [
    "create_table",
    "create_table_ddl",
    "is_memory_sqlite",
    "kv_table",
    "label_capacity",
    "make_engine",
    "require_table",
    "sqlite_read_only",
]

logger = logging.getLogger(__name__)

# The drivers kv-sql's extras install, used when a URL names no driver and SQLAlchemy's
# default one (mysqlclient, psycopg2) is not installed.
_FALLBACK_DRIVERS = {
    "mysql": ("MySQLdb", "pymysql"),
    "mariadb": ("MySQLdb", "pymysql"),
    "postgresql": ("psycopg2", "psycopg"),
}
# What to install for each driver, for the message when it is missing.
_EXTRAS = {
    "mysql": "'kv-sql[mysql]'",
    "mariadb": "'kv-sql[mysql]'",
    "postgresql": "'kv-sql[postgres]'",
    "duckdb": "'kv-sql[duckdb]'",
    "firebird": "'kv-sql[firebird]'",
}
# Databases whose SQLAlchemy dialect is a package of its own, installed by kv-sql's extra.
_PLUGIN_DIALECTS = frozenset({"duckdb", "firebird"})
_OUR_DRIVERS = {"pymysql": "mysql", "psycopg": "postgresql"}
_DRIVER_PACKAGES = {
    "psycopg2": "psycopg2-binary",
    "pg8000": "pg8000",
    "mysqldb": "mysqlclient",
    "firebird": "firebird-driver",
    "fdb": "fdb",
    "mysqlconnector": "mysql-connector-python",
    "mariadbconnector": "mariadb",
}
# Heroku and others write postgres://, a name SQLAlchemy 1.4 dropped.
_ALIASES = {"postgres": "postgresql"}


def is_memory_sqlite(url: URL) -> bool:
    """Whether *url* names a private in-memory SQLite database."""
    if url.get_backend_name() != "sqlite":
        return False
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


def database_url_text(text: str) -> str:
    """*text* with a ``postgres`` scheme (``postgres://``, ``postgres+driver://``) renamed
    ``postgresql``, the name SQLAlchemy knows; anything else unchanged."""
    scheme, sep, rest = text.partition("://")
    family, plus, driver = scheme.partition("+")
    alias = _ALIASES.get(family.lower())
    if not sep or alias is None:
        return text
    return f"{alias}{plus}{driver}{sep}{rest}"


def _missing_driver(url: URL, exc: ImportError) -> UnknownStoreError:
    """The error for a URL whose DB-API driver is not installed: what to pip install."""
    backend, _, driver = url.drivername.partition("+")
    extra = _EXTRAS.get(backend)
    module = exc.name or driver or "its driver"
    if not driver or _OUR_DRIVERS.get(driver) == backend:
        how = f"pip install {extra}" if extra else f"install the DB-API driver {module}"
        msg = f"{backend}:// needs a database driver ({module} is not installed): {how}"
    else:
        package = _DRIVER_PACKAGES.get(driver, module)
        msg = (
            f"{backend}+{driver}:// needs the {module} driver, which is not installed: "
            f"pip install {package}"
        )
        if extra:
            msg += f" (or pip install {extra} and use {backend}://)"
    return UnknownStoreError(msg)


def _check_driver(url: URL, shown: str) -> None:
    """Refuse a driver SQLAlchemy does not have, or one for asyncio only."""
    try:
        dialect = url.get_dialect()
    except sa_exc.NoSuchModuleError:
        extra = _EXTRAS.get(url.get_backend_name())
        if extra is not None and url.get_backend_name() in _PLUGIN_DIALECTS:
            # A dialect of its own package (duckdb-engine, sqlalchemy-firebird), not installed.
            msg = f"{url.drivername}:// needs its SQLAlchemy dialect: pip install {extra}"
            raise UnknownStoreError(msg) from None
        msg = f"SQLAlchemy has no database or driver {url.drivername!r} (in {shown!r})"
        raise InvalidStoreURL(msg) from None
    if getattr(dialect, "is_async", False):
        backend = url.get_backend_name()
        msg = (
            f"{url.drivername} is a driver for asyncio; kv-sql needs a synchronous one, "
            f"such as {backend}:// with pip install {_EXTRAS.get(backend, 'its driver')}"
        )
        raise InvalidStoreURL(msg)


# SQLite URI parameters (https://sqlite.org/uri.html), which SQLAlchemy passes on only with
# uri=true; kv-sql adds it.
_SQLITE_URI_OPTIONS = ("mode", "cache", "nolock", "immutable", "vfs", "modeof", "psow")
_TRUE = ("1", "true", "yes", "on")


def sqlite_read_only(url: URL) -> bool:
    """Whether *url* opens a SQLite database read-only (``mode=ro`` or ``immutable=1``)."""
    if url.get_backend_name() != "sqlite":
        return False
    query = url.query
    return query.get("mode") == "ro" or str(query.get("immutable", "")).lower() in _TRUE


def _is_wal(path: str) -> bool:
    # The header's "file format write version" (byte 18) is 2 for WAL.
    try:
        with open(path, "rb") as file:
            header = file.read(20)
    except OSError:
        return False
    return len(header) == 20 and header.startswith(b"SQLite format 3\0") and header[18] == 2


def _sqlite_file_url(url: URL) -> URL:
    """*url* as a SQLite URI (``file:...?mode=ro``) when it has URI options or is read-only.

    A file this process cannot write (or whose directory it cannot write, where SQLite
    keeps the journal) is opened with ``mode=ro``. A WAL database needs its ``-shm`` file
    even to be read: on a read-only file system without one, SQLite can only open it as
    ``immutable=1``, which is safe there, since nothing can change the file.
    """
    query = dict(url.query)
    if str(query.get("uri", "")).lower() in _TRUE:
        return url
    options = {name: query.pop(name) for name in _SQLITE_URI_OPTIONS if name in query}
    path = os.path.abspath(url.database or "")
    directory = os.path.dirname(path)
    exists = os.path.exists(path)
    if exists and not (os.access(path, os.W_OK) and os.access(directory, os.W_OK)):
        options.setdefault("mode", "ro")
    if options.get("mode") == "ro" and exists and "immutable" not in options:
        shm_missing = not os.path.exists(f"{path}-shm")
        if _is_wal(path) and shm_missing and not os.access(directory, os.W_OK):
            if not os.statvfs(directory).f_flag & os.ST_RDONLY:
                msg = (
                    f"cannot open {path!r} read-only: it is a WAL database without its -shm "
                    "file, in a directory this process cannot write; add immutable=1 to the "
                    "URL if nothing else writes the database meanwhile"
                )
                raise InvalidStoreURL(msg)
            options["immutable"] = "1"
    if not options:
        return url
    return url.set(database=f"file:{quote(path)}", query={**query, **options, "uri": "true"})


def _with_driver(url: URL) -> URL:
    if "+" in url.drivername:
        return url
    fallback = _FALLBACK_DRIVERS.get(url.drivername)
    if fallback is None:
        return url
    default, ours = fallback
    if importlib.util.find_spec(default) is None and importlib.util.find_spec(ours) is not None:
        return url.set(drivername=f"{url.drivername}+{ours}")
    return url


def make_engine(url_or_text: str | URL, engine_kwargs: dict[str, Any] | None) -> Engine:
    """An engine for *url_or_text* with kv-sql's defaults under the user's *engine_kwargs*.

    Defaults: ``pool_pre_ping=True``; an in-memory SQLite database gets ``StaticPool`` (one
    connection shared by every thread, so they all see the same data); a SQLite file gets a
    30 s busy timeout, and is opened read-only if it cannot be written. Server pools get
    ``max_overflow=-1``: each thread using a store holds one connection (see the README), so
    a fixed cap would make the extra threads wait; and the deadlines of ``_deadlines``.
    """
    text = url_or_text
    if isinstance(text, str) and text.strip() == "sqlite://:memory:":
        text = "sqlite://"  # the seed's spelling, which SQLAlchemy cannot parse
    if isinstance(text, str):
        text = database_url_text(text)
    shown = redact_url(text) if isinstance(text, str) else text.render_as_string()
    try:
        url = make_url(text)
    except (sa_exc.ArgumentError, ValueError) as exc:
        msg = f"not a database URL: {shown!r} ({exc})"
        raise InvalidStoreURL(msg) from None
    _check_driver(url, shown)
    url = _with_driver(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    user = dict(engine_kwargs or {})
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        if is_memory_sqlite(url):
            kwargs["poolclass"] = StaticPool
            kwargs.pop("pool_pre_ping")
            connect_args["check_same_thread"] = False
        else:
            url = _sqlite_file_url(url)
            connect_args["timeout"] = 30.0
            connect_args["check_same_thread"] = False
    if "poolclass" not in kwargs and "poolclass" not in user and "pool" not in user:
        kwargs["max_overflow"] = -1
    connect_args.update(user.pop("connect_args", {}) or {})
    url, install = apply_deadlines(url, connect_args)
    kwargs.update(user)
    if connect_args:
        kwargs["connect_args"] = connect_args
    try:
        engine = create_engine(url, **kwargs)
    except ImportError as exc:
        raise _missing_driver(url, exc) from exc
    if install is not None:
        install(engine)
    return engine


def _set_wal(engine: Engine) -> None:
    for attempt in range(20):
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
                conn.commit()
            return
        except sa_exc.OperationalError as exc:
            if attempt == 19 or not is_retryable("sqlite", driver_error(exc)):
                raise
            time.sleep(0.05)


def kv_table(engine: Engine, table_name: str, key_length: int) -> Table:
    """The key-value table's metadata for *engine*'s dialect (names within its limits)."""
    longest = engine.dialect.max_identifier_length
    return build_table(table_name, key_length, engine.dialect.name, longest=longest)


def create_table(engine: Engine, table_name: str, key_length: int, *, wal: bool) -> None:
    """Create the table and its indexes unless they exist; switch a SQLite file to WAL."""
    try:
        if wal:
            _set_wal(engine)
        for attempt in range(20):
            try:
                with engine.begin() as conn:
                    # Built once connected: some dialects learn their identifier limit then.
                    kv_table(engine, table_name, key_length).create(conn, checkfirst=True)
                break
            except sa_exc.DatabaseError as exc:
                # Another process may have created it between the check and the CREATE.
                if inspect(engine).has_table(table_name):
                    break
                # Firebird: two transactions changing the catalog at once conflict.
                if attempt == 19 or not is_retryable(engine.dialect.name, driver_error(exc)):
                    raise
                time.sleep(0.05 * random.random())
    except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.ProgrammingError) as exc:
        cause = driver_error(exc)
        error = connection_failure(engine, cause, f"open table {table_name!r}")
        if error is None:
            raise
        raise error from cause


def require_table(engine: Engine, table_name: str) -> None:
    """Check that a read-only database has the table, since it cannot be created there."""
    try:
        found = inspect(engine).has_table(table_name)
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
        cause = driver_error(exc)
        error = connection_failure(engine, cause, f"read table {table_name!r}")
        if error is None:
            raise
        raise error from cause
    if not found:
        msg = f"table {table_name!r} does not exist, and the database is read-only"
        raise ValueError(msg)


def label_capacity(engine: Engine, table_name: str) -> tuple[int, str] | None:
    """The longest key, in characters, that the existing table's ``label`` column holds.

    Returned with the column's type, for messages; ``None`` when the database does not
    enforce a width (SQLite) or the column has none. A ``VARBINARY`` label on MySQL/MariaDB
    holds UTF-8, up to 4 bytes a character.
    """
    if not profile_for(engine.dialect.name).width_enforced:
        return None
    try:
        columns = inspect(engine).get_columns(table_name)
    except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.ProgrammingError) as exc:
        cause = driver_error(exc)
        error = connection_failure(engine, cause, f"open table {table_name!r}")
        if error is None:
            raise
        raise error from cause
    for column in columns:
        if column["name"].lower() != "label":
            continue
        kind = column["type"]
        length = getattr(kind, "length", None)
        if not isinstance(length, int):
            return None
        shown = str(kind.compile(dialect=engine.dialect))
        # Firebird reflects OCTETS as its own VARCHAR type, with charset='OCTETS'.
        octets = str(getattr(kind, "charset", "") or "").upper() == "OCTETS"
        if isinstance(kind, BINARY | VARBINARY | LargeBinary) or octets:
            return length // 4, shown
        return length, shown
    return None


def create_table_ddl(engine: Engine, table_name: str, key_length: int) -> list[str]:
    """``CREATE TABLE IF NOT EXISTS`` and its indexes, as SQL text for *engine*'s dialect."""
    table = build_table(table_name, key_length, engine.dialect.name)
    statements: list[CreateTable | CreateIndex] = [CreateTable(table, if_not_exists=True)]
    statements += [CreateIndex(index, if_not_exists=True) for index in table.indexes]
    return [str(statement.compile(dialect=engine.dialect)) for statement in statements]
