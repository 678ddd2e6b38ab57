"""The raw HTTP of the protocol checks: one request per connection, every answer checked.

:class:`Http` sends requests with ``http.client``, which sends the path exactly as written
(nothing is normalised, nothing is followed); :func:`expect` and :func:`expect_error` check
what every answer and every error answer must be (``PROTOCOL.md`` §7.1, §11), and
:func:`check_rule` registers a check in :data:`REGISTRY`. See :mod:`kv_flask.protocol_checks`.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from kv_core import StoreUnavailable

from ._keys import quote_key

__all__ = [
    "BODY_PROBE_LIMIT",
    "REGISTRY",
    "Answer",
    "CannotCheck",
    "Check",
    "Http",
    "NotApplicable",
    "ProtocolViolation",
    "check_rule",
    "expect",
    "expect_error",
]

BODY_PROBE_LIMIT = 64 * 1024 * 1024
_FOREIGN_HOST = "kv-check.invalid"  # .invalid never resolves (RFC 2606)
_FOREIGN_ORIGIN = f"http://{_FOREIGN_HOST}"
_CURSOR = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")
_KEY_METHODS = {"GET", "HEAD", "PUT", "POST", "DELETE"}
_JSON = {"Content-Type": "application/json"}


class ProtocolViolation(AssertionError):
    """The server broke a rule of the protocol; the message says which and how."""


class NotApplicable(Exception):
    """The check cannot run against this server as started (no token given, ...)."""


class CannotCheck(Exception):
    """The server cannot be checked at all: its store is not empty, or it needs a token."""


# -- raw HTTP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One answer: its status, its headers (names lower-cased) and its whole body."""

    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """The header *name* (any case), or ``None``."""
        return self.headers.get(name.lower())

    def where(self) -> str:
        """``METHOD PATH -> STATUS``, for messages."""
        return f"{self.method} {self.path} -> {self.status}"

    def json(self) -> Any:
        """The body as JSON; a violation of §7.1 or §4 if it is not."""
        try:
            return json.loads(self.body)
        except ValueError as exc:
            msg = f"{self.where()}: the body is not JSON: {self.body[:80]!r}"
            raise ProtocolViolation(msg) from exc


def _fail(message: str) -> None:
    raise ProtocolViolation(message)


class Http:
    """Raw HTTP to one kv server, a fresh connection per request.

    :param base_url: ``http(s)://host:port/prefix`` of the API.
    :param token: Bearer token sent with every request unless asked not to.
    :param timeout: Seconds for each request's connect and each read.
    """

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 30.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            msg = f"not an http:// or https:// URL: {base_url!r}"
            raise ValueError(msg)
        self.scheme = parts.scheme
        self.hostname = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        #: The ``Host`` header a client of this URL sends.
        self.host = name if self.port == default else f"{name}:{self.port}"
        self.token = token
        self.timeout = timeout
        self._info: dict[str, Any] | None = None

    def path(self, relative: str) -> str:
        """The request target of *relative* (``""`` is the listing, ``"_kv/info"`` ...)."""
        return f"{self.prefix}/{relative}"

    def key_path(self, key: str) -> str:
        """The request target of *key*, each segment percent-encoded (§2.1)."""
        return self.path(quote_key(key))

    def request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        auth: bool = True,
    ) -> Answer:
        """Send one request to *target* (a full path, see :meth:`path`) and read the answer.

        :raises StoreUnavailable: the connection failed or the server did not answer in time.
        """
        sent = dict(headers or {})
        if auth and self.token:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        connection: http.client.HTTPConnection
        if self.scheme == "https":
            connection = http.client.HTTPSConnection(self.hostname, self.port, timeout=self.timeout)
        else:
            connection = http.client.HTTPConnection(self.hostname, self.port, timeout=self.timeout)
        try:
            connection.request(method, target, body=body, headers=sent)
            response = connection.getresponse()
            data = b"" if method == "HEAD" else response.read()
            found: dict[str, str] = {}
            for name, value in response.getheaders():
                lower = name.lower()
                found[lower] = f"{found[lower]}, {value}" if lower in found else value
            return Answer(method, target, response.status, found, data)
        except (OSError, http.client.HTTPException) as exc:
            msg = f"{method} {target}: the server did not answer ({type(exc).__name__}: {exc})"
            raise StoreUnavailable(msg) from exc
        finally:
            connection.close()

    # -- the API's calls, each checked for what every answer must be ----------------------------

    def put(self, key: str, value: bytes, headers: dict[str, str] | None = None) -> Answer:
        """``PUT /<key>``."""
        return self.request("PUT", self.key_path(key), value, headers)

    def get(self, key: str, headers: dict[str, str] | None = None) -> Answer:
        """``GET /<key>``."""
        return self.request("GET", self.key_path(key), None, headers)

    def delete(self, key: str, headers: dict[str, str] | None = None) -> Answer:
        """``DELETE /<key>``."""
        return self.request("DELETE", self.key_path(key), None, headers)

    def post_json(self, route: str, document: Any) -> Answer:
        """``POST /<route>`` with a JSON body."""
        return self.request("POST", self.path(route), json.dumps(document).encode(), _JSON)

    def listing(self, **params: str | int) -> Answer:
        """``GET /?params``."""
        query = urlencode({name: str(value) for name, value in params.items()})
        return self.request("GET", self.path("") + (f"?{query}" if query else ""))

    def info(self) -> dict[str, Any]:
        """``GET /_kv/info``, checked for its shape (§4.8) once, then remembered."""
        if self._info is None:
            answer = expect(self.request("GET", self.path("_kv/info")), 200)
            document = answer.json()
            _check_info(document)
            self._info = document
        return self._info

    def count(self) -> int:
        """``GET /_kv/count`` (§4.7)."""
        document = expect(self.request("GET", self.path("_kv/count")), 200).json()
        if not isinstance(document, dict) or type(document.get("count")) is not int:
            _fail(f"§4.7: /_kv/count answered {document!r}, not {{'count': integer}}")
        return int(document["count"])

    def clear(self) -> None:
        """``POST /_kv/clear`` (§4.6)."""
        expect(self.request("POST", self.path("_kv/clear")), 204)

    def value(self, key: str) -> bytes | None:
        """The value of *key*, or ``None`` if the server answers 404."""
        answer = self.get(key)
        if answer.status == 404:
            expect_error(answer, 404, "not_found")
            return None
        return expect(answer, 200).body

    def max_key_length(self) -> int:
        """The longest key the server accepts (§8): its own limit or the store's, if smaller."""
        info = self.info()
        limits = [info["max_key_length"], (info.get("store") or {}).get("max_key_length")]
        return min(limit for limit in limits if isinstance(limit, int) and limit > 0)


