"""How keys map to files and directories: conflicts, pruning, scratch files, construction."""

from __future__ import annotations

import gc
import os
import pickle
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import kv_fs
from kv_core import InvalidKeyError, KeyConflictError
from kv_fs import SCRATCH_PREFIX, SCRATCH_SUFFIX, FileSystemDict

Factory = Callable[..., FileSystemDict]


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_exports_are_complete() -> None:
    """__all__ names every public name of kv_fs, sorted."""
    public = {name for name in dir(kv_fs) if not name.startswith("_")} | {"__version__"}
    assert set(kv_fs.__all__) == public
    assert kv_fs.__all__ == sorted(kv_fs.__all__)


def test_slash_makes_directories(store: FileSystemDict) -> None:
    """'a/b/c' is the file c in directories a/b, and only files are keys."""
    store["a/b/c"] = b"1"
    store["a/d"] = b"2"
    root = Path(store.path)
    assert (root / "a" / "b" / "c").read_bytes() == b"1"
    assert sorted(store) == ["a/b/c", "a/d"]
    assert "a" not in store
    assert "a/b" not in store
    with pytest.raises(KeyError):
        store["a/b"]
    with pytest.raises(KeyError):
        del store["a"]
    assert len(store) == 2


def test_file_then_directory_conflict(store: FileSystemDict) -> None:
    """Writing 'a/b' when 'a' holds a value raises KeyConflictError and changes nothing."""
    store["a"] = b"leaf"
    before = _files(Path(store.path))
    with pytest.raises(KeyConflictError, match="'a' is a key"):
        store["a/b"] = b"child"
    with pytest.raises(KeyConflictError):
        store["a/b/c"] = b"grandchild"
    assert _files(Path(store.path)) == before
    assert os.listdir(store.scratch_path) == []
    assert store["a"] == b"leaf"
    assert "a/b" not in store
    with pytest.raises(KeyError):
        store["a/b"]


def test_directory_then_file_conflict(store: FileSystemDict) -> None:
    """Writing 'a' when 'a/b' exists raises KeyConflictError and changes nothing."""
    store["a/b"] = b"child"
    before = _files(Path(store.path))
    with pytest.raises(KeyConflictError, match="directory holding other keys"):
        store["a"] = b"leaf"
    assert _files(Path(store.path)) == before
    assert os.listdir(store.scratch_path) == []
    assert dict(store.items()) == {"a/b": b"child"}


def test_delete_prunes_empty_directories(store: FileSystemDict) -> None:
    """Deleting the last key of a directory removes every directory left empty."""
    store["a/b/c"] = b"1"
    store["a/x"] = b"2"
    del store["a/b/c"]
    assert _files(Path(store.path)) == ["a", "a/x"]
    assert store.pop("a/x") == b"2"
    assert _files(Path(store.path)) == []
    store["a"] = b"a file now"
    assert store["a"] == b"a file now"


def test_delete_many_and_clear_prune(store: FileSystemDict) -> None:
    """Batch deletes and clear leave no empty directories behind."""
    store.set_many({f"d{i % 3}/e{i % 2}/k{i}": b"v" for i in range(12)})
    store.delete_many([f"d0/e{i % 2}/k{i}" for i in range(0, 12, 3)])
    assert not (Path(store.path) / "d0").exists()
    store.clear()
    assert _files(Path(store.path)) == []


def test_leftover_empty_directory_does_not_block_a_key(store: FileSystemDict) -> None:
    """An empty directory (a writer killed after mkdir) is no key and may become one."""
    (Path(store.path) / "ghost" / "deeper").mkdir(parents=True)
    assert list(store) == []
    assert "ghost" not in store
    store["ghost/deeper"] = b"file"
    store["ghost/other"] = b"x"
    assert sorted(store) == ["ghost/deeper", "ghost/other"]


