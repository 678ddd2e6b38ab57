"""The key rules of the HTTP API, shared by the server and the client.

A key travels in the URL path, one percent-encoded segment per ``/``-separated part. The
rules below are what make that safe: no key can name another path (``..``, ``.``, empty
segments), reach a route of the API itself (the reserved first segments), or be mangled by
decoding (NUL, and U+FFFD, which is what an invalid UTF-8 sequence decodes to). The server
checks them before the store is called; the client checks them before any request is sent,
so both refuse exactly the same keys.
"""

from __future__ import annotations

from urllib.parse import quote

from kv_core import InvalidKeyError
from kv_core.capabilities import LONE_SURROGATES

__all__ = [
    "API_REFUSED_CHARACTERS",
    "MAX_KEY_LENGTH",
    "RESERVED_SEGMENTS",
    "check_key",
    "check_prefix",
    "check_token",
    "quote_key",
]

#: The longest key, in characters. Percent-encoding may grow it twelvefold, and the whole
#: request line must stay well inside what HTTP servers accept.
MAX_KEY_LENGTH = 4096

#: First segments that belong to the API (the OpenAPI document and the batch routes).
RESERVED_SEGMENTS = frozenset({"_kv", "openapi.json"})

_FORBIDDEN_CHARS = ("\x00", "\ufffd")

#: Every character no key may hold over HTTP: those, and lone surrogates (not UTF-8).
API_REFUSED_CHARACTERS = frozenset(_FORBIDDEN_CHARS) | LONE_SURROGATES


def _check_chars(text: str, what: str) -> None:
    for char in _FORBIDDEN_CHARS:
        if char in text:
            msg = f"{what} must not contain {char!r}"
            raise InvalidKeyError(msg)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        # Lone surrogates: no URL can carry them.
        msg = f"{what} must be encodable as UTF-8"
        raise InvalidKeyError(msg) from exc


def check_key(key: str) -> None:
    """Raise :class:`~kv_core.InvalidKeyError` if *key* cannot travel in a URL path.

    Refused: the empty key, keys longer than :data:`MAX_KEY_LENGTH`, empty segments
    (``/a``, ``a/``, ``a//b``), ``.`` and ``..`` segments, NUL, U+FFFD and lone surrogates
    (not UTF-8), and keys whose
    first segment is reserved for the API (``_kv``, ``openapi.json``).
    """
    if not key:
        msg = "the empty key cannot be sent over HTTP"
        raise InvalidKeyError(msg)
    if len(key) > MAX_KEY_LENGTH:
        msg = f"key is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}"
        raise InvalidKeyError(msg)
    if not key.isascii() or "\x00" in key:  # U+FFFD and lone surrogates are not ASCII
        _check_chars(key, "a key")
    segments = key.split("/")
    for segment in segments:
        if segment in {"", ".", ".."}:
            msg = "a key must not have empty, '.' or '..' segments"
            raise InvalidKeyError(msg)
    if segments[0] in RESERVED_SEGMENTS:
        msg = f"keys starting with {segments[0]!r} are reserved for the API"
        raise InvalidKeyError(msg)


def check_prefix(prefix: str) -> None:
    """Raise :class:`~kv_core.InvalidKeyError` if *prefix* cannot be sent to list keys."""
    if len(prefix) > MAX_KEY_LENGTH:
        msg = f"prefix is {len(prefix)} characters long; the limit is {MAX_KEY_LENGTH}"
        raise InvalidKeyError(msg)
    _check_chars(prefix, "a prefix")


def quote_key(key: str) -> str:
    """The URL path of *key*: each segment percent-encoded, joined with ``/``.

    ``safe=""`` encodes ``/``, ``%``, ``?``, ``#``, ``+`` and spaces inside a segment, so the
    path the server decodes is exactly the key.
    """
    return "/".join(quote(segment, safe="") for segment in key.split("/"))


def check_token(token: str) -> str:
    """Return *token* if it can be a bearer token: visible ASCII, no spaces; else ValueError."""
    if not token or not all("!" <= char <= "~" for char in token):
        msg = "a bearer token must be non-empty visible ASCII without spaces"
        raise ValueError(msg)
    return token
