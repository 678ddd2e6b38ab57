"""Real file-system faults for tests: a disk that fills up, a read-only mount, a bind mount.

Each helper mounts something inside the test's own directory (it needs root, or
``CAP_SYS_ADMIN``, and the ``mount`` command) and unmounts it afterwards. Where mounting is
not possible the test is skipped, saying why: these are faults a test makes, not services a
machine provides.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["bind_mount", "tmpfs"]


def _run(command: str, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which(command)
    if binary is None:
        pytest.skip(f"this test mounts a file system, and there is no {command} command")
    # The arguments are this module's own options and the test's own paths.
    return subprocess.run([binary, *args], capture_output=True, text=True, check=False)  # noqa: S603


def _mount(*args: str) -> None:
    done = _run("mount", *args)
    if done.returncode != 0:
        reason = done.stderr.strip() or f"exit status {done.returncode}"
        pytest.skip(f"this test mounts a file system, which is not allowed here: {reason}")


def _unmount(path: Path) -> None:
    if _run("umount", str(path)).returncode != 0:
        # Something still holds a file open on it (a leaked descriptor is the test's to
        # find, not this helper's): detach it now, the kernel frees it when that closes.
        _run("umount", "-l", str(path))


@contextlib.contextmanager
def tmpfs(path: str | os.PathLike[str], size: int, *, inodes: int | None = None) -> Iterator[Path]:
    """Mount a tmpfs of *size* bytes (rounded up to pages) at *path*, created if missing.

    Writing more than *size* fails with ``ENOSPC``, as on a full disk; so does creating a
    file or directory beyond *inodes* entries, when given.
    """
    where = Path(path)
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0777" + (f",nr_inodes={inodes}" if inodes else "")
    _mount("-t", "tmpfs", "-o", options, "tmpfs", str(where))
    try:
        yield where
    finally:
        _unmount(where)


@contextlib.contextmanager
def bind_mount(
    source: str | os.PathLike[str], path: str | os.PathLike[str], *, read_only: bool = False
) -> Iterator[Path]:
    """Mount the directory *source* a second time at *path* (created if missing).

    Both show the same files on the same file system (the same ``st_dev``), yet a rename
    from one into the other fails with ``EXDEV``. With *read_only*, writes through *path*
    fail with ``EROFS`` while *source* stays writable.
    """
    where = Path(path)
    where.mkdir(parents=True, exist_ok=True)
    _mount("--bind", str(source), str(where))
    try:
        if read_only and _run("mount", "-o", "remount,ro,bind", str(where)).returncode != 0:
            pytest.skip("this test needs a read-only bind mount, which is not allowed here")
        yield where
    finally:
        _unmount(where)
