"""What the server sends besides values: JSON errors, security headers and CORS answers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from flask import Response
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ._errors import ApiError, error_code, error_message
from ._hosts import OriginRules

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = [
    "ApiResponse",
    "CORS_METHODS",
    "SECURITY_HEADERS",
    "add_cors_headers",
    "api_error_response",
    "error_response",
    "harden",
    "http_exception_response",
    "preflight_response",
]

#: Sent on every answer of the API: an API answer is never a page, a frame or a script.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Other origins cannot embed an answer (<img>, <script>) to read it through a side channel.
    "Cross-Origin-Resource-Policy": "same-origin",
}
_HARDENING = (*SECURITY_HEADERS.items(), ("Cache-Control", "no-store"))
_HARDENING_LOWER = tuple((name.lower(), (name, value)) for name, value in _HARDENING)
_HARDENING_NAMES = frozenset(lower for lower, _ in _HARDENING_LOWER)
# What a value answer, which sets its own Cache-Control, still needs.
_HARDENING_BUT_CACHE = tuple(item for lower, item in _HARDENING_LOWER if lower != "cache-control")
_HARDENING_NAMES_BUT_CACHE = _HARDENING_NAMES - {"cache-control"}
_LOCATIONS = frozenset({"location", "content-location"})
_NAME = itemgetter(0)
CORS_METHODS = "GET, HEAD, PUT, POST, DELETE"
_CORS_REQUEST_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match"
_CORS_MAX_AGE = "600"


class ApiResponse(Response):
    """An answer of the API's own: its own headers and the security headers are added as it
    is sent.

    They go into the finished header list (values checked once, where they are made)
    rather than through ``Headers.add``, which validates every name and value on every
    answer: the security headers, and :attr:`sent_headers`, which a view sets for the
    headers it makes itself (``ETag``, ``Cache-Control``). A header of the same name that a
    hook set on the response before it is sent (its own ``Cache-Control``) is kept instead.
    """

    #: ``(lower-case name, (name, value))`` of headers to send, made and checked by the API.
    sent_headers: tuple[tuple[str, tuple[str, str]], ...] = ()

    def get_wsgi_response(
        self, environ: WSGIEnvironment
    ) -> tuple[Iterable[bytes], str, list[tuple[str, str]]]:
        """The WSGI answer, with the API's headers the response does not set itself."""
        present = set(map(str.lower, map(_NAME, self.headers)))
        code = self.status_code
        if (
            present.isdisjoint(_LOCATIONS)
            and ("content-length" in present if code != 204 else "content-length" not in present)
            and 200 <= code != 304
        ):
            # What Werkzeug's get_wsgi_headers would return unchanged (no Location to make
            # absolute, a Content-Length that needs neither adding nor removing), without its
            # copy of the headers, which checks every name and value again.
            app_iter = self.get_app_iter(environ)
            status = self.status
            headers = self.headers.to_wsgi_list()
        else:
            app_iter, status, headers = super().get_wsgi_response(environ)
            present = set(map(str.lower, map(_NAME, headers)))
        for lower, item in self.sent_headers:
            if lower not in present:
                present.add(lower)
                headers.append(item)
        if present.isdisjoint(_HARDENING_NAMES):
            headers.extend(_HARDENING)
        elif "cache-control" in present and present.isdisjoint(_HARDENING_NAMES_BUT_CACHE):
            headers.extend(_HARDENING_BUT_CACHE)
        else:
            headers.extend(item for lower, item in _HARDENING_LOWER if lower not in present)
        return app_iter, status, headers


def error_response(status: int, code: str | None = None, message: str | None = None) -> Response:
    """The API's JSON error: ``{"error": code, "message": message}``, never cached."""
    body = {
        "error": code or error_code(status),
        "message": message or error_message(status, code),
    }
    response = ApiResponse(json.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="kv"'
    return response


def http_exception_response(exc: HTTPException) -> Response:
    """A Werkzeug HTTP error (404, 405 ...) as the API's JSON error."""
    status = exc.code or 500
    response = error_response(status)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def api_error_response(exc: ApiError) -> Response:
    """An :class:`ApiError` as the API's JSON error."""
    return error_response(exc.status, exc.code, exc.message)


def harden(response: Response) -> None:
    """Add the security headers, and ``Cache-Control: no-store`` where nothing else is set."""
    if isinstance(response, ApiResponse):
        return  # hardened as it is sent
    headers = response.headers
    # Not Headers.setdefault: it finds a header missing by raising and catching KeyError,
    # six times per answer.
    present = {name.lower() for name in headers.keys()}  # noqa: SIM118 - Headers, not a dict
    for name, value in _HARDENING:
        if name.lower() not in present:
            headers.add(name, value)


def preflight_response(origins: OriginRules, environ: dict[str, Any]) -> Response | None:
    """The answer to a CORS preflight from a trusted origin; ``None`` for any other request."""
    if environ.get("REQUEST_METHOD") != "OPTIONS":
        return None
    if "HTTP_ACCESS_CONTROL_REQUEST_METHOD" not in environ:
        return None
    if not origins.trusts(environ.get("HTTP_ORIGIN")):
        return None
    response = Response(status=204)
    add_cors_headers(response, origins, environ)
    response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
    response.headers["Access-Control-Allow-Headers"] = _CORS_REQUEST_HEADERS
    response.headers["Access-Control-Max-Age"] = _CORS_MAX_AGE
    return response


def add_cors_headers(response: Response, origins: OriginRules, environ: dict[str, Any]) -> None:
    """Let a trusted origin read *response* (``Access-Control-Allow-Origin``); else nothing."""
    if not origins.configured:
        return
    response.vary.add("Origin")
    origin = environ.get("HTTP_ORIGIN")
    if not origins.trusts(origin):
        return
    response.headers["Access-Control-Allow-Origin"] = "*" if origins.any_origin else str(origin)
    response.headers["Access-Control-Expose-Headers"] = "ETag"
