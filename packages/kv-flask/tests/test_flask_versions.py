"""ETags as the store's versions: conditional requests become the store's set_if/delete_if."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kv_core import ConflictError, MemoryDict
from kv_flask import FlaskKvDict, PreconditionFailed, ServerThread
from kv_flask._etag import etag_of, quoted_etag_of, version_of_tag, version_tag


class CountingDict(MemoryDict):
    """A MemoryDict whose versions are a per-key write count with a *style*, recording
    each compare-and-set call: its versions are not digests of the value."""

    def __init__(self, style: str = "n{}", *, delay: float = 0.0) -> None:
        super().__init__()
        self.style = style
        self.delay = delay
        self.versions: dict[str, str] = {}
        self.counter = 0
        self.cas_calls: list[tuple[str, str, str | None]] = []
        self.plain_writes = 0

    def _next(self, key: str) -> str:
        self.counter += 1
        self.versions[key] = self.style.format(self.counter)
        return self.versions[key]

    def _write(self, key: str, value: bytes) -> None:
        time.sleep(self.delay)
        with self._lock:
            self.plain_writes += 1
            self._data[key] = value
            self._next(key)

    def _delete(self, key: str) -> None:
        with self._lock:
            del self._data[key]
            del self.versions[key]

    def _read_with_version(self, key: str) -> tuple[bytes, str]:
        with self._lock:
            return self._data[key], self.versions[key]

    def _write_if(self, key: str, value: bytes, version: str | None) -> str:
        with self._lock:
            time.sleep(self.delay)
            self.cas_calls.append(("set_if", key, version))
            if self.versions.get(key) != version:
                msg = f"{key!r} is not at {version!r}"
                raise ConflictError(msg)
            self._data[key] = value
            return self._next(key)

    def _delete_if(self, key: str, version: str) -> None:
        with self._lock:
            self.cas_calls.append(("delete_if", key, version))
            if key not in self.versions or self.versions[key] != version:
                msg = f"{key!r} is not at {version!r}"
                raise ConflictError(msg)
            del self._data[key]
            del self.versions[key]


class DigestOnlyDict(MemoryDict):
    """A MemoryDict that does not declare compare-and-set: the server's own tags and locks."""

    capabilities = dataclasses.replace(MemoryDict.capabilities, compare_and_set=False)


@pytest.fixture
def versioned() -> CountingDict:
    return CountingDict()


@pytest.fixture
def vserver(versioned: CountingDict) -> Iterator[ServerThread]:
    with ServerThread(versioned, threads=4) as running:
        yield running


@pytest.fixture
def vraw(vserver: ServerThread, raw_class: Any) -> Any:
    return raw_class(vserver.port)


@pytest.fixture
def vclient(vserver: ServerThread) -> Iterator[FlaskKvDict]:
    with FlaskKvDict(vserver.url, timeout=(2, 10)) as kv:
        yield kv


# -- the tags ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "version", ["17", "n-1.2:x~+/=", "", "a b", 'q"uote', "com,ma", "back\\slash", "é", "\ud800"]
)
def test_every_version_has_one_tag_and_back(version: str) -> None:
    """A version goes to a tag that needs no escaping in a header list, and comes back."""
    tag = version_tag(version)
    assert all(33 <= ord(c) < 127 and c not in '",\\ ' for c in tag)
    assert version_of_tag(tag) == version


@pytest.mark.parametrize("tag", ["!!!", "!é", "a b", 'x"', "!_w", "!AA="])
def test_a_tag_no_version_made_is_none(tag: str) -> None:
    """Tags that version_tag cannot have made (bad base64, bad UTF-8, a second spelling of
    one version) stand for no version."""
    assert version_of_tag(tag) is None


# -- the server ---------------------------------------------------------------------------------


def test_get_sends_the_store_version_as_etag(vraw: Any, versioned: CountingDict) -> None:
    """GET's ETag is the store's version of the key, not a digest of the value."""
    versioned["k"] = b"value"
    status, headers, _ = vraw.request("GET", "/k")
    assert status == 200
    assert headers["etag"] == f'"{versioned.versions["k"]}"' != quoted_etag_of(b"value")
    status, _, _ = vraw.request("GET", "/k", headers={"If-None-Match": headers["etag"]})
    assert status == 304


