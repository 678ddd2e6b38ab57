"""A kv server written from PROTOCOL.md alone, without Flask or kv-flask's server code.

Plain WSGI over a dict, served by waitress. Its tags are version numbers (not digests) and
its cursors are base64url of the last key listed: it shows the protocol checks hold a server
to the written rules, not to kv-flask's way of meeting them.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

_KEY_METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
_ROUTES = {
    "_kv/info": ("GET", "HEAD"),
    "_kv/count": ("GET", "HEAD"),
    "openapi.json": ("GET", "HEAD"),
    "_kv/get": ("POST",),
    "_kv/set": ("POST",),
    "_kv/delete": ("POST",),
    "_kv/clear": ("POST",),
}
_HEADERS = [("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store")]
_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
_MAX_KEY = 300

Answer = tuple[int, list[tuple[str, str]], bytes]


class Refused(Exception):
    """Answer with the JSON error *status* / *code*."""

    def __init__(self, status: int, code: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(code)
        self.status, self.code, self.headers = status, code, list(headers)


def _key_ok(key: str) -> bool:
    if not key or len(key) > _MAX_KEY or "\x00" in key or "\ufffd" in key:
        return False
    segments = key.split("/")
    if any(segment in {"", ".", ".."} for segment in segments):
        return False
    return segments[0] not in {"_kv", "openapi.json"}


def _tags(header: str) -> set[str]:
    return {part.strip() for part in header.split(",") if part.strip()}


class TinyKv:
    """The WSGI app: one dict, one lock, a version counter for tags.

    :param port: The port it listens on (the ``Host`` it answers to).
    :param max_body: The largest body accepted.
    :param list_limit: The most keys in one page.
    :param token: The bearer token every request must carry, if any.
    """

    def __init__(
        self,
        port: int,
        *,
        max_body: int = 1 << 20,
        list_limit: int = 50,
        token: str | None = None,
    ) -> None:
        self.port = port
        self.token = token
        self.max_body = max_body
        self.list_limit = list_limit
        self.data: dict[str, tuple[bytes, int]] = {}
        self.lock = threading.Lock()
        self.versions = itertools.count(1)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        try:
            status, headers, body = self.answer(environ)
        except Refused as exc:
            document = {"error": exc.code, "message": "Refused."}
            status, headers = exc.status, [("Content-Type", "application/json"), *exc.headers]
            body = json.dumps(document).encode()
        start_response(f"{status} X", [*headers, *_HEADERS, ("Content-Length", str(len(body)))])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    # -- the request ------------------------------------------------------------------------

    def answer(self, environ: dict[str, Any]) -> Answer:
        method = environ["REQUEST_METHOD"]
        host = environ.get("HTTP_HOST")
        if host is not None and host not in {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}:
            raise Refused(403, "host_not_allowed")
        if method not in {"GET", "HEAD", "OPTIONS"}:
            site = environ.get("HTTP_SEC_FETCH_SITE")
            origin = environ.get("HTTP_ORIGIN")
            if site and site not in {"same-origin", "none"}:
                raise Refused(403, "cross_origin")
            if not site and origin is not None and origin.split("://")[-1] != host:
                raise Refused(403, "cross_origin")
        if self.token and environ.get("HTTP_AUTHORIZATION") != f"Bearer {self.token}":
            raise Refused(401, "unauthorized", [("WWW-Authenticate", 'Bearer realm="tiny"')])
        raw = environ.get("REQUEST_URI", environ["PATH_INFO"]).partition("?")[0]
        try:
            path = unquote_to_bytes(raw[1:]).decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(400, "invalid_key") from None
        if path == "":
            if method not in {"GET", "HEAD"}:
                raise Refused(405, "method_not_allowed", [("Allow", "GET, HEAD")])
            return self.listing(environ.get("QUERY_STRING", ""))
        if path in _ROUTES:
            if method not in _ROUTES[path]:
                raise Refused(405, "method_not_allowed", [("Allow", ", ".join(_ROUTES[path]))])
            return self.route(path, environ)
        if method not in _KEY_METHODS:
            raise Refused(405, "method_not_allowed", [("Allow", ", ".join(_KEY_METHODS))])
        if not _key_ok(path):
            raise Refused(400, "invalid_key")
        return self.one_key(method, path, environ)

    def body(self, environ: dict[str, Any]) -> bytes:
        if (environ.get("CONTENT_TYPE") or "").split(";")[0].strip() in _FORMS:
            raise Refused(415, "unsupported_media_type")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > self.max_body:
            raise Refused(413, "too_large")
        data: bytes = environ["wsgi.input"].read(length)
        return data

    # -- one key ----------------------------------------------------------------------------

    def one_key(self, method: str, key: str, environ: dict[str, Any]) -> Answer:
        if method in {"GET", "HEAD"}:
            with self.lock:
                found = self.data.get(key)
            if found is None:
                raise Refused(404, "not_found")
            tag = f'"v{found[1]}"'
            headers = [("ETag", tag), ("Content-Type", "application/octet-stream")]
            if tag in _tags(environ.get("HTTP_IF_NONE_MATCH", "")):
                return 304, headers, b""
            return 200, headers, found[0]
        value = self.body(environ) if method != "DELETE" else b""
        with self.lock:
            found = self.data.get(key)
            current = f'"v{found[1]}"' if found else None
            if "HTTP_IF_MATCH" in environ:
                wanted = _tags(environ["HTTP_IF_MATCH"])
                if current is None or not ({"*", current} & wanted):
                    raise Refused(412, "precondition_failed")
            none_match = _tags(environ.get("HTTP_IF_NONE_MATCH", ""))
            if current is not None and {"*", current} & none_match:
                raise Refused(412, "precondition_failed")
            if method == "DELETE":
                if found is None:
                    raise Refused(404, "not_found")
                del self.data[key]
                return 204, [], b""
            version = next(self.versions)
            self.data[key] = (value, version)
        return 204, [("ETag", f'"v{version}"')], b""

    # -- listing and the other routes ----------------------------------------------------------

    def listing(self, query: str) -> Answer:
        try:
            args = dict(parse_qsl(query, keep_blank_values=True, errors="strict"))
        except UnicodeDecodeError:
            raise Refused(400, "bad_parameter") from None
        prefix = args.get("prefix", "")
        if "\x00" in prefix or len(prefix) > _MAX_KEY:
            raise Refused(400, "invalid_prefix")
        try:
            limit = min(int(args.get("limit", self.list_limit)), self.list_limit)
        except ValueError:
            raise Refused(400, "bad_parameter") from None
        if limit < 1:
            raise Refused(400, "bad_parameter")
        after = None
        if args.get("cursor"):
            try:
                cursor = args["cursor"].encode("ascii")
                after = base64.b64decode(cursor, altchars=b"-_", validate=True).decode()
            except (ValueError, binascii.Error):
                raise Refused(400, "bad_cursor") from None
        with self.lock:
            keys = sorted(k for k in self.data if k.startswith(prefix))
        if after is not None:
            keys = [key for key in keys if key > after]
        page, more = keys[:limit], len(keys) > limit
        cursor_out = base64.urlsafe_b64encode(page[-1].encode()).decode() if more else None
        return self.json({"keys": page, "next_cursor": cursor_out})

    def route(self, path: str, environ: dict[str, Any]) -> Answer:
        if path == "_kv/info":
            return self.json(
                {
                    "max_content_length": self.max_body,
                    "list_limit": self.list_limit,
                    "max_key_length": _MAX_KEY,
                    "refused_characters": "",
                    "store": None,
                }
            )
        if path == "_kv/count":
            return self.json({"count": len(self.data)})
        if path == "openapi.json":
            paths = {f"/{route}": {} for route in _ROUTES} | {"/": {}, "/{key}": {}}
            return self.json({"openapi": "3.1.0", "info": {}, "paths": paths})
        content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip()
        if path == "_kv/clear":
            if content_type not in {"", "application/json"}:
                raise Refused(415, "unsupported_media_type")
            with self.lock:
                self.data.clear()
            return 204, [], b""
        if content_type != "application/json":
            raise Refused(415, "unsupported_media_type")
        try:
            document = json.loads(self.body(environ))
        except ValueError:
            raise Refused(400, "bad_json") from None
        return self.batch(path, document)

    def batch(self, path: str, document: Any) -> Answer:
        if path == "_kv/set":
            items = document.get("items") if isinstance(document, dict) else None
            if not isinstance(items, dict) or not all(isinstance(v, str) for v in items.values()):
                raise Refused(400, "bad_json")
            if not all(_key_ok(key) for key in items):
                raise Refused(400, "invalid_key")
            try:
                values = {k: base64.b64decode(v, validate=True) for k, v in items.items()}
            except (ValueError, binascii.Error):
                raise Refused(400, "bad_base64") from None
            with self.lock:
                for key, value in values.items():
                    self.data[key] = (value, next(self.versions))
            return 204, [], b""
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
            raise Refused(400, "bad_json")
        if not all(_key_ok(key) for key in keys):
            raise Refused(400, "invalid_key")
        with self.lock:
            if path == "_kv/delete":
                for key in keys:
                    self.data.pop(key, None)
                return 204, [], b""
            found = {k: base64.b64encode(self.data[k][0]).decode() for k in keys if k in self.data}
        return self.json({"values": found})

    @staticmethod
    def json(document: Any) -> Answer:
        return 200, [("Content-Type", "application/json")], json.dumps(document).encode()
