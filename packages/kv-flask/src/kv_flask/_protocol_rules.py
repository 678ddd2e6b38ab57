"""The protocol checks of single keys, values, tags, errors, limits, auth, hosts and headers.

Each function is one check, registered with its section of ``PROTOCOL.md``; see
:mod:`kv_flask.protocol_checks`.
"""

from __future__ import annotations

import itertools
import json
import threading

from ._protocol_http import (
    _FOREIGN_HOST,
    _FOREIGN_ORIGIN,
    _JSON,
    _KEY_METHODS,
    BODY_PROBE_LIMIT,
    Http,
    NotApplicable,
    _all_keys,
    _fail,
    _stale_tag,
    _tag,
    _unchanged,
    expect,
    expect_error,
)
from ._protocol_http import check_rule as _check

__all__: list[str] = []  # the checks are reached through kv_flask.protocol_checks.CHECKS


@_check("4.8", "/_kv/info is a JSON object of the server's limits and the store's capabilities")
def info_document(http: Http) -> None:
    """GET /_kv/info: every member of §4.8, of its type; HEAD answers the same status."""
    http.info()
    expect(http.request("HEAD", http.path("_kv/info")), 200)


@_check("4.9", "/openapi.json is an OpenAPI 3.1 document of the routes")
def openapi_document(http: Http) -> None:
    """GET /openapi.json: 3.1, with the listing, the key and the batch paths."""
    document = expect(http.request("GET", http.path("openapi.json")), 200).json()
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.1"):
        _fail(f"§4.9: /openapi.json is not an OpenAPI 3.1 document: {str(document)[:120]}")
    paths = document.get("paths")
    wanted = {"/", "/{key}", "/_kv/get", "/_kv/set", "/_kv/delete", "/_kv/info"}
    missing = wanted - set(paths if isinstance(paths, dict) else ())
    if missing:
        _fail(f"§4.9: /openapi.json does not describe {sorted(missing)}")


@_check("4.3", "PUT and POST store the raw body, GET returns it byte for byte")
def values_round_trip(http: Http) -> None:
    """Binary, empty and POSTed values round-trip with the octet-stream type and length."""
    cases = {
        "bin": bytes(range(256)) * 4,
        "empty": b"",
        "text": "ünïcode\n".encode(),
    }
    for key, value in cases.items():
        expect(http.put(key, value), 204)
    expect(http.request("POST", http.key_path("posted"), b"by post"), 204)
    cases["posted"] = b"by post"
    for key, value in cases.items():
        answer = expect(http.get(key), 200)
        if answer.body != value:
            _fail(f"§4.1: GET {key!r} returned {answer.body[:40]!r}, not what was PUT")
        content_type = (answer.header("Content-Type") or "").split(";")[0].strip()
        if content_type != "application/octet-stream":
            _fail(f"§3: {answer.where()} has Content-Type {content_type!r}")
        if answer.header("Content-Length") not in {str(len(value)), None}:
            _fail(f"§4.1: {answer.where()}: Content-Length {answer.header('Content-Length')}")
    expect(http.put("bin", b"replaced"), 204)
    if http.value("bin") != b"replaced":
        _fail("§4.3: a PUT over an existing key did not replace its value")


@_check("2.1", "keys with reserved URL characters and any Unicode round-trip exactly")
def keys_round_trip(http: Http) -> None:
    """Keys holding ?, #, %, +, spaces, %2F as text, slashes and astral characters."""
    keys = [
        "a b+c",
        "q?x=1#frag",
        "pct%2Fnot-a-slash",
        "dir/sub/leaf",
        "ünï/çødé",
        "emoji-\U0001f600",
        "semi;colon,comma&amp",
    ]
    for key in keys:
        expect(http.put(key, key.encode()), 204)
    for key in keys:
        if http.value(key) != key.encode():
            _fail(f"§2.1: GET of the key {key!r} did not return its own value")
    listed = _all_keys(http, limit=1000)
    if sorted(listed) != sorted(keys):
        _fail(f"§2.1: the listing shows {sorted(listed)!r}, not the keys written {sorted(keys)!r}")


