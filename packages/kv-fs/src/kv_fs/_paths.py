"""Where a FileSystemDict may keep its files: the checks made once, at construction."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import uuid

__all__ = ["StoragePaths", "default_scratch", "resolve_paths"]

logger = logging.getLogger(__name__)

_PROBE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def default_scratch(storage_path: str) -> str:
    """The scratch directory used when a URL names none: ``<storage>.scratch`` beside it."""
    storage = os.path.abspath(storage_path)
    return f"{storage.rstrip(os.sep) or os.sep}.scratch"


class StoragePaths:
    """The resolved storage and scratch directories, checked to be usable together.

    :param storage: The storage directory, absolute with symlinks resolved.
    :param scratch: The scratch directory, absolute with symlinks resolved.
    """

    __slots__ = ("scratch", "storage")

    def __init__(self, storage: str, scratch: str) -> None:
        self.storage = storage
        self.scratch = scratch


def _refuse_nested(storage: str, scratch: str) -> None:
    if os.path.commonpath([storage, scratch]) == storage:
        where = "is the storage path" if scratch == storage else "is inside the storage path"
        msg = (
            f"scratch_path {scratch!r} {where} {storage!r} (symlinks resolved): scratch files "
            "would show up as keys. Put the scratch directory outside the storage directory "
            f"on the same file system, e.g. {default_scratch(storage)!r}"
        )
        raise ValueError(msg)


def resolve_paths(
    storage_path: str | os.PathLike[str], scratch_path: str | os.PathLike[str]
) -> StoragePaths:
    """Resolve, check and create the two directories.

    :raises ValueError: the scratch directory is the storage directory or inside it, or a
        file cannot be renamed from it into the storage directory (different file systems, or
        two mounts of one file system: ``os.replace`` would fail with ``EXDEV``).
    """
    storage = os.path.realpath(os.fspath(storage_path))
    scratch = os.path.realpath(os.fspath(scratch_path))
    # Check before creating anything, so a refused scratch path is never made inside storage.
    _refuse_nested(storage, scratch)
    _refuse_other_device(storage, scratch)
    os.makedirs(storage, exist_ok=True)
    os.makedirs(scratch, exist_ok=True)
    # Again now that both exist: a component created meanwhile may be a symlink.
    storage = os.path.realpath(storage)
    scratch = os.path.realpath(scratch)
    _refuse_nested(storage, scratch)
    _refuse_other_device(storage, scratch)
    _refuse_unrenamable(storage, scratch)
    return StoragePaths(storage, scratch)


def _device(path: str) -> int:
    # The device of the nearest existing directory: where a missing one would be created.
    while True:
        try:
            return os.stat(path).st_dev
        except FileNotFoundError:
            parent = os.path.dirname(path)
            if parent == path:
                raise
            path = parent


def _refuse_other_device(storage: str, scratch: str) -> None:
    storage_dev = _device(storage)
    scratch_dev = _device(scratch)
    if storage_dev != scratch_dev:
        msg = (
            f"scratch_path {scratch!r} and storage_path {storage!r} are on different file "
            f"systems (st_dev {scratch_dev} and {storage_dev}): os.replace could not move a "
            "finished value into place atomically. Put the scratch directory on the storage "
            f"directory's file system, e.g. {default_scratch(storage)!r}"
        )
        raise ValueError(msg)


def _refuse_unrenamable(storage: str, scratch: str) -> None:
    # The same st_dev is not enough: two bind mounts of one file system share it, and a
    # rename between them fails with EXDEV. So try the rename every write will make.
    token = uuid.uuid4().hex
    source = os.path.join(scratch, f"kvfs-probe-{token}.tmp")
    # No key may hold a backslash: listing skips this name and no key can reach it.
    target = os.path.join(storage, f"kvfs-probe\\{token}")
    try:
        os.close(os.open(source, _PROBE_FLAGS, 0o600))
    except OSError:
        # Read-only or full: reads still work, and each write will report the errno.
        logger.debug("cannot create a probe file in %s", scratch, exc_info=True)
        return
    try:
        os.rename(source, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(source)
        if exc.errno != errno.EXDEV:
            logger.debug("cannot rename a probe file into %s", storage, exc_info=True)
            return
        msg = (
            f"scratch_path {scratch!r} and storage_path {storage!r} are on different mounts: "
            "a file cannot be renamed from one into the other (EXDEV; two bind mounts of one "
            "file system count as different), so no value could be stored. Put the scratch "
            f"directory on the storage directory's mount, e.g. {default_scratch(storage)!r}"
        )
        raise ValueError(msg) from None
    with contextlib.suppress(OSError):
        os.unlink(target)
