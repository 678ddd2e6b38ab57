"""Opening SQL stores from URLs: ``sqlite:///kv.db?table=kv&prune=1&key_length=255``.

Any SQLAlchemy ``dialect+driver`` form of SQLite, MySQL/MariaDB and PostgreSQL opens with
the driver it names (``postgresql+psycopg2://``, ``sqlite+pysqlite://``), or fails saying
what to install; ``postgres://`` (Heroku's spelling) is ``postgresql://``. ``duckdb://``
and ``firebird://`` (``firebird+firebird://``) open on the generic path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kv_core import InvalidStoreURL, parse_bool
from kv_core.urls import OptionReader, parse_int, read_options

from ._dialects import MySqlDict, PostgresSqlDict
from ._engine import database_url_text
from ._store import GenericSqlDict

__all__ = ["DEFAULT_TABLE", "open_sql_url"]

DEFAULT_TABLE = "kv"


def _snapshot(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        msg = f"option {name} must be an ISO 8601 time, not {value!r}"
        raise InvalidStoreURL(msg) from None


# kv-sql's own options (the first four may be in the URL), taken out before SQLAlchemy sees
# it, each with the reader that types its value.
_OWN: dict[str, OptionReader | None] = {
    "table": None,
    "key_length": parse_int,
    "prune": parse_bool,
    "snapshot": _snapshot,
    "serializer": None,
    "deserializer": None,
    "engine_kwargs": None,
}
# Keyword names of the store's constructor, for the URL's own names.
_ALIASES = {"prune_on_write": "prune", "snapshot_time": "snapshot", "table_name": "table"}
# Query parameters passed on to the driver (any other one is refused as a likely typo).
_DRIVER_OPTIONS = {
    "sqlite": ("timeout", "uri", "mode", "cache", "nolock", "immutable", "vfs", "modeof"),
    "mysql": (
        "charset",
        "connect_timeout",
        "read_timeout",
        "write_timeout",
        "unix_socket",
        "init_command",
        "local_infile",
        "program_name",
        "ssl_ca",
        "ssl_cert",
        "ssl_key",
        "ssl_check_hostname",
        "ssl_verify_cert",
        "ssl_verify_identity",
        "ssl_disabled",
    ),
    "postgresql": (
        "read_timeout",  # kv-sql's own deadline for each answer (see _deadlines)
        "timeout",  # pg8000's socket timeout
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "connect_timeout",
        "application_name",
        "options",
        "target_session_attrs",
        "client_encoding",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "service",
        "passfile",
        "gssencmode",
        "channel_binding",
        "host",
        "port",
    ),
}
_DRIVER_OPTIONS["mariadb"] = _DRIVER_OPTIONS["mysql"]
# firebird-driver's connection options (sqlalchemy-firebird passes the query on).
_DRIVER_OPTIONS["firebird"] = ("charset", "role", "timeout", "no_gc", "no_db_triggers")
# duckdb-engine: the database's settings (duckdb.connect(config=...)).
_DRIVER_OPTIONS["duckdb"] = ("access_mode", "threads", "memory_limit")


def _store_class(scheme: str) -> type[GenericSqlDict]:
    backend = scheme.split("+", 1)[0]
    if backend in ("mysql", "mariadb"):
        return MySqlDict
    if backend == "postgresql":
        return PostgresSqlDict
    return GenericSqlDict


def open_sql_url(url: str, **overrides: Any) -> GenericSqlDict:
    """Open a SQL store from *url*; keyword *overrides* win over the URL's options.

    Options: ``table`` (default ``kv``), ``key_length``, ``prune`` (``1``/``0``),
    ``snapshot`` (ISO 8601 time; naive is UTC). Other query parameters are the driver's
    (``?charset=utf8mb4``) and go to SQLAlchemy. Keyword-only: ``serializer``,
    ``deserializer``, ``engine_kwargs``, ``prune_on_write``, ``snapshot_time``, ``table_name``.
    """
    rewritten = database_url_text(url)
    backend = rewritten.partition("://")[0].lower().split("+", 1)[0]
    read = read_options(
        url, overrides, known=_OWN, driver=_DRIVER_OPTIONS.get(backend, ()), aliases=_ALIASES
    )
    parsed, options = read.url, read.store
    # The driver's options come from the URL only; the base is split by hand (driver_url).
    database_url = read.driver_url(rewritten.partition("?")[0])
    table = options.get("table", DEFAULT_TABLE)
    try:
        return _store_class(backend)(
            database_url,
            table,
            key_length=options.get("key_length", 255),
            snapshot_time=options.get("snapshot"),
            prune_on_write=options.get("prune", False),
            engine_kwargs=options.get("engine_kwargs"),
            serializer=options.get("serializer"),
            deserializer=options.get("deserializer"),
        )
    except ValueError as exc:
        if isinstance(exc, InvalidStoreURL):
            raise
        msg = f"cannot open {parsed.redacted!r}: {exc}"
        raise InvalidStoreURL(msg) from exc