_BAD_PATHS = (
    "a//b",
    "/a",
    "%2Fa",
    "a/",
    "a/./b",
    "a/../b",
    "%2e%2e/x",
    "a/%2E/b",
    "_kv/nope",
    "openapi.json/x",
    "a%00b",
    "a%FFb",
)


@_check("2.2", "refused keys get 400 invalid_key on every method, and nothing is written")
def invalid_keys_are_refused(http: Http) -> None:
    """Empty and dot segments (plain and encoded), reserved first segments, NUL, bad UTF-8."""
    for raw in _BAD_PATHS:
        target = http.path(raw)
        for method in ("GET", "PUT", "DELETE"):
            body = b"x" if method == "PUT" else None
            expect_error(http.request(method, target, body), 400, "invalid_key")
        expect(http.request("HEAD", target), 400)
    if http.count():
        _fail(f"§2.2: refused keys were written: the store now holds {_all_keys(http)!r}")


@_check("8", "a key of the longest length round-trips; one character more is 400 invalid_key")
def key_length_limit(http: Http) -> None:
    """The limit of /_kv/info (or its store's, if smaller), and one past it."""
    longest = http.max_key_length()
    expect(http.put("k" * longest, b"long"), 204)
    if http.value("k" * longest) != b"long":
        _fail(f"§8: a key of {longest} characters did not round-trip")
    expect_error(http.put("k" * (longest + 1), b"x"), 400, "invalid_key")
    if http.count() != 1:
        _fail(f"§8: a key of {longest + 1} characters was written")


@_check("4.1", "a missing key is 404 not_found for GET, HEAD and DELETE")
def missing_key_is_404(http: Http) -> None:
    """404 with the JSON error body; HEAD with none."""
    expect_error(http.get("missing"), 404, "not_found")
    expect_error(http.delete("missing"), 404, "not_found")
    answer = expect(http.request("HEAD", http.key_path("missing")), 404)
    if answer.body:
        _fail("§4.2: a HEAD answer has a body")


@_check("4.2", "HEAD of a key is 200 without a body when it exists")
def head_of_a_key(http: Http) -> None:
    """HEAD after PUT: 200, no body; after DELETE: 404."""
    expect(http.put("h", b"value"), 204)
    expect(http.request("HEAD", http.key_path("h")), 200)
    expect(http.delete("h"), 204)
    expect(http.request("HEAD", http.key_path("h")), 404)


@_check("4.4", "DELETE removes the key (204); the key is then missing")
def delete_a_key(http: Http) -> None:
    """DELETE, then GET is 404, and a second DELETE is 404."""
    expect(http.put("d", b"v"), 204)
    expect(http.delete("d"), 204)
    expect_error(http.get("d"), 404, "not_found")
    expect_error(http.delete("d"), 404, "not_found")


@_check("3", "form bodies are refused with 415 and not stored")
def form_bodies_are_refused(http: Http) -> None:
    """multipart/form-data and application/x-www-form-urlencoded values."""
    for content_type in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        answer = http.put("form", b"a=1", {"Content-Type": content_type})
        expect_error(answer, 415, "unsupported_media_type")
    _unchanged(http, "form", None, "§3: form bodies were refused")


@_check("5.1", "ETags are strong, change with the value, and a write's tag is GET's")
def etags(http: Http) -> None:
    """GET and PUT carry strong quoted tags; a new value gets a new tag; reads keep it."""
    first = _tag(expect(http.put("e", b"one"), 204))
    read = _tag(expect(http.get("e"), 200))
    if read != first:
        _fail(f"§5.1: PUT answered ETag {first} but GET then answers {read}")
    if _tag(expect(http.get("e"), 200)) != read:
        _fail("§5.1: two GETs of an unchanged key answered different ETags")
    second = _tag(expect(http.put("e", b"two"), 204))
    if second == first:
        _fail(f"§5.1: the ETag {first} did not change when the value changed")
    if _tag(expect(http.get("e"), 200)) != second:
        _fail("§5.1: after a second PUT, GET does not answer the PUT's ETag")


