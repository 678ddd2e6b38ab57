"""Store URLs: parsing, option handling and password redaction, shared by every backend."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import InvalidStoreURL

# InvalidStoreURL lives in kv_core.errors with the rest of the family; it is named here too,
# where it was first defined.
__all__ = [
    "InvalidStoreURL",
    "OptionReader",
    "StoreOptions",
    "StoreURL",
    "parse_bool",
    "parse_int",
    "read_options",
    "redact_url",
]

#: Reads one option's value, given its name (for the message) and the value as given: text
#: from the URL or any object from a keyword argument. Raises ``InvalidStoreURL``.
OptionReader = Callable[[str, Any], Any]


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


def parse_int(name: str, value: Any) -> int:
    """Read an integer option given as text or an ``int``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value))
    except ValueError:
        msg = f"option {name} must be an int, not {value!r}"
        raise InvalidStoreURL(msg) from None


@dataclass(frozen=True)
class StoreOptions:
    """A store URL's options, sorted into the store's own and the driver's.

    :param url: The parsed URL.
    :param store: The store's own options that were given (from the query or a keyword,
        the keyword winning), each read by its reader.
    :param driver_query: The query options left for the driver, minus those a keyword
        overrides.
    :param driver_keywords: The keyword arguments left for the driver.
    """

    url: StoreURL
    store: dict[str, Any]
    driver_query: dict[str, str]
    driver_keywords: dict[str, Any]

    def driver_url(self, base: str | None = None) -> str:
        """*base* (default: the URL without its query) with the driver's query options.

        Only the query is rebuilt, by hand: ``urlunsplit`` would turn ``unix:///path`` into
        ``unix:/path`` and ``sqlite:////abs`` into ``sqlite://abs``.
        """
        if base is None:
            base = self.url.url.split("#", 1)[0].split("?", 1)[0]
        return f"{base}?{urlencode(self.driver_query)}" if self.driver_query else base


def read_options(
    url: object,
    overrides: Mapping[str, Any] | None = None,
    *,
    known: Mapping[str, OptionReader | None],
    driver: Iterable[str] | None = (),
    aliases: Mapping[str, str] | None = None,
) -> StoreOptions:
    """Parse *url*, sort its options and keyword *overrides*, refuse unknown ones, read values.

    :param url: The store URL.
    :param overrides: Keyword arguments of the opener; they win over the URL's options.
    :param known: The store's own options, each with the reader that types its value
        (``None``: taken as given).
    :param driver: The options passed on to the driver; ``None``: every option the store
        does not know (the driver refuses the ones it does not know either).
    :param aliases: Keyword names that mean one of *known* (``table_name`` for ``table``).
    :raises InvalidStoreURL: bad syntax, an option nobody knows (the message names it and
        lists the known ones), or a value its reader refuses.
    """
    parsed = StoreURL.parse(url)
    renames = aliases or {}
    given = {renames.get(name, name): value for name, value in (overrides or {}).items()}
    passthrough = None if driver is None else frozenset(driver)
    store: dict[str, Any] = {}
    query: dict[str, str] = {}
    keywords: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for name, value in parsed.options.items():
        if name in known:
            store[name] = value
        elif passthrough is None or name in passthrough:
            if name not in given:
                query[name] = value
        else:
            unknown[name] = value
    for name, value in given.items():
        if name in known:
            store[name] = value
        elif passthrough is None or name in passthrough:
            keywords[name] = value
        else:
            unknown[name] = value
    if unknown:
        parsed.refuse_unknown(unknown, allowed=(*known, *renames, *(passthrough or ())))
    for name, value in store.items():
        reader = known[name]
        if reader is not None:
            store[name] = reader(name, value)
    return StoreOptions(parsed, store, query, keywords)
