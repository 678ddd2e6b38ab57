"""The error family every kv store raises.

Each error also subclasses the builtin that callers of a plain ``dict`` or a socket already
catch, so code written against the standard library keeps working::

    Exception
    └── KVError                               base of everything kv raises on purpose
        ├── InvalidKeyError (ValueError)      the store can never hold this key
        │   └── KeyConflictError              the key would be both a leaf and a parent
        ├── ValueTooLargeError (ValueError)   the value is over the store's size limit
        ├── ReadOnlyError (PermissionError)   a write to a store that is read-only by construction
        │                                     (a SQL snapshot, a read-only file or replica)
        ├── OutOfSpaceError (OSError)         the storage is full: disk, quota, memory limit;
        │                                     ``errno`` is ``ENOSPC``, the cause is ``__cause__``
        ├── StoreUnavailable (ConnectionError)
        │                                     server down, timeout, dropped connection;
        │                                     the driver's exception is ``__cause__``
        └── UnknownStoreError (LookupError)   ``open_store`` has no backend for a URL scheme

A missing key raises the builtin ``KeyError`` and a key or value of the wrong type raises
the builtin ``TypeError``, exactly as a ``dict`` would.
"""

from __future__ import annotations

import errno
from typing import Any

__all__ = [
    "InvalidKeyError",
    "KVError",
    "KeyConflictError",
    "OutOfSpaceError",
    "ReadOnlyError",
    "StoreUnavailable",
    "UnknownStoreError",
    "ValueTooLargeError",
]


class KVError(Exception):
    """Base class of every error a kv store raises on purpose."""


class InvalidKeyError(KVError, ValueError):
    """The key can never be held by this store (traversal, too long, NUL, ...)."""


class KeyConflictError(InvalidKeyError):
    """The key would be both a value and a parent of other keys (``a`` and ``a/b``)."""


class ValueTooLargeError(KVError, ValueError):
    """The value is larger than the store accepts."""


class ReadOnlyError(KVError, PermissionError):
    """A write reached a store that is read-only by construction, such as a SQL snapshot."""


class OutOfSpaceError(KVError, OSError):
    """The storage behind the store has no room left for the write.

    A full disk or file system, an exhausted quota, a database whose table or tablespace
    cannot grow, a server at its memory limit. It is an ``OSError`` whose ``errno`` is always
    ``errno.ENOSPC``, whatever the backend; the backend's own error (``ENOSPC`` or ``EDQUOT``
    from the file system, the driver's exception) is its ``__cause__``. Nothing was written
    by the call that raised it; freeing space makes writes work again.

    :param message: What is full, for people.
    :param filename: The file that could not grow, when there is one.
    """

    def __init__(self, message: str, filename: str | None = None) -> None:
        if filename is None:
            super().__init__(errno.ENOSPC, message)
        else:
            super().__init__(errno.ENOSPC, message, filename)

    def __reduce__(self) -> tuple[Any, ...]:
        # OSError pickles its (errno, strerror[, filename]) args; this __init__ takes neither.
        return (type(self), (self.strerror, self.filename))


class StoreUnavailable(KVError, ConnectionError):
    """The storage behind the store cannot be reached: server down, timeout, dropped link."""


class UnknownStoreError(KVError, LookupError):
    """``open_store`` found no installed backend for the URL's scheme."""
