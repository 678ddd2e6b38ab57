"""The routes of the REST API, added to a blueprint; the store comes from the app's state.

Routes, relative to the API's URL prefix (see the package README for the table):

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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.routing import BaseConverter

from kv_core import (
    AccessDeniedError,
    InvalidKeyError,
    KeyConflictError,
    OutOfSpaceError,
    ReadOnlyError,
    StoreUnavailable,
    ValueTooLargeError,
    to_bytes,
)

from ._access_log import shown_path
from ._errors import ApiError
from ._etag import etag_of
from ._http import (
    decode_cursor,
    decoded_path,
    encode_cursor,
    int_arg,
    json_response,
    query,
    read_body,
    str_list,
)
from ._keys import MAX_KEY_LENGTH, check_key, check_prefix
from ._openapi import openapi_document
from ._state import KvState

__all__ = ["API_ROUTES", "KEY_METHODS", "KeyConverter", "add_routes", "etag_of"]

logger = logging.getLogger("kv_flask.errors")

KEY_METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE"]
#: The API's own routes and their methods.
API_ROUTES = {
    "openapi.json": ["GET", "HEAD"],
    "_kv/info": ["GET", "HEAD"],
    "_kv/count": ["GET", "HEAD"],
    "_kv/get": ["POST"],
    "_kv/set": ["POST"],
    "_kv/delete": ["POST"],
    "_kv/clear": ["POST"],
}
_JSON = "application/json"


class KeyConverter(BaseConverter):
    """The ``kvkey`` URL converter: the rest of the path, whatever it holds."""

    # Unlike Werkzeug's "path" converter, this one also matches a leading "/" and empty
    # segments, so "//x" and "a//b" reach the view and get a 400 instead of a 404 or a
    # redirect to a merged path.
    regex = r"[\s\S]+"  # "." would not match a newline in a key
    part_isolating = False
    weight = 200


def _log_store_error(state: KvState, exc: BaseException, level: int) -> None:
    """Log what the store raised, with its cause: server-side only, never in the answer."""
    cause = exc.__cause__
    because = f" (caused by {type(cause).__name__}: {cause})" if cause is not None else ""
    logger.log(
        level,
        "%s %s: the store raised %s: %s%s",
        request.method,
        shown_path(state.url_prefix, log_keys=state.log_keys),
        type(exc).__name__,
        exc,
        because,
    )


@contextmanager
def _store_errors(state: KvState) -> Iterator[None]:
    """Turn what a store raises into API errors; only around calls into the store."""
    try:
        yield
    except KeyError as exc:
        raise ApiError(404) from exc
    except KeyConflictError as exc:
        _log_store_error(state, exc, logging.INFO)
        raise ApiError(409) from exc
    except InvalidKeyError as exc:
        _log_store_error(state, exc, logging.INFO)
        raise ApiError(400, "invalid_key", "The store does not accept this key.") from exc
    except ValueTooLargeError as exc:
        _log_store_error(state, exc, logging.INFO)
        raise ApiError(413) from exc
    except ReadOnlyError as exc:
        _log_store_error(state, exc, logging.INFO)
        raise ApiError(403, "read_only", "The store is read-only.") from exc
    except StoreUnavailable as exc:
        _log_store_error(state, exc, logging.WARNING)
        raise ApiError(503) from exc
    except AccessDeniedError as exc:
        # The store's own server refused the server's credentials: the client can do
        # nothing about it, so it is the store being unavailable, and logged as an error.
        _log_store_error(state, exc, logging.ERROR)
        raise ApiError(503) from exc
    except OutOfSpaceError as exc:
        _log_store_error(state, exc, logging.WARNING)
        raise ApiError(507) from exc


def _json_body(state: KvState) -> Any:
    """The request's JSON document: 415 unless it says it is JSON, 400 if it is not."""
    if request.mimetype != _JSON:
        raise ApiError(415, message="Send a JSON body with Content-Type: application/json.")
    raw = read_body(state.max_content_length)
    try:
        return json.loads(raw)
    # RecursionError: a document nested too deep for the parser ([[[[...]]]]); ValueError:
    # bad JSON, bad UTF-8, or a number too long to convert.
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "bad_json", "The body must be JSON.") from exc


def _no_body() -> None:
    """Refuse a body on a route that takes none, unless it says it is JSON (415)."""
    if request.mimetype not in {"", _JSON}:
        raise ApiError(415, message="This route takes no body; send none.")


