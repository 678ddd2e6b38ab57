"""FlaskKvDict against a live server: key encoding, batching, paging, CAS, lifecycle."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kv_core import InvalidKeyError, MemoryDict, StoreUnavailable, ValueTooLargeError
from kv_core.capabilities import LONE_SURROGATES
from kv_flask import FlaskKvDict, PreconditionFailed, ServerThread, check_key


class CountingSession(requests.Session):
    """A real session that counts the requests it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.sent.append((method, url))
        return super().request(method, url, *args, **kwargs)


def _is_valid(key: str) -> bool:
    try:
        check_key(key)
    except InvalidKeyError:
        return False
    return True


TRICKY = [
    "..a",
    "a..",
    "a/..b",
    ".hidden/x",
    "%2F",
    "a%2Fb",
    "%2e%2e",
    "?",
    "a?b=c",
    "#frag",
    "a b",
    "+",
    "a+b",
    "%",
    "%%",
    "%zz",
    "\u00e9/\u65e5\u672c/\U0001f600",
    "a;b",
    "a\\b",
    "~user",
    "\t\r\n",
    "\x7f",
    "openapi.jsonx",
    "_kvx/y",
    "x/_kv",
    "x/openapi.json",
]


@pytest.mark.parametrize("key", TRICKY)
def test_tricky_keys_round_trip_exactly(client, store, key):
    """Keys with URL-special characters reach the store exactly as given."""
    client[key] = b"v"
    assert store._data == {key: b"v"}
    assert client[key] == b"v"
    assert key in client
    assert list(client) == [key]
    assert client.get_many([key]) == {key: b"v"}
    del client[key]
    assert store._data == {}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    key=st.text(
        alphabet=st.sampled_from(list("ab./%?#+ &=;:@~\\\u00e9\u65e5\U0001f600\x01")),
        min_size=1,
        max_size=12,
    ).filter(_is_valid)
)
def test_any_valid_key_round_trips(client, store, key):
    """Any key the rules accept names exactly itself on the server (Hypothesis)."""
    client[key] = key.encode("utf-8")
    try:
        assert store._data == {key: key.encode("utf-8")}
        assert client[key] == key.encode("utf-8")
    finally:
        store._data.clear()


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/a",
        "a/",
        "a//b",
        ".",
        "..",
        "a/./b",
        "a/../b",
        "../x",
        "a\x00b",
        "a\ufffdb",
        "_kv",
        "_kv/get",
        "openapi.json",
        "openapi.json/x",
        "\udc80",
        "k" * 4097,
    ],
)
def test_invalid_keys_are_refused_before_any_request(key):
    """Refused keys raise InvalidKeyError without a request (nothing listens on the port)."""
    session = CountingSession()
    with FlaskKvDict("http://127.0.0.1:9", session=session) as kv:
        for operation in (
            lambda: kv[key],
            lambda: kv.__setitem__(key, b"v"),
            lambda: kv.__delitem__(key),
            lambda: key in kv,
            lambda: kv.get_many([key]),
            lambda: kv.set_many({key: b"v"}),
        ):
            with pytest.raises(InvalidKeyError):
                operation()
    assert session.sent == []
    session.close()


def test_listing_pages_lazily_through_the_cursor(store):
    """Listing follows next_cursor one page at a time, with the limit capped by the server."""
    store.update({f"k{i:02d}": b"v" for i in range(10)})
    store.update({"other": b"v"})
    session = CountingSession()
    with ServerThread(store, threads=2, list_limit=3) as server:
        with FlaskKvDict(server.url, session=session) as kv:
            keys = kv.keys_with_prefix("k")
            assert next(keys) == "k00"
            assert len(session.sent) == 1
            assert [next(keys), next(keys), next(keys)] == ["k01", "k02", "k03"]
            assert len(session.sent) == 2
            assert list(keys) == [f"k{i:02d}" for i in range(4, 10)]
            assert len(session.sent) == 4
            assert sorted(kv) == sorted(store._data)
        answer = session.get(server.url + "/", params={"limit": 1000}).json()
        assert len(answer["keys"]) == 3
        assert answer["next_cursor"]
    session.close()


