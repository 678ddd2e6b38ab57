"""Compare-and-swap headers at the edges, and HEAD answered without reading the value.

Each test runs over a store with versions (MemoryDict's: the server hands conditions to
its set_if) and over one without (the server's digests and locks), unless it says which.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from kv_core import ProtocolError, StoreUnavailable
from kv_flask import FlaskKvDict, PreconditionFailed, ServerThread
from kv_flask._etag import quoted_etag_of

EMPTY_IF_MATCH = ["", " ", '""', ",", " , "]


@pytest.fixture(params=["versions", "digests"])
def store(request: pytest.FixtureRequest, recording_class: Any, digest_class: Any) -> Any:
    """A recording MemoryDict, with compare-and-set and without."""
    return recording_class() if request.param == "versions" else digest_class()


def _read_call(store: Any) -> str:
    """The primitive a GET reaches: the version's read where the store has versions."""
    return "read_with_version" if store.capabilities.compare_and_set else "read"


def _write_calls(store: Any) -> set[str]:
    return {"write", "write_if"} & set(store.calls)


# -- an If-Match header that holds no tag matches nothing ------------------------------------


@pytest.mark.parametrize("if_match", EMPTY_IF_MATCH)
def test_empty_if_match_on_put_is_412_and_nothing_is_written(raw, store, if_match):
    """PUT with a present but empty If-Match is refused, over a value or a missing key."""
    store._data["k"] = b"old"
    for path in ("/k", "/new"):
        status, headers, data = raw.request("PUT", path, body=b"x", headers={"If-Match": if_match})
        assert status == 412
        assert headers["content-type"] == "application/json"
        assert raw.error(data)["error"] == "precondition_failed"
    assert store._data == {"k": b"old"}
    assert not _write_calls(store)


@pytest.mark.parametrize("method", ["POST", "DELETE"])
@pytest.mark.parametrize("if_match", EMPTY_IF_MATCH)
def test_empty_if_match_on_post_and_delete_is_412(raw, store, method, if_match):
    """POST and DELETE refuse an empty If-Match too; the value stays."""
    store._data["k"] = b"old"
    body = b"x" if method == "POST" else None
    status, _, data = raw.request(method, "/k", body=body, headers={"If-Match": if_match})
    assert status == 412
    assert raw.error(data)["error"] == "precondition_failed"
    assert store._data == {"k": b"old"}
    assert not _write_calls(store)
    assert not {"delete", "delete_if"} & set(store.calls)


def test_if_match_with_the_tag_among_others_still_writes(raw, store):
    """A list of tags holding the current one matches, empty items aside."""
    store._data["k"] = b"old"
    tag = quoted_etag_of(b"old")
    status, headers, _ = raw.request(
        "PUT", "/k", body=b"new", headers={"If-Match": f', {tag}, "x"'}
    )
    assert status == 204
    assert headers["etag"] == quoted_etag_of(b"new")
    assert store._data == {"k": b"new"}


