"""The error family every kv store raises.

Each error also subclasses the builtin that callers of a plain ``dict`` or a socket already
catch, so code written against the standard library keeps working::

    Exception
    └── KVError                               base of everything kv raises on purpose
        ├── InvalidKeyError (ValueError)      the store can never hold this key
        │   └── KeyConflictError              the key would be both a leaf and a parent
        ├── ValueTooLargeError (ValueError)   the value is over the store's size limit
        ├── InvalidStoreURL (ValueError)      a store URL that cannot be opened: bad syntax,
        │                                     an unknown option, an option's bad value
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
        ├── UnknownStoreError (LookupError)   no installed backend, or no installed driver,
        │                                     for a URL's scheme
        ├── ConflictError (RuntimeError)      another writer got there first: a failed
        │   │                                 compare-and-set, a write given up after deadlocks
        │   └── PreconditionFailed            an HTTP ``If-Match`` / ``If-None-Match`` found
        │                                     another value (kv-flask's client)
        ├── UnsupportedError (NotImplementedError)
        │                                     the server lacks a command the call needs
        │                                     (an old Redis without ``GETDEL``)
        └── ProtocolError (RuntimeError)      the server answered outside its protocol
                                              (an HTTP status the API never sends)

Packages built on kv-core add a few errors of their own, each with a builtin base too:
``kv_redis.SlidingExpiryUnsupported`` is an ``UnsupportedError``, ``kv_cli``'s
``CopyRefused`` a ``ValueError``.

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
    "ConflictError",
    "InvalidKeyError",
    "InvalidStoreURL",
    "KVError",
    "KeyConflictError",
    "OutOfSpaceError",
    "PreconditionFailed",
    "ProtocolError",
    "ReadOnlyError",
    "StoreUnavailable",
    "UnknownStoreError",
    "UnsupportedError",
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


class InvalidStoreURL(KVError, ValueError):
    """A store URL that cannot be opened: bad syntax or options the backend does not know."""


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


class ConflictError(KVError, RuntimeError):
    """Another writer changed the data first, so this write was not made.

    A compare-and-set whose condition no longer holds, or a write a database kept choosing
    as the victim of a deadlock. Nothing was written by the call that raised it; reading
    again and retrying is the usual answer.
    """


class PreconditionFailed(ConflictError):
    """A conditional write or delete (``If-Match`` / ``If-None-Match``) found another value."""


class UnsupportedError(KVError, NotImplementedError):
    """The server behind the store lacks a command the operation needs.

    Final, like :class:`AccessDeniedError`: the server must be upgraded (or the store opened
    without the option that needs the command). The message names the command and the
    server version that has it.
    """


class ProtocolError(KVError, RuntimeError):
    """The server answered, but not as its protocol allows (an HTTP status the API never sends).

    Usually another service at the store's address, or a proxy in between.
    """