@_check("5.2", "If-None-Match with the current tag is 304 without a body")
def if_none_match_read(http: Http) -> None:
    """304 with the ETag; another tag gets the value; a missing key stays 404."""
    tag = _tag(expect(http.put("n", b"cached"), 204))
    answer = expect(http.get("n", {"If-None-Match": tag}), 304)
    if answer.body:
        _fail("§5.2: a 304 has a body")
    if answer.header("ETag") != tag:
        _fail(f"§5.2: the 304 carries ETag {answer.header('ETag')!r}, not {tag}")
    expect(http.get("n", {"If-None-Match": f"{_stale_tag(tag)}, {tag}"}), 304)
    if expect(http.get("n", {"If-None-Match": _stale_tag(tag)}), 200).body != b"cached":
        _fail("§5.2: a GET with a non-matching If-None-Match did not return the value")
    expect(http.request("HEAD", http.key_path("n"), None, {"If-None-Match": tag}), 304)
    expect_error(http.get("absent", {"If-None-Match": tag}), 404, "not_found")


@_check("5.3", "a PUT with a stale If-Match is 412 precondition_failed and writes nothing")
def stale_if_match_is_refused(http: Http) -> None:
    """Write, remember the tag, write again, then PUT with the old tag; then with the new one."""
    old = _tag(expect(http.put("m", b"v1"), 204))
    current = _tag(expect(http.put("m", b"v2"), 204))
    answer = http.put("m", b"lost update", {"If-Match": old})
    expect_error(answer, 412, "precondition_failed")
    _unchanged(http, "m", b"v2", "§5.3: the stale If-Match was answered 412")
    expect_error(http.put("m", b"x", {"If-Match": _stale_tag(current)}), 412)
    expect_error(http.put("m", b"x", {"If-Match": ""}), 412, "precondition_failed")
    expect_error(http.put("m", b"x", {"If-Match": " , "}), 412, "precondition_failed")
    _unchanged(http, "m", b"v2", "§5.3: If-Match headers holding no tag were answered 412")
    newer = _tag(expect(http.put("m", b"v3", {"If-Match": f"{_stale_tag(old)}, {current}"}), 204))
    expect(http.put("m", b"v4", {"If-Match": "*"}), 204)
    if newer == current:
        _fail("§5.1: a conditional write did not change the ETag")
    if http.value("m") != b"v4":
        _fail("§5.3: a PUT with a matching If-Match did not write")


@_check("5.3", "If-Match on a missing key is 412 and creates nothing")
def if_match_on_missing_key(http: Http) -> None:
    """``If-Match: *`` and a tag: the key does not exist, so neither matches."""
    tag = _tag(expect(http.put("gone", b"v"), 204))
    expect(http.delete("gone"), 204)
    for condition in ("*", tag):
        expect_error(http.put("gone", b"x", {"If-Match": condition}), 412, "precondition_failed")
    _unchanged(http, "gone", None, "§5.3: If-Match on a missing key was answered 412")


@_check("5.3", "If-None-Match: * creates a missing key, and is 412 on an existing one")
def if_none_match_write(http: Http) -> None:
    """Create-only writes: the first succeeds, the second is refused and changes nothing."""
    tag = _tag(expect(http.put("c", b"first", {"If-None-Match": "*"}), 204))
    answer = http.put("c", b"second", {"If-None-Match": "*"})
    expect_error(answer, 412, "precondition_failed")
    expect_error(http.put("c", b"second", {"If-None-Match": tag}), 412, "precondition_failed")
    _unchanged(http, "c", b"first", "§5.3: If-None-Match on an existing key was answered 412")
    expect(http.put("c", b"third", {"If-None-Match": _stale_tag(tag)}), 204)


@_check("5.3", "conditional writes are atomic: of racing writers with one condition, one wins")
def conditions_are_atomic(http: Http) -> None:
    """Eight clients at once: create-only on fresh keys, then If-Match from one shared tag."""
    racers = 8
    phases = itertools.count()

    def race(key: str, headers: dict[str, str]) -> list[int]:
        # Every writer's value is new: a tag made from the bytes stays the same when the
        # same bytes are written again, and then a second writer would rightly match it.
        phase = next(phases)
        statuses: list[int] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(racers)

        def one(index: int) -> None:
            try:
                barrier.wait(timeout=10)
                value = f"{key} {phase} writer {index}".encode()
                statuses.append(http.put(key, value, headers).status)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return sorted(statuses)

    for round_ in range(3):
        key = f"race-{round_}"
        statuses = race(key, {"If-None-Match": "*"})
        if statuses.count(204) != 1 or statuses.count(412) != racers - 1:
            _fail(f"§5.3: {racers} racing If-None-Match: * writes answered {statuses}")
        tag = _tag(expect(http.get(key), 200))
        statuses = race(key, {"If-Match": tag})
        if statuses.count(204) != 1 or statuses.count(412) != racers - 1:
            _fail(f"§5.3: {racers} racing writes with one If-Match tag answered {statuses}")


