"""Read-only databases: a SQLite file on a read-only mount or opened with ``mode=ro``, and
servers that refuse writes, serve reads and snapshots; every write raises ReadOnlyError."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kv_core import ReadOnlyError, open_store
from kv_core.conformance.faults import bind_mount
from kv_sql import GenericSqlDict

WRITES: dict[str, Callable[[GenericSqlDict], object]] = {
    "setitem": lambda s: s.__setitem__("k", b"new"),
    "delitem": lambda s: s.__delitem__("k"),
    "pop": lambda s: s.pop("k"),
    "set_many": lambda s: s.set_many({"k": b"new"}),
    "delete_many": lambda s: s.delete_many(["k"]),
    "clear": lambda s: s.clear(),
}


def _make_database(directory: Path) -> Path:
    """A SQLite file (WAL, closed cleanly: no -shm file left) holding k = v."""
    directory.mkdir(parents=True, exist_ok=True)
    with GenericSqlDict(f"sqlite:///{directory}/kv.db", "kv") as store:
        store["k"] = b"v"
        store["j"] = b"w"
    assert not (directory / "kv.db-shm").exists()
    return directory / "kv.db"


def _check_read_only(store: GenericSqlDict) -> None:
    assert store["k"] == b"v"
    assert sorted(store) == ["j", "k"]
    assert [version.value for version in store.history("k")] == [b"v"]
    with store.snapshot(datetime.now(UTC)) as past:
        assert past["k"] == b"v"
    for name, write in WRITES.items():
        with pytest.raises(ReadOnlyError):
            write(store)
        assert store["k"] == b"v", name


@pytest.mark.parametrize(
    "url",
    ["sqlite:///{path}?mode=ro", "sqlite:///file:{path}?mode=ro&uri=true"],
    ids=["mode=ro", "uri"],
)
def test_mode_ro_url(tmp_path: Path, url: str) -> None:
    """``mode=ro`` opens an existing file for reading; writes raise ReadOnlyError."""
    path = _make_database(tmp_path)
    before = path.read_bytes()
    with GenericSqlDict(url.format(path=path), "kv") as store:
        _check_read_only(store)
    assert path.read_bytes() == before


def test_mode_ro_by_store_url(tmp_path: Path) -> None:
    """open_store passes mode=ro on, and the store is read-only."""
    path = _make_database(tmp_path)
    with open_store(f"sqlite:///{path}?table=kv&mode=ro") as store:
        assert isinstance(store, GenericSqlDict)
        _check_read_only(store)


def test_file_on_a_read_only_mount(tmp_path: Path) -> None:
    """A WAL database on a read-only file system opens, reads and snapshots."""
    _make_database(tmp_path / "rw")
    with (
        bind_mount(tmp_path / "rw", tmp_path / "ro", read_only=True) as mounted,
        GenericSqlDict(f"sqlite:///{mounted}/kv.db", "kv") as store,
    ):
        _check_read_only(store)


def test_read_only_database_without_the_table(tmp_path: Path) -> None:
    """A read-only database cannot get the table created: a clear ValueError."""
    path = _make_database(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        GenericSqlDict(f"sqlite:///{path}?mode=ro", "other")


@pytest.mark.parametrize(
    ("name", "connect_args"),
    [
        ("mariadb", {"init_command": "SET SESSION TRANSACTION READ ONLY"}),
        ("postgres", {"options": "-c default_transaction_read_only=on"}),
    ],
)
def test_server_refusing_writes(
    name: str, connect_args: dict[str, str], server_backend_factory: Any
) -> None:
    """A server that refuses writes (read-only sessions, as on a replica): ReadOnlyError."""
    backend = server_backend_factory(name)
    table = backend.new_table()
    writer = backend.store(table)
    writer["k"] = b"v"
    writer["j"] = b"w"
    reader = backend.store(table, engine_kwargs={"connect_args": connect_args})
    assert reader["k"] == b"v"
    for operation, write in WRITES.items():
        with pytest.raises(ReadOnlyError):
            write(reader)
        assert reader["k"] == b"v", operation
