"""Store URLs: parsing, option handling and password redaction, shared by every backend."""

from __future__ import annotations

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


def redact_url(url: str) -> str:
    """Return *url* with any password (in the address or as a query option) shown as ``***``.

    Everything else is kept as written (``sqlite:///kv.db`` stays so).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    cut = min(
        (i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest)
    )
    netloc, tail = rest[:cut], rest[cut:]
    if "@" in netloc:
        credentials, _, hostport = netloc.rpartition("@")
        if ":" in credentials:
            netloc = f"{credentials.split(':', 1)[0]}:***@{hostport}"
    path, qmark, query = tail.partition("?")
    if qmark:
        query, hashmark, fragment = query.partition("#")
        tail = f"{path}?{_redact_query(query)}{hashmark}{fragment}"
    return f"{scheme}{sep}{netloc}{tail}"


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
        query = urlsplit(url).query
        options = dict(parse_qsl(query, keep_blank_values=True))
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
