"""The generic path: the store on any database SQLAlchemy speaks, through SQLAlchemy Core.

The tuned path (``_reads``, ``_writes``) hands SQL text written for three paramstyles
straight to a DB-API cursor. A database without a tuned profile, or a driver the tuned path
cannot serve (see :func:`uses_generic_path`), gets this path instead: the same contract
(history, tombstones, snapshots, ``prune_on_write``, exact keys, ``InvalidKeyError`` over
``key_length``), run as the prebuilt Core statements of ``_core_statements`` on one
SQLAlchemy ``Connection`` per thread. Each call is one transaction on that connection: a
read ends with ``ROLLBACK``, a write with ``COMMIT``, as SQLAlchemy Core written by hand
would do it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect, Engine

from kv_core import (
    AccessDeniedError,
    ConflictError,
    InvalidKeyError,
    OutOfSpaceError,
    ReadOnlyError,
    StoreUnavailable,
)

from ._connections import IDLE_SECONDS, raise_connect_failure
from ._core_statements import PAGE, CoreStatements
from ._failures import (
    access_denied,
    driver_error,
    is_deadlock,
    is_out_of_space,
    is_read_only,
    is_retryable,
    timed_out,
)
from ._profiles import DialectProfile
from ._sql import UNTUNED_DRIVERS, prefix_bounds
from ._views import Version, View

__all__ = ["GENERIC_METHODS", "CoreConnections", "CorePath", "uses_generic_path"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_TUNED_PARAMSTYLES = frozenset({"qmark", "format", "pyformat"})
_ATTEMPTS = 8
_DEADLOCK_ATTEMPTS = 32
_LONGEST_PAUSE = 6
_BATCH = 500

#: The store's methods this path provides in place of the tuned ones.
GENERIC_METHODS = (
    "_read",
    "_contains",
    "_read_many",
    "_iter_keys",
    "_count",
    "history",
    "_write",
    "_write_many",
    "_delete",
    "_delete_many",
    "_pop",
    "purge",
    "_clear",
)


def uses_generic_path(dialect: Dialect, profile: DialectProfile) -> bool:
    """Whether a store on *dialect* runs through SQLAlchemy Core rather than the tuned SQL.

    Every dialect without a tuned profile does, and so does a tuned database's driver
    whose paramstyle the hand-written SQL does not speak (``numeric``, ``named`` ...) or
    which it is known to serve wrongly (pg8000).
    """
    if not profile.tuned:
        return True
    return dialect.paramstyle not in _TUNED_PARAMSTYLES or dialect.driver in UNTUNED_DRIVERS


def _all(statement: Any, params: dict[str, Any], conn: Connection) -> list[Any]:
    return list(conn.execute(statement, params).all())


def _execute(statement: Any, params: dict[str, Any], conn: Connection) -> None:
    conn.execute(statement, params)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class _Held:
    """One thread's connection (or the shared one), its lock and when it was last used."""

    __slots__ = ("__weakref__", "conn", "generation", "lock", "used")

    def __init__(self, conn: Connection, generation: int) -> None:
        self.conn = conn
        self.generation = generation
        self.lock = threading.Lock()
        self.used = time.monotonic()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()

    def invalidate(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.invalidate()
        self.close()


class CoreConnections:
    """Lends each thread one SQLAlchemy ``Connection``, kept between calls.

    As ``ConnectionLeases`` does for the tuned path: a connection idle for more than
    ``IDLE_SECONDS`` goes back to the pool and is checked out again (so ``pool_pre_ping``
    and ``pool_recycle`` apply); a forked child forgets its parent's connections.

    :param engine: The engine whose pool the connections come from.
    :param shared: All threads share one connection under its lock (an in-memory database).
    :param setup: Called with each new DB-API connection before its first use.
    """

    def __init__(self, engine: Engine, *, shared: bool, setup: Any = None) -> None:
        self._engine = engine
        self._shared_mode = shared
        self._shared: _Held | None = None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._held: weakref.WeakSet[_Held] = weakref.WeakSet()
        self._setup = setup
        self._generation = 0
        self._closed = False
        self._pid = os.getpid()
        self.users = 1

    def lease(self) -> _Held:
        """The calling thread's connection, checked out if it has none (or an idle one)."""
        if os.getpid() != self._pid:
            self._after_fork()
        if self._shared_mode:
            with self._lock:
                if self._shared is None or self._shared.generation != self._generation:
                    self._shared = self._checkout()
                return self._shared
        held: _Held | None = getattr(self._local, "held", None)
        if held is not None and held.generation == self._generation:
            now = time.monotonic()
            if now - held.used < IDLE_SECONDS:
                held.used = now
                return held
            held.close()
        held = self._checkout()
        self._local.held = held
        return held

    def _checkout(self) -> _Held:
        if self._closed:
            msg = "the store is closed"
            raise StoreUnavailable(msg)
        try:
            conn = self._engine.connect()
        except (sa_exc.TimeoutError, sa_exc.DBAPIError, OSError) as exc:
            raise_connect_failure(self._engine, exc)
        if self._setup is not None:
            info = conn.connection.info
            if not info.get("kv_sql_ready"):
                self._setup(conn.connection.dbapi_connection)
                info["kv_sql_ready"] = True
        held = _Held(conn, self._generation)
        self._held.add(held)
        return held

    def drop(self, held: _Held) -> None:
        """Stop using *held*'s connection for good (it failed); the next call gets another."""
        if self._shared_mode:
            with contextlib.suppress(Exception):
                held.conn.rollback()
            return
        if getattr(self._local, "held", None) is held:
            self._local.held = None
        held.invalidate()

    def server_gone(self) -> None:
        """Every held connection is suspect (the server may have restarted)."""
        if not self._shared_mode:
            self._generation += 1

    def _after_fork(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        if self._shared_mode:
            return
        self._local = threading.local()
        # The parent's connections stay open for the parent: never closed from here.
        self._held = weakref.WeakSet()
        self._engine.dispose(close=False)

    def done(self) -> None:
        """One store stops using these connections; the last one closes them."""
        with self._lock:
            self.users -= 1
            last = self.users <= 0
        if last:
            self._closed = True
            for held in list(self._held):
                held.close()
            self._held = weakref.WeakSet()
            self._shared = None
            self._local = threading.local()


class CorePath:
    """The store's reads and writes on the generic path (see the module docstring).

    :param store: The ``GenericSqlDict`` this path serves (for its view and codec).
    :param connections: The connections it runs on.
    :param statements: Its prebuilt statements.
    """

    def __init__(
        self, store: Any, connections: CoreConnections, statements: CoreStatements
    ) -> None:
        self._store = store
        self._connections = connections
        self._st = statements
        self._profile: DialectProfile = store._profile
        self._family = self._profile.family
        self._binary = self._profile.binary_keys
        moment = store._view.moment
        self._at: dict[str, Any] = {} if moment is None else {"at": moment}
        self._writable: bool = store._writable
        self._prune: bool = store._prune

    def bind(self) -> None:
        """Serve the store's methods named in :data:`GENERIC_METHODS` from this path."""
        for name in GENERIC_METHODS:
            setattr(self._store, name, getattr(self, name))

    # -- running ---------------------------------------------------------------------------

    def _run(self, body: Callable[[Connection], T], *, write: bool) -> T:
        """*body(connection)* in one transaction, committed if *write*, else rolled back.

        A read whose connection turns out to have been lost runs once more on a new one;
        a transaction that deadlocks or times out on a lock runs again, a bounded number of
        times (the codes of the profile's family, as on the tuned path).
        """
        connections = self._connections
        attempt = deadlocks = 0
        rerun_read = not write
        while True:
            held = connections.lease()
            with held.lock:
                conn = held.conn
                try:
                    result = body(conn)
                    if write:
                        conn.commit()
                    else:
                        conn.rollback()
                    return result
                except BaseException as exc:
                    with contextlib.suppress(Exception):
                        conn.rollback()
                    if not isinstance(exc, Exception):
                        connections.drop(held)
                        raise
                    if isinstance(exc, KeyError):
                        raise
                    verdict = self._failed(held, exc, rerun_read=rerun_read)
                    if verdict == "lost":
                        rerun_read = False
                        continue
                    cause = driver_error(exc)
                    if is_deadlock(self._family, cause):
                        deadlocks += 1
                        if deadlocks >= _DEADLOCK_ATTEMPTS:
                            msg = f"gave up after {deadlocks} deadlocks in a row: {cause}"
                            raise ConflictError(msg) from cause
                    else:
                        attempt += 1
                        if attempt >= _ATTEMPTS:
                            msg = f"gave up after {attempt} lock timeouts: {cause}"
                            raise ConflictError(msg) from cause
            pause = 0.001 * 2 ** min(attempt + deadlocks - 1, _LONGEST_PAUSE)
            time.sleep(random.uniform(0, pause))

    def _failed(self, held: _Held, exc: Exception, *, rerun_read: bool) -> str:
        """What *exc* means: ``"retry"`` the transaction, ``"lost"`` (read it again), or
        raise the kv error it stands for (or *exc* itself)."""
        connections = self._connections
        if isinstance(exc, sa_exc.TimeoutError):
            msg = f"no free connection in the pool: {exc}"
            raise StoreUnavailable(msg) from exc
        if not isinstance(exc, sa_exc.DBAPIError):
            if isinstance(exc, OSError | EOFError):
                connections.drop(held)
                msg = f"database connection failed: {exc}"
                raise StoreUnavailable(msg) from exc
            raise exc
        cause = driver_error(exc)
        family = self._family
        if is_retryable(family, cause):
            return "retry"
        engine = self._store._engine
        if access_denied(family, cause, engine.url.database):
            msg = f"the database refused access: {cause}"
            raise AccessDeniedError(msg) from cause
        if is_out_of_space(family, cause):
            msg = f"the database is out of space: {cause}"
            raise OutOfSpaceError(msg) from cause
        if is_read_only(family, cause):
            msg = f"the database refuses writes (read-only): {cause}"
            raise ReadOnlyError(msg) from cause
        # SQLAlchemy's wrappers, chosen by the driver's exception names: a driver module
        # may lack some of the DB-API's classes (duckdb-engine's has no OperationalError).
        lost = exc.connection_invalidated
        if lost or isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
            connections.drop(held)
            if lost:
                connections.server_gone()
                if rerun_read and not timed_out(cause):
                    return "lost"
            msg = f"database unavailable: {cause}"
            raise StoreUnavailable(msg) from cause
        if isinstance(exc, sa_exc.DataError):
            msg = f"the database refused the key: {cause}"
            raise InvalidKeyError(msg) from cause
        if isinstance(exc, sa_exc.IntegrityError):
            msg = f"the database refused the write: {cause}"
            raise ConflictError(msg) from cause
        raise exc

    # -- helpers ---------------------------------------------------------------------------

    def _kp(self, key: str) -> Any:
        return key.encode() if self._binary else key

    def _label(self, raw: Any) -> str:
        if isinstance(raw, memoryview):
            raw = raw.tobytes()
        return raw.decode() if isinstance(raw, bytes | bytearray) else raw

    def _check_writable(self) -> None:
        if not self._writable:
            self._store._read_only()

    def _insert_seq(self, conn: Connection, params: dict[str, Any]) -> int:
        result = conn.execute(self._st.insert_seq, params)
        if self._st.returning:
            return int(result.scalar_one())
        primary_key = result.inserted_primary_key
        assert primary_key is not None
        return int(primary_key[0])

    def _kill(self, conn: Connection, label: Any) -> tuple[int, Any] | None:
        """Tombstone *label* if its newest row is alive, in the caller's transaction.

        Returns the newest row's sequence number and value, or ``None`` if the key is
        missing. The tombstone is written only while that row is still the newest, so of
        two concurrent pops one wins and the other reads again; where the profile has key
        or row locks they are taken first, as on the tuned path.
        """
        st = self._st
        if st.key_lock is not None:
            conn.execute(st.key_lock, {"lock": self._store._lock_id(label)})
        while True:
            row = conn.execute(st.latest, {"label": label}).first()
            if row is None or row[2]:
                return None
            params = {"label": label, "created": _now(), "seq": row[0]}
            result = conn.execute(st.tombstone_if, params)
            if st.returning:
                # No row, or (Firebird) a row of NULLs: nothing was inserted.
                done = result.first()
                inserted = done is not None and done[0] is not None
            else:
                inserted = result.rowcount == 1
            if inserted:
                return int(row[0]), row[1]
            # A write landed between the two statements: read the newer row.

    def _prune_older(self, conn: Connection, label: Any) -> None:
        """Delete the rows of *label* older than its newest (just written) one."""
        newest = conn.execute(self._st.latest, {"label": label}).first()
        if newest is not None:
            self._prune_rows(conn, self._st.prune, {"label": label, "seq": newest[0]})

    def _prune_rows(self, conn: Connection, statement: Any, params: dict[str, Any]) -> None:
        """Run a prune; where a failed statement leaves the transaction usable, one that
        conflicts with a concurrent writer's prune is skipped (the next write prunes)."""
        try:
            conn.execute(statement, params)
        except sa_exc.DBAPIError as exc:
            conflict = exc.orig is not None and is_deadlock(self._family, exc.orig)
            if not (self._profile.statement_atomic and conflict):
                raise

    @staticmethod
    def _bytes(item: Any) -> bytes:
        return item if type(item) is bytes else bytes(item)

    # -- reads -----------------------------------------------------------------------------

    def _read(self, key: str) -> bytes:
        params = {"label": self._kp(key), **self._at}
        get = self._st.get
        row = self._run(lambda conn: conn.execute(get, params).first(), write=False)
        if row is None or row[1]:
            raise KeyError(key)
        return self._bytes(row[0])

    def _contains(self, key: str) -> bool:
        params = {"label": self._kp(key), **self._at}
        contains = self._st.contains
        deleted = self._run(lambda conn: conn.execute(contains, params).scalar(), write=False)
        return deleted is not None and not deleted

    def _read_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        read_many = self._st.read_many
        for start in range(0, len(keys), _BATCH):
            params = {"labels": [self._kp(key) for key in keys[start : start + _BATCH]]}
            params.update(self._at)
            rows = self._run(functools.partial(_all, read_many, params), write=False)
            for label, item in rows:
                found[self._label(label)] = self._bytes(item)
        return found

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        bounds: dict[str, Any] = {}
        if prefix and self._profile.ordered_keys:
            low, high = prefix_bounds(prefix)
            bounds["low"] = self._kp(low)
            if high is not None:
                bounds["high"] = self._kp(high)
        # The first page now, so an unreachable database raises here, not at next().
        rows = self._page(bounds, None)
        return self._pages(rows, bounds, prefix)

    def _page(self, bounds: dict[str, Any], after: Any) -> list[Any]:
        statement = self._st.page(
            low="low" in bounds, after=after is not None, high="high" in bounds
        )
        params = {**bounds, **self._at}
        if after is not None:
            params["after"] = after
        return self._run(functools.partial(_all, statement, params), write=False)

    def _pages(self, rows: list[Any], bounds: dict[str, Any], prefix: str) -> Iterator[str]:
        """The live labels of each page in turn; a prefix without a range filters here."""
        while True:
            for raw, deleted in rows:
                if not deleted:
                    label = self._label(raw)
                    if label.startswith(prefix):
                        yield label
            if len(rows) < PAGE:
                return
            after = rows[-1][0]
            del rows
            rows = self._page(bounds, after)

    def _count(self) -> int:
        count = self._st.count
        at = self._at
        return int(self._run(lambda conn: conn.execute(count, at).scalar_one(), write=False))

    def history(self, key: str) -> list[Version]:
        """Every version of *key*, oldest first, tombstones included (up to the snapshot)."""
        checked = self._store._check_key(key)
        params = {"label": self._kp(checked), **self._at}
        history = self._st.history
        rows = self._run(functools.partial(_all, history, params), write=False)
        decode = self._store._decode
        return [
            Version(
                sequence_number=int(seq),
                created=View.time_from_db(created),
                deleted=bool(deleted),
                value=None if deleted else decode(self._bytes(item)),
            )
            for seq, created, deleted, item in rows
        ]

    # -- writes ----------------------------------------------------------------------------

    def _write(self, key: str, value: bytes) -> None:
        self._check_writable()
        params = {"label": self._kp(key), "item": value, "created": _now()}
        st = self._st
        if not self._prune:
            self._run(lambda conn: conn.execute(st.insert, params), write=True)
            return

        def write(conn: Connection) -> None:
            seq = self._insert_seq(conn, params)
            self._prune_rows(conn, st.prune, {"label": params["label"], "seq": seq})

        self._run(write, write=True)

    def _write_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        self._check_writable()
        now = _now()
        rows = [{"label": self._kp(key), "item": value, "created": now} for key, value in items]
        st = self._st

        def write(conn: Connection) -> None:
            first = self._insert_seq(conn, rows[0])
            if len(rows) > 1:
                conn.execute(st.insert, rows[1:])
            if self._prune:
                labels = [row["label"] for row in rows]
                for start in range(0, len(labels), _BATCH):
                    chunk = labels[start : start + _BATCH]
                    # Rows older than this batch's first: never one of this batch's rows.
                    self._prune_rows(conn, st.prune_many, {"labels": chunk, "seq": first})

        self._run(write, write=True)

    def _delete(self, key: str) -> None:
        self._check_writable()
        label = self._kp(key)

        def delete(conn: Connection) -> None:
            if self._kill(conn, label) is None:
                raise KeyError(key)
            if self._prune:
                self._prune_older(conn, label)

        self._run(delete, write=True)

    def _delete_many(self, keys: Sequence[str]) -> None:
        self._check_writable()
        labels = sorted({self._kp(key): None for key in keys})  # locks in one order
        st = self._st

        def delete(conn: Connection) -> None:
            for label in labels:
                if self._kill(conn, label) is not None and self._prune:
                    self._prune_older(conn, label)

        def delete_at_once(conn: Connection) -> None:
            # Nothing to lock: a tombstone for each live key of a chunk in one statement.
            now = _now()
            for start in range(0, len(labels), _BATCH):
                chunk = labels[start : start + _BATCH]
                conn.execute(st.tombstone_many, {"labels": chunk, "created": now})
                if self._prune:
                    self._prune_rows(conn, st.prune_older_many, {"labels": chunk})

        self._run(delete if self._profile.locking else delete_at_once, write=True)

    def _pop(self, key: str) -> bytes:
        self._check_writable()
        label = self._kp(key)

        def pop(conn: Connection) -> Any:
            killed = self._kill(conn, label)
            if killed is None:
                raise KeyError(key)
            if self._prune:
                self._prune_older(conn, label)
            return killed[1]

        return self._bytes(self._run(pop, write=True))

    def purge(self, keys: Iterable[str]) -> None:
        """Remove every row of *keys*, old versions and tombstones too (see the tuned one)."""
        if not self._store._view.writable:
            self._store._read_only()
        labels = [self._kp(self._store._check_key(key)) for key in keys]
        purge_many = self._st.purge_many
        for start in range(0, len(labels), _BATCH):
            params = {"labels": labels[start : start + _BATCH]}
            self._run(functools.partial(_execute, purge_many, params), write=True)

    def _clear(self) -> None:
        self._check_writable()
        st = self._st
        if self._prune:
            self._run(lambda conn: conn.execute(st.clear_all), write=True)
        else:
            now = {"created": _now()}
            self._run(lambda conn: conn.execute(st.clear_tombstones, now), write=True)
