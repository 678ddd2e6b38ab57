"""The routes of the REST API (:class:`KvRoutes`); the store comes from the app's state.

Routes, relative to the API's URL prefix (see the package README for the table):

- ``GET /`` lists keys: ``prefix``, ``limit`` (capped) and an opaque ``cursor``.
- ``GET|PUT|POST|DELETE /<key>``: one value, raw bytes, with a strong ``ETag``;
  ``HEAD /<key>``: whether it exists (``key in store``; the value is not read).
- ``POST /_kv/get|set|delete|clear``, ``GET /_kv/count``, ``GET /_kv/info``: batch calls.
- ``GET /openapi.json``: the OpenAPI 3.1 document.
- ``GET /_kv/history/<key>``: the versions of a key, on a store with history
  (:mod:`kv_flask._history`, which also reads ``as_of=`` snapshots).

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
from functools import partial
from typing import Any

from flask import Blueprint, Request, Response, request
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.routing import BaseConverter

from kv_core import ConflictError, InvalidKeyError, to_bytes

from ._access_log import shown_path
from ._errors import ApiError, for_store_error
from ._etag import PLAIN_VERSION, etag_of, version_of_tag, version_tag
from ._history import AS_OF, has_history, no_history, store_as_of, versions_document
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
from ._responses import ApiResponse
from ._state import KvState

__all__ = [
    "API_ROUTES",
    "KEY_METHODS",
    "PREFIX_ROUTES",
    "KeyConverter",
    "KvRoutes",
    "etag_of",
    "route_methods",
]

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
#: Routes of the API that end in a key or a file name, by prefix, and their methods.
PREFIX_ROUTES = {"_kv/history/": ["GET", "HEAD"], "_kv/ui/": ["GET", "HEAD"]}
_JSON = "application/json"
_OCTETS = "application/octet-stream"
# A write to a versioned store that must read the current version first (a list of tags,
# "*", If-None-Match with tags, or no condition at all) reads and tries again this many
# times when another writer gets in between; then 412 (a plain write, for no condition).
_CONDITION_ATTEMPTS = 16


def route_methods(route: str) -> list[str] | None:
    """The methods of the API route at *route* (the path under the prefix), or ``None``."""
    methods = API_ROUTES.get(route)
    if methods is not None:
        return methods
    if route == "_kv/ui":
        return PREFIX_ROUTES["_kv/ui/"]
    for prefix, methods in PREFIX_ROUTES.items():
        if route.startswith(prefix):
            return methods
    return None


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


def _translated(state: KvState, exc: Exception) -> ApiError | None:
    """The API error answering what the store raised (logged), or ``None``: not the store's."""
    kind = for_store_error(exc)
    if kind is None:
        return None
    if kind.log_level is not None:
        _log_store_error(state, exc, kind.log_level)
    return ApiError.of(kind)


@contextmanager
def _store_errors(state: KvState) -> Iterator[None]:
    """Turn what a store raises into API errors; only around calls into the store."""
    try:
        yield
    except Exception as exc:
        error = _translated(state, exc)
        if error is None:
            raise
        raise error from exc


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


