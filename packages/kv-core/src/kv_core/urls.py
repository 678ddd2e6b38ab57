"""Store URLs: parsing, option handling and password redaction, shared by every backend."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import KVError

__all__ = ["InvalidStoreURL", "StoreURL", "parse_bool", "redact_url"]


class InvalidStoreURL(KVError, ValueError):
    """A store URL that cannot be opened: bad syntax or options the backend does not know."""


_SECRET_OPTIONS = ("password", "passwd", "pwd", "token", "secret", "api_key", "apikey")


def _redact_query(query: str) -> str:
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(name.lower() in _SECRET_OPTIONS for name, _ in pairs):
        return query
    return urlencode(
        [(name, "***" if name.lower() in _SECRET_OPTIONS else value) for name, value in pairs],
        safe="*:/",
    )


# How SQLAlchemy's make_url reads credentials: the user name runs to the first ":" or "/",
# the password from there to the first "@", so "/", "?" and "#" may be in it unencoded.
_SQLALCHEMY_CREDENTIALS = re.compile(r"[^:/]*:(?P<password>[^@]*)@")


def _password_span(rest: str) -> tuple[int, int] | None:
    """Where a password lies in *rest* (a URL after ``scheme://``), read by any of its parsers.

    SQLAlchemy (kv-sql) and ``urllib.parse`` (redis-py, requests) disagree on a password
    holding a delimiter: for ``kv:pa/ss@db`` SQLAlchemy's is ``pa/ss`` and urllib sees none;
    for ``kv:pa@ss@db`` urllib's is ``pa@ss`` and SQLAlchemy's ``pa``. Both start after the
    user name's ``:``, so the span covering both is hidden.
    """
    ends: list[int] = []
    start = -1
    found = _SQLALCHEMY_CREDENTIALS.match(rest)
    if found:
        start, end = found.span("password")
        ends.append(end)
    cut = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    user_info, at, _ = rest[:cut].rpartition("@")
    if at and ":" in user_info:
        colon = user_info.index(":") + 1
        start = colon if start < 0 else min(start, colon)
        ends.append(len(user_info))
    if start < 0:
        return None
    return start, max(ends)


def _query_of(url: str) -> str:
    """The query string of *url*, read after any password (which may hold ``?`` or ``[``)."""
    rest = url.partition("://")[2]
    span = _password_span(rest)
    if span is not None:
        rest = rest[span[1] :]
    return rest.partition("?")[2].partition("#")[0]


def redact_url(url: str) -> str:
    """Return *url* with any password (in the address or as a query option) shown as ``***``.

    A password is hidden however the URL's parser reads it, delimiters (``/ ? # @ :``)
    unencoded in it included; when parsers disagree, the longer reading is hidden, so text
    after such a password may be hidden too. Everything else is kept as written
    (``sqlite:///kv.db`` stays so).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    span = _password_span(rest)
    if span is not None:
        rest = f"{rest[: span[0]]}***{rest[span[1] :]}"
    before, qmark, query = rest.partition("?")
    if qmark:
        query, hashmark, fragment = query.partition("#")
        rest = f"{before}?{_redact_query(query)}{hashmark}{fragment}"
    return f"{scheme}{sep}{rest}"


@dataclass(frozen=True)
class StoreURL:
    """A store URL split into the parts backends need.

    :param url: The URL as given.
    :param scheme: The part before ``://``, lower-cased (``mysql+pymysql``).
    :param options: The query string as a dict (last value wins).
    """

    url: str
    scheme: str
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, url: object) -> StoreURL:
        """Split *url*; raise :class:`InvalidStoreURL` if it has no ``scheme://``."""
        if not isinstance(url, str):
            msg = f"a store URL must be str, not {type(url).__name__}"
            raise TypeError(msg)
        scheme, sep, _ = url.partition("://")
        if not sep or not scheme:
            msg = f"not a store URL (expected scheme://...): {redact_url(url)!r}"
            raise InvalidStoreURL(msg)
        options = dict(parse_qsl(_query_of(url), keep_blank_values=True))
        return cls(url=url, scheme=scheme.lower(), options=options)

    @property
    def redacted(self) -> str:
        """The URL with its password hidden, for messages and ``repr``."""
        return redact_url(self.url)

    def without_query(self) -> str:
        """The URL with its query string (the store options) removed."""
        return urlunsplit(urlsplit(self.url)._replace(query=""))

    def options_with(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """The URL's options with keyword *overrides* on top."""
        merged: dict[str, Any] = dict(self.options)
        merged.update(overrides)
        return merged

    def refuse_unknown(self, options: dict[str, Any], *, allowed: Iterable[str]) -> None:
        """Raise :class:`InvalidStoreURL` naming the valid options if any option is unknown."""
        valid = sorted(allowed)
        unknown = sorted(set(options) - set(valid))
        if unknown:
            msg = (
                f"unknown option(s) {', '.join(unknown)} for {self.redacted!r}; "
                f"valid options: {', '.join(valid) or 'none'}"
            )
            raise InvalidStoreURL(msg)


def parse_bool(name: str, value: Any) -> bool:
    """Read a boolean option given as ``1/0``, ``true/false``, ``yes/no`` or a bool."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    msg = f"option {name} must be true or false, not {value!r}"
    raise InvalidStoreURL(msg)