@pytest.mark.parametrize("etag", ["", " ", "\t"])
def test_set_if_refuses_an_empty_etag_before_sending(client, store, etag):
    """The deprecated set_if(etag="") is a ValueError, not an unconditional write; nothing
    is sent."""
    store._data["k"] = b"old"
    client.server_info()
    session = client._session
    sent: list[str] = []
    original = session.request

    def recording(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(method)
        return original(method, url, *args, **kwargs)

    session.request = recording  # type: ignore[method-assign]
    with pytest.warns(DeprecationWarning, match="etag"), pytest.raises(ValueError, match="etag"):
        client.set_if("k", b"new", etag=etag)
    with pytest.warns(DeprecationWarning, match="etag"), pytest.raises(ValueError, match="etag"):
        client.set_if("missing", b"new", etag=etag)
    assert sent == []
    assert store._data == {"k": b"old"}


def test_set_if_with_a_stale_version_is_refused(client, store, raw):
    """The client's version is GET's ETag; it goes out as If-Match and is checked."""
    client["k"] = b"one"
    _, version = client.get_with_version("k")
    assert version == raw.request("GET", "/k")[1]["etag"]
    client["k"] = b"two"
    with pytest.raises(PreconditionFailed):
        client.set_if("k", b"three", version=version)
    assert store._data == {"k": b"two"}


class _NoEtagSession(requests.Session):
    """A session behind a 'proxy' that drops ETag from every answer, recording requests.

    *before_delete* runs before each DELETE is sent (to change the value meanwhile).
    """

    def __init__(self, before_delete: Any = None) -> None:
        super().__init__()
        self.sent: list[tuple[str, str | None]] = []
        self.before_delete = before_delete

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        headers = kwargs.get("headers") or {}
        self.sent.append((method, headers.get("If-Match")))
        if method == "DELETE" and self.before_delete is not None:
            self.before_delete()
        response = super().request(method, url, *args, **kwargs)
        response.headers.pop("ETag", None)
        return response


@pytest.mark.parametrize("store", ["digests"], indirect=True)
def test_pop_without_etags_sends_the_computed_tag(server, store):
    """With no ETag in the GET answer, pop's DELETE carries the tag computed from the value."""
    store._data["k"] = b"value"
    session = _NoEtagSession()
    with FlaskKvDict(server.url, session=session) as kv:
        assert kv.get_with_version("k") == (b"value", quoted_etag_of(b"value"))
        assert kv.pop("k") == b"value"
        assert kv.pop("k", None) is None
    deletes = [if_match for method, if_match in session.sent if method == "DELETE"]
    assert deletes == [quoted_etag_of(b"value")]
    assert all(if_match for method, if_match in session.sent if method != "GET")
    assert store._data == {}
    session.close()


@pytest.mark.parametrize("store", ["digests"], indirect=True)
def test_pop_without_etags_never_deletes_a_value_it_did_not_read(server, store):
    """A value changed between pop's GET and DELETE is not deleted blindly: pop retries."""
    store._data["k"] = b"first"
    changes = [b"second"]

    def change() -> None:
        if changes:
            store._data["k"] = changes.pop()

    session = _NoEtagSession(before_delete=change)
    with FlaskKvDict(server.url, session=session) as kv:
        assert kv.pop("k") == b"second"
    deletes = [if_match for method, if_match in session.sent if method == "DELETE"]
    assert deletes == [quoted_etag_of(b"first"), quoted_etag_of(b"second")]
    assert store._data == {}
    session.close()


@pytest.mark.parametrize("store", ["digests"], indirect=True)
def test_pop_against_other_tags_gives_up_rather_than_deleting(server, store):
    """If the computed tag never matches, pop raises; it never sends an empty If-Match."""
    store._data["k"] = b"value"

    class OtherTags(_NoEtagSession):
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            if method == "DELETE":
                kwargs["headers"] = {"If-Match": '"not-this-servers-scheme"'}
            return super().request(method, url, *args, **kwargs)

    session = OtherTags()
    with FlaskKvDict(server.url, session=session) as kv, pytest.raises(StoreUnavailable):
        kv.pop("k")
    assert store._data == {"k": b"value"}
    session.close()


@pytest.mark.parametrize("store", ["versions"], indirect=True)
def test_without_etags_a_versioned_server_is_not_guessed(server, store):
    """Tags that are versions cannot be computed: with ETag dropped, get_with_version and
    pop raise ProtocolError, and nothing is deleted."""
    store["k"] = b"value"
    session = _NoEtagSession()
    with FlaskKvDict(server.url, session=session) as kv:
        with pytest.raises(ProtocolError, match="ETag"):
            kv.get_with_version("k")
        with pytest.raises(ProtocolError, match="ETag"):
            kv.pop("k")
    assert [method for method, _ in session.sent if method == "DELETE"] == []
    assert store["k"] == b"value"
    session.close()


# -- HEAD answers from `key in store` ---------------------------------------------------------


def test_head_answers_from_contains_without_reading(raw, store):
    """HEAD without conditions asks `key in store`: no read, no ETag, no Content-Length."""
    store._data["big"] = b"x" * 100_000
    status, headers, data = raw.request("HEAD", "/big")
    assert (status, data) == (200, b"")
    assert "etag" not in headers
    assert "content-length" not in headers
    assert headers["x-content-type-options"] == "nosniff"
    assert raw.request("HEAD", "/missing")[0] == 404
    assert store.calls == ["contains", "contains"]


def test_head_with_if_none_match_reads_and_tags(raw, store):
    """HEAD with If-None-Match answers like GET: ETag, Content-Length, 304 on a match."""
    store._data["k"] = b"value"
    tag = quoted_etag_of(b"value")
    status, headers, _ = raw.request("HEAD", "/k", headers={"If-None-Match": '"other"'})
    assert status == 200
    assert headers["etag"] == tag
    assert headers["content-length"] == "5"
    assert raw.request("HEAD", "/k", headers={"If-None-Match": tag})[0] == 304
    assert store.calls == [_read_call(store)] * 2


def test_get_still_carries_the_etag(raw, store):
    """GET reads the value and tags it, as before."""
    store._data["k"] = b"value"
    status, headers, data = raw.request("GET", "/k")
    assert (status, data) == (200, b"value")
    assert headers["etag"] == quoted_etag_of(b"value")
    assert store.calls == [_read_call(store)]


def test_in_never_reads_the_value(client, store):
    """The client's `in` is a HEAD: True or False from `key in store`, never a read."""
    store._data["k"] = b"x" * 100_000
    assert "k" in client
    assert "missing" not in client
    assert "read" not in store.calls
    assert store.calls.count("contains") == 2


class _BrokenContains:
    """A mapping whose `in` fails as a network store does when its backend is down."""

    def __init__(self) -> None:
        self.reads = 0

    def __contains__(self, key: object) -> bool:
        msg = "backend down"
        raise StoreUnavailable(msg)

    def __getitem__(self, key: str) -> bytes:
        self.reads += 1
        return b"v"

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_in_raises_when_the_store_fails_never_false(raw_class):
    """A store failing on `in` gives HEAD a 503, and the client's `in` StoreUnavailable."""
    broken = _BrokenContains()
    with ServerThread(broken, threads=2) as server:  # type: ignore[arg-type]
        assert raw_class(server.port).request("HEAD", "/k")[0] == 503
        with FlaskKvDict(server.url) as kv, pytest.raises(StoreUnavailable):
            "k" in kv  # noqa: B015 - `in` never answers False on an error
    assert broken.reads == 0


def test_head_keeps_its_auth_and_key_checks(store, raw_class):
    """HEAD still needs the token and refuses bad keys before asking the store."""
    store._data["k"] = b"v"
    with ServerThread(store, threads=2, token="tok-en") as server:
        raw = raw_class(server.port)
        status, headers, _ = raw.request("HEAD", "/k")
        assert status == 401
        assert headers["www-authenticate"].startswith("Bearer")
        authorized = {"Authorization": "Bearer tok-en"}
        assert raw.request("HEAD", "/a%2F..%2Fb", headers=authorized)[0] == 400
        assert raw.request("HEAD", "/_kv/x", headers=authorized)[0] == 400
        assert store.calls == []
        assert raw.request("HEAD", "/k", headers=authorized)[0] == 200
        assert raw.request("HEAD", "/nope", headers=authorized)[0] == 404
    assert store.calls == ["contains", "contains"]
