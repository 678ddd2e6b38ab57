"""The one table of the API's errors, read by the server and by the client.

Every error response is JSON of the form ``{"error": CODE, "message": TEXT}``: *CODE* is a
stable machine-readable word, *TEXT* a generic sentence chosen here. Neither ever holds a
traceback, a path, SQL, a key or an exception's own text.

Each row of :data:`ERRORS` is one answer the server gives: its status, its code, its message,
the exception a store raises to get it (the server's side, :func:`for_store_error`) and the
exception :class:`~kv_flask.FlaskKvDict` raises on it (the client's side, :func:`for_answer`).
This module imports neither Flask nor requests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kv_core import (
    AccessDeniedError,
    InvalidKeyError,
    KeyConflictError,
    OutOfSpaceError,
    ProtocolError,
    ReadOnlyError,
    StoreUnavailable,
    ValueTooLargeError,
)

# Defined with the rest of the family in kv_core.errors (a ConflictError); named here too.
from kv_core.errors import PreconditionFailed as PreconditionFailed

__all__ = [
    "ERRORS",
    "ApiError",
    "ErrorKind",
    "PreconditionFailed",
    "error_code",
    "error_message",
    "for_answer",
    "for_store_error",
]


@dataclass(frozen=True, slots=True)
class ErrorKind:
    """One answer of the API and what each side makes of it.

    :param status: The HTTP status.
    :param code: The ``error`` field of the JSON body.
    :param message: The generic ``message`` field (never user data).
    :param raises: What the client raises on this answer.
    :param hint: The client's message, formatted with ``where`` (method and base URL),
        ``status`` and ``key``; used when *use_server_message* is false or the server's
        message is missing.
    :param use_server_message: The client shows the server's message when there is one.
    :param from_store: The store exceptions answered with this row, most specific first
        in the lookup (an exception's class hierarchy is walked), and *log_level*: the
        level at which the server logs them (``None``: not logged, the common miss).
    """

    status: int
    code: str
    message: str
    raises: type[Exception]
    hint: str
    use_server_message: bool = False
    from_store: tuple[type[BaseException], ...] = ()
    log_level: int | None = logging.INFO


_TOKEN_HINT = "{where}: HTTP {status}, the token is missing or wrong"  # noqa: S105 - a message
_UNEXPECTED = "{where}: unexpected HTTP {status}"
_UNAVAILABLE_HINT = "{where}: HTTP {status}"

#: Every error the API answers with. The first row of a status is its default code.
ERRORS: tuple[ErrorKind, ...] = (
    ErrorKind(
        400,
        "bad_request",
        "The request is malformed or the key is not valid.",
        InvalidKeyError,
        "{where}: bad request",
        use_server_message=True,
    ),
    ErrorKind(
        400,
        "invalid_key",
        "The store does not accept this key.",
        InvalidKeyError,
        "{where}: bad request",
        use_server_message=True,
        from_store=(InvalidKeyError,),
    ),
    ErrorKind(
        401, "unauthorized", "A valid bearer token is required.", AccessDeniedError, _TOKEN_HINT
    ),
    ErrorKind(403, "forbidden", "This operation is not allowed.", AccessDeniedError, _TOKEN_HINT),
    ErrorKind(
        403,
        "read_only",
        "The store is read-only.",
        ReadOnlyError,
        "{where}: the store is read-only",
        from_store=(ReadOnlyError,),
    ),
    ErrorKind(
        403,
        "host_not_allowed",
        "This server does not answer to this host name.",
        AccessDeniedError,
        "{where}: the server does not answer to this host name "
        "(start it with --allowed-host, or allowed_hosts=)",
    ),
    ErrorKind(
        403,
        "cross_origin",
        "Cross-site requests that change data are refused.",
        AccessDeniedError,
        _TOKEN_HINT,
    ),
    # A 404 for a key is KeyError; without a key, the URL is not a kv API (see for_answer).
    ErrorKind(
        404, "not_found", "Not found.", KeyError, "{key!r}", from_store=(KeyError,), log_level=None
    ),
    ErrorKind(
        405,
        "method_not_allowed",
        "This method is not allowed on this route.",
        ProtocolError,
        _UNEXPECTED,
    ),
    ErrorKind(
        409,
        "key_conflict",
        "The key conflicts with an existing key.",
        KeyConflictError,
        "key conflict",
        use_server_message=True,
        from_store=(KeyConflictError,),
    ),
    ErrorKind(
        411, "length_required", "The request body needs a length.", ProtocolError, _UNEXPECTED
    ),
    ErrorKind(
        412,
        "precondition_failed",
        "The stored value does not match the request's condition.",
        PreconditionFailed,
        "the value of {key!r} does not match the condition",
    ),
    ErrorKind(
        413,
        "too_large",
        "The request body is larger than the server accepts.",
        ValueTooLargeError,
        "value too large",
        use_server_message=True,
        from_store=(ValueTooLargeError,),
    ),
    ErrorKind(
        415,
        "unsupported_media_type",
        "Form content types are not accepted; send raw bytes.",
        ProtocolError,
        _UNEXPECTED,
    ),
    ErrorKind(429, "too_many_requests", "Too many requests.", StoreUnavailable, _UNAVAILABLE_HINT),
    ErrorKind(
        500,
        "internal_error",
        "The server failed to handle the request.",
        StoreUnavailable,
        _UNAVAILABLE_HINT,
    ),
    ErrorKind(
        503,
        "unavailable",
        "The store behind the server is unavailable.",
        StoreUnavailable,
        _UNAVAILABLE_HINT,
        from_store=(StoreUnavailable,),
        log_level=logging.WARNING,
    ),
    # The store's own server refused the kv server's credentials: the client can do nothing
    # about it, so it is the store being unavailable, and logged as an error.
    ErrorKind(
        503,
        "unavailable",
        "The store behind the server is unavailable.",
        StoreUnavailable,
        _UNAVAILABLE_HINT,
        from_store=(AccessDeniedError,),
        log_level=logging.ERROR,
    ),
    ErrorKind(
        507,
        "out_of_space",
        "The store behind the server is out of space.",
        OutOfSpaceError,
        "{where}: the store is out of space",
        use_server_message=True,
        from_store=(OutOfSpaceError,),
        log_level=logging.WARNING,
    ),
)

_BY_STATUS: dict[int, ErrorKind] = {}
_BY_CODE: dict[tuple[int, str], ErrorKind] = {}
_BY_STORE_ERROR: dict[type[BaseException], ErrorKind] = {}
for _kind in ERRORS:
    _BY_STATUS.setdefault(_kind.status, _kind)
    _BY_CODE.setdefault((_kind.status, _kind.code), _kind)
    for _raised in _kind.from_store:
        _BY_STORE_ERROR[_raised] = _kind
del _kind, _raised

#: Any other 5xx: the server side failed, so the store is unavailable to the client.
_SERVER_FAILURE = _BY_STATUS[500]


def error_code(status: int) -> str:
    """The machine-readable code for *status*."""
    kind = _BY_STATUS.get(status)
    return kind.code if kind is not None else "error"


def error_message(status: int, code: str | None = None) -> str:
    """The generic message for *status* (and *code*, when the table has a row for both)."""
    kind = (_BY_CODE.get((status, code)) if code else None) or _BY_STATUS.get(status)
    return kind.message if kind is not None else "The request failed."


def for_store_error(exc: BaseException) -> ErrorKind | None:
    """The row answering what a store raised (the most specific class wins), or ``None``."""
    for cls in type(exc).__mro__:
        kind = _BY_STORE_ERROR.get(cls)
        if kind is not None:
            return kind
    return None


def for_answer(status: int, code: str) -> ErrorKind | None:
    """The row of an error answer: by status and code, else the status's default row."""
    kind = _BY_CODE.get((status, code)) or _BY_STATUS.get(status)
    if kind is None and status >= 500:
        return _SERVER_FAILURE
    return kind


class ApiError(Exception):
    """Raised inside the server to answer with *status*, a *code* and a generic message.

    :param status: The HTTP status.
    :param code: Overrides the default code of *status* (e.g. ``invalid_key`` for a 400).
    :param message: Overrides the default generic message; must never hold user data.
    """

    def __init__(self, status: int, code: str | None = None, message: str | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.code = code or error_code(status)
        self.message = message or error_message(status, code)

    @classmethod
    def of(cls, kind: ErrorKind) -> ApiError:
        """The error answering with row *kind* of the table."""
        return cls(kind.status, kind.code, kind.message)