def test_batch_calls_are_one_request_each(server, store):
    """get_many, set_many, delete_many, len and clear each send one request."""
    session = CountingSession()
    with FlaskKvDict(server.url, session=session) as kv:
        kv.server_info()  # the one request a client makes to learn the server's limits
        session.sent.clear()
        kv.set_many({f"k{i}": bytes([i]) for i in range(50)})
        assert len(session.sent) == 1
        assert kv.get_many([f"k{i}" for i in range(60)]) == {f"k{i}": bytes([i]) for i in range(50)}
        assert len(session.sent) == 2
        kv.delete_many(["k1", "k2", "nope"])
        assert len(session.sent) == 3
        assert len(kv) == 48
        assert len(session.sent) == 4
        kv.clear()
        assert len(session.sent) == 5
    assert store._data == {}
    session.close()


def test_set_many_splits_batches_by_the_server_limit(store):
    """A batch larger than the server's body limit is sent in several requests, all stored."""
    session = CountingSession()
    with (
        ServerThread(store, threads=2, max_content_length=4096) as server,
        FlaskKvDict(server.url, session=session) as kv,
    ):
        kv.server_info()
        values = {f"k{i}": bytes([i]) * 1000 for i in range(10)}
        kv.set_many(values)
        assert kv.get_many(list(values)) == values
        with pytest.raises(ValueTooLargeError):
            kv.set_many({"ok": b"x", "huge": b"x" * 5000})
        assert "ok" not in kv
    assert len(session.sent) > 3
    session.close()


def test_value_over_the_server_limit_is_refused(store):
    """A value over the server's limit raises ValueTooLargeError and keeps the old value."""
    with (
        ServerThread(store, threads=2, max_content_length=1000) as server,
        FlaskKvDict(server.url) as kv,
    ):
        kv["k"] = b"old"
        with pytest.raises(ValueTooLargeError):
            kv["k"] = b"x" * 1001
        assert kv["k"] == b"old"
        assert kv.capabilities.max_value_size == 1000


def test_compare_and_set(client, store):
    """set_if writes only over the expected version, or only when absent with version=None."""
    first = client.set_if("k", b"one", version=None)
    with pytest.raises(PreconditionFailed):
        client.set_if("k", b"two", version=None)
    value, version = client.get_with_version("k")
    assert (value, version) == (b"one", first)
    second = client.set_if("k", b"two", version=version)
    with pytest.raises(PreconditionFailed):
        client.set_if("k", b"three", version=version)
    assert store._data == {"k": b"two"}
    assert client.get_with_version("k") == (b"two", second)


def test_etag_and_conditional_headers(raw, store):
    """GET carries a strong ETag; If-None-Match answers 304; writes check If-Match."""
    assert raw.request("PUT", "/k", body=b"value")[0] == 204
    status, headers, data = raw.request("GET", "/k")
    assert status == 200
    assert data == b"value"
    assert headers["content-type"] == "application/octet-stream"
    assert headers["x-content-type-options"] == "nosniff"
    tag = headers["etag"]
    assert tag.startswith('"')
    assert raw.request("HEAD", "/k", headers={"If-None-Match": '"other"'})[1]["etag"] == tag
    assert raw.request("HEAD", "/k", headers={"If-None-Match": tag})[0] == 304
    assert raw.request("GET", "/k", headers={"If-None-Match": tag})[0] == 304
    assert raw.request("PUT", "/k", body=b"x", headers={"If-Match": '"nope"'})[0] == 412
    assert raw.request("PUT", "/new", body=b"x", headers={"If-Match": "*"})[0] == 412
    assert raw.request("PUT", "/k", body=b"x", headers={"If-None-Match": "*"})[0] == 412
    assert raw.request("DELETE", "/k", headers={"If-Match": '"nope"'})[0] == 412
    assert store._data == {"k": b"value"}
    assert raw.request("PUT", "/k", body=b"w", headers={"If-Match": tag})[0] == 204
    assert raw.request("DELETE", "/k", headers={"If-Match": "*"})[0] == 204
    assert store._data == {}


def test_post_stores_like_put(raw, store):
    """POST /<key> stores the body, as PUT does."""
    assert raw.request("POST", "/k", body=b"posted")[0] == 204
    assert store._data == {"k": b"posted"}


def test_pop_removes_once(client, store):
    """pop returns the value and removes it; a second pop raises KeyError."""
    store._data["k"] = b"v"
    assert client.pop("k") == b"v"
    with pytest.raises(KeyError):
        client.pop("k")
    assert client.pop("k", None) is None


