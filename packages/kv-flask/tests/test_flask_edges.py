"""Next to the internet: idle connections, encoded slashes, hostile JSON and published limits,
on a live waitress server.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import time

import pytest

from kv_core import InvalidKeyError, MemoryDict
from kv_flask import DEFAULT_CONNECTION_LIMIT, FlaskKvDict, ServerThread, make_server

JSON = {"Content-Type": "application/json"}

# -- 3. idle connections ---------------------------------------------------------------------


def test_150_idle_connections_do_not_lock_other_clients_out(store):
    """With 150 idle sockets open, another client is still served within a second."""
    with ServerThread(store, threads=2) as server:
        idle = []
        try:
            for _ in range(150):
                idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
            time.sleep(0.2)  # let the server accept them all
            started = time.monotonic()
            with FlaskKvDict(server.url, timeout=1.0) as kv:
                kv["k"] = b"v"
                assert kv["k"] == b"v"
            assert time.monotonic() - started < 1.5
        finally:
            for sock in idle:
                sock.close()


def test_idle_connections_are_closed_after_the_idle_timeout(store):
    """A connection that says nothing is closed by the server after idle_timeout."""
    with (
        ServerThread(store, threads=2, idle_timeout=1) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        started = time.monotonic()
        assert sock.recv(1) == b""  # the server closed it
        waited = time.monotonic() - started
    assert 0.5 < waited < 5


def test_connection_limit_is_an_option(store):
    """connection_limit caps open connections; past it, new clients wait."""
    with ServerThread(store, threads=2, connection_limit=3) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(3)]
        try:
            time.sleep(0.2)
            with FlaskKvDict(server.url, timeout=0.5) as kv, pytest.raises(Exception) as info:
                kv["k"] = b"v"
            assert "StoreUnavailable" in type(info.value).__name__
        finally:
            for sock in idle:
                sock.close()
        with FlaskKvDict(server.url, timeout=5) as kv:
            kv["k"] = b"v"


def test_default_connection_limit_fits_the_file_limit():
    """The default limit is 1000 connections, fewer when the process may open fewer files."""
    import resource

    server = make_server(MemoryDict(), "127.0.0.1", 0)
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        expected = DEFAULT_CONNECTION_LIMIT
        if soft != resource.RLIM_INFINITY:
            expected = max(100, min(expected, soft - 128))
        assert server.adj.connection_limit == expected + 2  # + the listener and the trigger
        assert server.adj.channel_timeout == 30
    finally:
        server.close()


@pytest.mark.parametrize("options", [{"connection_limit": 0}, {"idle_timeout": 0}, {"threads": 0}])
def test_limits_must_be_positive(options):
    """A limit below one is a ValueError before anything is bound."""
    with pytest.raises(ValueError, match="at least 1"):
        make_server(MemoryDict(), "127.0.0.1", 0, **options)


# -- 4. encoded slashes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/%2Fabc", "/%2F%2Fabc", "/%2F", "/a%2F%2Fb", "/abc%2F", "/%2F_kv/clear", "/%2Fopenapi.json"],
)
@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "POST", "DELETE"])
def test_encoded_slashes_cannot_change_the_key(raw, store, path, method):
    """/%2Fabc is the key '/abc' (invalid), never 'abc': 400 on every method, nothing stored."""
    store._data["abc"] = b"keep"
    store._data["_"] = b"keep"
    store.calls.clear()
    status, _, data = raw.request(method, path, body=b"new" if method in {"PUT", "POST"} else None)
    assert status == 400
    if method != "HEAD":
        assert raw.error(data)["error"] == "invalid_key"
    assert store._data == {"abc": b"keep", "_": b"keep"}
    assert store.calls == []


def test_encoded_slash_under_a_prefix(store, raw_class):
    """Under a prefix, /kv/%2Fabc is refused too."""
    with ServerThread(store, threads=2, url_prefix="/kv") as server:
        raw = raw_class(server.port)
        assert raw.request("PUT", "/kv/%2Fabc", body=b"v")[0] == 400
        assert raw.request("PUT", "/kv/%2F%2Fabc", body=b"v")[0] == 400
    assert store._data == {}


# -- 5. malformed JSON -------------------------------------------------------------------------


_DEEP = b"[" * 100_000 + b"]" * 100_000
_MALFORMED = [
    _DEEP,
    b'{"keys": ' + _DEEP + b"}",
    b'{"items": {"k": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}",
    b"1" * 10_000,  # over Python's integer-conversion limit
    b'{"keys": [' + b"1" * 10_000 + b"]}",
    b'{"keys": ["\\ud800"]}',
    b'{"keys": ["a\\u0000b"]}',
    b'{"items": {"\\udfff": "eA=="}}',
    b"",
    b"\xef\xbb\xbf{}",
    b'"\\x"',
    b"NaN",
    b"\x00" * 10,
    b'{"keys": null, "items": null}',
]


@pytest.mark.parametrize("body", _MALFORMED, ids=lambda body: repr(body[:24]))
@pytest.mark.parametrize("route", ["/_kv/get", "/_kv/set", "/_kv/delete"])
def test_malformed_json_is_a_json_400(raw, store, route, body):
    """Every malformed body on every JSON route is a 400 with the API's JSON error."""
    store._data["k"] = b"keep"
    store.calls.clear()
    status, headers, data = raw.request("POST", route, body=body, headers=JSON)
    assert status == 400, (status, data[:200])
    assert headers["content-type"] == "application/json"
    raw.error(data)
    assert store._data == {"k": b"keep"}
    assert store.calls == []


# -- 6. published limits -----------------------------------------------------------------------


class _ShortKeys(MemoryDict):
    """A store like SqlDict's default: keys of at most 255 characters, and no backslash."""

    capabilities = dataclasses.replace(
        MemoryDict.capabilities,
        max_key_length=255,
        invalid_keys=("k" * 256, "a\\b"),
        refused_characters=frozenset("\\"),
    )

    def _validate_key(self, key: str) -> None:
        if len(key) > 255 or "\\" in key:
            msg = "too long, or a backslash"
            raise InvalidKeyError(msg)


def test_openapi_publishes_the_served_stores_key_limits(raw_class):
    """The document's key schema is the store's: maxLength 255, no backslash; both enforced."""
    import re

    with ServerThread(_ShortKeys(), threads=2) as server:
        raw = raw_class(server.port)
        document = json.loads(raw.request("GET", "/openapi.json")[2])
        key = document["paths"]["/{key}"]["parameters"][0]["schema"]
        assert key["maxLength"] == 255
        batch = document["paths"]["/_kv/get"]["post"]["requestBody"]["content"]
        items = batch["application/json"]["schema"]["properties"]["keys"]["items"]
        assert items == key
        assert re.match(key["pattern"], "a/b")
        assert not re.match(key["pattern"], "a\\b")
        assert raw.request("PUT", "/" + "k" * 255, body=b"v")[0] == 204
        assert raw.request("PUT", "/" + "k" * 256, body=b"v")[0] == 400
        assert raw.request("PUT", "/a%5Cb", body=b"v")[0] == 400


def test_openapi_publishes_the_body_limit(store, raw_class):
    """The value body's maxLength is the server's body limit."""
    with ServerThread(store, threads=2, max_content_length=1234) as server:
        document = json.loads(raw_class(server.port).request("GET", "/openapi.json")[2])
    body = document["paths"]["/{key}"]["put"]["requestBody"]["content"]
    assert body["application/octet-stream"]["schema"]["maxLength"] == 1234
