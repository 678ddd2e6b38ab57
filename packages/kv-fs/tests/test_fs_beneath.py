"""openat2 through ctypes: symlinks refused on the whole path, fallback when unsupported."""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kv_fs import FileSystemDict, _beneath

pytestmark = pytest.mark.skipif(not _beneath.available(), reason="no openat2 here")

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


@pytest.fixture
def root(tmp_path: Path) -> Iterator[int]:
    """A directory descriptor over a small tree with planted symlinks."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "a" / "flink").symlink_to(tmp_path / "a" / "b" / "f")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def test_opens_a_plain_path(root: int) -> None:
    """A path of real directories opens in one call."""
    fd = _beneath.open_beneath(root, "a/b/f", _FLAGS)
    assert fd >= 0
    try:
        assert os.read(fd, 10) == b"x"
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("link/b/f", errno.ELOOP),
        ("a/flink", errno.ELOOP),
        ("a/b/missing", errno.ENOENT),
        ("a/b/f/under-a-file", errno.ENOTDIR),
    ],
)
def test_errors(root: int, path: str, code: int) -> None:
    """A symlink anywhere gives ELOOP; the usual errors are raised as OSError."""
    with pytest.raises(OSError) as info:
        _beneath.open_beneath(root, path, _FLAGS)
    assert info.value.errno == code


def test_unsupported_kernel_falls_back(
    root: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """ENOSYS (old kernel, seccomp) turns openat2 off and the store keeps working."""

    def enosys(*args: Any) -> int:
        ctypes.set_errno(errno.ENOSYS)
        return -1

    monkeypatch.setattr(_beneath._State, "syscall", enosys)
    assert _beneath.open_beneath(root, "a/b/f", _FLAGS) == -1
    assert not _beneath.available()
    with FileSystemDict(tmp_path / "data", tmp_path / "scratch", durable=False) as store:
        store["x/y"] = b"v"
        assert store["x/y"] == b"v"
        assert "x/y" in store
