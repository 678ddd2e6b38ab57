"""Opening SQL stores from URLs: ``sqlite:///kv.db?table=kv&prune=1&key_length=255``.

Any SQLAlchemy ``dialect+driver`` form of SQLite, MySQL/MariaDB and PostgreSQL opens with
the driver it names (``postgresql+psycopg2://``, ``sqlite+pysqlite://``), or fails saying
what to install; ``postgres://`` (Heroku's spelling) is ``postgresql://``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from kv_core import InvalidStoreURL, StoreURL, parse_bool

from ._dialects import MySqlDict, PostgresSqlDict
from ._engine import database_url_text
from ._store import GenericSqlDict

__all__ = ["DEFAULT_TABLE", "open_sql_url"]

DEFAULT_TABLE = "kv"

# kv-sql's own options, taken out of the URL before SQLAlchemy sees it.
_OWN = ("table", "key_length", "prune", "snapshot")
_KEYWORDS = ("serializer", "deserializer", "engine_kwargs", "prune_on_write", "snapshot_time")
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


def _split(url: str) -> tuple[str, dict[str, str], dict[str, str]]:
    # Split by hand: urlunsplit would turn sqlite:////abs/path into sqlite://abs/path.
    base, _, query = url.partition("?")
    own: dict[str, str] = {}
    driver: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        (own if name in _OWN else driver)[name] = value
    return base, own, driver


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
    parsed = StoreURL.parse(url)
    url = database_url_text(url)
    base, own, driver = _split(url)
    aliases = {"prune_on_write": "prune", "snapshot_time": "snapshot", "table_name": "table"}
    given = {aliases.get(name, name): value for name, value in overrides.items()}
    options: dict[str, Any] = {**own, **given}
    backend = StoreURL.parse(url).scheme.split("+", 1)[0]
    driver_options = _DRIVER_OPTIONS.get(backend, ())
    parsed.refuse_unknown({**options, **driver}, allowed=(*_OWN, *_KEYWORDS, *driver_options))
    database_url = f"{base}?{urlencode(driver)}" if driver else base
    try:
        key_length = int(options.get("key_length", 255))
    except (TypeError, ValueError):
        msg = f"option key_length must be an int, not {options['key_length']!r}"
        raise InvalidStoreURL(msg) from None
    snapshot = options.get("snapshot")
    if isinstance(snapshot, str):
        try:
            snapshot = datetime.fromisoformat(snapshot)
        except ValueError:
            msg = f"option snapshot must be an ISO 8601 time, not {snapshot!r}"
            raise InvalidStoreURL(msg) from None
    table = options.get("table", DEFAULT_TABLE)
    try:
        return _store_class(backend)(
            database_url,
            table,
            key_length=key_length,
            snapshot_time=snapshot,
            prune_on_write=parse_bool("prune", options.get("prune", False)),
            engine_kwargs=options.get("engine_kwargs"),
            serializer=options.get("serializer"),
            deserializer=options.get("deserializer"),
        )
    except ValueError as exc:
        if isinstance(exc, InvalidStoreURL):
            raise
        msg = f"cannot open {parsed.redacted!r}: {exc}"
        raise InvalidStoreURL(msg) from exc
