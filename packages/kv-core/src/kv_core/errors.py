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
        ├── AccessDeniedError (PermissionError)
        │                                     the server answered and refused: credentials,
        │                                     privileges, or no database of that name
        ├── StoreUnavailable (ConnectionError)
        │                                     server down, timeout, dropped connection;
        │                                     the driver's exception is ``__cause__``
        └── UnknownStoreError (LookupError)   no installed backend, or no installed driver,
                                              for a URL's scheme

``StoreUnavailable`` means "try again later": the server may come back. ``AccessDeniedError``
means the opposite: the server is up and said no, and asking again will not change its
answer; the URL (or the account's rights) must change. An unknown database is an
``AccessDeniedError`` too: a URL naming a database the server does not have is refused like
one naming a database the login may not use, and servers often give both the same answer
(MySQL's "access denied to database", PostgreSQL's missing ``CONNECT`` privilege), so a store
could not tell them apart reliably anyway. For SQLite, whose databases are files created on
first use, that is a database file whose folder does not exist.

A missing key raises the builtin ``KeyError`` and a key or value of the wrong type raises
the builtin ``TypeError``, exactly as a ``dict`` would.
"""

from __future__ import annotations

import errno
from typing import Any

__all__ = [
    "AccessDeniedError",
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


class AccessDeniedError(KVError, PermissionError):
    """The server refused the store's credentials or rights, or has no such database.

    Unlike :class:`StoreUnavailable` this is final: retrying will not help until the URL or
    the account changes. The driver's exception is ``__cause__``.
    """


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
    """No installed backend, or no installed database driver, for the URL's scheme.

    The message says what to install (``pip install 'kv-sql[postgres]'``) or, for a scheme
    nobody registers, which schemes are installed and the nearest one.
    """
