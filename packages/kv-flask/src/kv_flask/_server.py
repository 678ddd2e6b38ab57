"""The REST server: a Flask blueprint that exposes any store, and an app factory around it.

Routes, relative to the blueprint's URL prefix (see the package README for the table):

- ``GET /`` lists keys: ``prefix``, ``limit`` (capped) and an opaque ``cursor``.
- ``GET|PUT|POST|DELETE /<key>``: one value, raw bytes, with a strong ``ETag``;
  ``HEAD /<key>``: whether it exists (``key in store``; the value is not read).
- ``POST /_kv/get|set|delete|clear``, ``GET /_kv/count``, ``GET /_kv/info``: batch calls.
- ``GET /openapi.json``: the OpenAPI 3.1 document.

Keys whose first segment is ``_kv`` or ``openapi.json`` are refused (:mod:`kv_flask._keys`),
so no key can collide with a route of the API.
"""

from __future__ import annotations

import base64
import heapq
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import BaseConverter, RequestRedirect

from kv_core import (
    InvalidKeyError,
    KeyConflictError,
    OutOfSpaceError,
    ReadOnlyError,
    StoreUnavailable,
    ValueTooLargeError,
    to_bytes,
)

from ._errors import ApiError, error_code, error_message
from ._etag import etag_of
from ._http import (
    authorized,
    decode_cursor,
    encode_cursor,
    int_arg,
    json_response,
    query,
    raw_path,
    read_body,
    str_list,
)
from ._keys import MAX_KEY_LENGTH, check_key, check_prefix, check_token
from ._openapi import openapi_document

__all__ = [
    "DEFAULT_LIST_LIMIT",
    "DEFAULT_MAX_CONTENT_LENGTH",
    "FlaskKv",
    "KvState",
    "construct_kv_app",
    "etag_of",
]

logger = logging.getLogger(__name__)

#: The largest request body accepted unless configured otherwise (16 MiB).
DEFAULT_MAX_CONTENT_LENGTH = 16 * 1024 * 1024
#: The most keys one listing page returns unless configured otherwise.
DEFAULT_LIST_LIMIT = 1000

_LOCK_STRIPES = 64
_KEY_METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE"]
_API_ROUTES = {
    "openapi.json": ["GET", "HEAD"],
    "_kv/info": ["GET", "HEAD"],
    "_kv/count": ["GET", "HEAD"],
    "_kv/get": ["POST"],
    "_kv/set": ["POST"],
    "_kv/delete": ["POST"],
    "_kv/clear": ["POST"],
}


class _KeyConverter(BaseConverter):
    # Unlike Werkzeug's "path" converter, this one also matches a leading "/" and empty
    # segments, so "//x" and "a//b" reach the view and get a 400 instead of a 404 or a
    # redirect to a merged path.
    regex = r"[\s\S]+"  # "." would not match a newline in a key
    part_isolating = False
    weight = 200


