"""kv history, kv get --at, and kv bench (percentiles, JSON, and what it leaves behind)."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .conftest import Run


@pytest.fixture
def sql_url(tmp_path: Path) -> str:
    """A SQLite store in this test's folder."""
    return f"sqlite:///{tmp_path}/history.sqlite3?table=kv"


def _rows(tmp_path: Path, like: str = "%") -> int:
    with sqlite3.connect(tmp_path / "history.sqlite3") as db:
        count: int = db.execute("SELECT COUNT(*) FROM kv WHERE label LIKE ?", (like,)).fetchone()[0]
    return count


def test_history_lists_every_version(run_kv: Run, sql_url: str) -> None:
    """kv history KEY: one line per version, oldest first, deletions included."""
    for value in ("one", "three"):
        assert run_kv("--url", sql_url, "set", "k", value).returncode == 0
    assert run_kv("--url", sql_url, "rm", "k").returncode == 0
    result = run_kv("--url", sql_url, "history", "k")
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.decode().splitlines()]
    assert [line[2] for line in lines] == ["3 bytes", "5 bytes", "deleted"]
    assert [int(line[0]) for line in lines] == sorted(int(line[0]) for line in lines)
    assert all(datetime.fromisoformat(line[1]).tzinfo is not None for line in lines)
    records = json.loads(run_kv("--url", sql_url, "history", "k", "--json").stdout)
    assert [r.get("value") for r in records] == ["one", "three", None]
    assert [r["deleted"] for r in records] == [False, False, True]


def test_history_of_a_key_never_written(run_kv: Run, sql_url: str) -> None:
    """A key with no history exits 3."""
    assert run_kv("--url", sql_url, "history", "never").returncode == 3


def test_get_at_a_time(run_kv: Run, sql_url: str) -> None:
    """kv get --at TIME reads the value as it was then; before any write, exit 3."""
    before = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    run_kv("--url", sql_url, "set", "k", "old")
    time.sleep(0.01)
    between = datetime.now(UTC).replace(tzinfo=None).isoformat()  # naive: UTC
    time.sleep(0.01)
    run_kv("--url", sql_url, "set", "k", "new")
    assert run_kv("--url", sql_url, "get", "k", "--at", between).stdout == b"old"
    assert run_kv("--url", sql_url, "get", "k").stdout == b"new"
    early = run_kv("--url", sql_url, "get", "k", "--at", before)
    assert early.returncode == 3
    assert b"no such key at" in early.stderr


@pytest.mark.parametrize("args", [["history", "k"], ["get", "k", "--at", "2026-01-01T00:00:00Z"]])
def test_stores_without_history_say_so(run_kv: Run, file_url: str, args: list[str]) -> None:
    """On a store that keeps no history: exit 2 with a message naming the store."""
    result = run_kv("--url", file_url, *args)
    assert result.returncode == 2
    assert b"keeps no history" in result.stderr
    assert b"FileSystemDict" in result.stderr


def test_bench_prints_p50_and_p99(run_kv: Run, file_url: str) -> None:
    """The table has a p50 (median) and a p99 column for every operation."""
    result = run_kv("--url", file_url, "bench", "--count", "20")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert "p50 (median)" in lines[1]
    assert "p99" in lines[1]
    rows = {line.split()[0]: line.split()[-2:] for line in lines[2:]}
    assert {"set", "get", "in", "get_many", "delete"} <= set(rows)
    for p50, p99 in rows.values():
        assert float(p50) <= float(p99)


def test_bench_json_with_one_sample(run_kv: Run, file_url: str) -> None:
    """--json gives the numbers; a single operation per measurement works too."""
    result = run_kv("--url", file_url, "bench", "--count", "1", "--size", "0", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["count"], document["size"]) == (1, 0)
    names = [row["name"] for row in document["operations"]]
    assert names == ["set", "get", "in", "get_many (10 keys)", "delete"]
    for row in document["operations"]:
        assert row["samples"] == 1
        assert 0 < row["p50_us"] <= row["p99_us"]


def test_bench_leaves_no_rows_behind(run_kv: Run, sql_url: str, tmp_path: Path) -> None:
    """On a store with history, bench removes its keys' rows too, not only the keys."""
    run_kv("--url", sql_url, "set", "mine", "kept")
    assert run_kv("--url", sql_url, "bench", "--count", "30").returncode == 0
    assert _rows(tmp_path, "kv-bench/%") == 0
    assert _rows(tmp_path) == 1
    assert run_kv("--url", sql_url, "get", "mine").stdout == b"kept"