def test_other_file_types_are_not_keys(store: FileSystemDict) -> None:
    """A FIFO in the storage directory is neither listed nor read (and does not hang)."""
    os.mkfifo(Path(store.path) / "fifo")
    assert list(store) == []
    assert "fifo" not in store
    with pytest.raises(KeyError):
        store["fifo"]


def test_scratch_orphans_are_never_keys(store: FileSystemDict) -> None:
    """Files left in the scratch directory are not listed; remove_stale_scratch clears them."""
    scratch = Path(store.scratch_path)
    old = scratch / f"{SCRATCH_PREFIX}dead-1-0{SCRATCH_SUFFIX}"
    new = scratch / f"{SCRATCH_PREFIX}dead-1-1{SCRATCH_SUFFIX}"
    unrelated = scratch / "someone-elses.txt"
    for path in (old, new, unrelated):
        path.write_bytes(b"partial")
    hour_ago = time.time() - 3700
    os.utime(old, (hour_ago, hour_ago))
    os.utime(unrelated, (hour_ago, hour_ago))
    store["k"] = b"v"
    assert list(store) == ["k"]
    assert store.remove_stale_scratch() == 1
    assert sorted(p.name for p in scratch.iterdir()) == sorted([new.name, unrelated.name])
    assert store.remove_stale_scratch(older_than=0) == 1
    assert [p.name for p in scratch.iterdir()] == [unrelated.name]
    assert store["k"] == b"v"


def test_writes_leave_scratch_empty(store: FileSystemDict) -> None:
    """Every finished write, pop and delete leaves nothing in the scratch directory."""
    store["a"] = b"1"
    store["b/c"] = b"2"
    store.pop("a")
    del store["b/c"]
    assert os.listdir(store.scratch_path) == []


