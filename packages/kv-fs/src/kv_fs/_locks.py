"""The per-key locks of compare-and-set: a lock file in the scratch directory per stripe.

A key's lock is one of :data:`STRIPES` files, ``kvfs-cas-<stripe>.lock`` in the scratch
directory, chosen by a CRC-32 of the key (the same in every process, unlike ``hash()``).
Two keys may share a stripe; they then wait for each other, which costs time, never
correctness. The files are created on first use and never deleted: deleting a lock file
while another process waits on it would let a third one lock a new file of the same name.

A holder takes two locks, in this order: a ``threading.Lock`` of its stripe, shared by
every store of this process, then ``flock(LOCK_EX)`` on a descriptor of the file opened for
this one acquisition. The thread lock is what excludes the threads of one process where
``flock`` would not (on NFS, Linux turns ``flock`` into a POSIX record lock, which belongs
to the process, not the descriptor); ``flock`` excludes other processes. A descriptor
opened per acquisition is never shared with a forked child, whose ``flock`` on an inherited
descriptor would otherwise share the parent's lock. A child gets fresh thread locks at the
fork, so a lock held by a parent's thread at that moment does not deadlock it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import zlib
from collections.abc import Iterator
from typing import ClassVar

from ._tree import NOFOLLOW

__all__ = ["LOCK_PREFIX", "LOCK_SUFFIX", "STRIPES", "key_lock", "lock_name"]

STRIPES = 128
LOCK_PREFIX = "kvfs-cas-"
LOCK_SUFFIX = ".lock"
_FLAGS = os.O_RDWR | os.O_CREAT | NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class _ThreadLocks:
    locks: ClassVar[list[threading.Lock]] = [threading.Lock() for _ in range(STRIPES)]

    @classmethod
    def renew(cls) -> None:
        cls.locks = [threading.Lock() for _ in range(STRIPES)]


os.register_at_fork(after_in_child=_ThreadLocks.renew)


def _stripe(key: str) -> int:
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % STRIPES


def lock_name(key: str) -> str:
    """The name of *key*'s lock file in the scratch directory."""
    return f"{LOCK_PREFIX}{_stripe(key):03d}{LOCK_SUFFIX}"


@contextlib.contextmanager
def key_lock(scratch_fd: int, key: str) -> Iterator[None]:
    """Hold *key*'s lock, against the threads of this process and other processes."""
    stripe = _stripe(key)
    with _ThreadLocks.locks[stripe]:
        fd = os.open(f"{LOCK_PREFIX}{stripe:03d}{LOCK_SUFFIX}", _FLAGS, 0o666, dir_fd=scratch_fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            # Closing the only descriptor of this open file releases the flock.
            os.close(fd)
