"""Directory work under the storage directory: walking a key's directories, making and
pruning them, and listing keys. Everything is relative to directory descriptors and never
follows a symlink (see the module docstring of ``_store``).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import stat
from collections.abc import Generator, Iterator
from typing import cast

from kv_core import InvalidKeyError, KeyConflictError

from ._beneath import open_beneath

__all__ = [
    "DIRECTORY",
    "DIR_FLAGS",
    "Listing",
    "NOFOLLOW",
    "close_all",
    "make_dirs",
    "open_dirs",
    "prune",
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


def make_dirs(
    root: int, dirs: list[str], key: str, *, beneath: bool = True
) -> tuple[list[int], int | None]:
    """Open the directories *dirs* of *key* under *root*, creating missing ones.

    Returns the descriptors (*root* first) and the index of the first one this call
    created. If it created none (``None``), the list may hold only *root* and the key's own
    directory; otherwise it has one descriptor per level. A ``FileNotFoundError`` means a
    concurrent delete pruned a directory on the way: the caller walks again.

    :param beneath: Try one openat2 first when there are several levels (``False``: the
        caller's just failed).
    :raises KeyConflictError: a directory on the way is a key's file.
    :raises InvalidKeyError: a directory on the way is a symlink.
    """
    if beneath and len(dirs) > 1:
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


# Keys per list handed to itertools.chain. Small, so the first key comes about as soon as a
# bare scandir gives its first entry and a listing holds about what a bare walk does (a
# scandir per open directory and a few dozen keys); large enough that resuming the
# generator once per list costs little per key.
_CHUNK = 32


class _Dir:
    """A listing's directory descriptor, closed once, by whichever side gets there first."""

    __slots__ = ("chunk", "fd")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.chunk: list[str] = []  # the keys being handed out

    def close(self) -> None:
        fd = self.fd
        self.fd = -1
        if fd >= 0:
            os.close(fd)


class Listing(itertools.chain):  # type: ignore[type-arg]
    """The keys under a directory whose names start with a partial name: an iterator.

    It owns the directory's descriptor from the moment it is made, and closes it when the
    keys run out, on :meth:`close`, or when it is garbage collected, so an iterator that is
    never started (``it = iter(store); del it``) leaks nothing. The tree is walked depth
    first with one ``os.scandir`` per directory on the current path, so a listing holds a
    few hundred keys and one open directory per level, however many keys the store has. The
    keys come in short lists flattened by ``itertools.chain`` itself (this is a subclass, so
    ``next()`` runs in C): that keeps the per-key cost near that of a bare ``os.scandir``
    walk.

    Make one with :meth:`open`.
    """

    __slots__ = ("_chunks", "_dir")
    _chunks: Generator[list[str], None, None]
    _dir: _Dir

    @classmethod
    def open(cls, fd: int, rel: str, partial: str) -> Listing:
        """List the directory *fd* (``-1``: no keys), whose key prefix is *rel*.

        :param fd: The directory to list, closed by the listing.
        :param rel: The key prefix of that directory (``""`` or ends with ``/``).
        :param partial: What the names directly in it must start with.
        """
        directory = _Dir(fd)
        chunks = _chunks(directory, rel, partial)
        listing = cast("Listing", cls.from_iterable(chunks))
        listing._dir = directory
        listing._chunks = chunks
        return listing

    def count(self) -> int:
        """How many keys are left, counted without handing them out one by one; closes."""
        try:
            return sum(len(chunk) for chunk in self._chunks)
        finally:
            self.close()

    def close(self) -> None:
        """Give the directory descriptor back; the iterator yields nothing more."""
        directory = self._dir
        directory.chunk.clear()  # what chain is handing out: its list iterator ends here
        self._chunks.close()  # closes the directories it has open below the first one
        directory.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # nothing can be reported from __del__
            if self._dir.fd >= 0:
                self.close()


def _chunks(directory: _Dir, rel: str, partial: str) -> Generator[list[str], None, None]:
    """The keys under *directory*, a short list at a time; closes it when they run out.

    Depth first: on meeting a subdirectory the walk opens it and goes down at once, and comes
    back to the parent's ``scandir`` (still open, where it stopped) when the subtree is done.
    A directory pruned, or replaced by a file or a symlink, after its parent listed it is
    skipped: it holds no keys of ours any more.
    """
    top = directory.fd
    if top < 0:
        return
    # One level per open directory: its descriptor (-1 for the listing's own, which
    # _Dir closes), its scandir, the key prefix of its entries, and what they must start with.
    levels: list[tuple[int, Iterator[os.DirEntry[str]], str, str]] = []
    try:
        levels.append((-1, os.scandir(top), rel, partial))
        found: list[str] = []
        while levels:
            fd, entries, rel, partial = levels[-1]
            for entry in entries:
                name = entry.name
                if partial and not name.startswith(partial):
                    continue
                if entry.is_file(follow_symlinks=False):
                    if (name.isascii() and "\\" not in name) or _listable(name):
                        found.append(rel + name)
                        if len(found) >= _CHUNK:
                            directory.chunk = found
                            yield found
                            # Handed out by now: keep no reference to it.
                            directory.chunk = found = []
                elif entry.is_dir(follow_symlinks=False) and _listable(name):
                    try:
                        sub = os.open(name, DIR_FLAGS, dir_fd=top if fd < 0 else fd)
                    except OSError:
                        continue  # pruned, or replaced by a symlink or a file, since listed
                    try:
                        levels.append((sub, os.scandir(sub), f"{rel}{name}/", ""))
                    except BaseException:
                        os.close(sub)
                        raise
                    break
            else:
                levels.pop()
                _close_level(fd, entries)
        if found:
            directory.chunk = found
            yield found
    finally:
        while levels:
            _close_level(*levels.pop()[:2])
        directory.close()


def _close_level(fd: int, entries: Iterator[os.DirEntry[str]]) -> None:
    entries.close()  # type: ignore[attr-defined]
    if fd >= 0:
        os.close(fd)