def test_if_match_is_the_store_set_if(vraw: Any, versioned: CountingDict) -> None:
    """PUT with If-Match calls set_if with the version; the answer's ETag is the new one."""
    versioned["k"] = b"one"
    old = versioned.versions["k"]
    status, headers, _ = vraw.request("PUT", "/k", body=b"two", headers={"If-Match": f'"{old}"'})
    assert status == 204
    assert versioned.cas_calls == [("set_if", "k", old)]
    assert headers["etag"] == f'"{versioned.versions["k"]}"'
    status, _, data = vraw.request("PUT", "/k", body=b"three", headers={"If-Match": f'"{old}"'})
    assert status == 412
    assert vraw.error(data)["error"] == "precondition_failed"
    assert versioned["k"] == b"two"


def test_if_none_match_star_is_set_if_absent(vraw: Any, versioned: CountingDict) -> None:
    """PUT with If-None-Match: * is set_if(version=None): once, then 412."""
    headers = {"If-None-Match": "*"}
    assert vraw.request("PUT", "/new", body=b"a", headers=headers)[0] == 204
    assert vraw.request("PUT", "/new", body=b"b", headers=headers)[0] == 412
    assert versioned.cas_calls == [("set_if", "new", None), ("set_if", "new", None)]
    assert versioned["new"] == b"a"


def test_delete_with_if_match_is_delete_if(vraw: Any, versioned: CountingDict) -> None:
    """DELETE with If-Match calls delete_if; a stale tag or a missing key is 412."""
    versioned["k"] = b"v"
    tag = f'"{versioned.versions["k"]}"'
    versioned["k"] = b"w"
    assert vraw.request("DELETE", "/k", headers={"If-Match": tag})[0] == 412
    current = f'"{versioned.versions["k"]}"'
    assert vraw.request("DELETE", "/k", headers={"If-Match": current})[0] == 204
    assert "k" not in versioned
    assert vraw.request("DELETE", "/k", headers={"If-Match": current})[0] == 412
    assert [call[0] for call in versioned.cas_calls] == ["delete_if"] * 3


def test_delete_with_if_none_match_star(vraw: Any, versioned: CountingDict) -> None:
    """DELETE with If-None-Match: * is 404 on a missing key and 412 on a present one."""
    assert vraw.request("DELETE", "/k", headers={"If-None-Match": "*"})[0] == 404
    versioned["k"] = b"v"
    assert vraw.request("DELETE", "/k", headers={"If-None-Match": "*"})[0] == 412
    assert versioned["k"] == b"v"


def test_if_match_star_needs_the_key(vraw: Any, versioned: CountingDict) -> None:
    """PUT with If-Match: * writes over an existing key only, through set_if."""
    assert vraw.request("PUT", "/k", body=b"x", headers={"If-Match": "*"})[0] == 412
    assert "k" not in versioned
    versioned["k"] = b"v"
    version = versioned.versions["k"]
    assert vraw.request("PUT", "/k", body=b"x", headers={"If-Match": "*"})[0] == 204
    assert versioned.cas_calls == [("set_if", "k", version)]
    assert versioned["k"] == b"x"


def test_if_match_list_holding_the_version(vraw: Any, versioned: CountingDict) -> None:
    """A list of tags holding the current version writes, conditioned on that version."""
    versioned["k"] = b"v"
    version = versioned.versions["k"]
    headers = {"If-Match": f'"other", "{version}", "n999"'}
    assert vraw.request("PUT", "/k", body=b"x", headers=headers)[0] == 204
    assert versioned.cas_calls == [("set_if", "k", version)]
    headers = {"If-Match": '"other", "n999"'}
    assert vraw.request("PUT", "/k", body=b"y", headers=headers)[0] == 412
    assert versioned["k"] == b"x"


def test_if_none_match_with_tags(vraw: Any, versioned: CountingDict) -> None:
    """If-None-Match with the current tag refuses the write; with other tags it writes."""
    versioned["k"] = b"v"
    current = f'"{versioned.versions["k"]}"'
    assert vraw.request("PUT", "/k", body=b"x", headers={"If-None-Match": current})[0] == 412
    assert vraw.request("PUT", "/k", body=b"x", headers={"If-None-Match": '"n0"'})[0] == 204
    assert vraw.request("PUT", "/new", body=b"x", headers={"If-None-Match": current})[0] == 204
    assert versioned["k"] == versioned["new"] == b"x"


