"""FlaskKvDict: a kv store whose data lives behind the REST API of a kv server."""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests

from kv_core import (
    Capabilities,
    ConflictError,
    InvalidKeyError,
    ProtocolError,
    Store,
    StoreUnavailable,
    ValueTooLargeError,
    redact_url,
)
from kv_core.codec import Deserializer, Serializer

from ._deadline import DeadlineAdapter, deadline
from ._errors import for_answer
from ._etag import quoted_etag_of
from ._keys import (
    API_REFUSED_CHARACTERS,
    MAX_KEY_LENGTH,
    check_key,
    check_prefix,
    check_token,
    quote_key,
)

__all__ = ["DEFAULT_TIMEOUT", "TOKEN_VARIABLE", "FlaskKvDict"]

#: (connect, read) seconds: a slightly-over-3 s connect timeout lets one lost SYN be resent.
#: A request takes at most their sum, whole.
DEFAULT_TIMEOUT = (3.05, 30.0)
#: The environment variable the client reads its token from when given none.
TOKEN_VARIABLE = "KV_TOKEN"  # noqa: S105 - a variable name, not a token

_KEYS_PER_BATCH = 1000
# The server's body limit before /_kv/info has been asked (it is the server's default).
_ASSUMED_LIMIT = 16 * 1024 * 1024
# Values up to this size are sent without first learning the server's limit.
_UNCHECKED_VALUE = 1024 * 1024
_POP_ATTEMPTS = 16
_INVALID_EXAMPLES = ("", "/a", "a/", "a//b", "a/../b", "./a", "a\x00b", "_kv/x")
# A version is one strong entity tag as the server sent it: quotes, then etagc characters.
_ONE_TAG = re.compile(r'"[\x21\x23-\x7e\x80-\xff]*"')
_UNSET: Any = object()


class _BearerAuth(requests.auth.AuthBase):
    # An auth object (not a session header) so that requests never replaces it with
    # credentials from ~/.netrc, and it is attached per request, never to a redirect.
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request


def _error_document(response: requests.Response) -> dict[str, str]:
    """The ``error`` and ``message`` text fields of an error answer, those that are there."""
    try:
        document = response.json()
    except ValueError:
        return {}
    if not isinstance(document, dict):
        return {}
    fields = ("error", "message")
    return {name: document[name] for name in fields if isinstance(document.get(name), str)}