@dataclass
class KvState:
    """What one :class:`FlaskKv` blueprint keeps in ``app.extensions["kv"][name]``.

    :param store: The store served (a kv store or any ``MutableMapping``).
    :param url_prefix: Where the blueprint is mounted (``""`` for the root).
    :param options: Explicit options; unset ones are read from ``app.config`` (``KV_*``).
    """

    store: MutableMapping[str, Any]
    url_prefix: str
    options: dict[str, Any] = field(default_factory=dict)
    locks: tuple[threading.Lock, ...] = field(
        default_factory=lambda: tuple(threading.Lock() for _ in range(_LOCK_STRIPES))
    )
    _checked_token: str | None = field(default=None, repr=False)
    _refused: str | None = field(default=None, repr=False)

    def refused_characters(self) -> str:
        """The ASCII characters the store's own ``validate_key`` refuses inside a key.

        Asked once, without touching storage, so clients can refuse such keys before sending
        them (FileSystemDict refuses ``\\``, for instance).
        """
        if self._refused is None:
            validate = getattr(self.store, "validate_key", None)
            refused = []
            for code in range(1, 128):
                char = chr(code)
                if validate is None or char == "/":
                    continue
                try:
                    validate(f"k{char}k")
                except (InvalidKeyError, TypeError):
                    refused.append(char)
            self._refused = "".join(refused)
        return self._refused

    def option(self, name: str, default: Any) -> Any:
        """The option *name*: explicit, else ``app.config["KV_" + NAME]``, else *default*."""
        if self.options.get(name) is not None:
            return self.options[name]
        return current_app.config.get(f"KV_{name.upper()}", default)

    @property
    def token(self) -> str | None:
        """The bearer token every request must carry, or ``None`` for no auth."""
        token = self.option("token", None)
        if not token:
            return None
        token = str(token)
        if token != self._checked_token:
            self._checked_token = check_token(token)
        return token

    @property
    def max_content_length(self) -> int:
        """The largest request body accepted, in bytes."""
        limit = int(self.option("max_content_length", DEFAULT_MAX_CONTENT_LENGTH))
        if limit <= 0:
            msg = "KV_MAX_CONTENT_LENGTH must be a positive number of bytes"
            raise ValueError(msg)
        return limit

    @property
    def list_limit(self) -> int:
        """The most keys a listing page may hold."""
        return max(1, int(self.option("list_limit", DEFAULT_LIST_LIMIT)))

    def covers(self, path: str) -> bool:
        """Whether the request *path* is under this blueprint's prefix."""
        prefix = self.url_prefix
        return not prefix or path == prefix or path.startswith(prefix + "/")

    @contextmanager
    def locked(self, keys: list[str]) -> Iterator[None]:
        """Hold the lock stripes of *keys*, taken in a fixed order so two calls never deadlock."""
        stripes = sorted({hash(key) % _LOCK_STRIPES for key in keys})
        with ExitStack() as stack:
            for index in stripes:
                stack.enter_context(self.locks[index])
            yield


# -- responses -----------------------------------------------------------------------------


def _error_response(status: int, code: str | None = None, message: str | None = None) -> Response:
    body = {"error": code or error_code(status), "message": message or error_message(status)}
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="kv"'
    return response


def _http_exception_response(exc: HTTPException) -> Response:
    status = exc.code or 500
    response = _error_response(status)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _api_error_response(exc: ApiError) -> Response:
    return _error_response(exc.status, exc.code, exc.message)