@_check("5.4", "a DELETE with a stale If-Match is 412 and keeps the key")
def conditional_delete(http: Http) -> None:
    """Stale tag: 412 and the value kept; the current tag: 204; on a missing key: 412."""
    old = _tag(expect(http.put("x", b"v1"), 204))
    current = _tag(expect(http.put("x", b"v2"), 204))
    expect_error(http.delete("x", {"If-Match": old}), 412, "precondition_failed")
    expect_error(http.delete("x", {"If-Match": ""}), 412, "precondition_failed")
    _unchanged(http, "x", b"v2", "§5.4: the DELETE with a stale If-Match was answered 412")
    expect(http.delete("x", {"If-Match": current}), 204)
    _unchanged(http, "x", None, "§5.4: the DELETE with the current tag was answered 204")
    expect_error(http.delete("x", {"If-Match": "*"}), 412, "precondition_failed")


@_check("7.2", "a method a route does not take is 405 method_not_allowed with Allow")
def method_not_allowed(http: Http) -> None:
    """PATCH and OPTIONS on a key, PUT and DELETE on the listing, the wrong method on _kv routes."""
    expect(http.put("k", b"kept"), 204)
    cases = [
        ("PATCH", http.key_path("k"), _KEY_METHODS),
        ("OPTIONS", http.key_path("k"), _KEY_METHODS),
        ("PUT", http.path(""), {"GET", "HEAD"}),
        ("DELETE", http.path(""), {"GET", "HEAD"}),
        ("GET", http.path("_kv/set"), {"POST"}),
        ("GET", http.path("_kv/clear"), {"POST"}),
        ("DELETE", http.path("_kv/info"), {"GET", "HEAD"}),
        ("PUT", http.path("_kv/count"), {"GET", "HEAD"}),
        ("POST", http.path("openapi.json"), {"GET", "HEAD"}),
    ]
    for method, target, allowed in cases:
        body = b"x" if method in {"PUT", "PATCH"} else None
        answer = expect_error(http.request(method, target, body), 405, "method_not_allowed")
        allow = {part.strip().upper() for part in (answer.header("Allow") or "").split(",")}
        if allow - {""} != allowed:
            _fail(f"§7.2: {answer.where()} has Allow {answer.header('Allow')!r}, not {allowed}")
    if http.value("k") != b"kept" or http.count() != 1:
        _fail("§7.2: a request answered 405 changed the store")


@_check("8", "a body over max_content_length is 413 too_large and not stored")
def body_limit(http: Http) -> None:
    """A value of the limit is stored or refused as too_large; one byte more is 413."""
    info = http.info()
    limit = int(info["max_content_length"])
    if limit > BODY_PROBE_LIMIT:
        msg = f"the body limit is {limit} bytes: more than this check sends"
        raise NotApplicable(msg)
    store_limit = (info.get("store") or {}).get("max_value_size")
    if store_limit is None or store_limit >= limit:
        at_limit = http.put("big", b"\x01" * limit)
        if at_limit.status == 413:
            # The store's own limit may be lower than it declares (MariaDB's
            # max_allowed_packet): refused as too large, which a client can act on.
            expect_error(at_limit, 413, "too_large")
        else:
            expect(at_limit, 204)
            expect(http.delete("big"), 204)
    expect_error(http.put("big", b"\x02" * (limit + 1)), 413, "too_large")
    too_big = json.dumps({"items": {"big": "A" * (limit + 4 - limit % 4)}}).encode()
    expect_error(http.request("POST", http.path("_kv/set"), too_big, _JSON), 413, "too_large")
    if http.count():
        _fail("§8: a body over the limit was stored")