class FlaskKvDict(Store):
    """A store over HTTP: every operation is a request to a kv server (``kv serve``).

    One keep-alive :class:`requests.Session` is used for every request, each with a
    timeout; redirects are never followed (a 3xx is an error, so the token never reaches
    another host). Keys are checked against the API's key rules (:func:`kv_flask.check_key`)
    before any request is sent, and each segment is percent-encoded, so no key can change
    the path it is sent to.

    Compare-and-set (:meth:`get_with_version`, :meth:`set_if`, :meth:`delete_if`) goes
    over ``ETag``, ``If-Match`` and ``If-None-Match: *``; a version is the ``ETag`` the
    server sent, quotes included. It is atomic across server processes and hosts when the
    server's store declares ``compare_and_set`` (the server then hands the condition to
    the store; this client declares it too, from ``/_kv/info``); in front of any other
    store, only among the requests of one server process.

    Errors: 404 -> ``KeyError``; 400 -> ``InvalidKeyError``; 409 -> ``KeyConflictError``;
    412 -> :class:`PreconditionFailed` (a ``ConflictError``); 413 -> ``ValueTooLargeError``;
    401/403 -> ``AccessDeniedError`` (``ReadOnlyError`` for a read-only store); 507 ->
    ``OutOfSpaceError``; a connection failure, a timeout, a redirect, 429 and 5xx ->
    ``StoreUnavailable``, with the requests exception as its cause.

    The client is thread safe as far as :mod:`requests` is (one session shared by threads;
    its connection pool is). After a fork, the child opens a new session on first use.

    :param base_url: ``http(s)://host:port/prefix`` of the API.
    :param token: Bearer token for a server started with one; ``None`` reads the
        ``KV_TOKEN`` environment variable (unset or empty: no token); ``""`` sends none.
    :param timeout: The most one request may take, whole: seconds, or ``(connect, read)``
        seconds (connecting within *connect*, everything within *connect* + *read*). A
        server that trickles its answer gets ``StoreUnavailable`` when the time is up, not
        when it pauses. With your own *session*, its adapters do the I/O and requests'
        meaning applies instead (each socket operation).
    :param session: A session to use instead of a new one (it is not closed by ``close()``).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        serializer: Serializer | None = None,
        deserializer: Deserializer | None = None,
    ) -> None:
        super().__init__(serializer=serializer, deserializer=deserializer)
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            msg = f"base_url must be an http:// or https:// URL, not {redact_url(base_url)!r}"
            raise ValueError(msg)
        if parts.query or parts.fragment or parts.username or parts.password:
            msg = "base_url must not hold a query, a fragment or credentials (use token=)"
            raise ValueError(msg)
        self._base = base_url.rstrip("/")
        if token is None:
            token = os.environ.get(TOKEN_VARIABLE) or None
        self._token = token
        self._auth = _BearerAuth(check_token(token)) if token else None
        self._timeout = timeout
        self._call_limit = _whole_call(timeout)
        self._owns_session = session is None
        self._session = session if session is not None else _new_session()
        self._pid = os.getpid()
        self._info: dict[str, Any] | None = None
        self._key_rules: tuple[frozenset[str], int | None] | None = None
        self._info_lock = threading.Lock()

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self._base

    def __reduce__(self) -> Any:
        # Pickled as "connect to the same server again": a session cannot be pickled.
        return (_reopen, (self._base, self._token or "", self._timeout))

    def _http(self) -> requests.Session:
        if os.getpid() != self._pid and self._owns_session:
            # A forked child must not share the parent's pooled sockets.
            self._session = _new_session()
            self._pid = os.getpid()
        return self._session

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        if self.closed:
            msg = "this FlaskKvDict is closed"
            raise StoreUnavailable(msg)
        url = f"{self._base}/{path}"
        try:
            with deadline(self._call_limit):
                response = self._http().request(
                    method,
                    url,
                    auth=self._auth,
                    timeout=self._timeout,
                    allow_redirects=False,
                    **kwargs,
                )
        except requests.RequestException as exc:
            msg = f"{method} request to {self._base} failed: {type(exc).__name__}"
            raise StoreUnavailable(msg) from exc
        return response

    def _check(self, response: requests.Response, key: str | None = None) -> requests.Response:
        status = response.status_code
        if status < 300 or status == 304:
            return response
        where = f"{response.request.method} {self._base}"
        if 300 <= status < 400:
            msg = f"{where}: redirect (HTTP {status}) not followed; check the base URL"
            raise StoreUnavailable(msg)
        document = _error_document(response)
        kind = for_answer(status, document.get("error", ""))
        if kind is None:
            msg = f"{where}: unexpected HTTP {status}"
            raise ProtocolError(msg)
        if kind.raises is KeyError:
            if key is not None:
                raise KeyError(key)
            msg = f"{where}: no kv API at this URL (HTTP 404)"
            raise StoreUnavailable(msg)
        msg = kind.hint.format(where=where, status=status, key=key)
        if kind.use_server_message:
            msg = document.get("message") or msg
        raise kind.raises(msg)

    def _answer(self, response: requests.Response, field: str) -> dict[str, Any]:
        """The checked response's JSON object, which must hold *field*."""
        self._check(response)
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict) or field not in document:
            msg = f"{self._base} did not answer like a kv server (no {field!r} in its JSON)"
            raise StoreUnavailable(msg)
        return document

    def server_info(self) -> dict[str, Any]:
        """The server's limits and its store's capabilities (``GET /_kv/info``), cached."""
        with self._info_lock:
            if self._info is None:
                self._info = self._answer(self._request("GET", "_kv/info"), "max_content_length")
            return self._info

    def _limit(self) -> int:
        if self._info is None:
            return _ASSUMED_LIMIT
        return int(self._info.get("max_content_length") or _ASSUMED_LIMIT)

    # -- capabilities ---------------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """What the server's store supports, within the limits of the HTTP API.

        Asks the server once (``/_kv/info``). ``persistent`` and ``processes`` are true:
        another client (another process) opened on the same server sees the same data for
        as long as the server runs; whether the data survives a *server* restart is the
        store's own ``persistent``, in :meth:`server_info`.
        """
        info = self.server_info()
        store = info.get("store") or {}
        limits = [MAX_KEY_LENGTH, store.get("max_key_length")]
        max_value = store.get("max_value_size")
        server_limit = int(info.get("max_content_length") or _ASSUMED_LIMIT)
        return Capabilities(
            persistent=True,
            processes=True,
            ttl=bool(store.get("ttl", False)),
            history=False,
            max_key_length=min(limit for limit in limits if limit is not None),
            max_value_size=min(server_limit, max_value) if max_value else server_limit,
            empty_key=False,
            hierarchical_keys=bool(store.get("hierarchical_keys", False)),
            # The API's own examples, then the served store's (the server refuses those too).
            invalid_keys=tuple(dict.fromkeys([*_INVALID_EXAMPLES, *store.get("invalid_keys", [])])),
            refused_characters=API_REFUSED_CHARACTERS | self._store_key_rules()[0],
            compare_and_set=self._server_versioned(),
        )

    def _server_versioned(self) -> bool:
        """Whether the server's store declares compare-and-set (its ETags are versions)."""
        store = self.server_info().get("store") or {}
        return store.get("compare_and_set") is True

    # -- the store primitives -------------------------------------------------------------------

    def _validate_key(self, key: str) -> None:
        check_key(key)
        # The served store's own rules, as far as the server describes them: characters it
        # refuses and its longest key. Learnt once per client (one request, on first use).
        refused, longest = self._store_key_rules()
        if longest is not None and len(key) > longest:
            msg = f"key is {len(key)} characters long; the served store's limit is {longest}"
            raise InvalidKeyError(msg)
        if refused and not refused.isdisjoint(key):
            msg = f"the served store refuses keys holding any of {''.join(sorted(refused))!r}"
            raise InvalidKeyError(msg)

    def _store_key_rules(self) -> tuple[frozenset[str], int | None]:
        rules = self._key_rules
        if rules is None:
            info = self.server_info()
            store = info.get("store") or {}
            longest = store.get("max_key_length")
            # The store's declared set when the server sends it, else the server's own list.
            declared = store.get("refused_characters")
            if declared is None:
                declared = info.get("refused_characters")
            rules = (
                frozenset("".join(declared or "")),
                int(longest) if longest is not None else None,
            )
            self._key_rules = rules
        return rules

    def _validate_prefix(self, prefix: str) -> None:
        check_prefix(prefix)

    def _read(self, key: str) -> bytes:
        return self._check(self._request("GET", quote_key(key)), key).content

    # -- compare-and-set ------------------------------------------------------------------------

    def _read_with_version(self, key: str) -> tuple[bytes, str]:
        response = self._check(self._request("GET", quote_key(key)), key)
        return response.content, self._tag_of(response, response.content)

    def _write_if(self, key: str, value: bytes, version: str | None) -> str:
        if version is not None and not _ONE_TAG.fullmatch(version):
            # Not a tag the server sent (nor one header value): it matches nothing.
            msg = f"{version!r} is not a version of {key!r} (an ETag, quotes included)"
            raise ConflictError(msg)
        self._check_size(len(value))
        headers = {"If-None-Match": "*"} if version is None else {"If-Match": version}
        response = self._request("PUT", quote_key(key), data=value, headers=headers)
        self._check(response, key)
        return self._tag_of(response, value)

    def _delete_if(self, key: str, version: str) -> None:
        if not _ONE_TAG.fullmatch(version):
            msg = f"{version!r} is not a version of {key!r} (an ETag, quotes included)"
            raise ConflictError(msg)
        response = self._request("DELETE", quote_key(key), headers={"If-Match": version})
        if response.status_code == 404:
            msg = f"{key!r} is missing: not at version {version!r}"
            raise ConflictError(msg)
        self._check(response, key)

    def _tag_of(self, response: requests.Response, value: bytes) -> str:
        """The answer's ``ETag``. Without one (a proxy may drop it), the tag a server over a
        store without versions computes for *value*; a server whose tags are versions
        cannot be answered for, so that is a ``ProtocolError``."""
        tag = response.headers.get("ETag")
        if tag:
            return tag
        if self._server_versioned():
            msg = f"{self._base} sent no ETag: cannot know the version of the value"
            raise ProtocolError(msg)
        return quoted_etag_of(value)

    def get_with_etag(self, key: str) -> tuple[Any, str]:
        """Deprecated alias of :meth:`get_with_version` (the version is the ETag), which
        every kv store shares; warns ``DeprecationWarning``."""
        warnings.warn(
            "FlaskKvDict.get_with_etag() is deprecated; use get_with_version()",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.get_with_version(key)

    def set_if(self, key: str, value: Any, *, version: Any = _UNSET, etag: Any = _UNSET) -> str:
        """Store *value* only if *key* still has *version*; with ``version=None``, only if absent.

        *version* comes from :meth:`get_with_version` or a previous ``set_if`` (an ETag).
        Returns the new version.

        :raises ConflictError: the key changed, is missing (a *version* was given) or
            exists (``version=None``): :class:`PreconditionFailed` when the server said so.
        :param etag: Deprecated spelling of *version* (kept for code written for kv-flask
            0.3, with its ``ValueError`` for an empty tag); warns ``DeprecationWarning``.
        """
        if etag is not _UNSET:
            if version is not _UNSET:
                msg = "set_if() takes version= or the deprecated etag=, not both"
                raise TypeError(msg)
            warnings.warn(
                "FlaskKvDict.set_if(etag=...) is deprecated; use set_if(version=...)",
                DeprecationWarning,
                stacklevel=2,
            )
            if etag is not None and not (isinstance(etag, str) and etag.strip()):
                msg = "etag must be a tag from get_with_etag or set_if, or None; not empty"
                raise ValueError(msg)
            version = etag
        elif version is _UNSET:
            msg = "set_if() missing 1 required keyword-only argument: 'version'"
            raise TypeError(msg)
        return super().set_if(key, value, version=version)

    def _write(self, key: str, value: bytes) -> None:
        self._check_size(len(value))
        self._check(self._request("PUT", quote_key(key), data=value), key)

    def _check_size(self, size: int) -> None:
        if size > _UNCHECKED_VALUE:
            self.server_info()
        if self._info is not None and size > self._limit():
            msg = f"value of {size} bytes is over the server's limit of {self._limit()}"
            raise ValueTooLargeError(msg)

    def _delete(self, key: str) -> None:
        self._check(self._request("DELETE", quote_key(key)), key)

    def _contains(self, key: str) -> bool:
        response = self._request("HEAD", quote_key(key))
        if response.status_code == 404:
            return False
        self._check(response, key)
        return True

    def _pop(self, key: str) -> bytes:
        # Read, then delete only if the value is still the one read: two clients popping
        # the same key never both get it. Never an unconditional DELETE: without an ETag in
        # the answer (a proxy may drop it), the tag is computed as the server computes it.
        path = quote_key(key)
        for _ in range(_POP_ATTEMPTS):
            response = self._check(self._request("GET", path), key)
            tag = self._tag_of(response, response.content)
            deleted = self._request("DELETE", path, headers={"If-Match": tag})
            if deleted.status_code == 412:
                continue
            self._check(deleted, key)
            return response.content
        msg = f"{key!r} kept changing while it was being popped (or the server sends other tags)"
        raise StoreUnavailable(msg)

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        cursor: str | None = None
        while True:
            params = {"prefix": prefix} if prefix else {}
            if cursor:
                params["cursor"] = cursor
            page = self._answer(self._request("GET", "", params=params), "keys")
            yield from page["keys"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def _read_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), _KEYS_PER_BATCH):
            chunk = list(keys[start : start + _KEYS_PER_BATCH])
            response = self._check(self._request("POST", "_kv/get", json={"keys": chunk}))
            for key, encoded in self._answer(response, "values")["values"].items():
                found[key] = base64.b64decode(encoded)
        return found

    def _write_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        largest = max(len(value) for _, value in items)
        # Refuse before anything is written: set_many is all or nothing on bad input.
        self._check_size(largest)
        limit = self._limit()
        batch: dict[str, str] = {}
        size = 0
        for key, value in items:
            encoded = base64.b64encode(value).decode("ascii")
            item_size = len(json.dumps(key)) + len(encoded) + 8
            if item_size + 64 > limit:
                # Too big for any batch once base64-encoded: send it alone, raw.
                self._write(key, value)
                continue
            if batch and size + item_size + 64 > limit:
                self._send_batch(batch)
                batch, size = {}, 0
            batch[key] = encoded
            size += item_size
        if batch:
            self._send_batch(batch)

    def _send_batch(self, batch: dict[str, str]) -> None:
        self._check(self._request("POST", "_kv/set", json={"items": batch}))

    def _delete_many(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), _KEYS_PER_BATCH):
            chunk = list(keys[start : start + _KEYS_PER_BATCH])
            self._check(self._request("POST", "_kv/delete", json={"keys": chunk}))

    def _count(self) -> int:
        return int(self._answer(self._request("GET", "_kv/count"), "count")["count"])

    def _clear(self) -> None:
        self._check(self._request("POST", "_kv/clear"))

    def _close(self) -> None:
        if self._owns_session:
            self._session.close()

    def _describe(self) -> str:
        return repr(redact_url(self._base))


def _new_session() -> requests.Session:
    session = requests.Session()
    adapter = DeadlineAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _whole_call(timeout: float | tuple[float, float]) -> float:
    """The most one request may take, in seconds, from the client's *timeout*."""
    if isinstance(timeout, tuple):
        connect, read = timeout
        return float(connect) + float(read)
    return float(timeout)


def _reopen(base_url: str, token: str | None, timeout: Any) -> FlaskKvDict:
    return FlaskKvDict(base_url, token=token, timeout=timeout)
