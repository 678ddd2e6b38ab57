"""kv serve as a long-running process: readiness, the access log, its options, and stopping."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from kv_core import open_store

from .conftest import KV

_READY = re.compile(r"^serving (?P<store>\S+) on (?P<url>http://\S+/)$")
_OCTETS = {"Content-Type": "application/octet-stream"}


class Served:
    """A ``kv serve`` process; its standard error is read line by line as it comes."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("KV_")}
        environ.update(env or {})
        self.process = subprocess.Popen(
            [str(KV), "serve", *args],
            cwd=cwd,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def next_line(self, timeout: float = 30) -> str | None:
        """The next line of standard error; ``None`` once the process closed it."""
        line = self._queue.get(timeout=timeout)
        if line is not None:
            self.lines.append(line)
        return line

    def wait_ready(self) -> str:
        """The URL from the "serving ... on URL" line."""
        while True:
            line = self.next_line()
            assert line is not None, f"kv serve ended: {self.lines}"
            found = _READY.match(line)
            if found:
                return found["url"]

    def rest(self, timeout: float = 30) -> list[str]:
        """Every remaining line, until the process ends."""
        deadline = time.monotonic() + timeout
        while self.next_line(max(0.1, deadline - time.monotonic())) is not None:
            pass
        return self.lines

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        if self.process.stderr is not None:
            self.process.stderr.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[type[Served]]:
    started: list[Served] = []

    class Tracked(Served):
        def __init__(self, *args: str, **kwargs: object) -> None:
            super().__init__(*args, cwd=tmp_path, **kwargs)  # type: ignore[arg-type]
            started.append(self)

    yield Tracked
    for process in started:
        process.stop()


def _db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/kv.sqlite3"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_stops_the_server_and_closes_the_store(served, tmp_path, stop) -> None:
    """SIGTERM, like Ctrl-C, stops serving, closes the store and says so (exit 0; 130 for ^C)."""
    server = served(_db_url(tmp_path), "--port", "0")
    url = server.wait_ready()
    with requests.Session() as http:
        assert http.put(f"{url}doc", data=b"v", headers=_OCTETS, timeout=10).status_code == 204
    server.process.send_signal(stop)
    assert server.process.wait(timeout=30) == (0 if stop == signal.SIGTERM else 130)
    lines = server.rest()
    assert lines[-1] == f"stopped; {_db_url(tmp_path)} closed"
    with open_store(_db_url(tmp_path)) as store:
        assert store["doc"] == b"v"


def test_serving_is_announced_only_once_the_port_is_bound(served, tmp_path) -> None:
    """A port already taken is an error, and "serving on" is never printed."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        server = served("memory://", "--port", str(port))
        assert server.process.wait(timeout=30) == 1
        lines = server.rest()
    assert not any(line.startswith("serving") for line in lines), lines
    assert any(f"cannot listen on 127.0.0.1:{port}" in line for line in lines), lines


def test_the_announced_url_has_the_real_port(served) -> None:
    """With --port 0 the line names the port the system picked, and it answers there."""
    url = served("memory://", "--port", "0").wait_ready()
    assert not url.endswith(":0/")
    with requests.Session() as http:
        assert http.get(f"{url}_kv/count", timeout=10).json() == {"count": 0}


def test_the_access_log_is_printed_with_keys_redacted(served) -> None:
    """One common-log line per request on standard error; keys show as <key>."""
    server = served("memory://", "--port", "0")
    url = server.wait_ready()
    with requests.Session() as http:
        http.put(f"{url}users/42", data=b"hello", headers=_OCTETS, timeout=10)
        http.get(f"{url}users/42", timeout=10)
    # Each request's line is logged once its answer is sent, so the two may come in any order.
    lines = [server.next_line(), server.next_line()]
    assert None not in lines
    first, second = sorted(lines, key=lambda line: '"GET' in str(line))
    assert first is not None
    assert second is not None
    assert re.search(r'"PUT /<key> HTTP/1\.1" 204 0 [\d.]+ms$', first), first
    assert re.search(r'"GET /<key> HTTP/1\.1" 200 5 [\d.]+ms$', second), second
    assert "users" not in first + second


def test_log_options(served) -> None:
    """--log-keys shows keys; --no-access-log prints no request lines."""
    server = served("memory://", "--port", "0", "--log-keys")
    url = server.wait_ready()
    requests.get(f"{url}users/42", timeout=10)
    line = server.next_line()
    assert line is not None
    assert '"GET /users/42 HTTP/1.1" 404' in line
    quiet = served("memory://", "--port", "0", "--no-access-log")
    url = quiet.wait_ready()
    requests.get(f"{url}users/42", timeout=10)
    quiet.process.send_signal(signal.SIGTERM)
    assert quiet.process.wait(timeout=30) == 0
    assert [line for line in quiet.rest() if "GET" in line] == []


def test_allowed_hosts_and_origins_from_options_and_environment(served) -> None:
    """--allowed-host and KV_ALLOWED_ORIGINS reach the server; others stay refused."""
    server = served(
        "memory://",
        "--port",
        "0",
        "--allowed-host",
        "kv.example",
        env={"KV_ALLOWED_ORIGINS": "https://app.example https://other.example"},
    )
    url = server.wait_ready()
    with requests.Session() as http:
        assert http.get(f"{url}k", headers={"Host": "kv.example"}, timeout=10).status_code == 404
        assert http.get(f"{url}k", headers={"Host": "evil.example"}, timeout=10).status_code == 403
        trusted = {"Origin": "https://other.example", **_OCTETS}
        answer = http.put(f"{url}k", data=b"v", headers=trusted, timeout=10)
        assert answer.status_code == 204
        assert answer.headers["Access-Control-Allow-Origin"] == "https://other.example"
        evil = {"Origin": "https://evil.example", **_OCTETS}
        assert http.put(f"{url}k", data=b"w", headers=evil, timeout=10).status_code == 403


def test_ui_option_and_environment_serve_the_page(served) -> None:
    """--ui (or KV_UI=1) serves the key browser page, which needs no token; off by default."""
    with requests.Session() as http:
        plain = served("memory://", "--port", "0")
        url = plain.wait_ready()
        assert http.get(f"{url}_kv/ui/", timeout=10).status_code == 404
        for args, env in (("--ui",), {}), ((), {"KV_UI": "1"}):
            server = served("memory://", "--port", "0", "--token", "t0ken", *args, env=env)
            url = server.wait_ready()
            assert server.next_line() == f"key browser: {url}_kv/ui/"
            page = http.get(f"{url}_kv/ui/", timeout=10)
            assert page.status_code == 200
            assert "script-src 'self'" in page.headers["Content-Security-Policy"]
            assert http.get(f"{url}_kv/count", timeout=10).status_code == 401


def test_connection_options_reach_the_server(served) -> None:
    """--idle-timeout closes a silent connection; --connection-limit caps open ones."""
    server = served("memory://", "--port", "0", "--idle-timeout", "1", "--connection-limit", "2")
    url = server.wait_ready()
    port = int(url.rsplit(":", 1)[1].rstrip("/"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as silent:
        started = time.monotonic()
        assert silent.recv(1) == b""
        assert time.monotonic() - started < 5
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
    try:
        time.sleep(0.3)
        with pytest.raises(requests.Timeout):
            requests.get(f"{url}_kv/count", timeout=(2, 0.5))
    finally:
        for sock in held:
            sock.close()


@pytest.mark.parametrize(
    "option", [("--idle-timeout", "0"), ("--connection-limit", "0"), ("--allowed-host", "a b/c")]
)
def test_bad_server_options_are_usage_errors(served, option) -> None:
    """Values the server refuses are a usage error (exit 2) before anything is served."""
    server = served("memory://", "--port", "0", *option)
    assert server.process.wait(timeout=30) == 2
    assert not any(line.startswith("serving") for line in server.rest())