def test_pop_survives_a_concurrent_stale_scratch_cleanup(
    make_store: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value pop has claimed is not stale scratch, however old the value is.

    pop renames the file into the scratch directory, which keeps its mtime; a cleanup run
    (by any process sharing the scratch directory) between the claim and the read must
    leave it alone, or the value would be gone and pop would raise KeyError.
    """
    store = make_store()
    other = make_store()  # another store sharing the scratch directory
    store["old"] = b"precious"
    store["d/old"] = b"deep"
    day_ago = time.time() - 86400
    for name in ("old", "d/old"):
        os.utime(Path(store.path) / name, (day_ago, day_ago))
    real_read_at = FileSystemDict._read_at.__func__  # type: ignore[attr-defined]
    cleaned: list[int] = []

    def read_at(cls: type[FileSystemDict], parent: int, name: str, key: str) -> bytes:
        if parent == store._scratch_fd:
            cleaned.append(other.remove_stale_scratch(older_than=3600))
        return real_read_at(cls, parent, name, key)  # type: ignore[no-any-return]

    monkeypatch.setattr(FileSystemDict, "_read_at", classmethod(read_at))
    assert store.pop("old") == b"precious"
    assert store.pop("d/old") == b"deep"
    assert cleaned == [0, 0]
    assert list(store) == []
    assert os.listdir(store.scratch_path) == []


def test_orphaned_pop_claims_are_removed_once_stale(store: FileSystemDict) -> None:
    """A claim left by a killed pop is aged from the claim, not from the value's write."""
    scratch = Path(store.scratch_path)
    now_ms = time.time_ns() // 1_000_000
    fresh = scratch / f"{SCRATCH_PREFIX}pop-{now_ms}-dead-1-0{SCRATCH_SUFFIX}"
    stale = scratch / f"{SCRATCH_PREFIX}pop-{now_ms - 3_700_000}-dead-1-1{SCRATCH_SUFFIX}"
    undated = scratch / f"{SCRATCH_PREFIX}pop-x-dead-1-2{SCRATCH_SUFFIX}"
    for path in (fresh, stale, undated):
        path.write_bytes(b"claimed value")
    day_ago = time.time() - 86400
    os.utime(fresh, (day_ago, day_ago))  # written long ago, claimed just now: kept
    os.utime(stale, (time.time(), time.time()))  # the claim's age counts, not the mtime
    assert store.remove_stale_scratch(older_than=3600) == 1
    assert sorted(p.name for p in scratch.iterdir()) == sorted([fresh.name, undated.name])
    os.utime(undated, (day_ago, day_ago))  # no time in the name: aged by its mtime
    assert store.remove_stale_scratch(older_than=3600) == 1
    assert store.remove_stale_scratch(older_than=0) == 1
    assert list(scratch.iterdir()) == []


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_unstarted_iterators_leak_no_descriptor(store: FileSystemDict) -> None:
    """An iterator made and dropped, never started, gives its directory descriptor back."""
    store.set_many({"a": b"1", "d/b": b"2", "d/e/c": b"3"})
    gc.collect()
    before = _open_fds()
    for _ in range(200):
        iter(store)
        store.keys_with_prefix("d/")
        store.keys_with_prefix("d/e/c")
        store.keys_with_prefix("missing/")
        it = iter(store)
        del it
    list(zip([], store, strict=False))  # zip takes the iterator, never calls next()
    gc.collect()
    assert _open_fds() == before


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_iterator_closes_on_exhaustion_and_close(store: FileSystemDict) -> None:
    """The descriptor goes back when the keys run out, on close(), and when dropped midway."""
    store.set_many({"a": b"1", "b/x": b"2", "c/y/z": b"3"})
    before = _open_fds()
    keys = iter(store)
    assert _open_fds() == before + 1
    assert sorted(keys) == ["a", "b/x", "c/y/z"]
    assert _open_fds() == before
    assert list(keys) == []
    partial = store.keys_with_prefix("")
    next(partial)
    assert _open_fds() == before + 1
    partial.close()  # type: ignore[attr-defined]
    partial.close()  # type: ignore[attr-defined]
    assert _open_fds() == before
    assert list(partial) == []
    midway = iter(store)
    next(midway)
    del midway
    assert _open_fds() == before


def test_listing_errors_are_raised_at_the_call(store: FileSystemDict) -> None:
    """A prefix through a key's file or a symlink fails at the call, not at next()."""
    store["f"] = b"file"
    os.symlink(store.path, Path(store.path) / "loop")
    with pytest.raises(InvalidKeyError):
        store.keys_with_prefix("loop/")
    assert list(store.keys_with_prefix("f/")) == []
    store.close()
    with pytest.raises(ValueError, match="closed"):
        iter(store)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_names_scratch_files_with_its_own_pid(store: FileSystemDict) -> None:
    """The cached process id is refreshed in a forked child."""
    parent_name = store._scratch_name()
    assert f"-{os.getpid()}-" in parent_name
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(write_end, store._scratch_name().encode())
        finally:
            os._exit(0)
    os.close(write_end)
    child_name = os.read(read_end, 4096).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    assert f"-{pid}-" in child_name
    assert f"-{os.getpid()}-" not in child_name


def test_durable_store_works(make_store: Factory) -> None:
    """A durable store writes, overwrites, pops and deletes nested keys."""
    store = make_store("durable", durable=True)
    assert store.durable
    store["x/y/z"] = b"1"
    store["x/y/z"] = b"2"
    store["w"] = b"3"
    assert store.pop("w") == b"3"
    del store["x/y/z"]
    assert list(store) == []
    assert os.listdir(store.path) == []


def test_values_reach_the_files(make_store: Factory, tmp_path: Path) -> None:
    """What is written is the file's content, readable by another store on the same path."""
    first = make_store()
    first["k"] = "text"
    first["n/k"] = bytes(range(256))
    assert (tmp_path / "data" / "k").read_bytes() == b"text"
    second = FileSystemDict(first.path, first.scratch_path)
    try:
        assert dict(second.items()) == {"k": b"text", "n/k": bytes(range(256))}
    finally:
        second.close()


def test_serializer(make_store: Factory) -> None:
    """serializer= and deserializer= are applied to every value."""
    store = make_store(serializer=lambda v: repr(v).encode(), deserializer=lambda b: b.decode())
    store["k"] = [1, 2]
    assert store["k"] == "[1, 2]"


def test_closed_store_refuses_work(store: FileSystemDict) -> None:
    """After close() an operation raises ValueError instead of using a recycled descriptor."""
    store["k"] = b"v"
    store.close()
    store.close()
    with pytest.raises(ValueError, match="closed"):
        store["k"]
    with pytest.raises(ValueError, match="closed"):
        store["k"] = b"w"
    with pytest.raises(ValueError, match="closed"):
        list(store)


def test_repr_and_pickle(store: FileSystemDict) -> None:
    """repr names both directories; pickling explains to pass a factory instead."""
    assert repr(store) == (
        f"FileSystemDict({store.path!r}, scratch={store.scratch_path!r}, durable=False)"
    )
    with pytest.raises(TypeError, match=r"functools\.partial"):
        pickle.dumps(store)


def test_paths_are_resolved(tmp_path: Path) -> None:
    """Storage and scratch are created if missing and reported with symlinks resolved."""
    (tmp_path / "real").mkdir()
    (tmp_path / "via").symlink_to(tmp_path / "real", target_is_directory=True)
    with FileSystemDict(tmp_path / "via" / "data", tmp_path / "via" / "tmp") as store:
        assert store.path == str((tmp_path / "real" / "data").resolve())
        assert store.scratch_path == str((tmp_path / "real" / "tmp").resolve())


@pytest.mark.parametrize("scratch", ["data", "data/tmp", "link/tmp"])
def test_scratch_inside_storage_is_refused(tmp_path: Path, scratch: str) -> None:
    """A scratch path inside the storage path (symlinks resolved) is refused, creating nothing."""
    (tmp_path / "data").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "data", target_is_directory=True)
    with pytest.raises(ValueError, match="outside the storage directory") as info:
        FileSystemDict(tmp_path / "data", tmp_path / scratch)
    assert "scratch" in str(info.value)
    assert os.listdir(tmp_path / "data") == []


