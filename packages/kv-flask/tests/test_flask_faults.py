"""The client against servers that fail: stopped, silent, erroring, redirecting."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from waitress import wasyncore
from waitress.server import create_server

from kv_core import (
    KeyConflictError,
    KVError,
    MemoryDict,
    OutOfSpaceError,
    ReadOnlyError,
    StoreUnavailable,
    ValueTooLargeError,
)
from kv_flask import FlaskKvDict, ServerThread

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]


class _AppThread:
    """Any WSGI app on waitress in a thread, stopped cleanly."""

    def __init__(self, app: WSGIApp) -> None:
        self.server = create_server(app, host="127.0.0.1", port=0, threads=2)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                wasyncore.loop(timeout=0.2, map=self.server._map, count=1)
        finally:
            self.server.task_dispatcher.shutdown()
            wasyncore.close_all(self.server._map)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture
def status_server() -> Iterator[tuple[_AppThread, list[dict[str, str]]]]:
    """A server answering every request with the status named by the path's last segment."""
    seen: list[dict[str, str]] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        seen.append({"path": environ["PATH_INFO"], "auth": environ.get("HTTP_AUTHORIZATION", "")})
        if environ["PATH_INFO"] == "/_kv/info":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"max_content_length": 1000, "store": null}']
        last = environ["PATH_INFO"].rsplit("/", 1)[-1]
        status = int(last) if last.isdigit() else 200
        headers = [("Content-Type", "application/json")]
        if 300 <= status < 400:
            headers.append(("Location", "http://127.0.0.2:9/stolen"))
        start_response(f"{status} X", headers)
        return [b'{"error": "x", "message": "m"}']

    running = _AppThread(app)
    yield running, seen
    running.stop()


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, StoreUnavailable),
        (502, StoreUnavailable),
        (503, StoreUnavailable),
        (504, StoreUnavailable),
        (429, StoreUnavailable),
        (301, StoreUnavailable),
        (302, StoreUnavailable),
        (307, StoreUnavailable),
        (308, StoreUnavailable),
        (401, PermissionError),
        (403, PermissionError),
        (409, KeyConflictError),
        (413, ValueTooLargeError),
        (507, OutOfSpaceError),
        (418, KVError),
    ],
)
def test_status_mapping(status_server, status, error):
    """Each error status becomes the documented exception, on reads, writes and `in`."""
    running, seen = status_server
    with FlaskKvDict(running.url, token="tok", timeout=5) as kv:
        with pytest.raises(error):
            kv[str(status)]
        with pytest.raises(error):
            kv[str(status)] = b"v"
        if status != 404:
            with pytest.raises(error):
                str(status) in kv  # noqa: B015 - `in` never answers False on an error
    assert all(request["path"] != "/stolen" for request in seen)
    assert all(request["auth"] == "Bearer tok" for request in seen)


def test_in_raises_on_5xx_instead_of_answering_false(status_server):
    """A 5xx on HEAD is StoreUnavailable, never `False`."""
    running, _ = status_server
    with FlaskKvDict(running.url) as kv, pytest.raises(StoreUnavailable):
        "500" in kv  # noqa: B015


def test_redirect_is_not_followed_and_token_stays_home(status_server):
    """A 3xx is an error: nothing is sent to the Location, token included."""
    running, seen = status_server
    with FlaskKvDict(running.url, token="tok") as kv, pytest.raises(StoreUnavailable) as info:
        kv["302"]
    assert "redirect" in str(info.value)
    assert [request["path"] for request in seen if request["path"] != "/_kv/info"] == ["/302"]


class _QuotaDict(MemoryDict):
    """A MemoryDict holding at most *quota* bytes of values, as a small disk would."""

    def __init__(self, quota: int) -> None:
        self.quota = quota
        super().__init__()

    def _write(self, key: str, value: bytes) -> None:
        used = sum(len(v) for k, v in self._data.items() if k != key)
        if used + len(value) > self.quota:
            msg = "the quota is used up"
            raise OutOfSpaceError(msg)
        super()._write(key, value)

    def _write_if(self, key: str, value: bytes, version: str | None) -> str:
        # A PUT to a store with versions writes through set_if: the same quota.
        used = sum(len(v) for k, v in self._data.items() if k != key)
        if used + len(value) > self.quota:
            msg = "the quota is used up"
            raise OutOfSpaceError(msg)
        return super()._write_if(key, value, version)


def test_store_out_of_space_is_507_and_out_of_space_error():
    """A store out of space answers 507 out_of_space; the client raises OutOfSpaceError."""
    server = ServerThread(_QuotaDict(10), threads=2).start()
    try:
        response = requests.put(f"{server.url}/big", data=b"x" * 20, timeout=5)
        assert response.status_code == 507
        assert response.json()["error"] == "out_of_space"
        assert "quota" not in response.text  # never the store's own message
        with FlaskKvDict(server.url, timeout=5) as kv:
            kv["small"] = b"12345"
            with pytest.raises(OutOfSpaceError) as info:
                kv["big"] = b"x" * 20
            assert isinstance(info.value, OSError)
            assert kv["small"] == b"12345"
    finally:
        server.stop()


def test_server_stopped_mid_run_raises_store_unavailable():
    """After the server stops, every operation raises StoreUnavailable with the cause kept."""
    server = ServerThread(MemoryDict(), threads=2).start()
    with FlaskKvDict(server.url, timeout=(2, 5)) as kv:
        kv["k"] = b"v"
        assert kv["k"] == b"v"
        server.stop()
        for operation in (
            lambda: kv["k"],
            lambda: kv.__setitem__("k", b"w"),
            lambda: "k" in kv,
            lambda: list(kv),
            lambda: len(kv),
            lambda: kv.get_many(["k"]),
        ):
            with pytest.raises(StoreUnavailable) as info:
                operation()
            assert isinstance(info.value.__cause__, requests.RequestException)


