"""Writes that create a key: one no-replace rename where the kernel has it, and the checked
rename of an existing name otherwise, with the same outcome either way."""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kv_core import InvalidKeyError, KeyConflictError
from kv_fs import FileSystemDict, _noreplace

from .conftest import Factory


@pytest.fixture(params=["renameat2", "portable", "refused by the file system"])
def creator(
    request: pytest.FixtureRequest, make_store: Factory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FileSystemDict]:
    """A store whose creates use renameat2, the portable path, or meet a refusing FS."""
    if request.param == "renameat2" and _noreplace._State.call is None:
        pytest.skip("renameat2 is not available here")
    if request.param == "portable":
        monkeypatch.setattr(_noreplace._State, "call", None)
    if request.param == "refused by the file system":

        def refuse(*_: object) -> int:
            ctypes.set_errno(errno.EINVAL)
            return -1

        monkeypatch.setattr(_noreplace._State, "call", refuse)
    yield make_store()
    if request.param == "refused by the file system":
        assert _noreplace._State.call is refuse, "a refusing file system must not disable it"


def _scratch_is_empty(store: FileSystemDict) -> bool:
    return os.listdir(store.scratch_path) == []


def test_nested_create_when_the_parent_exists(creator: FileSystemDict) -> None:
    """A new key beside another in an existing directory is created; nothing is left over."""
    creator["a/b/one"] = b"1"
    creator["a/b/two"] = b"2"
    assert creator["a/b/two"] == b"2"
    assert sorted(creator) == ["a/b/one", "a/b/two"]
    assert _scratch_is_empty(creator)


def test_nested_create_when_the_parents_do_not_exist(creator: FileSystemDict) -> None:
    """Missing directories at every depth are made, then the key is created in them."""
    creator["x"] = b"0"
    creator["p/q/r/s"] = b"deep"
    creator["p/other"] = b"side"
    assert Path(creator.path, "p/q/r/s").read_bytes() == b"deep"
    assert sorted(creator) == ["p/other", "p/q/r/s", "x"]
    assert _scratch_is_empty(creator)


def test_overwrite_replaces_the_value(creator: FileSystemDict) -> None:
    """An existing key is replaced: the name exists, so the checked rename does it."""
    creator["a/k"] = b"old"
    creator["a/k"] = b"new"
    creator["top"] = b"old"
    creator["top"] = b""
    assert (creator["a/k"], creator["top"]) == (b"new", b"")
    assert _scratch_is_empty(creator)


def test_a_symlink_at_the_name_is_refused_and_left_alone(
    creator: FileSystemDict, tmp_path: Path
) -> None:
    """A symlink planted where a key goes is neither followed nor replaced."""
    target = tmp_path / "target"
    target.write_bytes(b"outside")
    os.mkdir(Path(creator.path, "d"))
    os.symlink(target, Path(creator.path, "d/link"))
    with pytest.raises(InvalidKeyError):
        creator["d/link"] = b"x"
    assert Path(creator.path, "d/link").is_symlink()
    assert target.read_bytes() == b"outside"
    assert _scratch_is_empty(creator)


def test_a_fifo_at_the_name_is_refused(creator: FileSystemDict) -> None:
    """A FIFO where a key goes is not a value and is not replaced."""
    os.mkfifo(Path(creator.path, "pipe"))
    with pytest.raises(InvalidKeyError):
        creator["pipe"] = b"x"
    assert Path(creator.path, "pipe").is_fifo()


def test_directories_at_the_name(creator: FileSystemDict) -> None:
    """An empty directory (a killed writer's) gives way; one holding keys is a conflict."""
    os.makedirs(Path(creator.path, "n/empty"))
    creator["n/empty"] = b"now a key"
    assert creator["n/empty"] == b"now a key"
    creator["m/full/k"] = b"1"
    with pytest.raises(KeyConflictError):
        creator["m/full"] = b"x"
    assert creator["m/full/k"] == b"1"
    assert _scratch_is_empty(creator)


def test_missing_renameat2_is_not_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSYS (no such call in this kernel or sandbox) switches the no-replace path off."""
    calls: list[object] = []

    def missing(*args: object) -> int:
        calls.append(args)
        ctypes.set_errno(errno.ENOSYS)
        return -1

    monkeypatch.setattr(_noreplace._State, "call", missing)
    assert _noreplace.rename_noreplace(-1, "a", -1, "b") is None
    assert _noreplace.rename_noreplace(-1, "a", -1, "b") is None
    assert len(calls) == 1


def test_creates_and_overwrites_in_any_order(creator: FileSystemDict) -> None:
    """Whichever way the last write went, the next create, overwrite or refusal is right."""
    os.mkfifo(Path(creator.path, "fifo"))
    steps = ["a", "a", "b", "b", "fifo", "c", "fifo", "c", "c", "d/e", "d/e", "d/f", "fifo"]
    model: dict[str, bytes] = {}
    for index, key in enumerate(steps):
        value = str(index).encode()
        if key == "fifo":
            with pytest.raises(InvalidKeyError):
                creator[key] = value
            continue
        creator[key] = value
        model[key] = value
    assert dict(creator.items()) == model
    assert _scratch_is_empty(creator)
