"""serve(): the production entry point `kv serve` calls, run in its own process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from kv_flask import FlaskKvDict

_SCRIPT = """
import sys
from kv_core import MemoryDict
from kv_flask import serve
serve(MemoryDict(), "127.0.0.1", int(sys.argv[1]), token="tok", threads=2, url_prefix="/kv")
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "serve() did not start listening"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/kv"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def test_serve_runs_waitress_with_the_options(served):
    """serve() answers on the port with the token and prefix given; the Server is waitress."""
    with FlaskKvDict(served, token="tok") as kv:
        kv["a/b"] = b"v"
        assert kv["a/b"] == b"v"
        assert list(kv) == ["a/b"]
        response = kv._session.get(f"{served}/a/b", timeout=5)
    assert response.status_code == 401
    assert response.headers["Server"] == "kv"
    with FlaskKvDict(served) as anonymous, pytest.raises(PermissionError):
        anonymous["a/b"]