def add_routes(blueprint: Blueprint, state_of: Callable[[], KvState]) -> None:
    """Add the API's routes to *blueprint*; *state_of* gives the current app's state."""

    def checked(state: KvState, key: str) -> str:
        validate = getattr(state.store, "validate_key", None)
        try:
            check_key(key)
            if validate is not None:
                validate(key)
        except (InvalidKeyError, TypeError) as exc:
            raise ApiError(400, "invalid_key", "This key is not valid.") from exc
        return key

    def read(state: KvState, key: str) -> bytes:
        try:
            value = state.store[key]
        except KeyError as exc:  # the common miss, without the context manager's cost
            raise ApiError(404) from exc
        except Exception:
            with _store_errors(state):  # translated, or re-raised as it is
                raise
        return to_bytes(value)

    # -- routes -------------------------------------------------------------------------------

    def list_keys() -> Response:
        state = state_of()
        store = state.store
        args = query()
        prefix = args.get("prefix", "")
        limit = int_arg(args, "limit", state.list_limit, 1, state.list_limit)
        after = decode_cursor(args.get("cursor"))
        try:
            check_prefix(prefix)
        except InvalidKeyError as exc:
            raise ApiError(400, "invalid_prefix", "This prefix is not valid.") from exc
        with _store_errors(state):
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
        state = state_of()
        store = state.store
        if key in API_ROUTES:
            # The path of an API route with a method it does not take: 405, not a bad key.
            raise MethodNotAllowed(valid_methods=API_ROUTES[key])
        if decoded_path()[len(state.url_prefix) + 1 :] != key:
            # Routing dropped part of the decoded path (the empty segments of "/%2Fabc"):
            # the key is what the path says, and that is not a valid key.
            raise ApiError(400, "invalid_key", "This key is not valid.")
        key = checked(state, key)
        if request.method == "HEAD" and not _conditional():
            # Existence only, from `key in store`: the value is not read (it may be large and
            # behind a network store), so no ETag and no Content-Length; GET has both, and a
            # HEAD with If-None-Match reads the value to answer like GET.
            with _store_errors(state):
                present = key in store
            if not present:
                raise ApiError(404)
            response = Response(mimetype="application/octet-stream")
            response.automatically_set_content_length = False
            response.headers["Cache-Control"] = state.cache_control
            return response
        if request.method in {"GET", "HEAD"}:
            value = read(state, key)
            tag = etag_of(value)
            if "If-None-Match" in request.headers and request.if_none_match.contains(tag):
                response = Response(status=304)
            else:
                response = Response(value, mimetype="application/octet-stream")
            response.set_etag(tag)
            response.headers["Cache-Control"] = state.cache_control
            return response
        if request.method == "DELETE":
            with state.locked([key]):
                _check_conditions(key, lambda k: read(state, k))
                with _store_errors(state):
                    del store[key]
            return Response(status=204)
        value = read_body(state.max_content_length)
        with state.locked([key]):
            _check_conditions(key, lambda k: read(state, k))
            with _store_errors(state):
                store[key] = value
        response = Response(status=204)
        response.set_etag(etag_of(value))
        return response

    def batch_get() -> Response:
        state = state_of()
        store = state.store
        keys = [checked(state, key) for key in str_list(_json_body(state), "keys")]
        with _store_errors(state):
            many = getattr(store, "get_many", None)
            if many is not None:
                found = many(keys)
            else:
                found = {key: store[key] for key in keys if key in store}
        values = {key: base64.b64encode(to_bytes(v)).decode("ascii") for key, v in found.items()}
        return json_response({"values": values})

    def batch_set() -> Response:
        state = state_of()
        store = state.store
        document = _json_body(state)
        items = document.get("items") if isinstance(document, dict) else None
        if not isinstance(items, dict):
            raise ApiError(400, "bad_json", "Expected {'items': {key: base64 value}}.")
        decoded: dict[str, bytes] = {}
        for key, encoded in items.items():
            if not isinstance(encoded, str):
                raise ApiError(400, "bad_json", "Values must be base64 strings.")
            try:
                decoded[checked(state, key)] = base64.b64decode(encoded, validate=True)
            except ValueError as exc:  # binascii.Error, or non-ASCII text
                raise ApiError(400, "bad_base64", "A value is not valid base64.") from exc
        with state.locked(list(decoded)), _store_errors(state):
            many = getattr(store, "set_many", None)
            if many is not None:
                many(decoded)
            else:
                store.update(decoded)
        return Response(status=204)

    def batch_delete() -> Response:
        state = state_of()
        store = state.store
        keys = [checked(state, key) for key in str_list(_json_body(state), "keys")]
        with state.locked(keys), _store_errors(state):
            many = getattr(store, "delete_many", None)
            if many is not None:
                many(keys)
            else:
                for key in keys:
                    store.pop(key, None)
        return Response(status=204)

    def clear() -> Response:
        state = state_of()
        _no_body()
        with _store_errors(state):
            state.store.clear()
        return Response(status=204)

    def count() -> Response:
        state = state_of()
        with _store_errors(state):
            return json_response({"count": len(state.store)})

    def info() -> Response:
        return json_response(_info(state_of()))

    def openapi() -> Response:
        state = state_of()
        document = openapi_document(
            state.url_prefix,
            auth=state.token is not None,
            max_key_length=state.max_key_length(),
            refused_characters=state.refused_characters(),
            max_content_length=state.max_content_length,
        )
        return json_response(document)

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
        add(f"/{path}", view, [m for m in API_ROUTES[path] if m != "HEAD"])
    add("/<kvkey:key>", one_key, KEY_METHODS)


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
