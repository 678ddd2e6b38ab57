"""Options are validated, the URL goes before or after the command, failures help."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kv_core import open_store, registered_schemes
from kv_dev.services import MYSQL, REDIS, port_open, unique_name

from .conftest import REDIS_URL, Run

MYSQL_URL = MYSQL.url


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["serve", "memory://", "--port", "80000"], "--port"),
        (["serve", "memory://", "--port", "65536"], "--port"),
        (["serve", "memory://", "--port", "-1"], "--port"),
        (["serve", "memory://", "--threads", "0"], "--threads"),
        (["bench", "memory://", "--count", "0"], "--count"),
        (["bench", "memory://", "--count", "-5"], "--count"),
        (["bench", "memory://", "--size", "-1"], "--size"),
        (["cp", "memory://", "memory://", "--batch", "0"], "--batch"),
        (["--url", "memory://", "get", "k", "--at", "yesterday"], "--at"),
    ],
)
def test_out_of_range_options_are_usage_errors(run_kv: Run, args: list[str], option: str) -> None:
    """A value outside an option's range exits 2 naming the option, before doing anything."""
    result = run_kv(*args, timeout=30)
    assert result.returncode == 2, result.stderr
    assert option.encode() in result.stderr
    assert b"Traceback" not in result.stderr
    assert b"StatisticsError" not in result.stderr


def test_port_80000_listens_nowhere(run_kv: Run) -> None:
    """kv serve --port 80000 refuses, instead of listening on 80000 - 65536 = 14464."""
    was_open = port_open("127.0.0.1", 14464, timeout=0.2)
    assert run_kv("serve", "memory://", "--port", "80000", timeout=30).returncode == 2
    assert port_open("127.0.0.1", 14464, timeout=0.2) == was_open


def test_port_taken_is_one_clear_line(run_kv: Run) -> None:
    """A port another program holds: exit 1, saying so and pointing at --port."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_kv("serve", "memory://", "--port", str(port), timeout=30)
    assert result.returncode == 1
    assert b"already in use" in result.stderr
    assert b"--port" in result.stderr
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["get", "set", "rm", "ls", "history"])
def test_url_after_the_command(run_kv: Run, file_url: str, tmp_path: Path, command: str) -> None:
    """--url works after the subcommand as well as before it, and wins over the group's."""
    other = f"sqlite:///{tmp_path}/other.sqlite3"
    with open_store(file_url) as store:
        store["k"] = b"v"
    args = {"get": ["k"], "set": ["k", "w"], "rm": ["k"], "ls": [], "history": ["k"]}[command]
    result = run_kv("--url", other, command, "--url", file_url, *args)
    if command == "history":  # a file store keeps none: the message names that store
        assert result.returncode == 2
        assert b"file://" in result.stderr
        return
    assert result.returncode == 0, result.stderr
    with open_store(file_url) as store:
        assert store.get("k") == {"get": b"v", "set": b"w", "rm": None, "ls": b"v"}[command]
    assert not (tmp_path / "other.sqlite3").exists()


def test_url_after_the_command_for_bench_and_check(run_kv: Run, file_url: str) -> None:
    """bench and check take --url after the command instead of the URL argument."""
    assert run_kv("bench", "--url", file_url, "--count", "3").returncode == 0
    assert file_url.encode() in run_kv("bench", "--url", file_url, "--count", "3").stdout
    result = run_kv("check", "--url", "memory://", "--quick", "-k", "test_set_then_get")
    assert result.returncode == 0, result.stderr


def test_url_twice_is_a_usage_error(run_kv: Run) -> None:
    """A URL argument and a different --url after the command: exit 2."""
    result = run_kv("bench", "memory://", "--url", "memory://?x=1")
    assert result.returncode == 2
    assert b"once" in result.stderr


def test_python_m_kv_cli(file_url: str, tmp_path: Path) -> None:
    """python -m kv_cli is the kv command."""
    env = {k: v for k, v in os.environ.items() if k != "KV_URL"}
    run = [sys.executable, "-m", "kv_cli", "--url", file_url]
    assert (
        subprocess.run([*run, "set", "k", "v"], cwd=tmp_path, env=env, check=False).returncode == 0
    )
    got = subprocess.run(
        [*run, "get", "k"], cwd=tmp_path, env=env, capture_output=True, check=False
    )
    assert (got.returncode, got.stdout) == (0, b"v")
    usage = subprocess.run(
        [sys.executable, "-m", "kv_cli", "--help"], capture_output=True, check=False, env=env
    )
    assert usage.returncode == 0
    assert b"python -m kv_cli" in usage.stdout
    missing = subprocess.run([*run, "get", "nope"], capture_output=True, check=False, env=env)
    assert missing.returncode == 3


def test_help_lists_the_installed_schemes(run_kv: Run) -> None:
    """kv --help names every store URL scheme installed here."""
    out = run_kv("--help").stdout.decode()
    listed = " ".join(out.split("Store URL schemes installed here:", 1)[1].split())
    for scheme in registered_schemes():
        assert f"{scheme.replace('+*', '+DRIVER')}://" in listed
    assert "5 access denied" in " ".join(out.split())


def test_misspelt_scheme_suggests_and_lists(run_kv: Run) -> None:
    """A typo in the scheme: exit 2, the nearest scheme and the installed ones, one line."""
    result = run_kv("--url", "reddis://127.0.0.1/0", "get", "k")
    assert result.returncode == 2
    message = result.stderr.decode()
    assert "did you mean redis://?" in message
    assert "installed schemes: " in message
    assert "Traceback" not in message
    assert len(message.strip().splitlines()) == 1


def test_missing_driver_says_what_to_install(run_kv: Run) -> None:
    """A SQLAlchemy driver that is not installed: exit 2 and the pip command."""
    try:
        import psycopg2  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("psycopg2 is installed here")
    result = run_kv("--url", "postgresql+psycopg2://u@127.0.0.1:1/db", "get", "k")
    assert result.returncode == 2
    assert b"pip install psycopg2-binary" in result.stderr
    assert b"kv-sql[postgres]" in result.stderr


def test_sqlite_dialect_driver_and_postgres_urls(run_kv: Run, tmp_path: Path) -> None:
    """sqlite+pysqlite:// works like sqlite://."""
    url = f"sqlite+pysqlite:///{tmp_path}/kv.db"
    assert run_kv("--url", url, "set", "k", "v").returncode == 0
    assert run_kv("--url", f"sqlite:///{tmp_path}/kv.db", "get", "k").stdout == b"v"


def test_access_denied_exits_5(run_kv: Run, tmp_path: Path) -> None:
    """A refused login or a missing database is exit 5 'access denied', never 4."""
    REDIS.require()
    MYSQL.require()
    host = REDIS_URL.split("://", 1)[1].split("/", 1)[0]
    mysql_host = MYSQL_URL.split("@", 1)[1].split("/", 1)[0]
    for url in (
        f"redis://kv_no_such_user:s3cret@{host}/0",
        f"redis://{host}/9999",
        f"mysql+pymysql://kv_no_such_user:s3cret@{mysql_host}/test",
        f"mysql+pymysql://root@{mysql_host}/{unique_name('kv_no_such_db')}",
        f"sqlite:///{tmp_path}/no/such/folder/kv.db",
    ):
        result = run_kv("--url", url, "get", "k")
        assert result.returncode == 5, (url, result.stderr)
        assert b"access denied" in result.stderr
        assert b"s3cret" not in result.stderr
        assert b"unavailable" not in result.stderr
