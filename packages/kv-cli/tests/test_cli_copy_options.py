"""kv cp goes on past keys the target refuses (--skip-invalid) and can resume (--no-overwrite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kv_cli import copy_store
from kv_cli._copy import CopyRefused
from kv_core import MemoryDict, open_store

from .conftest import Run

# A file store refuses "..", a trailing "/", and a key that is also another key's folder.
REFUSED = {"bad/../escape", "trailing/", "dir"}


@pytest.fixture
def source(tmp_path: Path) -> str:
    """A SQLite store holding 300 good keys and three a file store refuses."""
    url = f"sqlite:///{tmp_path}/source.sqlite3"
    with open_store(url) as store:
        store.set_many({f"good/{i:03d}": f"v{i}".encode() for i in range(300)})
        store.set_many({"bad/../escape": b"x", "trailing/": b"x", "dir/leaf": b"x", "dir": b"x"})
    return url


def test_refused_key_stops_the_copy_with_a_hint(run_kv: Run, source: str, file_url: str) -> None:
    """Without --skip-invalid the first refused key stops the copy: exit 2, naming it."""
    result = run_kv("cp", source, file_url)
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "refused the key" in err
    assert "--skip-invalid" in err
    assert "Traceback" not in err


def test_skip_invalid_copies_the_rest(run_kv: Run, source: str, file_url: str) -> None:
    """--skip-invalid lists each refused key, copies every other one, and exits 1."""
    result = run_kv("cp", "--skip-invalid", "--batch", "7", source, file_url)
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "the target refused 3 keys" in err
    for key in REFUSED - {"dir"}:
        assert f"refused {key!r}" in err
    with open_store(file_url) as target:
        copied = set(target)
    assert {f"good/{i:03d}" for i in range(300)} <= copied
    assert len(copied) == 301  # one of "dir" and "dir/leaf": whichever came first
    assert "copied 301 keys" in err


def test_no_overwrite_resumes_and_keeps_what_is_there(
    run_kv: Run, file_url: str, tmp_path: Path
) -> None:
    """--no-overwrite copies only the keys the target lacks and says how many it kept."""
    source = f"file://{tmp_path}/src?durable=0"
    with open_store(source) as store:
        store.set_many({f"k{i:03d}": b"new" for i in range(100)})
    with open_store(file_url) as target:
        target.set_many({f"k{i:03d}": b"old" for i in range(40)})
    result = run_kv("cp", "--no-overwrite", "--batch", "16", source, file_url)
    assert result.returncode == 0, result.stderr
    assert b"copied 60 keys" in result.stderr
    assert b"kept 40 keys" in result.stderr
    with open_store(file_url) as target:
        assert [target[f"k{i:03d}"] for i in range(100)] == [b"old"] * 40 + [b"new"] * 60
    again = run_kv("cp", "--no-overwrite", source, file_url)
    assert b"copied 0 keys" in again.stderr
    assert run_kv("cp", source, file_url).returncode == 0  # the default overwrites
    with open_store(file_url) as target:
        assert target["k000"] == b"new"


def test_copy_store_api() -> None:
    """copy_store reports copied, kept and refused keys; CopyRefused names the key."""
    source = MemoryDict({"a": b"1", "b": b"2", "c": b"3"})
    target = MemoryDict({"a": b"old"})
    result = copy_store(source, target, overwrite=False)
    assert (result.copied, result.kept, result.refused) == (2, 1, [])
    assert target["a"] == b"old"
    with open_store("memory://") as plain:
        assert copy_store(source, plain).copied == 3
    assert issubclass(CopyRefused, ValueError)
