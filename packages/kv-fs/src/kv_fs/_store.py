"""FileSystemDict: one file per key under a storage directory, written atomically.

Every path operation is made relative to a directory file descriptor (``openat``,
``renameat``, ``unlinkat`` ...), never through a symlink: a one-segment key is opened with
``O_NOFOLLOW`` on the storage directory's descriptor; a longer one with ``openat2`` and
``RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH`` where Linux has it, else one directory at a time
with ``O_NOFOLLOW`` (``_tree``). A symlink planted inside the storage directory, even
between two calls, is refused by the kernel at the moment of use: no ``realpath`` on the hot
path and no window between a check and the use of its result.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import stat
import time
import uuid
from collections.abc import Iterator
from typing import Any

from kv_core import (
    Capabilities,
    ConflictError,
    InvalidKeyError,
    KeyConflictError,
    OutOfSpaceError,
    Store,
)
from kv_core.codec import Deserializer, Serializer

from ._beneath import open_beneath
from ._keys import REFUSED_CHARACTERS, KeyRules
from ._locks import key_lock
from ._noreplace import rename_noreplace
from ._paths import resolve_paths
from ._tree import DIR_FLAGS, DIRECTORY, NOFOLLOW, Listing, close_all, make_dirs, open_dirs, prune

__all__ = ["FileSystemDict", "SCRATCH_PREFIX", "SCRATCH_SUFFIX"]

SCRATCH_PREFIX = "kvfs-"
SCRATCH_SUFFIX = ".tmp"
# A value pop() has taken out of the storage directory: kvfs-pop-<claim time, Unix ms>-...
# The rename keeps the file's mtime (when the value was written), so the claim's age is read
# from its name: remove_stale_scratch must not delete a value a pop is about to read.
_CLAIM_PREFIX = f"{SCRATCH_PREFIX}pop-"

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# O_NONBLOCK: a FIFO planted in the storage directory must not hang a read.
_READ_FLAGS = os.O_RDONLY | NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0)
# Only to fstat what a path names (Linux); without O_PATH, openat2 is not used either.
_PATH_FLAGS = getattr(os, "O_PATH", os.O_RDONLY | os.O_NONBLOCK) | NOFOLLOW | _CLOEXEC
# The directory a write renames into, when nothing is fsynced there: a path descriptor
# (Linux) is cheaper to open and close than a directory opened for reading.
_PARENT_FLAGS = (_PATH_FLAGS | DIRECTORY) if hasattr(os, "O_PATH") else DIR_FLAGS
_SCRATCH_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | _CLOEXEC
# How often a write walks its directories again after a concurrent delete pruned one of them.
_RETRIES = 64
_DEFAULT_NAME_MAX = 255
# The file system has no room: no blocks or inodes left (ENOSPC), or the user's quota is used.
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class _Pid:
    """The process id, read once and again in a forked child, not on every write."""

    value = os.getpid()

    @classmethod
    def refresh(cls) -> None:
        cls.value = os.getpid()


os.register_at_fork(after_in_child=_Pid.refresh)


def _version_of(value: bytes) -> str:
    return hashlib.blake2b(value, digest_size=16).hexdigest()


def _supported() -> bool:
    # os.replace shares renameat with os.rename but is missing from supports_dir_fd.
    needed = (os.open, os.stat, os.mkdir, os.rmdir, os.unlink, os.rename)
    return all(fn in os.supports_dir_fd for fn in needed) and bool(NOFOLLOW and DIRECTORY)


def _claim_time(name: str) -> float | None:
    """When the pop claim *name* was made (Unix time); ``None`` if it is not a claim."""
    if not name.startswith(_CLAIM_PREFIX):
        return None
    stamp, _, _ = name[len(_CLAIM_PREFIX) :].partition("-")
    return int(stamp) / 1000 if stamp.isdigit() else None  # not ours after all: aged by its mtime


class FileSystemDict(Store):
    """A store keeping each value in its own file under *storage_path*.

    A write goes to a new file in *scratch_path* and is renamed into place with
    ``os.replace``, so a reader sees the old value or the new one, never a mix. ``/`` in a
    key makes directories, created as needed and removed again when their last key is
    deleted. Safe to share between threads and processes, and usable in a forked child.

    Compare-and-set (``get_with_version``, ``set_if``, ``delete_if``) holds a per-key lock,
    a ``flock`` on a lock file in *scratch_path*, while it compares and writes; a version is
    a hash of the file's bytes (see the README, "Compare-and-set"). It is safe across the
    processes of one host that open the storage with the same *scratch_path*.

    :param storage_path: The directory holding the keys; created if missing.
    :param scratch_path: Where values are written before the rename; created if missing.
        It must be outside *storage_path* and on the same mount (a rename from it into
        *storage_path* is tried at construction).
    :param durable: Flush each value and its directory to the disk (``fsync``) before a
        write returns, so it survives a power cut; ``False`` skips the two fsyncs per write.
    :raises ValueError: *scratch_path* is inside *storage_path*, or on another file system
        or mount.
    """

    def __init__(
        self,
        storage_path: str | os.PathLike[str],
        scratch_path: str | os.PathLike[str],
        *,
        serializer: Serializer | None = None,
        deserializer: Deserializer | None = None,
        durable: bool = True,
    ) -> None:
        super().__init__(serializer=serializer, deserializer=deserializer)
        self._root_fd = -1
        self._scratch_fd = -1
        if not _supported():
            msg = (
                "FileSystemDict needs the POSIX *at() calls (openat, renameat, ONOFOLLOW) "
                "to keep keys inside the storage directory; this platform lacks them"
            )
            raise NotImplementedError(msg)
        paths = resolve_paths(storage_path, scratch_path)
        self._storage = paths.storage
        self._scratch = paths.scratch
        self._durable = bool(durable)
        # How a write opens the key's directory: for reading only if it fsyncs it.
        self._parent_flags = DIR_FLAGS if self._durable else _PARENT_FLAGS
        # Whether the last write created its key (see _place); shared by threads as a hint.
        self._creating = True
        self._root_fd = os.open(self._storage, DIR_FLAGS)
        try:
            self._scratch_fd = os.open(self._scratch, DIR_FLAGS)
        except BaseException:
            os.close(self._root_fd)
            self._root_fd = -1
            raise
        try:
            name_max = os.pathconf(self._root_fd, "PC_NAME_MAX")
        except (OSError, ValueError):
            name_max = _DEFAULT_NAME_MAX
        self._rules = KeyRules(name_max if name_max > 0 else _DEFAULT_NAME_MAX)
        self._token = uuid.uuid4().hex[:12]
        self._counter = itertools.count()
        self._capabilities = Capabilities(
            persistent=True,
            processes=True,
            ttl=False,
            history=False,
            max_key_length=self._rules.name_max,
            max_value_size=None,
            empty_key=False,
            hierarchical_keys=True,
            invalid_keys=("", "/abs", "a/../b", "../up", "./a", "a//b", "a/", "a\\b", "a\x00b"),
            refused_characters=REFUSED_CHARACTERS,
            compare_and_set=True,
        )

    # -- what it declares and offers -----------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """What this store supports.

        ``max_key_length`` is the file system's ``NAME_MAX`` (255 on ext4): the longest key
        of one ASCII segment. The real limit is per segment and in UTF-8 bytes, so a
        one-segment key of non-ASCII text holds fewer characters (128 ``é`` are refused),
        and a key of several segments may hold many more (see the README, "Key length").
        """
        return self._capabilities

    @property
    def path(self) -> str:
        """The storage directory, absolute, symlinks resolved."""
        return self._storage

    @property
    def scratch_path(self) -> str:
        """The scratch directory, absolute, symlinks resolved."""
        return self._scratch

    @property
    def durable(self) -> bool:
        """Whether every write and delete is flushed to the disk before it returns."""
        return self._durable

    def remove_stale_scratch(self, older_than: float = 3600.0) -> int:
        """Delete scratch files left by killed writers; return how many were removed.

        Only files named like this package's scratch files and last modified more than
        *older_than* seconds ago are removed, so writers still at work (in any process using
        this scratch directory) are left alone as long as no write takes that long. A value
        ``pop`` has claimed (renamed into the scratch directory to read it) is aged from the
        moment of the claim, written in its name, not from its last change, which may be
        long ago: one left by a killed ``pop`` is removed *older_than* seconds after it.
        """
        scratch_fd = self._dir_fd(self._scratch_fd)
        limit = time.time() - older_than
        removed = 0
        listing = os.open(".", DIR_FLAGS, dir_fd=scratch_fd)
        try:
            with os.scandir(listing) as entries:
                names = [
                    entry.name
                    for entry in entries
                    if entry.name.startswith(SCRATCH_PREFIX)
                    and entry.name.endswith(SCRATCH_SUFFIX)
                    and entry.is_file(follow_symlinks=False)
                ]
        finally:
            os.close(listing)
        for name in names:
            try:
                claimed = _claim_time(name)
                if claimed is not None:
                    if claimed > limit:
                        continue
                elif os.stat(name, dir_fd=scratch_fd, follow_symlinks=False).st_mtime > limit:
                    continue
                os.unlink(name, dir_fd=scratch_fd)
            except FileNotFoundError:
                continue
            removed += 1
        return removed

    # -- key checks (text only, never the disk) --------------------------------------------

    def _validate_key(self, key: str) -> None:
        self._rules.check_key(key)

    def _validate_prefix(self, prefix: str) -> None:
        self._rules.check_prefix(prefix)

    # -- directories ----------------------------------------------------------------------

    def _dir_fd(self, fd: int) -> int:
        if fd < 0:
            msg = f"{self!r} is closed"
            raise ValueError(msg)
        return fd

    # -- reading ------------------------------------------------------------------------

    def _read(self, key: str) -> bytes:
        root = self._dir_fd(self._root_fd)
        if "/" not in key:
            return self._read_at(root, key, key)
        try:
            fd = open_beneath(root, key, _READ_FLAGS)
        except OSError as exc:
            if exc.errno != errno.ENAMETOOLONG:
                raise self._open_error(exc, key) from None
            fd = -1  # longer than PATH_MAX as a whole: the walk opens one segment at a time
        if fd >= 0:
            return self._read_fd(fd, key)
        dirs = key.split("/")
        name = dirs.pop()
        fds = open_dirs(root, dirs, key)
        if fds is None:
            raise KeyError(key)
        try:
            return self._read_at(fds[-1], name, key)
        finally:
            close_all(fds)

    @staticmethod
    def _open_error(exc: OSError, key: str) -> BaseException:
        """What an open of *key* failing with *exc* means to the caller."""
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return KeyError(key)  # missing, or under a key that is a file
        if exc.errno == errno.ELOOP:
            msg = f"key {key!r} is or goes through a symlink; symlinks are never followed"
            return InvalidKeyError(msg)
        return exc

    @classmethod
    def _read_at(cls, parent: int, name: str, key: str) -> bytes:
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=parent)
        except OSError as exc:
            raise cls._open_error(exc, key) from None
        return cls._read_fd(fd, key)

    @staticmethod
    def _read_fd(fd: int, key: str) -> bytes:
        """Read the whole value of the open file *fd*, and close it."""
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise KeyError(key)  # a directory of other keys, or something not ours
            size = info.st_size
            data = os.read(fd, size) if size else b""
            if len(data) < size:
                # A short read (a signal, or a file changed in place by someone else).
                parts = [data]
                got = len(data)
                while got < size:
                    chunk = os.read(fd, size - got)
                    if not chunk:
                        break
                    parts.append(chunk)
                    got += len(chunk)
                data = b"".join(parts)
            return data
        finally:
            os.close(fd)

    def _contains(self, key: str) -> bool:
        root = self._dir_fd(self._root_fd)
        if "/" not in key:
            return self._is_file(root, key, key)
        try:
            fd = open_beneath(root, key, _PATH_FLAGS)
        except OSError as exc:
            error = self._open_error(exc, key)
            if isinstance(error, KeyError):
                return False
            if exc.errno != errno.ENAMETOOLONG:
                raise error from None
            fd = -1
        if fd >= 0:
            try:
                return stat.S_ISREG(os.fstat(fd).st_mode)
            finally:
                os.close(fd)
        dirs = key.split("/")
        name = dirs.pop()
        fds = open_dirs(root, dirs, key)
        if fds is None:
            return False
        try:
            return self._is_file(fds[-1], name, key)
        finally:
            close_all(fds)

    @staticmethod
    def _is_file(parent: int, name: str, key: str) -> bool:
        try:
            mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return False
        if stat.S_ISLNK(mode):
            msg = f"key {key!r} is a symlink; symlinks are never followed"
            raise InvalidKeyError(msg)
        return stat.S_ISREG(mode)

    # -- writing ------------------------------------------------------------------------

    def _scratch_name(self) -> str:
        # The pid keeps names unique across fork; the token across hosts sharing a disk.
        return f"{SCRATCH_PREFIX}{self._token}-{_Pid.value}-{next(self._counter)}{SCRATCH_SUFFIX}"

    def _claim_name(self) -> str:
        # The time of the claim, for remove_stale_scratch: the file's mtime is the write's.
        return (
            f"{_CLAIM_PREFIX}{time.time_ns() // 1_000_000}-{self._token}-{_Pid.value}-"
            f"{next(self._counter)}{SCRATCH_SUFFIX}"
        )

    def _write_scratch(self, value: bytes) -> str:
        """Write *value* to a new scratch file, flushed if durable; return its name."""
        scratch_fd = self._dir_fd(self._scratch_fd)
        tmp = self._scratch_name()
        fd = os.open(tmp, _SCRATCH_FLAGS, 0o666, dir_fd=scratch_fd)
        try:
            try:
                size = len(value)
                written = os.write(fd, value) if size else 0
                if written < size:
                    view = memoryview(value)
                    while written < size:
                        count = os.write(fd, view[written:])
                        if count <= 0:
                            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), tmp)
                        written += count
                if self._durable:
                    # Never retried: after a failed fsync the kernel may have dropped the
                    # dirty pages, so a second fsync could report success for lost data.
                    os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            self._discard(tmp)
            raise
        return tmp

    def _discard(self, tmp: str) -> None:
        # The original error matters more; remove_stale_scratch gets what is left.
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=self._scratch_fd)

    def _place(self, tmp: str, parent: int, name: str, key: str) -> None:
        """Rename the scratch file *tmp* into *parent* as *name*, checked as today.

        A new key takes one no-replace rename; an existing name is checked, then replaced.
        Which to try first follows the last write: after an overwrite the next write checks
        first, after a create it tries the no-replace rename, so creates and overwrites in a
        row each cost their minimum. The guess is only a hint: a wrong one costs a call.
        """
        if self._creating:
            placed = rename_noreplace(self._scratch_fd, tmp, parent, name)
            if placed:
                return
            if placed is False:
                self._creating = False
            self._prepare_target(parent, name, key)
        elif not self._prepare_target(parent, name, key):
            self._creating = True
        os.replace(tmp, name, src_dir_fd=self._scratch_fd, dst_dir_fd=parent)

    def _prepare_target(self, parent: int, name: str, key: str) -> bool:
        """Make sure *name* can be replaced by a value; return whether it held one.

        It is missing (``False``), a regular file (``True``), or an empty directory left by
        a killed writer, removed here (``True``).
        """
        try:
            mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return False
        if stat.S_ISREG(mode):
            return True
        if stat.S_ISLNK(mode):
            msg = f"key {key!r} is a symlink; symlinks are never followed or replaced"
            raise InvalidKeyError(msg)
        if not stat.S_ISDIR(mode):
            msg = f"key {key!r} names something that is not a regular file"
            raise InvalidKeyError(msg)
        try:
            # An empty directory holds no key (a writer was killed after creating it).
            os.rmdir(name, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                msg = (
                    f"cannot store {key!r}: it is a directory holding other keys "
                    f"({key + '/'!r}...), and a key cannot be both; delete those first"
                )
                raise KeyConflictError(msg) from None
            if exc.errno != errno.ENOENT:
                raise
        return True

    def _write(self, key: str, value: bytes) -> None:
        try:
            self._replace(key, value)
        except OSError as exc:
            if exc.errno not in _FULL or isinstance(exc, OutOfSpaceError):
                raise
            msg = f"no space left to store {key!r} in {self._storage}: {exc.strerror}"
            raise OutOfSpaceError(msg, exc.filename) from exc

    def _replace(self, key: str, value: bytes) -> None:
        """Write *value* to a scratch file and rename it into place as *key*."""
        directory, _, name = key.rpartition("/")
        if "/" in directory:
            # Two directory levels or more, most often all there: one openat2 opens the
            # key's directory (no symlink on the way, nothing outside the storage directory).
            try:
                parent = open_beneath(self._dir_fd(self._root_fd), directory, self._parent_flags)
            except OSError:
                parent = -1  # missing, a file, a symlink, too long: the walk sorts it out
            if parent < 0:
                self._replace_walking(key, value, None, beneath=False)
                return
            tmp: str | None = None
            try:
                tmp = self._write_scratch(value)
                self._place(tmp, parent, name, key)
                tmp = None
                if self._durable:
                    os.fsync(parent)
                return
            except (FileNotFoundError, IsADirectoryError):
                if tmp is None:
                    raise
                self._check_scratch(tmp)  # a directory was pruned or created meanwhile
            except BaseException:
                if tmp is not None:
                    self._discard(tmp)
                raise
            finally:
                os.close(parent)
            self._replace_walking(key, value, tmp, beneath=True)
        else:
            self._replace_walking(key, value, None, beneath=True)

    def _replace_walking(self, key: str, value: bytes, tmp: str | None, *, beneath: bool) -> None:
        """:meth:`_replace` walking the key's directories, creating the missing ones.

        :param tmp: The scratch file already written, if any (it is used or removed).
        :param beneath: Whether the first walk may try one openat2 (``False``: it just failed).
        """
        dirs = key.split("/")
        name = dirs.pop()
        try:
            for _ in range(_RETRIES):
                try:
                    fds, first_created = make_dirs(
                        self._dir_fd(self._root_fd), dirs, key, beneath=beneath
                    )
                except FileNotFoundError:
                    continue
                finally:
                    beneath = True
                try:
                    parent = fds[-1]
                    if tmp is None:
                        tmp = self._write_scratch(value)
                    try:
                        self._place(tmp, parent, name, key)
                    except (FileNotFoundError, IsADirectoryError):
                        self._check_scratch(tmp)
                        continue  # a directory was pruned or created meanwhile: walk again
                    tmp = None
                    if self._durable:
                        # The new entry's directory, then each directory this write created
                        # and the one holding the first of them.
                        synced = fds[-1:] if first_created is None else fds[first_created - 1 :]
                        for fd in reversed(synced):
                            os.fsync(fd)
                    return
                except BaseException:
                    if first_created is not None:
                        prune(fds, dirs)
                    raise
                finally:
                    close_all(fds)
            msg = f"could not store {key!r}: its directory kept vanishing"
            raise FileNotFoundError(errno.ENOENT, msg)
        finally:
            if tmp is not None:
                self._discard(tmp)

    def _check_scratch(self, tmp: str) -> None:
        try:
            os.stat(tmp, dir_fd=self._scratch_fd, follow_symlinks=False)
        except FileNotFoundError:
            msg = "the scratch file vanished before its rename (remove_stale_scratch too eager?)"
            raise FileNotFoundError(errno.ENOENT, msg, tmp) from None

    # -- deleting -----------------------------------------------------------------------

    def _delete(self, key: str) -> None:
        dirs = key.split("/")
        name = dirs.pop()
        fds = open_dirs(self._dir_fd(self._root_fd), dirs, key)
        if fds is None:
            raise KeyError(key)
        try:
            parent = fds[-1]
            if not self._is_file(parent, name, key):
                raise KeyError(key)
            try:
                os.unlink(name, dir_fd=parent)
            except FileNotFoundError:
                raise KeyError(key) from None
            removed = prune(fds, dirs) if dirs else 0
            if self._durable:
                os.fsync(fds[len(dirs) - removed])
        finally:
            close_all(fds)

    def _pop(self, key: str) -> bytes:
        # Claim the file by renaming it into the scratch directory: of several processes
        # popping one key exactly one wins, and a value written meanwhile is never lost.
        dirs = key.split("/")
        name = dirs.pop()
        fds = open_dirs(self._dir_fd(self._root_fd), dirs, key)
        if fds is None:
            raise KeyError(key)
        try:
            parent = fds[-1]
            if not self._is_file(parent, name, key):
                raise KeyError(key)
            tmp = self._claim_name()
            try:
                os.replace(name, tmp, src_dir_fd=parent, dst_dir_fd=self._scratch_fd)
            except FileNotFoundError:
                raise KeyError(key) from None
            try:
                value = self._read_at(self._scratch_fd, tmp, key)
            except BaseException:
                # Put it back unless a new value arrived meanwhile.
                with contextlib.suppress(OSError):
                    os.link(tmp, name, src_dir_fd=self._scratch_fd, dst_dir_fd=parent)
                raise
            finally:
                self._discard(tmp)
            removed = prune(fds, dirs) if dirs else 0
            if self._durable:
                os.fsync(fds[len(dirs) - removed])
            return value
        finally:
            close_all(fds)

    # -- compare-and-set -------------------------------------------------------------------
    # The version is a hash of the bytes in the file, so stores written by kv-fs 0.3 have
    # versions without a change of layout, and a reader needs no lock: a file is replaced
    # whole by a rename, so the bytes read and their hash always agree. Writers of set_if
    # and delete_if hold the key's lock from the comparison to the rename or unlink.

    def _read_with_version(self, key: str) -> tuple[bytes, str]:
        value = self._read(key)
        return value, _version_of(value)

    def _write_if(self, key: str, value: bytes, version: str | None) -> str:
        with key_lock(self._dir_fd(self._scratch_fd), key):
            self._check_version(key, version)
            self._write(key, value)
        return _version_of(value)

    def _delete_if(self, key: str, version: str) -> None:
        with key_lock(self._dir_fd(self._scratch_fd), key):
            self._check_version(key, version)
            self._delete(key)

    def _check_version(self, key: str, version: str | None) -> None:
        try:
            current: str | None = _version_of(self._read(key))
        except KeyError:
            current = None
        if current == version:
            return
        if version is None:
            msg = f"{key!r} exists; set_if(version=None) only creates a key"
        else:
            msg = f"{key!r} no longer has version {version!r}"
        raise ConflictError(msg)

    # -- listing ------------------------------------------------------------------------

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        return self._listing(prefix)

    def _count(self) -> int:
        return self._listing("").count()

    def _listing(self, prefix: str) -> Listing:
        """The keys starting with *prefix*, as an iterator owning its directory descriptor.

        The start directory is opened at once, so a prefix through a symlink fails at the
        call rather than at the first ``next()``; the descriptor is closed when the keys
        run out, on ``close()``, or when the iterator is dropped, started or not.
        """
        directories, _, partial = prefix.rpartition("/")
        root = self._dir_fd(self._root_fd)
        if not directories:
            # A descriptor of our own: one shared with other threads would share the
            # directory read position too.
            return Listing.open(os.open(".", DIR_FLAGS, dir_fd=root), "", partial)
        fds = open_dirs(root, directories.split("/"), prefix)
        if fds is None:
            return Listing.open(-1, "", "")
        start = fds.pop()
        close_all(fds)
        return Listing.open(start, directories + "/", partial)

    # -- lifecycle ------------------------------------------------------------------------

    def _close(self) -> None:
        for attr in ("_root_fd", "_scratch_fd"):
            fd = getattr(self, attr)
            setattr(self, attr, -1)
            if fd >= 0:
                os.close(fd)

    def __del__(self) -> None:
        # Give the two directory descriptors back if the store was never closed.
        if getattr(self, "_root_fd", -1) >= 0 or getattr(self, "_scratch_fd", -1) >= 0:
            with contextlib.suppress(Exception):  # nothing can be reported from __del__
                self._close()

    def _describe(self) -> str:
        return f"{self._storage!r}, scratch={self._scratch!r}, durable={self._durable}"

    def __getstate__(self) -> Any:
        msg = (
            f"{type(self).__name__} holds open directories and cannot be pickled; "
            f"pass functools.partial({type(self).__name__}, path, scratch_path) instead"
        )
        raise TypeError(msg)