@pytest.mark.parametrize("if_match", ["", " ", ",", 'W/"n1"', '"!!"'])
def test_if_match_naming_no_version_writes_nothing(
    vraw: Any, versioned: CountingDict, if_match: str
) -> None:
    """An empty If-Match, a weak tag or a tag no version makes: 412, nothing written."""
    versioned["k"] = b"v"
    assert vraw.request("PUT", "/k", body=b"x", headers={"If-Match": if_match})[0] == 412
    assert vraw.request("DELETE", "/k", headers={"If-Match": if_match})[0] == 412
    assert versioned["k"] == b"v"


def test_an_unconditional_put_answers_the_version_it_made(
    vraw: Any, versioned: CountingDict
) -> None:
    """A plain PUT to a versioned store goes through set_if, so its ETag is the version of
    the value it wrote (the one GET then answers), for a new key and an existing one."""
    for body in (b"x", b"y"):
        status, headers, _ = vraw.request("PUT", "/k", body=body)
        assert status == 204
        assert headers["etag"] == f'"{versioned.versions["k"]}"'
        assert vraw.request("GET", "/k")[1]["etag"] == headers["etag"]
    assert versioned.plain_writes == 0
    assert versioned.cas_calls == [("set_if", "k", None), ("set_if", "k", "n1")]


class AlwaysLosing(CountingDict):
    """A store where another writer always gets in first: every set_if conflicts."""

    def _write_if(self, key: str, value: bytes, version: str | None) -> str:
        self.cas_calls.append(("set_if", key, version))
        msg = "someone else was faster"
        raise ConflictError(msg)


def test_an_unconditional_put_that_keeps_losing_is_made_plain(raw_class: Any) -> None:
    """A PUT without conditions is never refused for contention: after its set_if lost
    every try, it writes plainly and answers without a tag it cannot know."""
    store = AlwaysLosing()
    with ServerThread(store, threads=2) as server:
        raw = raw_class(server.port)
        status, headers, _ = raw.request("PUT", "/k", body=b"v")
        assert status == 204
        assert "etag" not in headers
        assert raw.request("PUT", "/k", body=b"w", headers={"If-Match": "*"})[0] == 412
    assert store["k"] == b"v"
    assert store.plain_writes == 1
    assert len(store.cas_calls) == 16 + 16


def test_awkward_versions_travel_encoded(raw_class: Any) -> None:
    """Versions with quotes, commas and spaces are sent as tags and come back whole."""
    store = CountingDict(style='v "{}", x')
    with ServerThread(store, threads=2) as server, FlaskKvDict(server.url) as kv:
        version = kv.set_if("k", b"1", version=None)
        _, headers, _ = raw_class(server.port).request("GET", "/k")
        assert headers["etag"] == version == f'"{version_tag(store.versions["k"])}"'
        new = kv.set_if("k", b"2", version=version)
        assert store.cas_calls[-1] == ("set_if", "k", 'v "1", x')
        with pytest.raises(ConflictError):
            kv.delete_if("k", version=version)
        kv.delete_if("k", version=new)
        assert "k" not in store


def test_info_declares_compare_and_set(vclient: FlaskKvDict) -> None:
    """/_kv/info says whether the store has compare-and-set; the client declares the same."""
    assert vclient.server_info()["store"]["compare_and_set"] is True
    assert vclient.capabilities.compare_and_set is True
    with ServerThread(DigestOnlyDict(), threads=2) as server, FlaskKvDict(server.url) as kv:
        assert kv.server_info()["store"]["compare_and_set"] is False
        assert kv.capabilities.compare_and_set is False


