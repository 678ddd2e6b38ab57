"""Bearer-token auth: every route, missing or wrong token, never from the query string."""

from __future__ import annotations

import logging

import pytest

from kv_flask import FlaskKvDict, ServerThread

TOKEN = "s3cret-token_Zq9~"
ROUTES = [
    ("GET", "/"),
    ("GET", "/openapi.json"),
    ("GET", "/_kv/info"),
    ("GET", "/_kv/count"),
    ("POST", "/_kv/get"),
    ("POST", "/_kv/set"),
    ("POST", "/_kv/delete"),
    ("POST", "/_kv/clear"),
    ("GET", "/k"),
    ("HEAD", "/k"),
    ("PUT", "/k"),
    ("POST", "/k"),
    ("DELETE", "/k"),
    ("PATCH", "/k"),
    ("GET", "/a%2F..%2Fb"),
    ("GET", "//x"),
]


@pytest.fixture
def secured(store):
    with ServerThread(store, threads=2, token=TOKEN) as server:
        yield server


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong",
        "Bearer ",
        "Basic czNjcmV0",
        "bearer",
        f"Token {TOKEN}",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer s3cret-t\u00f6ken",
    ],
)
def test_every_route_needs_the_token(secured, store, raw_class, method, path, authorization):
    """Without the right token every route, 404s and 405s included, is a 401 with a challenge."""
    raw = raw_class(secured.port)
    store._data["k"] = b"v"
    headers = {"Authorization": authorization} if authorization is not None else {}
    status, answer_headers, data = raw.request(method, path, body=b"{}", headers=headers)
    assert status == 401
    assert answer_headers["www-authenticate"].startswith("Bearer")
    if method != "HEAD":
        assert raw.error(data)["error"] == "unauthorized"
    assert store.calls == []
    assert store._data == {"k": b"v"}


def test_token_in_query_string_is_ignored(secured, store, raw_class):
    """A token in the URL is never accepted."""
    raw = raw_class(secured.port)
    for query in ("?token=", "?access_token=", "?auth="):
        assert raw.request("GET", f"/{query}{TOKEN}")[0] == 401
    assert store.calls == []


def test_right_token_is_accepted(secured, store):
    """With the token, the client works on every operation."""
    with FlaskKvDict(secured.url, token=TOKEN) as kv:
        kv["k"] = b"v"
        assert kv["k"] == b"v"
        assert list(kv) == ["k"]
        assert kv.get_many(["k"]) == {"k": b"v"}
        assert len(kv) == 1
    assert store._data == {"k": b"v"}


def test_client_without_token_gets_permission_error(secured):
    """401 becomes PermissionError, on reads, writes, listing and `in`."""
    with FlaskKvDict(secured.url, token="wrong") as kv:
        with pytest.raises(PermissionError):
            kv["k"]
        with pytest.raises(PermissionError):
            kv["k"] = b"v"
        with pytest.raises(PermissionError):
            list(kv)
        with pytest.raises(PermissionError):
            "k" in kv  # noqa: B015


def test_token_is_never_logged(secured, caplog, raw_class):
    """Neither a right nor a wrong token appears in any log record."""
    raw = raw_class(secured.port)
    with caplog.at_level(logging.DEBUG):
        raw.request("GET", "/k", headers={"Authorization": "Bearer wrong-guess-123"})
        raw.request("GET", "/k", headers={"Authorization": f"Bearer {TOKEN}"})
    text = caplog.text
    assert "wrong-guess-123" not in text
    assert TOKEN not in text


@pytest.mark.parametrize("token", ["", "has space", "t\u00f6ken", "tab\t"])
def test_tokens_must_be_visible_ascii(store, token):
    """A token that cannot travel in a header is refused when the server or client is made."""
    with pytest.raises(ValueError):
        ServerThread(store, token=token)
    if token:
        with pytest.raises(ValueError):
            FlaskKvDict("http://127.0.0.1:1", token=token)


def test_client_reads_kv_token_from_the_environment(secured, store, monkeypatch):
    """With no token given, the client sends the one in KV_TOKEN."""
    monkeypatch.setenv("KV_TOKEN", TOKEN)
    with FlaskKvDict(secured.url) as kv:
        kv["k"] = b"v"
        assert kv["k"] == b"v"
    assert store._data == {"k": b"v"}


def test_an_explicit_token_wins_over_the_environment(secured, monkeypatch):
    """token= is used as given; token='' sends none even when KV_TOKEN is set."""
    monkeypatch.setenv("KV_TOKEN", "not-the-token")
    with FlaskKvDict(secured.url, token=TOKEN) as kv:
        kv["k"] = b"v"
    monkeypatch.setenv("KV_TOKEN", TOKEN)
    with FlaskKvDict(secured.url, token="") as kv, pytest.raises(PermissionError):
        kv["k"]


def test_empty_kv_token_means_no_token(server, monkeypatch):
    """An empty KV_TOKEN is no token, not an invalid one."""
    monkeypatch.setenv("KV_TOKEN", "")
    with FlaskKvDict(server.url) as kv:
        kv["k"] = b"v"
        assert kv["k"] == b"v"