def test_server_that_never_answers_times_out_as_store_unavailable():
    """A server that accepts connections and never replies gives StoreUnavailable in time."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        with FlaskKvDict(f"http://127.0.0.1:{port}", timeout=(1, 0.3)) as kv:
            with pytest.raises(StoreUnavailable) as info:
                kv["k"]
            assert isinstance(info.value.__cause__, requests.Timeout)
            with pytest.raises(StoreUnavailable):
                "k" in kv  # noqa: B015


def test_nothing_listening_is_store_unavailable():
    """Connection refused is StoreUnavailable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FlaskKvDict(f"http://127.0.0.1:{port}", timeout=1) as kv, pytest.raises(StoreUnavailable):
        kv["k"]


class _Failing(MemoryDict):
    """A store whose writes of some keys fail the way real backends fail."""

    def _write_if(self, key: str, value: bytes, version: str | None) -> str:
        # A PUT to a store with versions writes through set_if: it fails the same way.
        self._fail(key)
        return super()._write_if(key, value, version)

    def _write(self, key: str, value: bytes) -> None:
        self._fail(key)
        super()._write(key, value)

    @staticmethod
    def _fail(key: str) -> None:
        if key == "down":
            msg = "connection to db.internal:5432 refused"
            raise StoreUnavailable(msg)
        if key == "conflict":
            msg = "conflict at /srv/data/conflict"
            raise KeyConflictError(msg)
        if key == "big":
            msg = "too big for table kv_secret"
            raise ValueTooLargeError(msg)
        if key == "ro":
            msg = "snapshot"
            raise ReadOnlyError(msg)
        if key == "bug":
            msg = "SELECT * FROM secret_table WHERE path='/etc/shadow'"
            raise RuntimeError(msg)


@pytest.mark.parametrize(
    ("key", "status", "error"),
    [
        ("down", 503, StoreUnavailable),
        ("conflict", 409, KeyConflictError),
        ("big", 413, ValueTooLargeError),
        ("ro", 403, ReadOnlyError),
        ("bug", 500, StoreUnavailable),
    ],
)
def test_store_errors_become_generic_json_errors(raw_class, key, status, error, caplog):
    """Store failures map to their status; the body never holds the exception's text."""
    with ServerThread(_Failing(), threads=2) as server:
        raw = raw_class(server.port)
        code, _, data = raw.request("PUT", f"/{key}", body=b"v")
        assert code == status
        body = raw.error(data)
        for secret in ("db.internal", "/srv", "kv_secret", "SELECT", "shadow", "Traceback"):
            assert secret not in data.decode()
        assert body["message"]
        with FlaskKvDict(server.url) as kv, pytest.raises(error):
            kv[key] = b"v"


def test_server_works_with_descriptors_over_1023():
    """The server polls with poll(), so a process holding many descriptors still serves."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1300
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"the hard limit on open files ({hard}) is too low for this test")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    held = [socket.socket() for _ in range(1100)]
    try:
        with ServerThread(MemoryDict(), threads=2) as server, FlaskKvDict(server.url) as kv:
            kv["k"] = b"v"
            assert kv["k"] == b"v"
    finally:
        for sock in held:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_server_that_is_not_a_kv_server_is_store_unavailable(status_server):
    """JSON without the expected fields (another API at that URL) is StoreUnavailable."""
    running, _ = status_server
    with FlaskKvDict(running.url + "/elsewhere") as kv:
        with pytest.raises(StoreUnavailable):
            len(kv)
        with pytest.raises(StoreUnavailable):
            list(kv)
        with pytest.raises(StoreUnavailable):
            kv["k"]


class _Trickler:
    """A socket server that reads a request, then sends its answer one byte at a time.

    It gives up after *give_up* seconds, so a client without a whole-call deadline fails
    the test by waiting that long, not by hanging the run.
    """

    def __init__(
        self, answer: bytes, *, at_once: bytes = b"", every: float = 0.5, give_up: float = 8.0
    ) -> None:
        self._at_once = at_once
        self._answer = answer
        self._every = every
        self._give_up = give_up
        self._stop = threading.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                received += chunk
            ends = time.monotonic() + self._give_up
            if self._at_once:
                conn.sendall(self._at_once)
            for index in range(len(self._answer)):
                if self._stop.wait(self._every) or time.monotonic() > ends:
                    return
                try:
                    conn.sendall(self._answer[index : index + 1])
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()


_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 40\r\n\r\n"


@pytest.mark.parametrize(
    ("at_once", "timeout", "limit"),
    [
        (b"", (0.5, 1.5), 2.0),  # the status line and headers trickle
        (_HEAD, (0.5, 1.5), 2.0),  # the headers come at once, the body trickles
        (b"", 2.0, 2.0),  # a single number bounds the whole call too
    ],
    ids=["head", "body", "float"],
)
def test_a_trickling_server_is_store_unavailable_within_the_timeout(at_once, timeout, limit):
    """A server sending a byte every half second, inside the read timeout, is cut off in time."""
    slow = _Trickler(b"x" * 40 if at_once else _HEAD + b"x" * 40, at_once=at_once)
    try:
        with FlaskKvDict(slow.url, timeout=timeout) as kv:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as info:
                kv["k"]
            took = time.monotonic() - started
        assert isinstance(info.value.__cause__, requests.RequestException)
        assert took < limit + 0.75, took
    finally:
        slow.close()
