"""Reading a request: the raw path, the bearer token, the body, the query and the cursor.

Each helper answers bad input with an :class:`~kv_flask._errors.ApiError`, so the views stay
about the store.
"""

from __future__ import annotations

import base64
import hmac
import json
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes, urlsplit

from flask import Request, Response, request

from ._errors import ApiError
from ._responses import ApiResponse

__all__ = [
    "authorized",
    "decode_cursor",
    "decoded_path",
    "encode_cursor",
    "int_arg",
    "json_response",
    "query",
    "raw_path",
    "read_body",
    "str_list",
]

_FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})
_READ_CHUNK = 64 * 1024
_DECODED = "kv_flask.decoded_path"


def raw_path(environ: dict[str, Any] | None = None) -> str:
    """The request target's path as the client sent it, when the server tells it."""
    if environ is None:
        environ = request.environ
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if not isinstance(raw, str):
        return str(environ.get("PATH_INFO", ""))
    if not raw.startswith("/"):
        raw = urlsplit(raw).path  # absolute-form target: http://host/path
    return raw.partition("?")[0]


def decoded_path(environ: dict[str, Any] | None = None, raw: str | None = None) -> str:
    """The request path as the client sent it, percent-decoded as UTF-8, every slash kept.

    Waitress collapses the leading slashes of ``PATH_INFO`` and Werkzeug's router drops
    them too, so ``/%2Fabc`` (the path ``//abc`` once decoded) would reach the view as the
    key ``abc``; this is what the path really says. Worked out once per request.
    """
    if environ is None:
        environ = request.environ
    known = environ.get(_DECODED)
    if isinstance(known, str):
        return known
    text = raw_path(environ) if raw is None else raw
    if "%" in text:
        data = unquote_to_bytes(text.encode("latin-1", errors="replace"))
        path = data.decode("utf-8", errors="replace")
    else:
        # Nothing escaped: the latin-1 text of the bytes sent, read as UTF-8.
        try:
            path = text.encode("latin-1").decode("utf-8")
        except UnicodeError:
            path = text.encode("latin-1", errors="replace").decode("utf-8", errors="replace")
    environ[_DECODED] = path
    return path


def authorized(token: str, environ: dict[str, Any]) -> bool:
    """Whether the request carries ``Authorization: Bearer <token>``, compared in constant time."""
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    try:
        # WSGI headers are latin-1 strings of the bytes received; compare bytes, in
        # constant time (compare_digest refuses non-ASCII str).
        given = credentials.strip().encode("latin-1")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(given, token.encode("ascii"))


def read_body(limit: int, req: Request | None = None) -> bytes:
    """The request body, whole, or an API error: never a partial or silently empty value."""
    if req is None:
        req = request._get_current_object()  # type: ignore[attr-defined]
    environ = req.environ
    if environ.get("CONTENT_TYPE") and req.mimetype in _FORM_TYPES:
        raise ApiError(415)
    length = req.content_length
    if length is not None and length > limit:
        raise ApiError(413)
    if length is None:
        chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
        if chunked and not environ.get("wsgi.input_terminated"):
            # Without a length or a server that marks the end of the input, Werkzeug would
            # read the body as empty: refuse instead of storing b"".
            raise ApiError(411)
    stream = req.stream
    # Werkzeug's stream ends at Content-Length unless the server marks the end itself (then
    # a read past the length could find more, which is refused below).
    bounded = not environ.get("wsgi.input_terminated")
    parts: list[bytes] = []
    received = 0
    # The whole announced body in the first read, then one read that finds the end.
    size = length if length else _READ_CHUNK
    while True:
        chunk = stream.read(min(size, limit + 1 - received))
        if not chunk:
            break
        parts.append(chunk)
        received += len(chunk)
        if received > limit:
            raise ApiError(413)
        if received == length and bounded:
            break  # no read would find more
        size = _READ_CHUNK
    if length is not None and received != length:
        raise ApiError(400, "truncated", "The body is shorter than its Content-Length.")
    return parts[0] if len(parts) == 1 else b"".join(parts)


def query() -> dict[str, str]:
    """The query string as a dict, decoded strictly as UTF-8 (400 otherwise)."""
    # Strict decoding: Werkzeug keeps an invalid escape such as %FF as literal text, which
    # would make "%FF" and "%25FF" the same prefix.
    query = request.environ.get("QUERY_STRING", "")
    try:
        return dict(parse_qsl(query, keep_blank_values=True, errors="strict"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "bad_parameter", "The query string is not valid UTF-8.") from exc


def int_arg(args: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    """Integer query parameter *name*: *default* if absent, 400 below *low*, capped at *high*."""
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, "bad_parameter", f"{name} must be an integer.") from exc
    if value < low:
        raise ApiError(400, "bad_parameter", f"{name} must be at least {low}.")
    return min(value, high)


def encode_cursor(key: str) -> str:
    """The opaque cursor that resumes a listing after *key*."""
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii")


def decode_cursor(cursor: str | None) -> str | None:
    """The key a cursor resumes after; ``None`` for no cursor; 400 unless it is base64url.

    A cursor is only a position in the sorted keys, so any base64url text is one: bytes that
    are not UTF-8 (a cursor made up by hand) are read with replacement characters.
    """
    if not cursor:
        return None
    try:
        raw = base64.b64decode(cursor.encode("ascii"), altchars=b"-_", validate=True)
        return raw.decode("utf-8", errors="replace")
    except (ValueError, UnicodeError) as exc:  # binascii.Error is a ValueError
        raise ApiError(400, "bad_cursor", "The cursor is not valid.") from exc


def str_list(document: Any, field_name: str) -> list[str]:
    """``document[field_name]`` as a list of distinct strings, or a 400."""
    items = document.get(field_name) if isinstance(document, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        msg = f"Expected {{{field_name!r}: [string, ...]}}."
        raise ApiError(400, "bad_json", msg)
    return list(dict.fromkeys(items))


def json_response(document: Any) -> Response:
    """A 200 JSON response."""

    return ApiResponse(json.dumps(document), mimetype="application/json")