def expect(answer: Answer, *statuses: int) -> Answer:
    """*answer* if its status is one of *statuses*; else a violation showing what came."""
    if answer.status not in statuses:
        shown = " or ".join(str(status) for status in statuses)
        _fail(f"{answer.where()}, expected {shown}: {answer.body[:160]!r}")
    _check_headers(answer)
    return answer


def expect_error(answer: Answer, status: int, code: str | Iterable[str] | None = None) -> Answer:
    """*answer* if it is the JSON error *status* with *code* (§7.1); else a violation."""
    expect(answer, status)
    if answer.method == "HEAD":
        return answer
    content_type = (answer.header("Content-Type") or "").split(";")[0].strip()
    if content_type != "application/json":
        _fail(f"§7.1: {answer.where()} has Content-Type {content_type!r}, not application/json")
    document = answer.json()
    if not isinstance(document, dict) or not all(
        isinstance(document.get(name), str) for name in ("error", "message")
    ):
        _fail(f"§7.1: {answer.where()}: the body is not {{error, message}} strings: {document!r}")
    codes = {code} if isinstance(code, str) else set(code or ())
    if codes and document["error"] not in codes:
        wanted = " or ".join(sorted(codes))
        _fail(f"§7.1: {answer.where()} says error {document['error']!r}, expected {wanted}")
    if "no-store" not in (answer.header("Cache-Control") or ""):
        _fail(f"§11: {answer.where()}: an error answer without Cache-Control: no-store")
    return answer


def _check_headers(answer: Answer) -> None:
    """§11: what every answer carries."""
    if (answer.header("X-Content-Type-Options") or "").lower() != "nosniff":
        _fail(f"§11: {answer.where()} has no X-Content-Type-Options: nosniff")
    if not answer.header("Cache-Control"):
        _fail(f"§11: {answer.where()} has no Cache-Control")
    if 300 <= answer.status < 400 and answer.status != 304:
        _fail(f"§11: {answer.where()}: a redirect (to {answer.header('Location')!r})")