def test_two_servers_over_one_store_lose_no_increment() -> None:
    """Two servers (two sets of per-process locks) over one versioned store: the condition
    is the store's, so clients of both lose no increment."""
    threads, increments = 4, 25
    # Slow writes: a check made outside the store, then the write, would leave room for
    # another server's request in between (set_if sleeps under the lock: still atomic).
    versioned = CountingDict(delay=0.002)
    versioned.set_if("counter", b"0", version=None)
    with ServerThread(versioned, threads=4) as one, ServerThread(versioned, threads=4) as two:
        errors: list[BaseException] = []

        def work(url: str) -> None:
            try:
                with FlaskKvDict(url) as kv:
                    for _ in range(increments):
                        while True:
                            value, version = kv.get_with_version("counter")
                            try:
                                kv.set_if("counter", b"%d" % (int(value) + 1), version=version)
                            except ConflictError:
                                continue
                            break
            except BaseException as exc:
                errors.append(exc)

        running = [
            threading.Thread(target=work, args=((one, two)[i % 2].url,)) for i in range(threads)
        ]
        for thread in running:
            thread.start()
        for thread in running:
            thread.join(timeout=120)
    assert errors == []
    assert versioned["counter"] == b"%d" % (threads * increments)


# -- the client ---------------------------------------------------------------------------------


def test_client_compare_and_set(vclient: FlaskKvDict, versioned: CountingDict) -> None:
    """get_with_version, set_if and delete_if over the headers; versions are the ETags."""
    first = vclient.set_if("k", b"one", version=None)
    with pytest.raises(PreconditionFailed):
        vclient.set_if("k", b"two", version=None)
    assert vclient.get_with_version("k") == (b"one", first)
    assert first == f'"{versioned.versions["k"]}"'
    second = vclient.set_if("k", b"two", version=first)
    with pytest.raises(ConflictError):
        vclient.set_if("k", b"three", version=first)
    with pytest.raises(ConflictError):
        vclient.delete_if("k", version=first)
    vclient.delete_if("k", version=second)
    with pytest.raises(ConflictError):
        vclient.delete_if("k", version=second)
    assert "k" not in versioned


@pytest.mark.parametrize("version", ["n1", '"n1', '"a", "b"', '"a"\r\nX: y', " ", "x"])
def test_client_refuses_what_is_no_etag_without_sending(
    vclient: FlaskKvDict, versioned: CountingDict, version: str
) -> None:
    """A version that is not one quoted tag matches nothing: ConflictError, nothing sent."""
    versioned["k"] = b"v"
    vclient.server_info()
    sent: list[str] = []
    session = vclient._session
    original = session.request

    def recording(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(method)
        return original(method, url, *args, **kwargs)

    session.request = recording  # type: ignore[method-assign,assignment]
    with pytest.raises(ConflictError):
        vclient.set_if("k", b"x", version=version)
    with pytest.raises(ConflictError):
        vclient.delete_if("k", version=version)
    assert sent == []
    assert versioned["k"] == b"v"


def test_client_set_if_needs_version(vclient: FlaskKvDict) -> None:
    """set_if without version= (or with both version= and etag=) is a TypeError."""
    with pytest.raises(TypeError, match="version"):
        vclient.set_if("k", b"x")
    with pytest.raises(TypeError, match="not both"):
        vclient.set_if("k", b"x", version=None, etag=None)


def test_deprecated_etag_names_warn_and_still_work(
    vclient: FlaskKvDict, versioned: CountingDict
) -> None:
    """get_with_etag and set_if(etag=) are the new API under a DeprecationWarning."""
    with pytest.warns(DeprecationWarning, match="set_if"):
        first = vclient.set_if("k", b"one", etag=None)
    with pytest.warns(DeprecationWarning, match="get_with_version"):
        assert vclient.get_with_etag("k") == (b"one", first)
    with pytest.warns(DeprecationWarning, match="etag"), pytest.raises(PreconditionFailed):
        vclient.set_if("k", b"two", etag=f'"{versioned.versions["k"]}x"')
    with pytest.warns(DeprecationWarning, match="etag"):
        second = vclient.set_if("k", b"two", etag=first)
    assert vclient.get_with_version("k") == (b"two", second)


def test_client_over_a_store_without_versions(raw_class: Any) -> None:
    """In front of a store without compare-and-set the tags are digests, the client
    declares no compare-and-set, and set_if still works among one server's requests."""
    with ServerThread(DigestOnlyDict(), threads=2) as server, FlaskKvDict(server.url) as kv:
        version = kv.set_if("k", b"one", version=None)
        assert version == quoted_etag_of(b"one") == f'"{etag_of(b"one")}"'
        assert kv.get_with_version("k") == (b"one", version)
        with pytest.raises(ConflictError):
            kv.set_if("k", b"x", version=quoted_etag_of(b"other"))
        kv.delete_if("k", version=version)
        assert "k" not in kv
