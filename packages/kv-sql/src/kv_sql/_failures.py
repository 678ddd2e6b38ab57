"""What a driver's error means: rerun the transaction, out of space, read-only, timed out.

Each database reports these by its own codes; the store turns them into one kv error each
(see the README, "Connections, transactions and failures"). Every function takes a
SQLAlchemy dialect name or a profile's family and reads the codes of that profile's family;
a database without a profile (``generic``) has no known codes, so nothing is retried.
"""

from __future__ import annotations

import os
import re
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from kv_core import AccessDeniedError, KVError, OutOfSpaceError, StoreUnavailable

from ._deadlines import timed_out
from ._profiles import profile_for

__all__ = [
    "access_denied",
    "connection_failure",
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
_FIREBIRD_DEADLOCK = 335544336  # isc_deadlock
_FIREBIRD_DEADLOCK_SQLCODE = -913

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
# The server said no, and will say it again: credentials, privileges, no such database.
# MySQL/MariaDB: 1044 no access to the database, 1045 wrong user or password, 1049 unknown
# database, 1142/1143 command or column denied, 1227 privilege needed, 1698 socket auth.
_MYSQL_DENIED_CODES = frozenset({1044, 1045, 1049, 1142, 1143, 1227, 1698})
# PostgreSQL: 28000/28P01 authorization or password, 3D000 unknown database, 42501 privilege.
_POSTGRES_DENIED_STATES = frozenset({"28000", "28P01", "3D000", "42501"})
# libpq reports a refused connection as text only (no SQLSTATE); the server's own words,
# in its default English messages.
_POSTGRES_DENIED_TEXT = re.compile(
    r"FATAL:\s+(?:password authentication failed|role \".*\" does not exist"
    r"|database \".*\" does not exist|no pg_hba\.conf entry|permission denied for database"
    r"|\w+ authentication failed)"
)
_SQLITE_CANTOPEN = 14


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
    family = profile_for(dialect_name).family
    if family == "mysql":
        return _mysql_code(error) in _MYSQL_RETRY_CODES
    if family == "postgresql":
        return getattr(error, "sqlstate", None) in _POSTGRES_RETRY_STATES
    if family == "sqlite":
        return _sqlite_code(error) in _SQLITE_BUSY_CODES
    if family == "duckdb":
        return _duckdb_conflict(error)
    if family == "firebird":
        return _firebird_conflict(error)
    return False


def _firebird_conflict(error: BaseException) -> bool:
    # isc_deadlock ("update conflicts with concurrent update", SQLCODE -913): two
    # transactions wrote (or deleted) the same row; rerun, the other has committed.
    codes = getattr(error, "gds_codes", ()) or ()
    return getattr(error, "sqlcode", None) == _FIREBIRD_DEADLOCK_SQLCODE or (
        _FIREBIRD_DEADLOCK in codes
    )


def _duckdb_conflict(error: BaseException) -> bool:
    # DuckDB's optimistic concurrency: a transaction that wrote a row another one changed
    # since it began fails at that write or at commit; rerun, it sees the other's write.
    return type(error).__name__ == "TransactionException" and "onflict" in str(error)


def is_deadlock(dialect_name: str, error: BaseException) -> bool:
    """Whether *error* is a deadlock or serialization failure: another transaction won."""
    family = profile_for(dialect_name).family
    if family == "mysql":
        return _mysql_code(error) in _MYSQL_DEADLOCK_CODES
    if family == "postgresql":
        return getattr(error, "sqlstate", None) in _POSTGRES_DEADLOCK_STATES
    if family == "duckdb":
        return _duckdb_conflict(error)
    if family == "firebird":
        return _firebird_conflict(error)
    return False


def is_out_of_space(dialect_name: str, error: BaseException) -> bool:
    """Whether *error* says the database has no room left for the write (disk, table full)."""
    family = profile_for(dialect_name).family
    if family == "mysql":
        code = _mysql_code(error)
        if code in _MYSQL_FULL_CODES:
            return True
        text = str(error)
        return code in _MYSQL_OS_ERROR_CODES and ("28 " in text or '"28' in text or "122" in text)
    if family == "postgresql":
        return getattr(error, "sqlstate", None) in _POSTGRES_FULL_STATES
    if family == "sqlite":
        return _sqlite_code(error) == _SQLITE_FULL
    return False


def is_read_only(dialect_name: str, error: BaseException) -> bool:
    """Whether *error* says the database refuses writes (read-only file, server or replica)."""
    family = profile_for(dialect_name).family
    if family == "mysql":
        return _mysql_code(error) in _MYSQL_READ_ONLY_CODES
    if family == "postgresql":
        return getattr(error, "sqlstate", None) in _POSTGRES_READ_ONLY_STATES
    if family == "sqlite":
        return _sqlite_code(error) == _SQLITE_READONLY
    return False


def access_denied(dialect_name: str, error: BaseException, database: str | None = None) -> bool:
    """Whether *error* is the server refusing the login, a privilege or an unknown database.

    For SQLite, whose files are made on first use, a file that cannot be opened because its
    folder (*database*'s) does not exist.
    """
    family = profile_for(dialect_name).family
    if family == "mysql":
        return _mysql_code(error) in _MYSQL_DENIED_CODES
    if family == "postgresql":
        state = getattr(error, "sqlstate", None)
        if state is not None:
            return state in _POSTGRES_DENIED_STATES
        return _POSTGRES_DENIED_TEXT.search(str(error)) is not None
    if family == "sqlite":
        if _sqlite_code(error) != _SQLITE_CANTOPEN or not database:
            return False
        return not os.path.isdir(os.path.dirname(os.path.abspath(database)))
    return False


def connection_failure(engine: Engine, error: BaseException, doing: str) -> KVError | None:
    """The kv error for *error*, raised by the driver while trying to *doing*; ``None`` if
    it is neither a refusal, a full database nor a connection problem (the caller re-raises
    it)."""
    dialect = engine.dialect
    database = engine.url.database
    if access_denied(dialect.name, error, database):
        if dialect.name == "sqlite":
            folder = os.path.dirname(os.path.abspath(database or ""))
            return AccessDeniedError(f"cannot {doing}: the folder {folder} does not exist")
        return AccessDeniedError(f"access denied trying to {doing}: {error}")
    if is_out_of_space(dialect.name, error):
        return OutOfSpaceError(f"no space left in the database to {doing}: {error}")
    dbapi = dialect.loaded_dbapi
    if isinstance(error, dbapi.OperationalError | dbapi.InterfaceError | OSError):
        return StoreUnavailable(f"cannot reach the database to {doing}: {error}")
    return None
