"""Where a FileSystemDict may keep its files: the checks made once, at construction."""

from __future__ import annotations

import os

__all__ = ["StoragePaths", "default_scratch", "resolve_paths"]


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

    :raises ValueError: the scratch directory is the storage directory or inside it, or the
        two are on different file systems (``os.replace`` between them would not be atomic).
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
