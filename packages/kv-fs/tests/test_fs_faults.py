"""Faults the disk can raise: the errno reaches the caller, the old value stays, no temp file.

As root, permissions do not stop writes, and a full or read-only disk cannot be made inside a
test's temp dir, so these faults are injected by wrapping the os function in question; only
calls on the store's scratch files fail, everything else goes through.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kv_fs import FileSystemDict

Factory = Callable[..., FileSystemDict]


def _in_dir(fd: int, directory: str) -> bool:
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return False
    return target.startswith(directory + os.sep) or target == directory


def _fault(code: int) -> OSError:
    return OSError(code, os.strerror(code))


@pytest.fixture
def durable(make_store: Factory) -> FileSystemDict:
    """A durable store holding 'k' = b'old' and 'n/k' = b'old'."""
    store = make_store("durable", durable=True)
    store["k"] = b"old"
    store["n/k"] = b"old"
    return store


def _assert_unchanged(store: FileSystemDict) -> None:
    assert dict(store.items()) == {"k": b"old", "n/k": b"old"}
    assert os.listdir(store.scratch_path) == []
    assert sorted(os.listdir(store.path)) == ["k", "n"]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
@pytest.mark.parametrize("key", ["k", "n/k", "new", "new/dir/k"])
def test_enospc_on_write(
    durable: FileSystemDict, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    """A full disk raises OSError(ENOSPC); old values, and directories, are as they were."""
    real_write = os.write

    def write(fd: int, data: Any) -> int:
        if _in_dir(fd, durable.scratch_path):
            raise _fault(errno.ENOSPC)
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(OSError) as info:
        durable[key] = b"new value"
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    _assert_unchanged(durable)


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS, errno.ENOSPC])
@pytest.mark.parametrize("key", ["k", "n/k", "new/dir/k"])
def test_scratch_file_cannot_be_created(
    durable: FileSystemDict, monkeypatch: pytest.MonkeyPatch, code: int, key: str
) -> None:
    """EACCES, EROFS or ENOSPC creating the scratch file reach the caller unchanged."""
    real_open = os.open

    def fake_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            raise _fault(code)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    with pytest.raises(OSError) as info:
        durable[key] = b"new value"
    assert info.value.errno == code
    monkeypatch.undo()
    _assert_unchanged(durable)


@pytest.mark.parametrize("code", [errno.EACCES, errno.ENOSPC, errno.EROFS])
def test_directory_cannot_be_created(
    durable: FileSystemDict, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """A failing mkdir raises its errno and leaves no directory or scratch file."""
    real_mkdir = os.mkdir
    calls: list[str] = []

    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise _fault(code)
        real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    with pytest.raises(OSError) as info:
        durable["new/dir/k"] = b"new value"
    assert info.value.errno == code
    monkeypatch.undo()
    _assert_unchanged(durable)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
@pytest.mark.parametrize("key", ["k", "n/k", "new/k"])
def test_fsync_eio_is_not_retried(
    durable: FileSystemDict, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    """EIO from fsync of the value raises at once: no second fsync, old value kept."""
    real_fsync = os.fsync
    file_syncs: list[int] = []

    def fsync(fd: int) -> None:
        if _in_dir(fd, durable.scratch_path):
            file_syncs.append(fd)
            raise _fault(errno.EIO)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError) as info:
        durable[key] = b"new value"
    assert info.value.errno == errno.EIO
    assert len(file_syncs) == 1
    monkeypatch.undo()
    _assert_unchanged(durable)


def test_directory_fsync_eio_is_reported(
    durable: FileSystemDict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EIO from the directory fsync after the rename is raised, not swallowed or retried."""
    real_fsync = os.fsync
    calls: list[int] = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the first is the value's, the second its directory's
            raise _fault(errno.EIO)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError) as info:
        durable["k"] = b"new value"
    assert info.value.errno == errno.EIO
    assert len(calls) == 2
    monkeypatch.undo()
    assert os.listdir(durable.scratch_path) == []


def test_no_fsync_when_not_durable(make_store: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """durable=False never calls fsync."""
    store = make_store()

    def fsync(fd: int) -> None:
        pytest.fail("fsync called on a store with durable=False")

    monkeypatch.setattr(os, "fsync", fsync)
    store["a/b"] = b"v"
    del store["a/b"]


def test_durable_write_syncs_value_and_new_directories(
    make_store: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A durable write fsyncs the value, its directory, and the parents of new directories."""
    store = make_store(durable=True)
    real_fsync = os.fsync
    synced: list[str] = []

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    store["a/b/k"] = b"v"
    root = store.path
    assert synced[0].startswith(store.scratch_path + os.sep)
    assert synced[1:] == [f"{root}/a/b", f"{root}/a", root]
    synced.clear()
    store["a/b/k"] = b"w"
    assert synced[1:] == [f"{root}/a/b"]


def test_short_writes_are_completed(make_store: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """os.write writing less than asked is called again until the value is whole."""
    store = make_store()
    real_write = os.write

    def write(fd: int, data: Any) -> int:
        return real_write(fd, bytes(data[:7]))

    monkeypatch.setattr(os, "write", write)
    value = os.urandom(100)
    store["k"] = value
    monkeypatch.undo()
    assert store["k"] == value


def test_fault_during_pop_keeps_the_value(
    make_store: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If reading a claimed value fails, pop raises and the value is put back."""
    store = make_store()
    store["d/k"] = b"keep me"
    real_read: Callable[[int, int], bytes] = os.read

    def read(fd: int, size: int) -> bytes:
        if _in_dir(fd, store.scratch_path):
            raise _fault(errno.EIO)
        return real_read(fd, size)

    monkeypatch.setattr(os, "read", read)
    with pytest.raises(OSError) as info:
        store.pop("d/k")
    assert info.value.errno == errno.EIO
    monkeypatch.undo()
    assert store["d/k"] == b"keep me"
    assert os.listdir(store.scratch_path) == []
