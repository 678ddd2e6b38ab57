"""``renameat2(2)`` with ``RENAME_NOREPLACE`` through ctypes: put a new key's file in place
only if nothing has the name yet.

Most writes create a key. Asking the kernel to rename *unless the name exists* settles that
case in one call; without it, a write must first ``lstat`` the name (a missing name costs a
system call and a Python exception) to refuse symlinks, devices and directories that
``rename`` would silently replace. When the name exists the caller checks it and renames the
portable way. Where the call is missing (another OS, glibc before 2.28, a seccomp filter) it
is not tried again; a file system that refuses the flag answers ``None`` each time.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from collections.abc import Callable

__all__ = ["disable", "rename_noreplace"]

_RENAME_NOREPLACE = 1
# The kernel or a sandbox has no renameat2 at all.
_MISSING = frozenset({errno.ENOSYS, errno.EPERM})
# This file system does not do RENAME_NOREPLACE.
_REFUSED = frozenset({errno.EINVAL, errno.EOPNOTSUPP})
_ENCODING = sys.getfilesystemencoding()
_ENCODE_ERRORS = sys.getfilesystemencodeerrors()


class _State:
    call: Callable[..., int] | None = None


def _load() -> None:
    if sys.platform != "linux":
        return
    try:
        call = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return
    call.restype = ctypes.c_int
    # No argtypes: checking the five arguments through them costs more than the rename. The
    # descriptors and the flag go as C ints and the names as ``char *``, as declared.
    _State.call = call


def disable() -> None:
    """Stop using renameat2 in this process (for tests of the fallback, and after ENOSYS)."""
    _State.call = None


def rename_noreplace(src_dir_fd: int, src: str, dst_dir_fd: int, dst: str) -> bool | None:
    """Rename *src* to *dst* unless *dst* exists; ``True`` if done.

    :returns: ``True``: renamed. ``False``: *dst* exists (whatever it is), nothing changed.
        ``None``: not possible here, nothing changed; rename the portable way.
    :raises OSError: the rename failed otherwise (``ENOENT``: a directory vanished ...).
    """
    call = _State.call
    if call is None:
        return None
    if (
        call(
            src_dir_fd,
            src.encode(_ENCODING, _ENCODE_ERRORS),
            dst_dir_fd,
            dst.encode(_ENCODING, _ENCODE_ERRORS),
            _RENAME_NOREPLACE,
        )
        == 0
    ):
        return True
    code = ctypes.get_errno()
    if code == errno.EEXIST:
        return False
    if code in _MISSING:
        disable()
        return None
    if code in _REFUSED:
        return None
    raise OSError(code, os.strerror(code), dst)


_load()
