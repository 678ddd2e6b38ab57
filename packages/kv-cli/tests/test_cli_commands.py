"""Every kv command, through the real console script."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from kv_cli import DEFAULT_URL

from .conftest import Run


def test_set_get_rm_round_trip(run_kv: Run, file_url: str) -> None:
    """set, get and rm work on a file store; rm of a missing key exits 3."""
    assert run_kv("--url", file_url, "set", "greeting", "hello").returncode == 0
    got = run_kv("--url", file_url, "get", "greeting")
    assert (got.returncode, got.stdout) == (0, b"hello")
    assert run_kv("--url", file_url, "rm", "greeting").returncode == 0
    assert run_kv("--url", file_url, "rm", "greeting").returncode == 3
    missing = run_kv("--url", file_url, "get", "greeting")
    assert missing.returncode == 3
    assert b"no such key" in missing.stderr


def test_binary_value_round_trips_through_stdin(run_kv: Run, file_url: str) -> None:
    """Every byte value goes in through `set KEY -` and out through `get` unchanged."""
    value = bytes(range(256)) * 64 + os.urandom(4096)
    assert run_kv("--url", file_url, "set", "blob", "-", stdin=value).returncode == 0
    assert run_kv("--url", file_url, "get", "blob").stdout == value
    assert run_kv("--url", file_url, "set", "blob2", stdin=b"").returncode == 0
    assert run_kv("--url", file_url, "get", "blob2").stdout == b""


def test_json_output(run_kv: Run, file_url: str) -> None:
    """--json gives text values as text, binary values as base64, and key lists."""
    run_kv("--url", file_url, "set", "text", "h\u00e9llo")
    run_kv("--url", file_url, "set", "bin", "-", stdin=b"\xff\x00")
    text = json.loads(run_kv("--url", file_url, "get", "--json", "text").stdout)
    assert text == {"key": "text", "encoding": "utf-8", "value": "h\u00e9llo"}
    binary = json.loads(run_kv("--url", file_url, "get", "--json", "bin").stdout)
    assert binary["encoding"] == "base64"
    assert base64.b64decode(binary["value"]) == b"\xff\x00"
    assert json.loads(run_kv("--url", file_url, "ls", "--json").stdout) == ["bin", "text"]


def test_ls_with_prefix(run_kv: Run, file_url: str) -> None:
    """ls lists sorted keys, and only those under the prefix when one is given."""
    for key in ("app/a", "app/b", "apple", "b"):
        run_kv("--url", file_url, "set", key, "v")
    assert run_kv("--url", file_url, "ls").stdout.decode().split() == [
        "app/a",
        "app/b",
        "apple",
        "b",
    ]
    assert run_kv("--url", file_url, "ls", "app/").stdout.decode().split() == ["app/a", "app/b"]


def test_url_from_environment(run_kv: Run, file_url: str) -> None:
    """KV_URL names the store when --url is absent."""
    assert run_kv("set", "k", "v", env={"KV_URL": file_url}).returncode == 0
    assert run_kv("--url", file_url, "get", "k").stdout == b"v"


def test_default_store_is_a_sqlite_file_here(run_kv: Run, tmp_path: Path) -> None:
    """With no URL at all, kv uses kv.sqlite3 in the current folder."""
    assert DEFAULT_URL.startswith("sqlite:")
    assert run_kv("set", "k", "v").returncode == 0
    assert (tmp_path / "kv.sqlite3").is_file()
    assert run_kv("get", "k").stdout == b"v"


def test_invalid_key_is_a_usage_error(run_kv: Run, file_url: str) -> None:
    """A key the store refuses exits 2 with the reason, and writes nothing."""
    result = run_kv("--url", file_url, "set", "../escape", "v")
    assert result.returncode == 2
    assert b"escape" in result.stderr
    assert run_kv("--url", file_url, "ls").stdout == b""


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["frobnicate"], 2),
        (["get"], 2),
        (["--url", "nosuch://x", "get", "k"], 2),
        (["--url", "memory://?bogus=1", "get", "k"], 2),
        (["--url", "redis://127.0.0.1:1/0", "get", "k"], 4),
        (["--url", "memory://", "get", "k"], 3),
        (["--url", "memory://", "set", "k", "v"], 0),
    ],
)
def test_exit_codes(run_kv: Run, args: list[str], code: int) -> None:
    """0 ok, 2 usage, 3 not found, 4 unavailable."""
    assert run_kv(*args).returncode == code


def test_unavailable_store_says_so(run_kv: Run) -> None:
    """A server that is down exits 4 with 'unavailable', never 'no such key'."""
    result = run_kv("--url", "redis://127.0.0.1:1/0", "get", "k")
    assert result.returncode == 4
    assert b"unavailable" in result.stderr
    assert b"no such key" not in result.stderr


def test_redis_store(run_kv: Run, redis_url: str) -> None:
    """The command works against Redis with a key prefix."""
    assert run_kv("--url", redis_url, "set", "k", "-", stdin=b"\x00v").returncode == 0
    assert run_kv("--url", redis_url, "get", "k").stdout == b"\x00v"
    assert run_kv("--url", redis_url, "ls").stdout == b"k\n"


def test_bench_prints_a_table(run_kv: Run, file_url: str) -> None:
    """kv bench prints median latencies and leaves no keys behind."""
    result = run_kv("--url", file_url, "bench", "--count", "20")
    assert result.returncode == 0
    out = result.stdout.decode()
    for name in ("set", "get", "in", "delete"):
        assert f"  {name}" in out
    assert run_kv("--url", file_url, "ls").stdout == b""


def test_version_and_help(run_kv: Run) -> None:
    """--version and --help answer with exit code 0."""
    assert run_kv("--version").returncode == 0
    help_text = run_kv("--help")
    assert help_text.returncode == 0
    assert b"Exit codes" in help_text.stdout