def _unexpected_error_response(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _http_exception_response(exc)
    logger.error("kv request failed: %s", type(exc).__name__, exc_info=exc)
    return _error_response(500)


@contextmanager
def _store_errors() -> Iterator[None]:
    """Turn what a store raises into API errors; only around calls into the store."""
    try:
        yield
    except KeyError as exc:
        raise ApiError(404) from exc
    except KeyConflictError as exc:
        raise ApiError(409) from exc
    except InvalidKeyError as exc:
        raise ApiError(400, "invalid_key", "The store does not accept this key.") from exc
    except ValueTooLargeError as exc:
        raise ApiError(413) from exc
    except ReadOnlyError as exc:
        raise ApiError(403, "read_only", "The store is read-only.") from exc
    except StoreUnavailable as exc:
        logger.warning("store unavailable: %s", type(exc).__name__)
        raise ApiError(503) from exc
    except OutOfSpaceError as exc:
        logger.warning("store out of space: %s", type(exc).__name__)
        raise ApiError(507) from exc


# -- the blueprint ---------------------------------------------------------------------------


class FlaskKv:
    """Expose *store* as a REST API on an existing Flask *app*; returns the blueprint.

    Instantiating this class registers a blueprint on *app* and gives back that
    :class:`flask.Blueprint` (as the original extension did), so callers can add their own
    ``before_request`` hooks for logging or extra auth. The blueprint's state
    (:class:`KvState`) is in ``app.extensions["kv"][name]``.

    Options not passed here are read from ``app.config`` at request time:
    ``KV_TOKEN`` (bearer token; none: no auth), ``KV_MAX_CONTENT_LENGTH`` (default 16 MiB)
    and ``KV_LIST_LIMIT`` (default 1000 keys per page).

    :param app: The Flask application.
    :param store: A kv store or any ``MutableMapping`` of ``str`` to ``bytes``.
    :param url_prefix: Where to mount the API, e.g. ``"/kv"``; ``""`` for the root.
    :param name: The blueprint's name (one per mounted store).
    :param token: Bearer token clients must send (``Authorization: Bearer ...``).
    :param max_content_length: The largest request body accepted, in bytes.
    :param list_limit: The most keys one listing page returns.
    """

    def __new__(  # type: ignore[misc]  # returns the blueprint, like the original extension
        cls,
        app: Flask,
        store: MutableMapping[str, Any],
        url_prefix: str = "",
        *,
        name: str = "kv",
        token: str | None = None,
        max_content_length: int | None = None,
        list_limit: int | None = None,
    ) -> Blueprint:
        if token is not None:
            check_token(token)
        prefix = url_prefix.rstrip("/")
        if prefix and not prefix.startswith("/"):
            prefix = "/" + prefix
        state = KvState(
            store,
            prefix,
            {"token": token, "max_content_length": max_content_length, "list_limit": list_limit},
        )
        blueprint = _make_blueprint(name, state)
        app.extensions.setdefault("kv", {})[name] = state
        app.register_blueprint(blueprint, url_prefix=prefix or None)
        return blueprint


def _make_blueprint(name: str, state: KvState) -> Blueprint:
    blueprint = Blueprint(name, __name__)
    store = state.store

    @blueprint.record_once
    def _add_converter(setup: Any) -> None:
        setup.app.url_map.converters.setdefault("kvkey", _KeyConverter)

    # -- hooks scoped by path, so they also cover 404 and 405 answers under the prefix --

    @blueprint.before_app_request
    def _guard() -> Response | None:
        if not state.covers(request.path):
            return None
        token = state.token
        if token is not None and not authorized(token):
            return _error_response(401)
        if "//" in raw_path():
            # Servers and Werkzeug's router collapse leading slashes ("//x" would be key
            # "x"): an empty segment is refused before routing can reinterpret it.
            return _error_response(400, "invalid_key", "This key is not valid.")
        exc = request.routing_exception
        if isinstance(exc, MethodNotAllowed):
            route = request.path[len(state.url_prefix) :].strip("/")
            if route in _API_ROUTES:
                # Werkzeug's Allow would add the key route's methods to the API route's.
                exc = MethodNotAllowed(valid_methods=_API_ROUTES[route])
        if isinstance(exc, HTTPException) and not isinstance(exc, RequestRedirect):
            return _http_exception_response(exc)
        return None

    @blueprint.after_app_request
    def _harden(response: Response) -> Response:
        if state.covers(request.path):
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    blueprint.register_error_handler(ApiError, _api_error_response)
    blueprint.register_error_handler(Exception, _unexpected_error_response)

    # -- helpers that need the state --------------------------------------------------------

    validate = getattr(store, "validate_key", None)

    def checked(key: str) -> str:
        try:
            check_key(key)
            if validate is not None:
                validate(key)
        except (InvalidKeyError, TypeError) as exc:
            raise ApiError(400, "invalid_key", "This key is not valid.") from exc
        return key

    def body() -> bytes:
        return read_body(state.max_content_length)

    def json_body() -> Any:
        try:
            return json.loads(body())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, "bad_json", "The body must be JSON.") from exc

    def read(key: str) -> bytes:
        try:
            value = store[key]
        except KeyError as exc:  # the common miss, without the context manager's cost
            raise ApiError(404) from exc
        except Exception:
            with _store_errors():  # translated, or re-raised as it is
                raise
        return to_bytes(value)

    # -- routes -------------------------------------------------------------------------------

    def list_keys() -> Response:
        args = query()
        prefix = args.get("prefix", "")
        limit = int_arg(args, "limit", state.list_limit, 1, state.list_limit)
        after = decode_cursor(args.get("cursor"))
        try:
            check_prefix(prefix)
        except InvalidKeyError as exc:
            raise ApiError(400, "invalid_prefix", "This prefix is not valid.") from exc
        with _store_errors():
            lister = getattr(store, "keys_with_prefix", None)
            if lister is not None:
                keys: Iterable[str] = lister(prefix)
            else:
                keys = (key for key in store if key.startswith(prefix))
            if after is not None:
                keys = (key for key in keys if key > after)
            # The limit + 1 smallest keys after the cursor: one pass over the listing,
            # O(n log limit) comparisons and O(limit) memory, instead of sorting all n keys.
            page = heapq.nsmallest(limit + 1, keys)
        more = len(page) > limit
        del page[limit:]
        next_cursor = encode_cursor(page[-1]) if more and page else None
        return json_response({"keys": page, "next_cursor": next_cursor})

    def one_key(key: str) -> Response:
        if key in _API_ROUTES:
            # The path of an API route with a method it does not take: 405, not a bad key.
            raise MethodNotAllowed(valid_methods=_API_ROUTES[key])
        key = checked(key)
        if request.method == "HEAD" and not _conditional():
            # Existence only, from `key in store`: the value is not read (it may be large and
            # behind a network store), so no ETag and no Content-Length; GET has both, and a
            # HEAD with If-None-Match reads the value to answer like GET.
            with _store_errors():
                present = key in store
            if not present:
                raise ApiError(404)
            response = Response(mimetype="application/octet-stream")
            response.automatically_set_content_length = False
            response.headers["Cache-Control"] = "no-cache"
            return response
        if request.method in {"GET", "HEAD"}:
            value = read(key)
            tag = etag_of(value)
            if "If-None-Match" in request.headers and request.if_none_match.contains(tag):
                response = Response(status=304)
            else:
                response = Response(value, mimetype="application/octet-stream")
            response.set_etag(tag)
            response.headers["Cache-Control"] = "no-cache"
            return response
        if request.method == "DELETE":
            with state.locked([key]):
                _check_conditions(key, read)
                with _store_errors():
                    del store[key]
            return Response(status=204)
        value = body()
        with state.locked([key]):
            _check_conditions(key, read)
            with _store_errors():
                store[key] = value
        response = Response(status=204)
        response.set_etag(etag_of(value))
        return response

    def batch_get() -> Response:
        keys = [checked(key) for key in str_list(json_body(), "keys")]
        with _store_errors():
            many = getattr(store, "get_many", None)
            if many is not None:
                found = many(keys)
            else:
                found = {key: store[key] for key in keys if key in store}
        values = {key: base64.b64encode(to_bytes(v)).decode("ascii") for key, v in found.items()}
        return json_response({"values": values})

    def batch_set() -> Response:
        document = json_body()
        items = document.get("items") if isinstance(document, dict) else None
        if not isinstance(items, dict):
            raise ApiError(400, "bad_json", "Expected {'items': {key: base64 value}}.")
        decoded: dict[str, bytes] = {}
        for key, encoded in items.items():
            if not isinstance(encoded, str):
                raise ApiError(400, "bad_json", "Values must be base64 strings.")
            try:
                decoded[checked(key)] = base64.b64decode(encoded, validate=True)
            except ValueError as exc:  # binascii.Error, or non-ASCII text
                raise ApiError(400, "bad_base64", "A value is not valid base64.") from exc
        with state.locked(list(decoded)), _store_errors():
            many = getattr(store, "set_many", None)
            if many is not None:
                many(decoded)
            else:
                store.update(decoded)
        return Response(status=204)

    def batch_delete() -> Response:
        keys = [checked(key) for key in str_list(json_body(), "keys")]
        with state.locked(keys), _store_errors():
            many = getattr(store, "delete_many", None)
            if many is not None:
                many(keys)
            else:
                for key in keys:
                    store.pop(key, None)
        return Response(status=204)

    def clear() -> Response:
        with _store_errors():
            store.clear()
        return Response(status=204)

    def count() -> Response:
        with _store_errors():
            return json_response({"count": len(store)})

    def info() -> Response:
        return json_response(_info(state))

    def openapi() -> Response:
        return json_response(openapi_document(state.url_prefix, auth=state.token is not None))

    def add(rule: str, view: Callable[..., Response], methods: list[str]) -> None:
        blueprint.add_url_rule(
            rule,
            view_func=view,
            methods=methods,
            provide_automatic_options=False,
            merge_slashes=False,
            strict_slashes=False,
        )

    add("/", list_keys, ["GET"])
    views = {
        "openapi.json": openapi,
        "_kv/info": info,
        "_kv/count": count,
        "_kv/get": batch_get,
        "_kv/set": batch_set,
        "_kv/delete": batch_delete,
        "_kv/clear": clear,
    }
    for path, view in views.items():
        add(f"/{path}", view, [m for m in _API_ROUTES[path] if m != "HEAD"])
    add("/<kvkey:key>", one_key, _KEY_METHODS)
    return blueprint


