"""Opening SQL stores from URLs: ``sqlite:///kv.db?table=kv&prune=1&key_length=255``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from kv_core import InvalidStoreURL, StoreURL, parse_bool

from ._dialects import MySqlDict, PostgresSqlDict
from ._store import GenericSqlDict

__all__ = ["DEFAULT_TABLE", "open_sql_url"]

DEFAULT_TABLE = "kv"

# kv-sql's own options; every other query parameter goes to the driver through SQLAlchemy.
_OWN = ("table", "key_length", "prune", "snapshot")
_KEYWORDS = ("serializer", "deserializer", "engine_kwargs")


def _split(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    own: dict[str, str] = {}
    rest: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in _OWN:
            own[name] = value
        else:
            rest.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(rest))), own


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
    database_url, own = _split(url)
    aliases = {"prune_on_write": "prune", "snapshot_time": "snapshot", "table_name": "table"}
    given = {aliases.get(name, name): value for name, value in overrides.items()}
    options: dict[str, Any] = {**own, **given}
    parsed.refuse_unknown(options, allowed=(*_OWN, *_KEYWORDS))
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
        return _store_class(parsed.scheme)(
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