def _check_info(document: Any) -> None:
    if not isinstance(document, dict):
        _fail(f"§4.8: /_kv/info is not a JSON object: {document!r}")
    for name, low in (("max_content_length", 1), ("list_limit", 1), ("max_key_length", 1)):
        value = document.get(name)
        if type(value) is not int or value < low:
            _fail(f"§4.8: /_kv/info {name} is {value!r}, not an integer >= {low}")
    if not isinstance(document.get("refused_characters"), str):
        _fail("§4.8: /_kv/info refused_characters is not a string")
    store = document.get("store", ...)
    if store is ...:
        _fail("§4.8: /_kv/info has no store member (an object, or null)")
    if store is None:
        return
    if not isinstance(store, dict):
        _fail(f"§4.8: /_kv/info store is {store!r}, not an object or null")
    flags = ("persistent", "processes", "ttl", "history", "empty_key", "hierarchical_keys")
    for name in flags:
        if not isinstance(store.get(name), bool):
            _fail(f"§4.8: /_kv/info store.{name} is {store.get(name)!r}, not a boolean")
    for name in ("max_key_length", "max_value_size"):
        value = store.get(name, ...)
        if value is not None and type(value) is not int:
            _fail(f"§4.8: /_kv/info store.{name} is {value!r}, not an integer or null")
    invalid = store.get("invalid_keys")
    if not isinstance(invalid, list) or not all(isinstance(key, str) for key in invalid):
        _fail("§4.8: /_kv/info store.invalid_keys is not an array of strings")
    if not isinstance(store.get("refused_characters"), str):
        _fail("§4.8: /_kv/info store.refused_characters is not a string")


def _tag(answer: Answer) -> str:
    """The answer's ETag, which must be a strong tag (§5.1)."""
    tag = answer.header("ETag")
    if tag is None:
        _fail(f"§5.1: {answer.where()} has no ETag")
    assert tag is not None
    if tag.startswith("W/"):
        _fail(f"§5.1: {answer.where()}: ETag {tag} is weak; it must be strong")
    if len(tag) < 2 or not tag.startswith('"') or not tag.endswith('"') or '"' in tag[1:-1]:
        _fail(f"§5.1: {answer.where()}: ETag {tag!r} is not a quoted entity tag")
    return tag


def _stale_tag(tag: str) -> str:
    """A tag that is not *tag* (its characters reversed, or with one added)."""
    inner = tag[1:-1]
    other = inner[::-1] if inner[::-1] != inner else inner + "x"
    return f'"{other}"'


def _unchanged(http: Http, key: str, value: bytes | None, why: str) -> None:
    now = http.value(key)
    if now != value:
        _fail(f"{why}, yet {key!r} is now {now!r} (it was {value!r})")


@dataclass(frozen=True)
class Check:
    """One rule of the protocol, checked by *run* against a live server.

    :param name: A stable identifier (``--skip-check NAME``).
    :param section: The section of ``PROTOCOL.md`` it holds the server to (``"5.3"``).
    :param title: What a server must do, in one line.
    """

    name: str
    section: str
    title: str
    run: Callable[[Http], None] = field(repr=False)


REGISTRY: list[Check] = []


def check_rule(
    section: str, title: str
) -> Callable[[Callable[[Http], None]], Callable[[Http], None]]:
    def register(run: Callable[[Http], None]) -> Callable[[Http], None]:
        REGISTRY.append(Check(run.__name__, section, title, run))
        return run

    return register


# -- listing helpers ---------------------------------------------------------------------------


def _page(http: Http, **params: str | int) -> tuple[list[str], str | None]:
    answer = expect(http.listing(**params), 200)
    document = answer.json()
    if not isinstance(document, dict) or set(document) < {"keys", "next_cursor"}:
        _fail(f"§4.5: {answer.where()}: not {{keys, next_cursor}}: {str(document)[:120]}")
    keys, cursor = document["keys"], document["next_cursor"]
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        _fail(f"§4.5: {answer.where()}: keys is not an array of strings")
    if cursor is not None and (not isinstance(cursor, str) or not cursor):
        _fail(f"§6.2: {answer.where()}: next_cursor is {cursor!r}, not a string or null")
    if isinstance(cursor, str) and not _CURSOR.match(cursor):
        _fail(f"§6.2: the cursor {cursor!r} is not of the base64url alphabet")
    if keys != sorted(set(keys)):
        _fail(f"§6.2: a page is not in ascending order without duplicates: {keys!r}")
    return keys, cursor


def _pages(
    http: Http, between: Callable[[int], None] | None = None, **params: str | int
) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        extra = {"cursor": cursor} if cursor else {}
        keys, cursor = _page(http, **params, **extra)
        earlier = [key for page in pages for key in page]
        if keys and earlier and keys[0] <= max(earlier):
            _fail(f"§6.2: page {len(pages) + 1} starts at {keys[0]!r}, not after every earlier key")
        pages.append(keys)
        if cursor is None:
            return pages
        if len(pages) > 10_000:
            _fail("§6.2: the listing did not end after 10,000 pages")
        if between is not None:
            between(len(pages))


def _all_keys(http: Http, **params: str | int) -> list[str]:
    return [key for page in _pages(http, None, **params) for key in page]


def _set_many(http: Http, keys: Iterable[str]) -> None:
    items = {key: base64.b64encode(key.encode()).decode() for key in keys}
    expect(http.post_json("_kv/set", {"items": items}), 204)
