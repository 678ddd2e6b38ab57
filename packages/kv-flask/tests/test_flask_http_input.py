"""Raw HTTP against a live waitress server: every bad input is refused before the store."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from kv_flask import ServerThread

JSON = {"Content-Type": "application/json"}


def _storage_calls(store: Any) -> list[str]:
    return list(store.calls)


@pytest.mark.parametrize(
    "path",
    [
        "/a%2F..%2Fb",
        "/%2e%2e/x",
        "/%2E%2E/x",
        "/a/%2e%2e/b",
        "/a/./b",
        "/a%2F.%2Fb",
        "/..",
        "//x",
        "/a//b",
        "/a/",
        "/%00",
        "/a%00b",
        "/%FF",
        "/a%C3",
        "/%EF%BF%BD",
        "/_kv",
        "/_kv/x",
        "/openapi.json/x",
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
def test_bad_key_paths_are_400_and_never_reach_the_store(raw, store, path, method):
    """Traversal, empty segments, NUL, invalid UTF-8 and reserved keys get a JSON 400."""
    status, headers, data = raw.request(method, path, body=b"v" if method == "PUT" else None)
    assert status == 400
    if method != "HEAD":
        assert raw.error(data)["error"] == "invalid_key"
        assert headers["content-type"] == "application/json"
    assert _storage_calls(store) == []
    assert store._data == {}


def test_a_key_the_store_refuses_is_400_and_storage_is_untouched(recording_class, raw_class):
    """The store's own validate_key is asked first; its refusal is a 400 with no storage call."""
    from kv_core import InvalidKeyError

    class Picky(recording_class):  # type: ignore[misc,valid-type]
        def _validate_key(self, key: str) -> None:
            if key.startswith("no"):
                msg = "no"
                raise InvalidKeyError(msg)

    store = Picky()
    with ServerThread(store, threads=2) as server:
        raw = raw_class(server.port)
        for method in ("GET", "PUT", "DELETE"):
            status, _, data = raw.request(method, "/nope", body=b"x")
            assert status == 400
            assert raw.error(data)["error"] == "invalid_key"
        status, _, _ = raw.request(
            "POST",
            "/_kv/set",
            body=json.dumps({"items": {"ok": "eA==", "nope": "eA=="}}).encode(),
            headers=JSON,
        )
        assert status == 400
    assert store.calls == []


def test_encoded_slash_is_a_separator_not_part_of_a_segment(raw, store):
    """%2F decodes to '/', so /a%2Fb is the key 'a/b' (the client never sends %2F itself)."""
    assert raw.request("PUT", "/a%2Fb", body=b"v")[0] == 204
    assert store._data == {"a/b": b"v"}


def test_oversized_body_is_413_and_not_stored(store, raw_class):
    """A Content-Length over the limit gets a JSON 413 and nothing is written."""
    with ServerThread(store, threads=2, max_content_length=1000) as server:
        raw = raw_class(server.port)
        status, _, data = raw.request("PUT", "/k", body=b"x" * 1001)
        assert status == 413
        assert raw.error(data)["error"] == "too_large"
        assert raw.request("PUT", "/k", body=b"x" * 1000)[0] == 204
        batch = {"items": {"k": "eA==" * 400}}
        assert (
            raw.request("POST", "/_kv/set", body=json.dumps(batch).encode(), headers=JSON)[0] == 413
        )
    assert store._data == {"k": b"x" * 1000}


def _host(port: int) -> bytes:
    return f"Host: 127.0.0.1:{port}".encode()