@_check("9", "without the right bearer token every route is 401 with WWW-Authenticate")
def token_is_required(http: Http) -> None:
    """No Authorization, a wrong token, another scheme: 401 before anything is done."""
    if not http.token:
        msg = "no token was given (start the server with one and pass token_env=)"
        raise NotApplicable(msg)
    expect(http.put("secret", b"v"), 204)
    targets = [
        ("GET", http.path("")),
        ("GET", http.key_path("secret")),
        ("PUT", http.key_path("secret")),
        ("DELETE", http.key_path("secret")),
        ("PATCH", http.key_path("secret")),
        ("GET", http.path("_kv/info")),
        ("GET", http.path("openapi.json")),
        ("POST", http.path("_kv/clear")),
    ]
    wrong = [
        {},
        {"Authorization": f"Bearer {http.token}x"},
        {"Authorization": f"Basic {http.token}"},
    ]
    for method, target in targets:
        for headers in wrong:
            body = b"stolen" if method in {"PUT", "PATCH"} else None
            answer = http.request(method, target, body, headers, auth=False)
            expect_error(answer, 401, "unauthorized")
            challenge = answer.header("WWW-Authenticate") or ""
            if not challenge.lower().startswith("bearer"):
                _fail(f"§9: {answer.where()} has WWW-Authenticate {challenge!r}, not Bearer")
    _unchanged(http, "secret", b"v", "§9: requests without the token were answered 401")


@_check("10.1", "a foreign Host is 403 host_not_allowed on every route, and nothing is done")
def foreign_host_is_refused(http: Http) -> None:
    """``Host: kv-check.invalid`` (a name that never resolves) on reads, writes and listings."""
    expect(http.put("h", b"v"), 204)
    foreign = {"Host": _FOREIGN_HOST}
    for method, target in (
        ("GET", http.key_path("h")),
        ("GET", http.path("")),
        ("PUT", http.key_path("h")),
        ("DELETE", http.key_path("h")),
        ("GET", http.path("_kv/info")),
        ("POST", http.path("_kv/clear")),
    ):
        body = b"rebound" if method == "PUT" else None
        expect_error(http.request(method, target, body, foreign), 403, "host_not_allowed")
    _unchanged(http, "h", b"v", "§10.1: requests for a foreign Host were answered 403")
    expect(http.request("GET", http.key_path("h"), None, {"Host": http.host}), 200)


@_check("10.2", "writes from a foreign web page are 403 cross_origin; reads and same-origin pass")
def cross_origin_writes_are_refused(http: Http) -> None:
    """Foreign and null Origin, Sec-Fetch-Site: cross-site; a same-origin write; a foreign read."""
    expect(http.put("o", b"v"), 204)
    for headers in (
        {"Origin": _FOREIGN_ORIGIN},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": f"{http.scheme}://{http.host}"},
    ):
        expect_error(http.put("o", b"forged", headers), 403, "cross_origin")
        expect_error(http.delete("o", headers), 403, "cross_origin")
        answer = http.request("POST", http.path("_kv/clear"), None, headers)
        expect_error(answer, 403, "cross_origin")
    _unchanged(http, "o", b"v", "§10.2: cross-site writes were answered 403")
    expect(http.get("o", {"Origin": _FOREIGN_ORIGIN}), 200)
    same = {"Origin": f"{http.scheme}://{http.host}", "Sec-Fetch-Site": "same-origin"}
    expect(http.put("o", b"same", same), 204)
    expect(http.put("o", b"typed", {"Sec-Fetch-Site": "none"}), 204)


@_check("11", "every answer has nosniff and Cache-Control; errors and JSON are no-store")
def response_headers(http: Http) -> None:
    """A value, a 204, a listing, /_kv/info and an error answer."""
    expect(http.put("r", b"v"), 204)
    expect(http.get("r"), 200)
    for answer in (
        expect(http.listing(), 200),
        expect(http.request("GET", http.path("_kv/info")), 200),
        expect(http.request("GET", http.path("_kv/count")), 200),
    ):
        if "no-store" not in (answer.header("Cache-Control") or ""):
            _fail(f"§11: {answer.where()}: a JSON answer without Cache-Control: no-store")
    expect_error(http.get("none"), 404, "not_found")
