"""The plumbing under every SQL store: running reads and transactions on leased connections.

:class:`SqlBase` holds what each store is made of (engine, profile, view, connections) and
runs statements: reads once more after a lost connection, transactions again after a
deadlock or a lock timeout. The reads and writes of the store are built on it.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

from sqlalchemy.engine import Engine

from kv_core import ConflictError, ReadOnlyError, Store, ValueTooLargeError
from kv_core.codec import Deserializer, Serializer

from ._connections import ConnectionLeases
from ._failures import is_deadlock, is_retryable
from ._profiles import DialectProfile
from ._sql import Statements
from ._views import View

__all__ = ["BATCH", "SqlBase", "fetchall", "fetchone"]

T = TypeVar("T")

_ATTEMPTS = 8  # a transaction that times out waiting for a lock runs at most this many times
_DEADLOCK_ATTEMPTS = 32  # one that deadlocks (someone else went ahead), this many times
_LONGEST_PAUSE = 6  # pauses before a rerun: random, up to 1, 2, 4 ... 2**6 ms
_SQLITE_TOOBIG = 18  # SQLite refuses a string or blob over SQLITE_LIMIT_LENGTH (1e9 bytes)
#: Keys per statement in batch reads, prunes and purges.
BATCH = 500


class _Lost(Exception):
    """A read's connection turned out to be gone: run the read once more (``_query_cursor``)."""


def fetchone(cursor: Any) -> Any:
    """The next row of *cursor*."""
    return cursor.fetchone()


def fetchall(cursor: Any) -> list[Any]:
    """Every remaining row of *cursor*."""
    rows: list[Any] = cursor.fetchall()
    return rows


class SqlBase(Store):
    """What a SQL store is made of, and how it runs statements (see the module docstring)."""

    _engine: Engine
    _owns_engine: bool
    _profile: DialectProfile
    #: set_if / delete_if are atomic here: the profile promises it and the tuned SQL runs.
    _cas: bool
    _view: View
    _st: Statements
    _at: tuple[Any, ...]
    _leases: ConnectionLeases
    _owns_leases: bool
    _table_name: str
    _key_length: int
    _prune: bool
    _writable: bool
    _memory: bool
    _packet_limit: int | None
    _lock_salt: bytes
    _serializer: Serializer | None
    _deserializer: Deserializer | None

    def _kp(self, key: str) -> Any:
        return key.encode() if self._profile.binary_keys else key

    def _label(self, raw: Any) -> str:
        return raw.decode() if isinstance(raw, bytes | bytearray) else raw

    def _query(self, sql: str, params: tuple[Any, ...], fetch: Callable[[Any], T]) -> T:
        """Run one statement that only reads, and *fetch* its rows from the cursor.

        If the connection turns out to have been closed or reset by the server (an idle
        timeout, a restart, a ``KILL``), the read runs once more on a new connection: it
        changes nothing, so running it twice is harmless. Never for writes.
        """
        lease = self._leases.lease()
        with lease.lock:
            try:
                cur = lease.cursor
                cur.execute(sql, params)
                return fetch(cur)
            except BaseException as exc:
                if not self._leases.lost(lease, exc):
                    self._leases.failed(lease, exc)
                    raise
        return self._query_again(sql, params, fetch)

    def _query_again(self, sql: str, params: tuple[Any, ...], fetch: Callable[[Any], T]) -> T:
        """The one rerun of a read whose connection was lost, on a new connection."""
        lease = self._leases.lease()
        with lease.lock:
            try:
                cur = lease.cursor
                cur.execute(sql, params)
                return fetch(cur)
            except BaseException as exc:
                self._leases.failed(lease, exc)
                raise

    def _query_cursor(self, sql: str, params: tuple[Any, ...]) -> Any:
        """Run one read on a cursor of its own and return that cursor, its rows unread.

        Only for drivers that hold a whole result in client memory once the statement has
        run (``DialectProfile.page_cursor``): the connection is then free for other
        statements while the caller reads the rows. A lost connection is retried as in
        :meth:`_query`.
        """
        try:
            return self._cursor_of(sql, params, again=False)
        except _Lost:
            return self._cursor_of(sql, params, again=True)

    def _cursor_of(self, sql: str, params: tuple[Any, ...], *, again: bool) -> Any:
        lease = self._leases.lease()
        with lease.lock:
            cur = lease.connection.cursor()
            try:
                cur.execute(sql, params)
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    cur.close()
                if again or not self._leases.lost(lease, exc):
                    self._leases.failed(lease, exc)
                    raise
                raise _Lost from exc
            return cur

    def _query_one(self, sql: str, params: tuple[Any, ...]) -> Any:
        row = self._query(sql, params, fetchone)
        return None if row is None else row[0]

    def _query_all(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return self._query(sql, tuple(params), fetchall)

    def _transact(self, body: Callable[[Any], T], *, begin: bool) -> T:
        """Run *body(cursor)*, in one transaction if *begin*, rerunning it after deadlocks.

        A deadlock means another transaction went ahead, so it is rerun up to
        ``_DEADLOCK_ATTEMPTS`` times in all; a lock-wait timeout up to ``_ATTEMPTS`` times.
        Giving up on deadlocks raises ``ConflictError``: the database is busy, not unavailable.
        """
        st = self._st
        attempt = deadlocks = 0
        while True:
            lease = self._leases.lease()
            with lease.lock:
                cur = lease.cursor
                try:
                    if begin:
                        cur.execute(st.begin)
                    result = body(cur)
                    if begin:
                        cur.execute(st.commit)
                    return result
                except BaseException as exc:
                    if begin:
                        self._rollback(cur)
                    if getattr(exc, "sqlite_errorcode", None) == _SQLITE_TOOBIG:
                        msg = f"the value is larger than SQLite's length limit: {exc}"
                        raise ValueTooLargeError(msg) from exc
                    if (
                        not isinstance(exc, Exception)
                        or isinstance(exc, KeyError)
                        or not is_retryable(self._profile.family, exc)
                    ):
                        self._leases.failed(lease, exc)
                        raise
                    if is_deadlock(self._profile.family, exc):
                        deadlocks += 1
                        if deadlocks >= _DEADLOCK_ATTEMPTS:
                            msg = f"gave up after {deadlocks} deadlocks in a row: {exc}"
                            raise ConflictError(msg) from exc
                    else:
                        attempt += 1
                        if attempt >= _ATTEMPTS:
                            self._leases.failed(lease, exc)
                            raise
            pause = 0.001 * 2 ** min(attempt + deadlocks - 1, _LONGEST_PAUSE)
            time.sleep(random.uniform(0, pause))

    def _rollback(self, cursor: Any) -> None:
        with contextlib.suppress(Exception):  # the original error is the one to report
            cursor.execute(self._st.rollback)

    def _read_only(self) -> NoReturn:
        moment = self._view.moment
        if moment is not None:
            msg = f"{type(self).__name__} is a snapshot as of {moment} UTC: it is read-only"
        else:
            msg = f"{type(self).__name__} opened its database read-only ({self._describe()})"
        raise ReadOnlyError(msg)