class KvRoutes:
    """The API's views, one method per route, over the state of the current app.

    :param state_of: Gives the current app's :class:`KvState` (one per app the API is on),
        from the request's WSGI environ when given one.
    """

    def __init__(self, state_of: Callable[..., KvState]) -> None:
        self._state_of = state_of

    def register(self, blueprint: Blueprint) -> None:
        """Add every route to *blueprint*."""
        cls = type(self)
        views: dict[str, Callable[..., Response]] = {
            "openapi.json": cls.openapi,
            "_kv/info": cls.info,
            "_kv/count": cls.count,
            "_kv/get": cls.batch_get,
            "_kv/set": cls.batch_set,
            "_kv/delete": cls.batch_delete,
            "_kv/clear": cls.clear,
        }
        self._add(blueprint, "/", cls.list_keys, ["GET"])
        for path, view in views.items():
            self._add(blueprint, f"/{path}", view, [m for m in API_ROUTES[path] if m != "HEAD"])
        self._add(blueprint, "/_kv/history/<kvkey:key>", cls.history, ["GET"])
        self._add(blueprint, "/<kvkey:key>", cls.one_key, KEY_METHODS)

    def _add(
        self, blueprint: Blueprint, rule: str, view: Callable[..., Response], methods: list[str]
    ) -> None:
        blueprint.add_url_rule(
            rule,
            endpoint=view.__name__,
            # A partial of the function rather than a bound method: Flask's ensure_sync
            # inspects the view on every request, and unwraps a partial faster.
            view_func=partial(view, self),
            methods=methods,
            provide_automatic_options=False,
            merge_slashes=False,
            strict_slashes=False,
        )

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _checked(state: KvState, key: str) -> str:
        """*key* if both the API and the store accept it; else a 400 ``invalid_key``."""
        validate = state.validate_key
        try:
            check_key(key)
            if validate is not None:
                validate(key)
        except (InvalidKeyError, TypeError) as exc:
            raise ApiError(400, "invalid_key", "This key is not valid.") from exc
        return key

    @staticmethod
    def _read(state: KvState, key: str) -> bytes:
        try:
            value = state.store[key]
        except KeyError as exc:  # the common miss, without the table lookup's cost
            raise ApiError(404) from exc
        except Exception as exc:
            error = _translated(state, exc)
            if error is None:
                raise
            raise error from exc
        return to_bytes(value)

    @staticmethod
    def _read_versioned(state: KvState, key: str) -> tuple[bytes, str]:
        """The value of *key* and its tag, the store's version (a versioned store only)."""
        try:
            value, version = state.store.get_with_version(key)  # type: ignore[attr-defined]
        except KeyError as exc:
            raise ApiError(404) from exc
        except Exception as exc:
            error = _translated(state, exc)
            if error is None:
                raise
            raise error from exc
        # What version_tag does, without its call for the common plain version.
        tag = version if PLAIN_VERSION.fullmatch(version) else version_tag(version)
        return (value if type(value) is bytes else to_bytes(value)), tag

    # -- one key -----------------------------------------------------------------------------

    def one_key(self, key: str) -> Response:
        """``GET|HEAD|PUT|POST|DELETE /<key>``: one value, raw bytes, with a strong ETag."""
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        environ = req.environ
        state = self._state_of(environ)
        if key in API_ROUTES:
            # The path of an API route with a method it does not take: 405, not a bad key.
            raise MethodNotAllowed(valid_methods=API_ROUTES[key])
        if key.startswith("_kv/"):
            methods = route_methods(key)
            if methods is not None:  # a write to the history or the page
                raise MethodNotAllowed(valid_methods=methods)
        if decoded_path(environ)[len(state.url_prefix) + 1 :] != key:
            # Routing dropped part of the decoded path (the empty segments of "/%2Fabc"):
            # the key is what the path says, and that is not a valid key.
            raise ApiError(400, "invalid_key", "This key is not valid.")
        self._checked(state, key)
        method = environ["REQUEST_METHOD"]
        conditional = "HTTP_IF_MATCH" in environ or "HTTP_IF_NONE_MATCH" in environ
        if environ.get("QUERY_STRING") and AS_OF in (args := query()):
            return self._get_as_of(state, req, key, args)
        if method == "GET" or (method == "HEAD" and conditional):
            return self._get(state, req, key)
        if method == "HEAD":
            return self._head(state, key)
        if method == "DELETE":
            return self._delete(state, req, key, conditional=conditional)
        return self._put(state, req, key, conditional=conditional)

    def _get(self, state: KvState, req: Request, key: str) -> Response:
        if state.versioned:
            value, tag = self._read_versioned(state, key)
        else:
            value = self._read(state, key)
            tag = etag_of(value)
        sent = (("etag", ("ETag", f'"{tag}"')), state.sent_cache_control)
        if "HTTP_IF_NONE_MATCH" in req.environ and req.if_none_match.contains(tag):
            response = ApiResponse(status=304)
        else:
            response = ApiResponse(value, content_type=_OCTETS)
        response.sent_headers = sent
        return response

    def _get_as_of(self, state: KvState, req: Request, key: str, args: dict[str, str]) -> Response:
        """``GET|HEAD /<key>?as_of=...``: the value the key had then (a store with history)."""
        if req.method not in ("GET", "HEAD"):
            raise ApiError(400, "bad_parameter", "as_of is for reads only.")
        with _store_errors(state), store_as_of(state.store, args) as past:
            try:
                value = to_bytes(past[key])
            except KeyError as exc:
                raise ApiError(404) from exc
        response = ApiResponse(value, content_type=_OCTETS)
        response.sent_headers = (
            ("etag", ("ETag", f'"{etag_of(value)}"')),
            state.sent_cache_control,
        )
        return response

    def history(self, key: str) -> Response:
        """``GET /_kv/history/<key>``: the versions of *key*, oldest first, with their times;
        ``?sequence_number=N``: the value of one version (raw bytes)."""
        state = self._state_of()
        key = self._checked(state, key)
        if not has_history(state.store):
            raise no_history()
        args = query()
        number = args.get("sequence_number")
        with _store_errors(state), store_as_of(state.store, args) as store:
            versions = store.history(key)  # type: ignore[attr-defined]
        if number is None:
            if not versions:
                raise ApiError(404)
            return json_response(versions_document(key, versions, to_bytes))
        try:
            wanted = int(number)
        except ValueError as exc:
            raise ApiError(400, "bad_parameter", "sequence_number must be an integer.") from exc
        for version in versions:
            if version.sequence_number == wanted and not version.deleted:
                response = ApiResponse(to_bytes(version.value), content_type=_OCTETS)
                response.sent_headers = (state.sent_cache_control,)
                return response
        raise ApiError(404)

    def _head(self, state: KvState, key: str) -> Response:
        # Existence only, from `key in store`: the value is not read (it may be large and
        # behind a network store), so no ETag and no Content-Length; GET has both, and a
        # HEAD with If-None-Match reads the value to answer like GET.
        with _store_errors(state):
            present = key in state.store
        if not present:
            raise ApiError(404)
        response = ApiResponse(mimetype=_OCTETS, headers={"Cache-Control": state.cache_control})
        response.automatically_set_content_length = False
        return response

    def _delete(self, state: KvState, req: Request, key: str, *, conditional: bool) -> Response:
        if state.versioned:
            if conditional:
                self._write_versioned(state, req, key, None)
            else:
                with _store_errors(state):
                    del state.store[key]
            return ApiResponse(status=204)
        with state.lock_of(key):
            if conditional:
                self._check_conditions(state, req, key)
            try:
                del state.store[key]
            except Exception as exc:
                error = _translated(state, exc)
                if error is None:
                    raise
                raise error from exc
        return ApiResponse(status=204)

    def _put(self, state: KvState, req: Request, key: str, *, conditional: bool) -> Response:
        value = read_body(state.max_content_length, req)
        if state.versioned:
            # Even without conditions, through set_if: the answer's ETag must be the version
            # this write made, which a plain write does not tell.
            tag = self._write_versioned(state, req, key, value)
            answer = ApiResponse(status=204)
            if tag is not None:
                answer.sent_headers = (("etag", ("ETag", f'"{tag}"')),)
            return answer
        # The stripe lock even without conditions: a write must not land between another
        # request's condition check and its write.
        with state.lock_of(key):
            if conditional:
                self._check_conditions(state, req, key)
            try:
                state.store[key] = value
            except Exception as exc:
                error = _translated(state, exc)
                if error is None:
                    raise
                raise error from exc
        response = ApiResponse(status=204)
        response.sent_headers = (("etag", ("ETag", f'"{etag_of(value)}"')),)
        return response

    def _check_conditions(self, state: KvState, req: Request, key: str) -> None:
        """Answer 412 unless the ``If-Match`` / ``If-None-Match`` headers hold for *key*.

        An ``If-Match`` header that is present but holds no tag (empty, or only commas)
        matches nothing: the write is refused, never made unconditional.
        """
        if_match = req.if_match
        if_none_match = req.if_none_match
        if "HTTP_IF_MATCH" in req.environ and not if_match:
            raise ApiError(412)
        if not if_match and not if_none_match:
            return
        try:
            current: str | None = etag_of(self._read(state, key))
        except ApiError as exc:
            if exc.status != 404:
                raise
            current = None
        if if_match and (current is None or not (if_match.star_tag or if_match.contains(current))):
            raise ApiError(412)
        refused = if_none_match.star_tag or if_none_match.contains(current or "")
        if if_none_match and current is not None and refused:
            raise ApiError(412)

    def _write_versioned(
        self, state: KvState, req: Request, key: str, value: bytes | None
    ) -> str | None:
        """Write *value* (``None``: delete) if the request's conditions hold, on a versioned
        store: the condition is the store's ``set_if`` / ``delete_if``, so it holds across
        server processes and hosts. Returns the new value's tag; 412 if a condition fails.

        ``If-Match`` with one tag, and ``If-None-Match: *`` on a write, are one store call.
        Other conditions (several tags, ``If-Match: *``, ``If-None-Match`` with tags), and
        a write with no condition, read the current version, check it, and write
        conditioned on it; if another writer gets in between, they read again. A write with
        no condition that keeps losing is made plain at last, and answered without a tag.
        """
        store: Any = state.store
        environ = req.environ
        if_match = req.if_match if "HTTP_IF_MATCH" in environ else None
        if_none_match = req.if_none_match if "HTTP_IF_NONE_MATCH" in environ else None
        if if_match is not None and not if_match:
            raise ApiError(412)  # present but holding no tag: matches nothing
        if if_none_match is not None and not if_none_match:
            if_none_match = None  # no tag to avoid: no condition
        with _store_errors(state):
            if if_match is not None and if_none_match is None and not if_match.star_tag:
                tags = list(dict.fromkeys(if_match))
                if len(tags) == 1:
                    version = version_of_tag(tags[0])
                    if version is None:
                        raise ApiError(412)
                    return self._versioned_call(store, key, value, version)
            star = if_none_match is not None and if_none_match.star_tag
            if value is not None and if_match is None and star:
                return self._versioned_call(store, key, value, None)
            for _ in range(_CONDITION_ATTEMPTS):
                try:
                    _, version = store.get_with_version(key)
                    current: str | None = version_tag(version)
                except KeyError:
                    version = current = None
                if if_match is not None and (
                    current is None or not (if_match.star_tag or if_match.contains(current))
                ):
                    raise ApiError(412)
                if (
                    if_none_match is not None
                    and current is not None
                    and (if_none_match.star_tag or if_none_match.contains(current))
                ):
                    raise ApiError(412)
                if value is None and version is None:
                    raise ApiError(404)
                try:
                    return self._versioned_call(store, key, value, version, retry=True)
                except _Again:
                    continue
            if value is not None and if_match is None and if_none_match is None:
                store[key] = value
                return None
        raise ApiError(412)

    @staticmethod
    def _versioned_call(
        store: Any, key: str, value: bytes | None, version: str | None, *, retry: bool = False
    ) -> str | None:
        """``set_if`` (or, for ``value=None``, ``delete_if``); 412 on a conflict, or
        :class:`_Again` with *retry* (the version read is no longer the key's)."""
        try:
            if value is None:
                store.delete_if(key, version=version)
                return None
            return version_tag(store.set_if(key, value, version=version))
        except (ConflictError, KeyError) as exc:
            if retry:
                raise _Again from exc
            raise ApiError(412) from exc

    # -- listing and batches -------------------------------------------------------------------

    def list_keys(self) -> Response:
        """``GET /``: keys by ``prefix``, a page of at most ``limit``, from an opaque cursor."""
        state = self._state_of()
        args = query()
        prefix = args.get("prefix", "")
        limit = int_arg(args, "limit", state.list_limit, 1, state.list_limit)
        after = decode_cursor(args.get("cursor"))
        try:
            check_prefix(prefix)
        except InvalidKeyError as exc:
            raise ApiError(400, "invalid_prefix", "This prefix is not valid.") from exc
        with _store_errors(state), store_as_of(state.store, args) as store:
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

    def batch_get(self) -> Response:
        """``POST /_kv/get``: the values of the keys that exist, base64-encoded."""
        state = self._state_of()
        store = state.store
        keys = [self._checked(state, key) for key in str_list(_json_body(state), "keys")]
        with _store_errors(state):
            many = getattr(store, "get_many", None)
            if many is not None:
                found = many(keys)
            else:
                found = {key: store[key] for key in keys if key in store}
        values = {key: base64.b64encode(to_bytes(v)).decode("ascii") for key, v in found.items()}
        return json_response({"values": values})

    def batch_set(self) -> Response:
        """``POST /_kv/set``: store base64-encoded values, all or none on bad input."""
        state = self._state_of()
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
                decoded[self._checked(state, key)] = base64.b64decode(encoded, validate=True)
            except ValueError as exc:  # binascii.Error, or non-ASCII text
                raise ApiError(400, "bad_base64", "A value is not valid base64.") from exc
        with state.locked(list(decoded)), _store_errors(state):
            many = getattr(store, "set_many", None)
            if many is not None:
                many(decoded)
            else:
                store.update(decoded)
        return ApiResponse(status=204)

    def batch_delete(self) -> Response:
        """``POST /_kv/delete``: delete the keys that exist."""
        state = self._state_of()
        store = state.store
        keys = [self._checked(state, key) for key in str_list(_json_body(state), "keys")]
        with state.locked(keys), _store_errors(state):
            many = getattr(store, "delete_many", None)
            if many is not None:
                many(keys)
            else:
                for key in keys:
                    store.pop(key, None)
        return ApiResponse(status=204)

    def clear(self) -> Response:
        """``POST /_kv/clear``: delete every key."""
        state = self._state_of()
        _no_body()
        with _store_errors(state):
            state.store.clear()
        return ApiResponse(status=204)

    def count(self) -> Response:
        """``GET /_kv/count``: how many keys the store holds."""
        state = self._state_of()
        args = query() if request.environ.get("QUERY_STRING") else {}
        with _store_errors(state), store_as_of(state.store, args) as store:
            return json_response({"count": len(store)})

    def info(self) -> Response:
        """``GET /_kv/info``: the server's limits and the store's capabilities."""
        return json_response(_info(self._state_of()))

    def openapi(self) -> Response:
        """``GET /openapi.json``: the OpenAPI 3.1 document of this API and its store."""
        state = self._state_of()
        document = openapi_document(
            state.url_prefix,
            auth=state.token is not None,
            max_key_length=state.max_key_length(),
            refused_characters=state.refused_characters(),
            max_content_length=state.max_content_length,
        )
        return json_response(document)


class _Again(Exception):  # a signal inside the server, never raised out of it
    """The version a conditional write read changed before the write: read it again."""


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
            # ETag is then the store's version, and If-Match its compare-and-set.
            "compare_and_set": state.versioned,
            # Declared by the store; those the API refuses in every key are left out.
            "refused_characters": state.refused_characters(),
        }
    return {
        "max_content_length": state.max_content_length,
        "list_limit": state.list_limit,
        "max_key_length": MAX_KEY_LENGTH,
        "refused_characters": state.refused_characters(),
        "store": described,
    }
