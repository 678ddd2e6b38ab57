"""Connections for the hot path: one pooled DB-API connection per thread, held between calls.

Checking a connection out of SQLAlchemy's pool for every call costs a ping round trip
(``pool_pre_ping``), a ``ROLLBACK`` round trip on check-in and some microseconds of Python:
more than a whole SQLite read. So each thread *leases* one pooled connection, puts it in
autocommit mode (every statement its own transaction: a reader never keeps an old
REPEATABLE READ snapshot) and keeps it until the thread ends, the store closes, or the
connection fails. A lease idle for longer than :data:`IDLE_SECONDS` goes back to the pool and
is checked out again, so ``pool_pre_ping`` and ``pool_recycle`` still catch connections the
server or a firewall dropped while nobody used them. A lease idle for longer than
:data:`PEEK_SECONDS` is first looked at without a round trip (a non-blocking peek at its
socket): a server that closed it meanwhile (an idle timeout such as MySQL's
``wait_timeout``) has left an end of file or a last error message there, and the lease is
replaced before the call, so a write is never sent on a connection known to be gone.

An in-memory SQLite database is one connection (``StaticPool``): every thread shares one lease
and takes its lock for each call.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import weakref
from typing import Any, NoReturn

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from kv_core import (
    AccessDeniedError,
    ConflictError,
    InvalidKeyError,
    OutOfSpaceError,
    ReadOnlyError,
    StoreUnavailable,
)

from ._failures import access_denied, driver_error, is_out_of_space, is_read_only, timed_out

__all__ = ["IDLE_SECONDS", "PEEK_SECONDS", "ConnectionLeases", "Lease", "leases_for"]

logger = logging.getLogger(__name__)

IDLE_SECONDS = 10.0
#: A lease idle this long is checked for a server that hung up meanwhile before it is used.
PEEK_SECONDS = 1.0

_FORKED_AWAY: list[Any] = []


def raise_connect_failure(engine: Engine, exc: BaseException) -> NoReturn:
    """Raise the kv error for a connection *engine* could not give: a full pool or a server
    that is down is ``StoreUnavailable``, refused credentials ``AccessDeniedError``."""
    if isinstance(exc, sa_exc.TimeoutError):
        msg = f"no free connection in the pool: {exc}"
        raise StoreUnavailable(msg) from exc
    cause = driver_error(exc)
    if access_denied(engine.dialect.name, cause, engine.url.database):
        msg = f"the database refused the connection: {cause}"
        raise AccessDeniedError(msg) from cause
    msg = f"cannot connect to the database: {cause}"
    raise StoreUnavailable(msg) from cause


class Lease:
    """One DB-API connection and cursor lent to one thread (or shared, with its lock)."""

    __slots__ = (
        "__weakref__",
        "connection",
        "cursor",
        "dialect",
        "fairy",
        "generation",
        "lock",
        "used",
    )

    def __init__(self, fairy: Any, generation: int, dialect: Any) -> None:
        self.fairy = fairy
        self.dialect = dialect
        self.connection: Any = fairy.dbapi_connection
        self.cursor: Any = self.connection.cursor()
        self.lock = threading.Lock()
        self.generation = generation
        self.used = time.monotonic()

    def release(self) -> None:
        """Give the connection back to the pool in the state the pool lent it."""
        fairy, self.fairy = self.fairy, None
        if fairy is None:
            return
        try:
            self.cursor.close()
            self.dialect.reset_isolation_level(self.connection)
            fairy.close()
        except Exception:
            logger.debug("dropping a connection that failed on release", exc_info=True)
            try:
                fairy.invalidate()
            except Exception:
                logger.debug("invalidating a dropped connection failed", exc_info=True)

    def invalidate(self, error: BaseException | None) -> None:
        """Close the cursor and the connection for good, and remove it from the pool."""
        fairy, self.fairy = self.fairy, None
        if fairy is None:
            return
        # The cursor first: an open SQLite statement keeps the database and its journal
        # open after the connection is closed, for as long as anything (a traceback of the
        # error that got us here) refers to the cursor.
        with contextlib.suppress(Exception):
            self.cursor.close()
        try:
            fairy.invalidate(error if isinstance(error, Exception) else None)
        except Exception:
            logger.debug("invalidating a failed connection failed", exc_info=True)

    def alive(self) -> bool:
        """Whether the server may still be at the other end, seen without a round trip.

        An idle connection has nothing to read: an end of file, a reset, or bytes the
        server sent unasked (MySQL's and PostgreSQL's last error before they hang up) mean
        it is gone. A connection without a socket (SQLite) is always alive.
        """
        fd = _socket_of(self.connection)
        if fd is None:
            return True
        if fd < 0:
            return False
        probe = socket.socket(fileno=fd)
        try:
            probe.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            probe.detach()  # the driver's socket, not ours to close
        return False

    def __del__(self) -> None:
        # The thread that held this lease has ended: its thread-local storage is gone.
        if self.fairy is not None:
            with contextlib.suppress(Exception):  # nothing sensible to do in a finalizer
                self.release()


def _socket_of(connection: Any) -> int | None:
    """The socket of a DB-API connection: its descriptor, -1 if closed, None if it has none."""
    if hasattr(connection, "_sock"):  # PyMySQL
        sock = connection._sock
        return -1 if sock is None else int(sock.fileno())
    fileno = getattr(connection, "fileno", None)  # psycopg, mysqlclient
    if not callable(fileno):
        return None
    try:
        return int(fileno())
    except Exception:  # noqa: BLE001 - a closed connection refuses, each driver its own way
        return -1


class ConnectionLeases:
    """Lends each thread one pooled connection in autocommit mode; see the module docstring.

    :param engine: The engine whose pool the connections come from.
    :param shared: Whether all threads share one connection (in-memory SQLite).
    :param setup: Called with each new DB-API connection before its first use.
    """

    def __init__(self, engine: Engine, *, shared: bool, setup: Any = None) -> None:
        self._engine = engine
        self._dialect = engine.dialect
        self._dbapi_error: type[BaseException] = engine.dialect.loaded_dbapi.Error
        self._shared_mode = shared
        self._shared: Lease | None = None
        self._local = threading.local()
        self._leases: weakref.WeakSet[Lease] = weakref.WeakSet()
        self._lock = threading.Lock()  # renewing the shared lease
        self._registry = threading.Lock()  # self._leases
        self._generation = 0
        self._setup = setup
        self._closed = False
        self.users = 0
        self._pid = os.getpid()
        _LIVE.add(self)

    def lease(self) -> Lease:
        """The calling thread's lease, checked out (and pinged by the pool) if needed."""
        if self._shared_mode:
            shared = self._shared
            if shared is not None and shared.generation == self._generation:
                return shared
            with self._lock:
                return self._renew_shared()
        lease: Lease | None = getattr(self._local, "lease", None)
        if lease is not None and lease.generation == self._generation:
            now = time.monotonic()
            idle = now - lease.used
            if idle < IDLE_SECONDS and (idle < PEEK_SECONDS or lease.alive()):
                lease.used = now
                return lease
            if idle < IDLE_SECONDS:
                # Found closed by the server: not worth a round trip to give it back.
                self._local.lease = None
                lease.invalidate(None)
                lease = None
        return self._renew_local(lease)

    def _renew_shared(self) -> Lease:
        shared = self._shared
        if shared is not None and shared.generation == self._generation:
            return shared
        if shared is not None:
            shared.invalidate(None)
        self._shared = self._checkout()
        return self._shared

    def _renew_local(self, old: Lease | None) -> Lease:
        if old is not None:
            self._local.lease = None
            old.release()
        lease = self._checkout()
        self._local.lease = lease
        return lease

    def _checkout(self) -> Lease:
        if self._closed:
            msg = "the store is closed"
            raise StoreUnavailable(msg)
        if os.getpid() != self._pid:
            self.after_fork()
        try:
            fairy = self._engine.raw_connection()
        except (sa_exc.TimeoutError, sa_exc.DBAPIError, self._dbapi_error) as exc:
            raise_connect_failure(self._engine, exc)
        try:
            connection: Any = fairy.dbapi_connection
            self._dialect.set_isolation_level(connection, "AUTOCOMMIT")
            if self._setup is not None and not fairy.info.get("kv_sql_ready"):
                self._setup(connection)
                fairy.info["kv_sql_ready"] = True
            lease = Lease(fairy, self._generation, self._dialect)
        except self._dbapi_error as exc:
            fairy.invalidate(exc)
            msg = f"cannot prepare a database connection: {exc}"
            raise StoreUnavailable(msg) from exc
        with self._registry:
            self._leases.add(lease)
        return lease

    def lost(self, lease: Lease, error: BaseException) -> bool:
        """Whether *error* shows that *lease*'s connection was already gone (closed or reset).

        Then the connection is dropped, and an idempotent read may be run once more on a
        new one. A timeout is not that: the server may be frozen, and a second try would
        wait as long again. Writes never ask: one sent may have run.
        """
        if self._shared_mode or not isinstance(error, Exception):
            return False
        error = driver_error(error)
        if timed_out(error):
            return False
        if isinstance(error, self._dbapi_error):
            try:
                gone = self._dialect.is_disconnect(error, lease.connection, lease.cursor)  # type: ignore[arg-type]
            except Exception:
                logger.debug("is_disconnect failed", exc_info=True)
                gone = False
        else:
            gone = isinstance(error, OSError | EOFError)
        if gone:
            self._drop(lease, error)
            self._generation += 1
        return gone

    def failed(self, lease: Lease, error: BaseException) -> None:
        """Deal with *error* raised while *lease* was in use.

        Raise :class:`StoreUnavailable` (from the driver's error) for connection problems,
        after dropping the connection so the next call checks out a fresh one;
        ``OutOfSpaceError`` for a database out of room, ``ReadOnlyError`` for one that takes
        no writes; a kv error for data the database refused (a key too long for the table's
        column: never a raw driver error); return for other errors, which the caller
        re-raises.
        """
        if not isinstance(error, Exception):
            # Interrupted (KeyboardInterrupt ...) mid-statement: the connection may hold an
            # open transaction or unread results, so it is not used again.
            self._drop(lease, None)
            return
        error = driver_error(error)
        if not isinstance(error, self._dbapi_error):
            if isinstance(error, OSError | EOFError):
                self._drop(lease, error)
                msg = f"database connection failed: {error}"
                raise StoreUnavailable(msg) from error
            return
        name = self._dialect.name
        if access_denied(name, error, self._engine.url.database):
            # The connection is fine; the server refused this statement (a privilege).
            msg = f"the database refused access: {error}"
            raise AccessDeniedError(msg) from error
        if is_out_of_space(name, error):
            msg = f"the database is out of space: {error}"
            raise OutOfSpaceError(msg) from error
        if is_read_only(name, error):
            msg = f"the database refuses writes (read-only): {error}"
            raise ReadOnlyError(msg) from error
        dbapi = self._dialect.loaded_dbapi
        disconnect = False
        try:
            disconnect = self._dialect.is_disconnect(error, lease.connection, lease.cursor)  # type: ignore[arg-type]
        except Exception:
            logger.debug("is_disconnect failed", exc_info=True)
        if disconnect or isinstance(error, dbapi.OperationalError | dbapi.InterfaceError):
            self._drop(lease, error)
            if disconnect and not self._shared_mode:
                # The server may have restarted: every held connection is suspect, so each
                # thread checks its lease out again (with the pool's pre-ping) next time.
                self._generation += 1
            msg = f"database unavailable: {error}"
            raise StoreUnavailable(msg) from error
        if isinstance(error, dbapi.DataError):
            # Keys are the only data that can be refused (values are blobs checked against
            # the server's limits, times are the store's own): a label too long for the
            # column (MySQL in strict mode, PostgreSQL), or text the column cannot hold.
            msg = f"the database refused the key: {error}"
            raise InvalidKeyError(msg) from error
        if isinstance(error, dbapi.IntegrityError):
            # A constraint of the table: two writers given the same sequence number.
            msg = f"the database refused the write: {error}"
            raise ConflictError(msg) from error

    def _drop(self, lease: Lease, error: BaseException | None) -> None:
        if self._shared_mode:
            # The one connection *is* the in-memory database: closing it would lose every
            # key. End whatever transaction it may be in, and keep it.
            with contextlib.suppress(Exception):
                lease.cursor.execute("ROLLBACK")
            return
        if lease is self._shared:
            self._shared = None
        elif getattr(self._local, "lease", None) is lease:
            self._local.lease = None
        lease.invalidate(error)

    def after_fork(self) -> None:
        """Forget the parent's connections in a forked child, without closing them.

        An in-memory SQLite database is the exception: it lives in this process's memory,
        so the child keeps its copy (and a new lock, in case another thread held the old one).
        """
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._registry = threading.Lock()
        if self._shared_mode:
            if self._shared is not None:
                self._shared.lock = threading.Lock()
            return
        self._local = threading.local()
        self._shared = None
        for lease in list(self._leases):
            # Keep the parent's connection objects alive forever: finalizing them here would
            # send a ROLLBACK or close packet on a socket the parent still uses.
            _FORKED_AWAY.append(lease.fairy)
            lease.fairy = None
        self._leases = weakref.WeakSet()
        self._engine.dispose(close=False)

    def done(self) -> None:
        """One store stops using these connections; the last one closes them."""
        with _SHARED_LOCK:
            self.users -= 1
            last = self.users <= 0
        if last:
            self.close()

    def close(self) -> None:
        """Return every lease to the pool; later calls raise ``StoreUnavailable``."""
        self._closed = True
        with self._registry:
            leases = list(self._leases)
            self._leases = weakref.WeakSet()
        self._shared = None
        self._local = threading.local()
        for lease in leases:
            lease.release()


_LIVE: weakref.WeakSet[ConnectionLeases] = weakref.WeakSet()


def _child_after_fork() -> None:
    for leases in list(_LIVE):
        leases.after_fork()


os.register_at_fork(after_in_child=_child_after_fork)


# In-memory SQLite: every store on one engine must share its one connection *and* its lock,
# or two stores would interleave their transactions on it.
_SHARED: weakref.WeakKeyDictionary[Engine, ConnectionLeases] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def leases_for(engine: Engine, *, shared: bool, setup: Any = None) -> ConnectionLeases:
    """The connections a new store on *engine* uses; release them with ``done()``."""
    with _SHARED_LOCK:
        leases = _SHARED.get(engine) if shared else None
        if leases is None or leases._closed:
            leases = ConnectionLeases(engine, shared=shared, setup=setup)
            if shared:
                _SHARED[engine] = leases
        leases.users += 1
        return leases
