"""``openat2(2)`` through ctypes: open a multi-segment path with no symlink anywhere on it.

Linux 5.6 and later resolve the whole path in one call and refuse any symlink on the way
(``RESOLVE_NO_SYMLINKS``) or any step out of the starting directory (``RESOLVE_BENEATH``).
That costs one system call where opening each directory with ``O_NOFOLLOW`` costs two per
segment (open and close). Where the call is missing (another OS, an old kernel, a seccomp
filter that refuses it) :func:`open_beneath` says so once and the store falls back to the
segment-by-segment walk, which is just as safe.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import sys
from collections.abc import Callable

__all__ = ["available", "disable", "open_beneath"]

_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08
_RESOLVE = _RESOLVE_NO_MAGICLINKS | _RESOLVE_NO_SYMLINKS | _RESOLVE_BENEATH
# New system calls share one number on every architecture of the unified table (437); the
# few with offsets (alpha, mips, ia64) are simply not tried.
_MACHINES = {"x86_64", "amd64", "aarch64", "arm64", "riscv64", "ppc64le", "s390x"}
# Errors that mean "this kernel or sandbox has no usable openat2", not "this path failed".
_UNSUPPORTED = {errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.E2BIG, errno.EOPNOTSUPP}
_ENCODING = sys.getfilesystemencoding()
_ENCODE_ERRORS = sys.getfilesystemencodeerrors()


class _OpenHow(ctypes.Structure):
    _fields_ = (
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    )


class _State:
    syscall: Callable[..., int] | None = None
    # flags -> (the open_how argument, its size); the pointer keeps its struct alive.
    hows: dict[int, tuple[object, object]] = {}  # noqa: RUF012 - one cache for the process


# syscall(2) is variadic, its arguments all ``long``: the number and the size go as C longs
# made once. The call has no ``argtypes``: checking five arguments through them costs more
# than the system call itself; the descriptor (an ``int``), the path (``bytes``, a
# ``char *``) and the pointer are what ctypes passes for them anyway.
_NUMBER = ctypes.c_long(437)


def _load() -> None:
    if sys.platform != "linux" or platform.machine().lower() not in _MACHINES:
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syscall = libc.syscall
    except (OSError, AttributeError):
        return
    syscall.restype = ctypes.c_long
    _State.syscall = syscall


def available() -> bool:
    """Whether :func:`open_beneath` may work here (it can still turn out not to)."""
    return _State.syscall is not None


def disable() -> None:
    """Stop using openat2 in this process (for tests of the fallback, and after ENOSYS)."""
    _State.syscall = None


def open_beneath(dir_fd: int, path: str, flags: int) -> int:
    """Open *path* under *dir_fd*, refusing symlinks; return a descriptor, or -1 if unsupported.

    :raises OSError: the open failed: ``ELOOP`` for a symlink on the path, ``ENOENT``,
        ``ENOTDIR`` (a segment is a file) ...
    """
    syscall = _State.syscall
    if syscall is None:
        return -1
    how = _State.hows.get(flags)
    if how is None:
        struct = _OpenHow(flags, 0, _RESOLVE)
        how = _State.hows[flags] = (ctypes.byref(struct), ctypes.c_size_t(ctypes.sizeof(struct)))
    fd: int = syscall(_NUMBER, dir_fd, path.encode(_ENCODING, _ENCODE_ERRORS), *how)
    if fd >= 0:
        return fd
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        disable()
        return -1
    raise OSError(code, os.strerror(code), path)


_load()
