"""What a driver's error means: rerun the transaction, out of space, read-only, timed out.

Each database reports these by its own codes; the store turns them into one kv error each
(see the README, "Connections, transactions and failures").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc as sa_exc

from ._deadlines import timed_out

__all__ = [
    "driver_error",
    "is_deadlock",
    "is_out_of_space",
    "is_read_only",
    "is_retryable",
    "timed_out",
]

# Deadlocks and lock waits: the whole transaction is retried. MariaDB reports a deadlock on
# the table's AUTO-INC lock (taken by INSERT ... SELECT) as 1467, "Failed to read
# auto-increment value from storage engine".
_MYSQL_RETRY_CODES = frozenset({1205, 1213, 1467})
_POSTGRES_RETRY_STATES = frozenset({"40001", "40P01", "55P03"})
# Of those, the ones where another transaction went ahead (not a timeout).
_MYSQL_DEADLOCK_CODES = frozenset({1213, 1467})
_POSTGRES_DEADLOCK_STATES = frozenset({"40001", "40P01"})
_SQLITE_BUSY_CODES = frozenset({5, 6})

# No room to grow: ER_DISK_FULL, ER_RECORD_FILE_FULL ("The table is full": InnoDB's answer
# when its tablespace cannot be extended), ER_OUT_OF_RESOURCES for temporary files.
_MYSQL_FULL_CODES = frozenset({1021, 1114})
# ER_ERROR_ON_WRITE and ER_GET_ERRNO carry the OS error: 28 is ENOSPC, 122 EDQUOT.
_MYSQL_OS_ERROR_CODES = frozenset({3, 1030})
_POSTGRES_FULL_STATES = frozenset({"53100"})  # disk_full
_SQLITE_FULL = 13
# --read-only / super_read_only, and a READ ONLY transaction.
_MYSQL_READ_ONLY_CODES = frozenset({1290, 1792, 1836})
_POSTGRES_READ_ONLY_STATES = frozenset({"25006"})  # read_only_sql_transaction (a standby)
_SQLITE_READONLY = 8


def driver_error(error: BaseException) -> BaseException:
    """The DB-API exception inside a SQLAlchemy wrapper, or *error* itself."""
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        return error.orig
    return error


def _mysql_code(error: BaseException) -> Any:
    args: tuple[Any, ...] = getattr(error, "args", ())
    return args[0] if args else None


def _sqlite_code(error: BaseException) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_retryable(dialect_name: str, error: BaseException) -> bool:
    """Whether *error* is a deadlock or lock timeout after which a transaction may be rerun."""
    if dialect_name in ("mysql", "mariadb"):
        return _mysql_code(error) in _MYSQL_RETRY_CODES
    if dialect_name == "postgresql":
        return getattr(error, "sqlstate", None) in _POSTGRES_RETRY_STATES
    if dialect_name == "sqlite":
        return _sqlite_code(error) in _SQLITE_BUSY_CODES
    return False


def is_deadlock(dialect_name: str, error: BaseException) -> bool:
    """Whether *error* is a deadlock or serialization failure: another transaction won."""
    if dialect_name in ("mysql", "mariadb"):
        return _mysql_code(error) in _MYSQL_DEADLOCK_CODES
    if dialect_name == "postgresql":
        return getattr(error, "sqlstate", None) in _POSTGRES_DEADLOCK_STATES
    return False


def is_out_of_space(dialect_name: str, error: BaseException) -> bool:
    """Whether *error* says the database has no room left for the write (disk, table full)."""
    if dialect_name in ("mysql", "mariadb"):
        code = _mysql_code(error)
        if code in _MYSQL_FULL_CODES:
            return True
        text = str(error)
        return code in _MYSQL_OS_ERROR_CODES and ("28 " in text or '"28' in text or "122" in text)
    if dialect_name == "postgresql":
        return getattr(error, "sqlstate", None) in _POSTGRES_FULL_STATES
    if dialect_name == "sqlite":
        return _sqlite_code(error) == _SQLITE_FULL
    return False


def is_read_only(dialect_name: str, error: BaseException) -> bool:
    """Whether *error* says the database refuses writes (read-only file, server or replica)."""
    if dialect_name in ("mysql", "mariadb"):
        return _mysql_code(error) in _MYSQL_READ_ONLY_CODES
    if dialect_name == "postgresql":
        return getattr(error, "sqlstate", None) in _POSTGRES_READ_ONLY_STATES
    if dialect_name == "sqlite":
        return _sqlite_code(error) == _SQLITE_READONLY
    return False
