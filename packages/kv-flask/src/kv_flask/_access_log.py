"""The access log: one line per request answered by the API, on logger ``kv_flask.access``.

The line is the Common Log Format followed by the time taken to produce the answer::

    127.0.0.1 - - [27/Nov/2026:14:03:07 +0000] "PUT /kv/<key> HTTP/1.1" 204 0 0.6ms

Keys are shown as ``<key>`` (and a listing's ``prefix`` and ``cursor`` as ``<redacted>``)
unless the API was configured with ``log_keys=True``. Every character outside printable
ASCII is percent-escaped, so a request cannot forge log lines. The record also carries the
fields as attributes (``kv_remote``, ``kv_method``, ``kv_path``, ``kv_status``, ``kv_bytes``,
``kv_duration``) for structured handlers. The library only emits records at INFO level:
showing them is the application's choice (``kv serve`` prints them).
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl, quote, urlencode

from flask import Response, request

from ._http import raw_path

__all__ = ["ACCESS_LOGGER", "log_access", "shown_path"]

ACCESS_LOGGER = logging.getLogger("kv_flask.access")

#: The environ key where the guard notes when a request started (``time.perf_counter``).
STARTED = "kv_flask.started"

_API_FIRST_SEGMENTS = ("_kv", "openapi.json")
_SECRET_PARAMETERS = frozenset({"prefix", "cursor"})
_PRINTABLE = "".join(chr(code) for code in range(0x21, 0x7F))


def _printable(text: str) -> str:
    # The raw path is latin-1 text of the bytes sent: escape all but printable ASCII.
    return quote(text, safe=_PRINTABLE)


def shown_path(prefix: str, *, log_keys: bool) -> str:
    """The request's path and query as sent, for logs; keys redacted unless *log_keys*."""
    path = raw_path()
    query = str(request.environ.get("QUERY_STRING", ""))
    if not log_keys:
        rest = path[len(prefix) :] if path.startswith(prefix) else path
        first = rest.lstrip("/").split("/", 1)[0]
        if rest.strip("/") and first not in _API_FIRST_SEGMENTS:
            path = f"{prefix}/<key>"
        if query:
            pairs = [
                (name, "<redacted>" if name in _SECRET_PARAMETERS else value)
                for name, value in parse_qsl(query, keep_blank_values=True)
            ]
            query = urlencode(pairs, safe="<>")
    shown = _printable(path)
    return f"{shown}?{_printable(query)}" if query else shown


def log_access(response: Response, prefix: str, *, log_keys: bool) -> None:
    """Log one line for *response* to the current request, if INFO is enabled."""
    if not ACCESS_LOGGER.isEnabledFor(logging.INFO):
        return
    environ = request.environ
    started = environ.get(STARTED)
    duration = time.perf_counter() - started if isinstance(started, float) else None
    size: int | None = response.headers.get("Content-Length", type=int)
    if size is None and response.status_code in {204, 304}:
        size = 0
    remote = str(environ.get("REMOTE_ADDR") or "-")
    method = _printable(request.method)
    path = shown_path(prefix, log_keys=log_keys)
    protocol = _printable(str(environ.get("SERVER_PROTOCOL", "HTTP/1.0")))
    when = time.strftime("%d/%b/%Y:%H:%M:%S %z")
    took = f"{duration * 1000:.1f}ms" if duration is not None else "-"
    ACCESS_LOGGER.info(
        '%s - - [%s] "%s %s %s" %d %s %s',
        remote,
        when,
        method,
        path,
        protocol,
        response.status_code,
        "-" if size is None else size,
        took,
        extra={
            "kv_remote": remote,
            "kv_method": request.method,
            "kv_path": path,
            "kv_status": response.status_code,
            "kv_bytes": size,
            "kv_duration": duration,
        },
    )