@pytest.fixture
def other_device_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh directory on a file system other than tmp_path's (tmpfs /dev/shm)."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on a file system of its own")
    path = shm / f"kvfs-test-{uuid.uuid4().hex}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_scratch_on_another_file_system_is_refused(tmp_path: Path, other_device_dir: Path) -> None:
    """Scratch and storage on different st_dev are refused, saying what to do."""
    with pytest.raises(ValueError, match="different file systems") as info:
        FileSystemDict(tmp_path / "data", other_device_dir / "scratch")
    assert "Put the scratch directory on the storage directory" in str(info.value)
    assert not other_device_dir.exists()


def test_key_longer_than_path_max(store: FileSystemDict) -> None:
    """A key of many segments, longer than PATH_MAX as a whole, works on every operation."""
    key = "/".join([f"{n:02d}" + "x" * 198 for n in range(25)])
    assert len(key) > 4096
    store[key] = b"deep"
    assert key in store
    assert store[key] == b"deep"
    assert list(store) == [key]
    assert list(store.keys_with_prefix(key[:4000])) == [key]
    assert store.pop(key) == b"deep"
    assert list(store) == []
    assert os.listdir(store.path) == []


def test_names_no_key_can_have_are_not_listed(store: FileSystemDict) -> None:
    """Files planted with a backslash or undecodable bytes in the name are not keys."""
    root = os.fsencode(store.path)
    for name in (b"back\\slash", b"bad-\xff-utf8", b"ok"):
        with open(os.path.join(root, name), "wb") as file:
            file.write(b"planted")
    os.mkdir(os.path.join(root, b"dir-\xfe"))
    with open(os.path.join(root, b"dir-\xfe", b"inner"), "wb") as file:
        file.write(b"planted")
    assert list(store) == ["ok"]
    assert len(store) == 1