def _send_raw(port: int, payload: bytes, *, half_close: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_truncated_body_is_never_stored(server, raw, store):
    """A body cut short of its Content-Length (client gone) stores nothing, not a prefix."""
    head = b"PUT /k HTTP/1.1\r\n" + _host(server.port) + b"\r\nContent-Length: 100\r\n\r\n"
    _send_raw(server.port, head + b"y" * 50)
    assert raw.request("GET", "/k")[0] == 404
    assert "write" not in store.calls
    assert store._data == {}


def test_chunked_upload_is_stored_whole(server, store):
    """A chunked upload is read to its end and stored whole."""
    payload = (
        b"PUT /k HTTP/1.1\r\n"
        + _host(server.port)
        + b"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    answer = _send_raw(server.port, payload, half_close=False)
    assert answer.startswith(b"HTTP/1.1 204")
    assert store._data == {"k": b"hello world"}


def test_truncated_chunked_upload_is_never_stored(server, raw, store):
    """A chunked upload cut before its last chunk stores nothing."""
    payload = (
        b"PUT /k HTTP/1.1\r\n"
        + _host(server.port)
        + b"\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n wo"
    )
    _send_raw(server.port, payload)
    assert raw.request("GET", "/k")[0] == 404
    assert store._data == {}


def test_chunked_upload_over_the_limit_is_413(store):
    """A chunked body that grows past the limit is refused, not truncated."""
    with ServerThread(store, threads=2, max_content_length=8) as server:
        payload = (
            b"PUT /k HTTP/1.1\r\n"
            + _host(server.port)
            + b"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
            b"\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        answer = _send_raw(server.port, payload, half_close=False)
    assert answer.startswith(b"HTTP/1.1 413")
    assert store._data == {}


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=xyz", "application/x-www-form-urlencoded"],
)
def test_form_content_types_are_415(raw, store, content_type):
    """Form bodies are refused: a value is raw bytes, never a parsed form."""
    status, _, data = raw.request("PUT", "/k", body=b"a=b", headers={"Content-Type": content_type})
    assert status == 415
    assert raw.error(data)["error"] == "unsupported_media_type"
    assert store._data == {}


@pytest.mark.parametrize("method", ["PATCH", "OPTIONS", "TRACE", "FOO"])
def test_other_methods_are_405_json(raw, store, method):
    """Methods the API does not define get a JSON 405 with an Allow header."""
    store._data["k"] = b"v"
    status, headers, data = raw.request(method, "/k")
    assert status == 405
    assert raw.error(data)["error"] == "method_not_allowed"
    assert "GET" in headers["allow"]


def test_wrong_method_on_an_api_route_is_405(raw, store):
    """A wrong method on an API route is a 405 with Allow, never a key operation."""
    for method, path, allowed in [
        ("GET", "/_kv/get", "POST"),
        ("PUT", "/_kv/set", "POST"),
        ("DELETE", "/openapi.json", "GET"),
        ("POST", "/_kv/count", "GET"),
    ]:
        status, headers, data = raw.request(method, path, body=b"x")
        assert status == 405
        assert allowed in headers["allow"]
        assert raw.error(data)["error"] == "method_not_allowed"
    assert raw.request("PUT", "/_kv/other", body=b"x")[0] == 400
    assert store.calls == []


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"keys": "a"}', b'{"keys": [1]}', b"\xff\xfe", b'{"keys": ["../a"]}'],
)
def test_bad_batch_bodies_are_400(raw, store, body):
    """Malformed batch requests are a JSON 400 and touch nothing."""
    for route in ("/_kv/get", "/_kv/delete"):
        status, _, data = raw.request("POST", route, body=body, headers=JSON)
        assert status == 400
        raw.error(data)
    assert store.calls == []


@pytest.mark.parametrize(
    "items",
    [{"k": 1}, {"k": "***"}, "x", {"": "eA=="}],
)
def test_bad_batch_set_bodies_are_400(raw, store, items):
    """A batch write with a bad value or key writes nothing."""
    body = json.dumps({"items": items}).encode()
    status, _, data = raw.request("POST", "/_kv/set", body=body, headers=JSON)
    assert status == 400
    raw.error(data)
    assert store._data == {}


@pytest.mark.parametrize(
    "query",
    ["?limit=0", "?limit=x", "?cursor=%%%", "?cursor=__8", "?prefix=%00", "?prefix=%FF"],
)
def test_bad_listing_parameters_are_400(raw, store, query):
    """A bad limit, cursor or prefix is a JSON 400, and the store is not listed."""
    status, _, data = raw.request("GET", "/" + query)
    assert status == 400
    raw.error(data)
    assert "iter_keys" not in store.calls


def test_unknown_route_outside_keys_is_json_404(raw):
    """A missing key is a JSON 404."""
    status, headers, data = raw.request("GET", "/missing")
    assert status == 404
    assert raw.error(data)["error"] == "not_found"
    assert headers["x-content-type-options"] == "nosniff"


def test_huge_declared_length_is_refused_before_the_body_is_read(server, store):
    """A Content-Length far over the limit is refused at once; nothing waits for the body."""
    head = (
        b"PUT /k HTTP/1.1\r\n" + _host(server.port) + b"\r\nContent-Length: 1000000000000\r\n\r\n"
    )
    answer = _send_raw(server.port, head + b"x" * 1000)
    assert answer.startswith(b"HTTP/1.1 413")
    assert store._data == {}