def _conditional() -> bool:
    """Whether the request carries ``If-Match`` or ``If-None-Match``, even an empty one."""
    headers = request.headers
    return "If-Match" in headers or "If-None-Match" in headers


def _check_conditions(key: str, read: Callable[[str], bytes]) -> None:
    """Answer 412 unless the ``If-Match`` / ``If-None-Match`` headers hold for *key*.

    An ``If-Match`` header that is present but holds no tag (empty, or only commas) matches
    nothing: the write is refused, never made unconditional.
    """
    if_match = request.if_match
    if_none_match = request.if_none_match
    if "If-Match" in request.headers and not if_match:
        raise ApiError(412)
    if not if_match and not if_none_match:
        return
    try:
        current: str | None = etag_of(read(key))
    except ApiError as exc:
        if exc.status != 404:
            raise
        current = None
    if if_match and (current is None or not (if_match.star_tag or if_match.contains(current))):
        raise ApiError(412)
    refused = if_none_match.star_tag or if_none_match.contains(current or "")
    if if_none_match and current is not None and refused:
        raise ApiError(412)


def _info(state: KvState) -> dict[str, Any]:
    capabilities = getattr(state.store, "capabilities", None)
    described: dict[str, Any] | None = None
    if capabilities is not None:
        described = {
            "persistent": capabilities.persistent,
            "processes": capabilities.processes,
            "ttl": capabilities.ttl,
            "history": capabilities.history,
            "max_key_length": capabilities.max_key_length,
            "max_value_size": capabilities.max_value_size,
            "empty_key": capabilities.empty_key,
            "hierarchical_keys": capabilities.hierarchical_keys,
            "invalid_keys": list(capabilities.invalid_keys),
        }
    return {
        "max_content_length": state.max_content_length,
        "list_limit": state.list_limit,
        "max_key_length": MAX_KEY_LENGTH,
        "refused_characters": state.refused_characters(),
        "store": described,
    }


def construct_kv_app(
    store: MutableMapping[str, Any],
    *,
    url_prefix: str = "",
    token: str | None = None,
    max_content_length: int | None = None,
    list_limit: int | None = None,
    import_name: str = "kv_flask",
) -> Flask:
    """A Flask app that serves *store* as a REST API (see :class:`FlaskKv` for the options).

    Every response of this app, errors included, is the API's own: unknown paths and
    methods get a JSON 404/405, and any unexpected exception a JSON 500 with no detail.
    """
    app = Flask(import_name, static_folder=None)
    app.config["DEBUG"] = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    FlaskKv(
        app,
        store,
        url_prefix,
        token=token,
        max_content_length=max_content_length,
        list_limit=list_limit,
    )
    app.register_error_handler(ApiError, _api_error_response)
    app.register_error_handler(Exception, _unexpected_error_response)
    return app