def test_client_pickles_as_a_reconnect(server, store):
    """A pickled client connects to the same server when unpickled."""
    with FlaskKvDict(server.url, token=None, timeout=4) as kv:
        kv["k"] = b"v"
        again = pickle.loads(pickle.dumps(kv))
    with again:
        assert again["k"] == b"v"


def test_closed_client_refuses_requests(server):
    """A closed client raises StoreUnavailable instead of reopening a session."""
    kv = FlaskKvDict(server.url)
    kv.close()
    kv.close()
    with pytest.raises(StoreUnavailable):
        kv["k"]


def test_given_session_is_used_and_left_open(server):
    """A session passed in is used, and close() leaves it to its owner."""
    session = CountingSession()
    with FlaskKvDict(server.url, session=session) as kv:
        kv["k"] = b"v"
    assert session.sent
    assert session.get(server.url + "/k").content == b"v"
    session.close()


def test_repr_names_the_server_and_never_a_token(server):
    """repr shows the base URL, not the token."""
    with FlaskKvDict(server.url, token="hidden-token") as kv:
        assert server.url in repr(kv)
        assert "hidden-token" not in repr(kv)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://host/",
        "127.0.0.1:80",
        "http://",
        "http://u:p@host/",
        "http://host/?a=1",
        "http://h/#f",
    ],
)
def test_bad_base_urls_are_refused(url):
    """Only plain http(s) base URLs, without credentials, query or fragment."""
    with pytest.raises(ValueError):
        FlaskKvDict(url)


def test_capabilities_come_from_the_server(client):
    """The client declares what the server's store and limits allow."""
    caps = client.capabilities
    assert caps == MemoryDict.capabilities.__class__(
        persistent=True,
        processes=True,
        ttl=False,
        history=False,
        max_key_length=4096,
        max_value_size=16 * 1024 * 1024,
        empty_key=False,
        hierarchical_keys=False,
        invalid_keys=caps.invalid_keys,
        refused_characters=frozenset("\x00\ufffd") | LONE_SURROGATES,
        compare_and_set=True,
    )
    for key in caps.invalid_keys:
        assert not _is_valid(key)


def test_characters_the_served_store_refuses_are_refused_locally(recording_class):
    """The server reports the characters its store refuses; the client refuses them first."""
    from kv_core import InvalidKeyError as Invalid

    class NoBackslash(recording_class):  # type: ignore[misc,valid-type]
        capabilities = MemoryDict.capabilities.__class__(
            **{
                **MemoryDict.capabilities.__dict__,
                "max_key_length": 20,
                "refused_characters": frozenset(":\\"),
            }
        )

        def _validate_key(self, key: str) -> None:
            if "\\" in key or ":" in key or len(key) > 20:
                msg = "refused"
                raise Invalid(msg)

    store = NoBackslash()
    session = CountingSession()
    with ServerThread(store, threads=2) as server:
        assert server_info_refused(server.url) == ":\\"
        with FlaskKvDict(server.url, session=session) as kv:
            for key in ("a\\b", "a:b", "k" * 21):
                with pytest.raises(Invalid):
                    kv[key] = b"v"
            assert [url for _, url in session.sent] == [f"{server.url}/_kv/info"]
            kv["k" * 20] = b"v"
            assert kv.capabilities.max_key_length == 20
    # One write reached the store: on a store with versions, a PUT is a set_if.
    assert store.calls == ["read_with_version", "write_if"]
    session.close()


def test_refused_characters_are_the_stores_declaration(recording_class):
    """The server sends what the store declares, never found by calling validate_key."""
    calls: list[str] = []

    class Declared(recording_class):  # type: ignore[misc,valid-type]
        capabilities = dataclasses.replace(
            MemoryDict.capabilities, refused_characters=frozenset("é*\x00/")
        )

        def _validate_key(self, key: str) -> None:
            calls.append(key)

    with ServerThread(Declared(), threads=2) as server:
        with requests.Session() as session:
            info = session.get(f"{server.url}/_kv/info", timeout=5).json()
        with FlaskKvDict(server.url) as kv:
            refused = kv.capabilities.refused_characters
    # NUL is the API's own refusal and "/" its separator: neither is the store's to send.
    assert info["refused_characters"] == "*é"
    assert info["store"]["refused_characters"] == "*é"
    assert calls == []
    assert {"*", "é", "\x00"} <= refused


def server_info_refused(url: str) -> str:
    with requests.Session() as session:
        return str(session.get(f"{url}/_kv/info", timeout=5).json()["refused_characters"])
