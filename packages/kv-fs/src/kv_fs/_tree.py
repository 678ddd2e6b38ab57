"""Directory work under the storage directory: walking a key's directories, making and
pruning them, and listing keys. Everything is relative to directory descriptors and never
follows a symlink (see the module docstring of ``_store``).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator

from kv_core import InvalidKeyError, KeyConflictError

from ._beneath import open_beneath

__all__ = [
    "DIRECTORY",
    "DIR_FLAGS",
    "NOFOLLOW",
    "close_all",
    "make_dirs",
    "open_dirs",
    "prune",
    "scan",
]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
DIRECTORY = getattr(os, "O_DIRECTORY", 0)
DIR_FLAGS = os.O_RDONLY | DIRECTORY | NOFOLLOW | _CLOEXEC


def close_all(fds: list[int]) -> None:
    """Close every descriptor of a walk but the first, the store's own storage directory."""
    for fd in fds[1:]:
        os.close(fd)


def _not_a_directory(parent: int, name: str, key: str) -> bool:
    """Why *name* could not be opened as a directory: True if it is a (key's) file.

    :raises InvalidKeyError: it is a symlink, which is never followed.
    """
    try:
        mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(mode):
        msg = f"key {key!r} goes through the symlink {name!r}; symlinks are never followed"
        raise InvalidKeyError(msg)
    return True


def open_dirs(root: int, dirs: list[str], key: str) -> list[int] | None:
    """Open the directories *dirs* of *key* under *root*; ``None`` if one is missing.

    Returns the descriptors, *root* first, one per level.

    :raises InvalidKeyError: a directory on the way is a symlink.
    """
    fds = [root]
    try:
        for name in dirs:
            try:
                fds.append(os.open(name, DIR_FLAGS, dir_fd=fds[-1]))
            except FileNotFoundError:
                close_all(fds)
                return None
            except OSError as exc:
                if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                    raise
                _not_a_directory(fds[-1], name, key)
                close_all(fds)
                return None
    except BaseException:
        close_all(fds)
        raise
    return fds


def make_dirs(root: int, dirs: list[str], key: str) -> tuple[list[int], int | None]:
    """Open the directories *dirs* of *key* under *root*, creating missing ones.

    Returns the descriptors (*root* first) and the index of the first one this call
    created. If it created none (``None``), the list may hold only *root* and the key's own
    directory; otherwise it has one descriptor per level. A ``FileNotFoundError`` means a
    concurrent delete pruned a directory on the way: the caller walks again.

    :raises KeyConflictError: a directory on the way is a key's file.
    :raises InvalidKeyError: a directory on the way is a symlink.
    """
    if len(dirs) > 1:
        # One openat2 through ctypes costs about two plain openat calls, so it only pays
        # from two directory levels on.
        try:
            fd = open_beneath(root, "/".join(dirs), DIR_FLAGS)
        except OSError:
            fd = -1  # missing, a file, a symlink: the walk below sorts it out
        if fd >= 0:
            return [root, fd], None
    fds = [root]
    first_created: int | None = None
    try:
        for name in dirs:
            parent = fds[-1]
            try:
                fds.append(os.open(name, DIR_FLAGS, dir_fd=parent))
                continue
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                    raise
                if _not_a_directory(parent, name, key):
                    holder = "/".join(dirs[: len(fds)])
                    msg = (
                        f"cannot store {key!r}: {holder!r} is a key, and a key cannot also "
                        f"be a directory of other keys; delete {holder!r} first"
                    )
                    raise KeyConflictError(msg) from None
                raise FileNotFoundError(errno.ENOENT, "directory vanished", name) from None
            try:
                os.mkdir(name, dir_fd=parent)
                if first_created is None:
                    first_created = len(fds)
            except FileExistsError:
                pass
            fds.append(os.open(name, DIR_FLAGS, dir_fd=parent))
    except BaseException:
        if first_created is not None:
            # Take back what this call made (a failing mkdir or open further down).
            prune(fds, dirs[: len(fds) - 1])
        close_all(fds)
        raise
    return fds, first_created


def prune(fds: list[int], dirs: list[str]) -> int:
    """Remove the directories *dirs* left empty, deepest first; return how many.

    ``fds[i]`` is the directory holding ``dirs[i]``.
    """
    removed = 0
    for index in range(len(dirs) - 1, -1, -1):
        try:
            os.rmdir(dirs[index], dir_fd=fds[index])
        except OSError:
            # Not empty (another key, or a writer that just created it), or already removed
            # by another process: either way the pruning stops here.
            break
        removed += 1
    return removed


def _listable(name: str) -> bool:
    # A file someone else put there whose name no key can produce is not a key.
    if "\\" in name:
        return False
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def scan(fd: int, rel: str, partial: str) -> Iterator[list[str]]:
    """The keys under the directory *fd* (closed at the end) whose names start with *partial*.

    Yields one list per subtree of *fd*; flattening them (in C, with ``itertools.chain``)
    keeps the per-key cost near that of a bare ``os.scandir`` walk. *rel* is the key prefix
    of the directory (``""`` or ends with ``/``).
    """
    try:
        files: list[str] = []
        subdirs: list[str] = []
        _read_dir(fd, rel, partial, files, subdirs)
        yield files
        for name in subdirs:
            found: list[str] = []
            _collect(fd, name, f"{rel}{name}/", found)
            yield found
    finally:
        os.close(fd)


def _collect(parent: int, name: str, rel: str, found: list[str]) -> None:
    """Append every key under the directory *name* of *parent* to *found*."""
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=parent)
    except OSError:
        return  # pruned, or replaced by a symlink or a file, since it was listed
    try:
        subdirs: list[str] = []
        _read_dir(fd, rel, "", found, subdirs)
        for sub in subdirs:
            _collect(fd, sub, f"{rel}{sub}/", found)
    finally:
        os.close(fd)


def _read_dir(fd: int, rel: str, partial: str, files: list[str], subdirs: list[str]) -> None:
    # The hot loop of every listing: only the checks that must be made per entry.
    with os.scandir(fd) as entries:
        for entry in entries:
            name = entry.name
            if partial and not name.startswith(partial):
                continue
            if entry.is_file(follow_symlinks=False):
                if (name.isascii() and "\\" not in name) or _listable(name):
                    files.append(rel + name)
            elif entry.is_dir(follow_symlinks=False) and _listable(name):
                subdirs.append(name)
