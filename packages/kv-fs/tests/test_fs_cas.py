"""Compare-and-set on FileSystemDict: lock files, 0.3 layouts, symlinks, key conflicts."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kv_core import ConflictError, InvalidKeyError, KeyConflictError
from kv_fs import FileSystemDict
from kv_fs._locks import LOCK_PREFIX, LOCK_SUFFIX, key_lock, lock_name

from .conftest import Factory


def test_lock_files_live_in_scratch_only(store: FileSystemDict) -> None:
    """set_if leaves a lock file in the scratch directory, none in storage, none listed."""
    store.set_if("a/b", b"1", version=None)
    scratch = sorted(os.listdir(store.scratch_path))
    assert scratch == [lock_name("a/b")]
    assert scratch[0].startswith(LOCK_PREFIX)
    assert scratch[0].endswith(LOCK_SUFFIX)
    assert list(store) == ["a/b"]
    assert sorted(os.listdir(store.path)) == ["a"]


def test_remove_stale_scratch_keeps_lock_files(store: FileSystemDict) -> None:
    """remove_stale_scratch never deletes a lock file, however old."""
    store.set_if("k", b"1", version=None)
    lock = Path(store.scratch_path) / lock_name("k")
    os.utime(lock, (0, 0))
    assert store.remove_stale_scratch(older_than=0) == 0
    assert lock.exists()


def test_files_written_without_kv_fs_have_versions(store: FileSystemDict) -> None:
    """A value file put in place by hand (or by kv-fs 0.3) has a version, and set_if works."""
    (Path(store.path) / "dir").mkdir()
    (Path(store.path) / "dir" / "old").write_bytes(b"from 0.3")
    value, version = store.get_with_version("dir/old")
    assert value == b"from 0.3"
    store.set_if("dir/old", b"new", version=version)
    assert (Path(store.path) / "dir" / "old").read_bytes() == b"new"


def test_versions_agree_across_handles(make_store: Factory) -> None:
    """Two stores on one directory read the same version and honour each other's writes."""
    first = make_store()
    second = FileSystemDict(first.path, first.scratch_path)
    try:
        version = first.set_if("k", b"1", version=None)
        assert second.get_with_version("k") == (b"1", version)
        second.set_if("k", b"2", version=version)
        with pytest.raises(ConflictError):
            first.set_if("k", b"3", version=version)
        assert first["k"] == b"2"
    finally:
        second.close()


def test_symlinked_keys_are_refused(store: FileSystemDict, tmp_path: Path) -> None:
    """A key through a planted symlink is refused by every CAS call; the target is untouched."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"keep")
    (Path(store.path) / "link").symlink_to(outside, target_is_directory=True)
    (Path(store.path) / "flink").symlink_to(outside / "secret")
    for key in ("link/secret", "flink"):
        with pytest.raises(InvalidKeyError):
            store.get_with_version(key)
        with pytest.raises(InvalidKeyError):
            store.set_if(key, b"x", version=None)
        with pytest.raises(InvalidKeyError):
            store.delete_if(key, version="0" * 32)
    assert (outside / "secret").read_bytes() == b"keep"
    assert sorted(os.listdir(outside)) == ["secret"]


def test_traversal_keys_are_refused_before_the_disk(store: FileSystemDict) -> None:
    """`..` and absolute keys raise InvalidKeyError from every CAS call, creating nothing."""
    for key in ("../up", "/abs", "a/../b"):
        with pytest.raises(InvalidKeyError):
            store.set_if(key, b"x", version=None)
        with pytest.raises(InvalidKeyError):
            store.get_with_version(key)
        with pytest.raises(InvalidKeyError):
            store.delete_if(key, version="0" * 32)
    assert os.listdir(store.scratch_path) == []


def test_key_that_is_a_directory_conflicts_as_a_write_does(store: FileSystemDict) -> None:
    """set_if of a key holding other keys raises KeyConflictError and changes nothing."""
    store["a/b"] = b"1"
    with pytest.raises(KeyConflictError):
        store.set_if("a", b"x", version=None)
    with pytest.raises(KeyError):
        store.get_with_version("a")
    assert dict(store.items()) == {"a/b": b"1"}


def test_lock_excludes_other_threads(store: FileSystemDict) -> None:
    """While one thread holds a key's lock, set_if of that key in another thread waits."""
    store["k"] = b"0"
    _, version = store.get_with_version("k")
    done = threading.Event()

    def write() -> None:
        store.set_if("k", b"1", version=version)
        done.set()

    scratch = os.open(store.scratch_path, os.O_RDONLY)
    try:
        with key_lock(scratch, "k"):
            thread = threading.Thread(target=write)
            thread.start()
            assert not done.wait(0.3), "set_if did not wait for the lock"
            assert store["k"] == b"0"
        thread.join(10)
    finally:
        os.close(scratch)
    assert done.is_set()
    assert store["k"] == b"1"


# The other process takes the key's lock, says so, and holds it until its stdin closes. A
# script, not a function here: a spawned child cannot import a test module by the name
# pytest gave it.
_HOLD_LOCK = """
import os, sys
from kv_fs._locks import key_lock
fd = os.open(sys.argv[1], os.O_RDONLY)
with key_lock(fd, sys.argv[2]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_lock_excludes_other_processes(store: FileSystemDict) -> None:
    """While another process holds a key's lock, set_if here waits, then writes."""
    store["k"] = b"0"
    _, version = store.get_with_version("k")
    done = threading.Event()

    def write() -> None:
        store.set_if("k", b"1", version=version)
        done.set()

    writer = threading.Thread(target=write)
    command = [sys.executable, "-c", _HOLD_LOCK, str(store.scratch_path), "k"]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdin is not None
        assert holder.stdout is not None
        try:
            assert holder.stdout.readline() == "held\n"
            writer.start()
            assert not done.wait(0.3), "set_if did not wait for the other process's lock"
            assert store["k"] == b"0"
        finally:
            holder.stdin.close()
            assert holder.wait(60) == 0
            if writer.ident is not None:  # started
                writer.join(60)
    assert done.is_set()
    assert store["k"] == b"1"
