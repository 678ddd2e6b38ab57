"""Real mounts: a tmpfs that fills up, two bind mounts of one file system, a read-only mount.

These need root (or CAP_SYS_ADMIN) to mount; elsewhere they skip, saying so.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from kv_core import KVError, OutOfSpaceError
from kv_core.conformance.faults import bind_mount, tmpfs
from kv_fs import FileSystemDict

VALUE = b"v" * 64 * 1024


def _fill(store: FileSystemDict, prefix: str = "fill") -> OutOfSpaceError:
    """Write values until the disk is full; return the error."""
    for number in range(1000):
        try:
            store[f"{prefix}/{number}"] = VALUE
        except OutOfSpaceError as exc:
            return exc
    raise AssertionError("the tiny file system never filled up")


@pytest.mark.parametrize("durable", [False, True])
def test_full_disk_raises_out_of_space(tmp_path: Path, durable: bool) -> None:
    """A full file system raises OutOfSpaceError (an OSError, ENOSPC), keeping old values."""
    with tmpfs(tmp_path / "disk", 512 * 1024) as disk:
        store = FileSystemDict(disk / "data", disk / "scratch", durable=durable)
        try:
            store["k"] = b"old"
            error = _fill(store)
            assert isinstance(error, OSError)
            assert isinstance(error, KVError)
            assert error.errno == errno.ENOSPC
            assert isinstance(error.__cause__, OSError)
            assert error.__cause__.errno == errno.ENOSPC
            with pytest.raises(OutOfSpaceError):
                store["k"] = VALUE
            assert store["k"] == b"old"
            assert os.listdir(disk / "scratch") == []
            store.delete_many(list(store.keys_with_prefix("fill/")))
            store["k"] = VALUE  # space freed: writes work again
            assert store["k"] == VALUE
        finally:
            store.close()


def test_no_inodes_left_is_out_of_space(tmp_path: Path) -> None:
    """A file system out of inodes fails the scratch file or directory: OutOfSpaceError too."""
    with tmpfs(tmp_path / "disk", 16 * 1024 * 1024, inodes=40) as disk:
        store = FileSystemDict(disk / "data", disk / "scratch")
        try:
            numbers = iter(range(100))
            with pytest.raises(OutOfSpaceError):  # noqa: PT012 - the error is the loop's end
                for number in numbers:
                    store[f"d{number}/k"] = b"x"
            assert next(numbers) < 60
            assert os.listdir(disk / "scratch") == []
        finally:
            store.close()


def test_scratch_on_another_mount_of_the_same_file_system_is_refused(tmp_path: Path) -> None:
    """Two bind mounts share st_dev, yet a rename between them fails: refused at once."""
    (tmp_path / "elsewhere").mkdir()
    with bind_mount(tmp_path / "elsewhere", tmp_path / "mounted") as mounted:
        assert os.stat(mounted).st_dev == os.stat(tmp_path).st_dev
        with pytest.raises(ValueError, match="different mounts") as info:
            FileSystemDict(tmp_path / "data", mounted / "scratch")
        assert "EXDEV" in str(info.value)
        assert list((tmp_path / "data").iterdir()) == []
        assert list((mounted / "scratch").iterdir()) == []


def test_store_on_a_read_only_mount_opens_for_reading(tmp_path: Path) -> None:
    """A read-only storage mount opens and reads; writes raise EROFS, nothing else breaks."""
    with FileSystemDict(tmp_path / "rw" / "data", tmp_path / "rw" / "data.scratch") as writer:
        writer["k"] = b"v"
    with (
        bind_mount(tmp_path / "rw", tmp_path / "ro", read_only=True) as ro,
        FileSystemDict(ro / "data", ro / "data.scratch") as reader,
    ):
        assert reader["k"] == b"v"
        assert list(reader) == ["k"]
        with pytest.raises(OSError) as info:
            reader["k"] = b"w"
        assert info.value.errno == errno.EROFS
