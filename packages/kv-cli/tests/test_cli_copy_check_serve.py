"""kv cp between backends, kv check on good and broken stores, kv serve."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from kv_core import open_store

from .conftest import KV, Run, run_on_terminal


def test_cp_ten_thousand_keys_sqlite_to_redis(run_kv: Run, tmp_path: Path, redis_url: str) -> None:
    """cp copies 10,000 keys from SQLite into Redis, and re-running it is safe."""
    source_url = f"sqlite:///{tmp_path}/src.sqlite3"
    expected = {f"doc/{i:05d}": os.urandom(i % 50) for i in range(10_000)}
    with open_store(source_url) as source:
        source.set_many(expected)
    for _ in range(2):
        result = run_kv("cp", source_url, redis_url, timeout=300)
        assert result.returncode == 0, result.stderr
        assert b"copied 10000 keys" in result.stderr
    with open_store(redis_url) as target:
        assert len(target) == 10_000
        assert target.get_many(list(expected)) == expected


def test_cp_file_to_sqlite_without_a_terminal(run_kv: Run, file_url: str, tmp_path: Path) -> None:
    """cp between a file store and SQLite keeps every byte; no progress bar without a tty."""
    with open_store(file_url) as source:
        source.set_many({f"d/{i}": bytes([i]) * i for i in range(200)})
    target_url = f"sqlite:///{tmp_path}/dst.sqlite3"
    result = run_kv("cp", "--batch", "37", file_url, target_url)
    assert result.returncode == 0, result.stderr
    assert b"copying" not in result.stderr
    with open_store(target_url) as target:
        assert dict(target.items()) == {f"d/{i}": bytes([i]) * i for i in range(200)}


def test_check_passes_a_good_store(run_kv: Run) -> None:
    """kv check on a conforming store exits 0 and says so."""
    result = run_kv("check", "memory://", "--quick")
    assert result.returncode == 0, result.stdout[-2000:]
    assert b"conforms" in result.stderr


def test_check_fails_a_broken_store(run_kv: Run, tmp_path: Path) -> None:
    """kv check on a store that lets del of a missing key pass exits 1."""
    (tmp_path / "broken_backend.py").write_text(
        "from kv_core import MemoryDict\n\n"
        "class Lenient(MemoryDict):\n"
        "    def _delete(self, key):\n"
        "        self._data.pop(key, None)\n"
    )
    result = run_kv(
        "check",
        "--factory",
        "broken_backend:Lenient",
        "--quick",
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 1
    assert b"does NOT conform" in result.stderr


def test_check_refuses_a_store_holding_data(run_kv: Run, file_url: str) -> None:
    """kv check never clears a store that already holds data: a usage error, in one line."""
    with open_store(file_url) as store:
        store["precious"] = b"data"
    result = run_kv("check", file_url, "--quick", "-x")
    assert result.returncode == 2
    assert b"holds 1 key" in result.stderr
    assert b"does NOT conform" not in result.stderr
    assert b"Traceback" not in result.stderr
    with open_store(file_url) as store:
        assert store["precious"] == b"data"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_exposes_a_store(tmp_path: Path) -> None:
    """kv serve runs a production server that curl-like clients can write and read."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "KV_URL"}
    server = subprocess.Popen(
        [str(KV), "serve", f"file://{tmp_path}/served", "--port", str(port), "--token", "t0k"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(base, timeout=1).close()
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("kv serve did not start")
                time.sleep(0.1)
        auth = {"Authorization": "Bearer t0k"}
        with requests.Session() as http:
            assert http.get(f"{base}/doc", timeout=5).status_code == 401
            assert (
                http.put(f"{base}/doc", data=b"\x00body", headers=auth, timeout=5).status_code
                == 204
            )
            got = http.get(f"{base}/doc", headers=auth, timeout=5)
            assert (got.status_code, got.content) == (200, b"\x00body")
        with open_store(f"file://{tmp_path}/served") as store:
            assert store["doc"] == b"\x00body"
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()


def test_serve_without_flask_says_what_to_install() -> None:
    """The message for a missing kv-flask names the package (checked on the source)."""
    source = Path(sys.modules["kv_cli._main"].__file__ or "").read_text()
    assert "pip install kv-flask" in source


def test_commands_against_a_live_server(run_kv: Run) -> None:
    """get, set, ls, rm and cp work on an http:// store served by kv-flask."""
    from kv_core import MemoryDict
    from kv_flask import ServerThread

    backend = MemoryDict()
    with ServerThread(backend) as server:
        url = server.url
        assert run_kv("--url", url, "set", "remote/k", "-", stdin=b"\x00\xffv").returncode == 0
        assert backend["remote/k"] == b"\x00\xffv"
        assert run_kv("--url", url, "get", "remote/k").stdout == b"\x00\xffv"
        assert run_kv("--url", url, "ls", "remote/").stdout == b"remote/k\n"
        assert run_kv("cp", url, "memory://").returncode == 0
        assert run_kv("--url", url, "rm", "remote/k").returncode == 0
        assert run_kv("--url", url, "get", "remote/k").returncode == 3
    assert run_kv("--url", url, "get", "remote/k").returncode == 4


def test_cp_shows_progress_on_a_terminal(file_url: str, tmp_path: Path) -> None:
    """With stderr on a terminal, cp draws a progress bar there."""
    with open_store(file_url) as source:
        source.set_many({f"k{i}": b"v" for i in range(50)})
    run = run_on_terminal("cp", file_url, "memory://", cwd=tmp_path, stderr_on_terminal=True)
    assert run.returncode == 0
    assert b"copying" in run.terminal
    assert b"copied 50 keys" in run.terminal
