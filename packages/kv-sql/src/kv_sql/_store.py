"""GenericSqlDict: an append-only key-value table with history, snapshots and pruning."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from kv_core import (
    Capabilities,
    InvalidKeyError,
    KVError,
    ReadOnlyError,
    Store,
    ValueTooLargeError,
)
from kv_core.capabilities import LONE_SURROGATES
from kv_core.codec import Deserializer, Serializer

from ._connections import ConnectionLeases, leases_for
from ._engine import (
    create_table,
    create_table_ddl,
    is_memory_sqlite,
    label_capacity,
    make_engine,
    mysql_setup,
    require_table,
    sqlite_read_only,
    sqlite_setup,
)
from ._failures import is_deadlock, is_retryable
from ._schema import validate_table_name
from ._sql import Statements, prefix_bounds

__all__ = ["GenericSqlDict", "Version"]

T = TypeVar("T")

_ATTEMPTS = 8  # a transaction that times out waiting for a lock runs at most this many times
_DEADLOCK_ATTEMPTS = 32  # one that deadlocks (someone else went ahead), this many times
_LONGEST_PAUSE = 6  # pauses before a rerun: random, up to 1, 2, 4 ... 2**6 ms
_BATCH = 500
_MYSQL = frozenset({"mysql", "mariadb"})
_KNOWN = frozenset({"sqlite", "mysql", "mariadb", "postgresql"})
# Bytes that PyMySQL escapes with a backslash, doubling them in the statement it sends.
_STATEMENT_OVERHEAD = 4096
_SQLITE_TOOBIG = 18  # SQLite refuses a string or blob over SQLITE_LIMIT_LENGTH (1e9 bytes)


@dataclass(frozen=True)
class Version:
    """One row of a key's history.

    :param sequence_number: The row's place in the table's write order.
    :param created: When it was written (UTC, aware).
    :param deleted: Whether the row is a tombstone left by a delete.
    :param value: The value (through the store's deserializer), ``None`` for a tombstone.
    """

    sequence_number: int
    created: datetime | None
    deleted: bool
    value: Any


def _fetchone(cursor: Any) -> Any:
    return cursor.fetchone()


def _fetchall(cursor: Any) -> list[Any]:
    rows: list[Any] = cursor.fetchall()
    return rows


def _utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


class GenericSqlDict(Store):
    """A dict over one SQL table that keeps every version of every key.

    Works on SQLite, MySQL/MariaDB and PostgreSQL (through SQLAlchemy 2 and the DB-API
    driver of the URL). Writes append a row; deletes append a tombstone; reads return the
    newest row of the key. See the package README for the schema and the details.

    :param url_or_engine: A SQLAlchemy URL (``sqlite:///kv.db``, ``sqlite://`` for memory,
        ``mysql+pymysql://...``, ``postgresql+psycopg://...``) or an ``Engine``.
    :param table_name: The table, created with its indexes if missing.
    :param key_length: The longest key in characters; longer keys raise ``InvalidKeyError``.
        On a server, more than an existing table's ``label`` column holds raises
        ``ValueError``.
    :param snapshot_time: A read-only view of the table as it was at this moment (naive
        datetimes are UTC); every write raises ``ReadOnlyError``.
    :param prune_on_write: Each write also deletes the key's older rows, in its transaction.
    :param engine_kwargs: Passed to ``sqlalchemy.create_engine`` (``pool_size``,
        ``pool_recycle`` ...); not allowed with an ``Engine``.
    :param serializer: Applied to every value before it is stored.
    :param deserializer: Applied to the stored bytes of every value read.
    """

    _dialects: frozenset[str] | None = None

    def __init__(
        self,
        url_or_engine: str | Engine,
        table_name: str,
        *,
        key_length: int = 255,
        snapshot_time: datetime | None = None,
        prune_on_write: bool = False,
        engine_kwargs: dict[str, Any] | None = None,
        serializer: Serializer | None = None,
        deserializer: Deserializer | None = None,
        _leases: ConnectionLeases | None = None,
    ) -> None:
        super().__init__(serializer=serializer, deserializer=deserializer)
        self._serializer = serializer
        self._deserializer = deserializer
        self._table_name = validate_table_name(table_name)
        if isinstance(key_length, bool) or not isinstance(key_length, int) or key_length < 1:
            msg = f"key_length must be a positive int, not {key_length!r}"
            raise ValueError(msg)
        if snapshot_time is not None and not isinstance(snapshot_time, datetime):
            msg = f"snapshot_time must be a datetime, not {type(snapshot_time).__name__}"  # type: ignore[unreachable]
            raise TypeError(msg)
        self._key_length = key_length
        self._prune = bool(prune_on_write)
        if isinstance(url_or_engine, Engine):
            if engine_kwargs:
                msg = "engine_kwargs cannot be used with an Engine; configure the engine itself"
                raise ValueError(msg)
            engine, self._owns_engine = url_or_engine, False
        else:
            engine, self._owns_engine = make_engine(url_or_engine, engine_kwargs), True
        self._engine = engine
        dialect = engine.dialect
        self._dialect_name = name = dialect.name
        if self._dialects is not None and name not in self._dialects:
            self._dispose()
            msg = f"{type(self).__name__} needs one of {sorted(self._dialects)}, not {name!r}"
            raise ValueError(msg)
        self._memory = name == "sqlite" and is_memory_sqlite(engine.url)
        if self._memory and not isinstance(engine.pool, StaticPool):
            self._dispose()
            msg = (
                "an in-memory SQLite engine needs poolclass=StaticPool (and "
                "check_same_thread=False) so that every thread sees the same database"
            )
            raise ValueError(msg)
        self._binary_keys = name in _MYSQL
        self._nul_invalid = name == "postgresql"
        self._ranges = name in _KNOWN
        self._sqlite_text_time = name == "sqlite"
        # How a delete or pop makes sure that, of several at once, exactly one wins (see
        # _kill): PostgreSQL takes a per-key advisory lock, MySQL/MariaDB locks the newest
        # row; elsewhere (SQLite, whose writes are serialized) one INSERT ... SELECT.
        self._key_locks = name == "postgresql"
        self._row_locks = name in _MYSQL
        self._lock_salt = f"kv-sql\0{table_name}\0".encode()
        self._snapshot = None if snapshot_time is None else _utc_naive(snapshot_time)
        self._read_only_db = sqlite_read_only(engine.url)
        self._writable = self._snapshot is None and not self._read_only_db
        self._at: tuple[Any, ...] = (
            () if self._snapshot is None else (self._db_time(self._snapshot),)
        )
        self._st = Statements.build(dialect, table_name, snapshot=self._snapshot is not None)
        self._packet_limit: int | None = None
        self._owns_leases = _leases is None
        try:
            if _leases is None:
                if self._read_only_db:
                    require_table(engine, table_name)
                elif not self._memory:
                    create_table(engine, table_name, key_length, wal=name == "sqlite")
                    self._check_capacity()
                setup = None
                if name == "sqlite" and not self._memory:
                    setup = sqlite_setup
                elif name in _MYSQL:
                    setup = mysql_setup
                _leases = leases_for(engine, shared=self._memory, setup=setup)
            self._leases = _leases
            if self._memory and self._owns_leases:
                # Through the one shared connection, under its lock: another store on this
                # engine may be in the middle of a transaction on it.
                ddl = create_table_ddl(engine, table_name, key_length)
                self._transact(lambda cur: [cur.execute(sql) for sql in ddl], begin=False)
            if name in _MYSQL:
                self._packet_limit = int(self._query_one("SELECT @@max_allowed_packet", ()))
        except BaseException:
            if self._owns_leases and _leases is not None:
                _leases.done()
            self._dispose()
            raise

    # -- plumbing ------------------------------------------------------------------------

    def _check_capacity(self) -> None:
        """Refuse a key_length longer than the existing table's label column holds."""
        found = label_capacity(self._engine, self._table_name)
        if found is not None and found[0] < self._key_length:
            capacity, column = found
            msg = (
                f"table {self._table_name!r} has a label column of {column}, which holds keys"
                f" of up to {capacity} characters: open it with key_length={capacity} or less,"
                f" not {self._key_length}"
            )
            raise ValueError(msg)

    def _dispose(self) -> None:
        if self._owns_engine:
            self._engine.dispose()

    def _db_time(self, moment: datetime) -> Any:
        if self._sqlite_text_time:
            # The format SQLAlchemy's SQLite DateTime uses, so both read each other's rows.
            return moment.isoformat(" ", "microseconds")
        return moment

    def _now(self) -> Any:
        now = datetime.now(UTC).replace(tzinfo=None)
        return now.isoformat(" ", "microseconds") if self._sqlite_text_time else now

    def _time_from_db(self, raw: Any) -> datetime | None:
        if raw is None:
            return None
        moment = datetime.fromisoformat(raw) if isinstance(raw, str) else raw
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)

    def _kp(self, key: str) -> Any:
        return key.encode() if self._binary_keys else key

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

    def _query_one(self, sql: str, params: tuple[Any, ...]) -> Any:
        row = self._query(sql, params, _fetchone)
        return None if row is None else row[0]

    def _query_all(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return self._query(sql, tuple(params), _fetchall)

    def _transact(self, body: Callable[[Any], T], *, begin: bool) -> T:
        """Run *body(cursor)*, in one transaction if *begin*, rerunning it after deadlocks.

        A deadlock means another transaction went ahead, so it is rerun up to
        ``_DEADLOCK_ATTEMPTS`` times in all; a lock-wait timeout up to ``_ATTEMPTS`` times.
        Giving up on deadlocks raises ``KVError``: the database is busy, not unavailable.
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
                        or not is_retryable(self._dialect_name, exc)
                    ):
                        self._leases.failed(lease, exc)
                        raise
                    if is_deadlock(self._dialect_name, exc):
                        deadlocks += 1
                        if deadlocks >= _DEADLOCK_ATTEMPTS:
                            msg = f"gave up after {deadlocks} deadlocks in a row: {exc}"
                            raise KVError(msg) from exc
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
        if self._snapshot is not None:
            msg = f"{type(self).__name__} is a snapshot as of {self._snapshot} UTC: it is read-only"
        else:
            msg = f"{type(self).__name__} opened its database read-only ({self._describe()})"
        raise ReadOnlyError(msg)

    def _check_size(self, value: bytes) -> None:
        limit = self._packet_limit
        if limit is not None and len(value) > limit - _STATEMENT_OVERHEAD:
            msg = (
                f"a value of {len(value)} bytes does not fit in the server's "
                f"max_allowed_packet ({limit} bytes); raise it on the server to store it"
            )
            raise ValueTooLargeError(msg)

    def _chunk_size(self, label: Any) -> int | None:
        """On MySQL, the most value bytes one statement can carry (PyMySQL sends hex)."""
        limit = self._packet_limit
        if limit is None:
            return None
        return (limit - _STATEMENT_OVERHEAD - 2 * len(label)) // 2

    def _insert(self, cur: Any, params: tuple[Any, ...]) -> int:
        """Insert one row and return its sequence number; in a transaction if chunked."""
        label, value, created = params
        step = self._chunk_size(label)
        if step is not None and len(value) > step:
            # PyMySQL sends bytes as hex, doubling them: a value over half of the server's
            # max_allowed_packet is sent in pieces, appended in the same transaction.
            cur.execute(self._st.insert_seq, (label, value[:step], created))
            seq = int(cur.lastrowid)
            for start in range(step, len(value), step):
                cur.execute(self._st.append, (value[start : start + step], seq))
            return seq
        cur.execute(self._st.insert_seq, params)
        if self._st.returning:
            return int(cur.fetchone()[0])
        return int(cur.lastrowid)

    def _needs_chunks(self, label: Any, value: bytes) -> bool:
        step = self._chunk_size(label)
        return step is not None and len(value) > step

    def _tombstone(self, cur: Any, sql: str, params: tuple[Any, ...]) -> int | None:
        cur.execute(sql, params)
        if self._st.returning:
            row = cur.fetchone()
            return None if row is None else int(row[0])
        if cur.rowcount != 1:
            return None
        return int(cur.lastrowid)

    # -- what the store declares -----------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """History, persistence and the keys this table refuses, for this database."""
        invalid = ["k" * (self._key_length + 1), "\ud800"]
        if self._nul_invalid:
            invalid.append("a\x00b")
        return Capabilities(
            persistent=not self._memory,
            processes=not self._memory,
            ttl=False,
            history=True,
            max_key_length=self._key_length,
            max_value_size=None,
            empty_key=True,
            hierarchical_keys=False,
            invalid_keys=tuple(invalid),
            refused_characters=(
                LONE_SURROGATES | {"\x00"} if self._nul_invalid else LONE_SURROGATES
            ),
        )

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine of the store."""
        return self._engine

    @property
    def table_name(self) -> str:
        """The name of the key-value table."""
        return self._table_name

    @property
    def key_length(self) -> int:
        """The longest key, in characters."""
        return self._key_length

    @property
    def prune_on_write(self) -> bool:
        """Whether writes delete the key's older rows."""
        return self._prune

    @property
    def snapshot_time(self) -> datetime | None:
        """The moment this read-only view shows (aware, UTC), or ``None`` for the present."""
        return None if self._snapshot is None else self._snapshot.replace(tzinfo=UTC)

    def _validate_key(self, key: str) -> None:
        if len(key) > self._key_length:
            msg = f"key of {len(key)} characters is longer than key_length={self._key_length}"
            raise InvalidKeyError(msg)
        if key.isascii() and not self._nul_invalid:
            return
        self._validate_text(key, "key")

    def _validate_prefix(self, prefix: str) -> None:
        self._validate_text(prefix, "prefix")

    def _validate_text(self, text: str, what: str) -> None:
        if text.isascii():
            if self._nul_invalid and "\x00" in text:
                msg = f"PostgreSQL text cannot hold NUL: invalid {what} {text!r}"
                raise InvalidKeyError(msg)
            return
        try:
            text.encode()
        except UnicodeEncodeError:
            msg = f"{what} {text!r} is not valid Unicode (lone surrogate)"
            raise InvalidKeyError(msg) from None
        if self._nul_invalid and "\x00" in text:
            msg = f"PostgreSQL text cannot hold NUL: invalid {what} {text!r}"
            raise InvalidKeyError(msg)

    # -- reads -----------------------------------------------------------------------------

    def _read(self, key: str) -> bytes:
        lease = self._leases.lease()
        params = (key.encode(),) if self._binary_keys else (key,)
        if self._at:
            params += self._at
        lost = False
        with lease.lock:
            try:
                cur = lease.cursor
                cur.execute(self._st.get, params)
                row = cur.fetchone()
            except BaseException as exc:
                # The hot path of _query, written out: lost connections are read again there.
                if not self._leases.lost(lease, exc):
                    self._leases.failed(lease, exc)
                    raise
                lost = True
        if lost:
            row = self._query_again(self._st.get, params, _fetchone)
        if row is None or row[1]:
            raise KeyError(key)
        item = row[0]
        return item if type(item) is bytes else bytes(item)

    def _contains(self, key: str) -> bool:
        params = (key.encode(),) if self._binary_keys else (key,)
        deleted = self._query_one(self._st.contains, params + self._at)
        return deleted is not None and not deleted

    def _read_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), _BATCH):
            chunk = keys[start : start + _BATCH]
            labels = [self._kp(key) for key in chunk]
            rows = self._query_all(self._st.read_many(len(chunk)), [*labels, *self._at])
            for label, item in rows:
                found[self._label(label)] = item if type(item) is bytes else bytes(item)
        return found

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        params: list[Any] = []
        low = high = False
        if prefix and self._ranges:
            lower, upper = prefix_bounds(prefix)
            params.append(self._kp(lower))
            low = True
            if upper is not None:
                params.append(self._kp(upper))
                high = True
        rows = self._query_all(self._st.keys(low=low, high=high), [*params, *self._at])
        if self._binary_keys:
            labels = [row[0].decode() for row in rows]
        else:
            labels = [row[0] for row in rows]
        if prefix:
            labels = [label for label in labels if label.startswith(prefix)]
        return iter(labels)

    def _count(self) -> int:
        return int(self._query_one(self._st.count(), self._at))

    def history(self, key: str) -> list[Version]:
        """Every version of *key*, oldest first, tombstones included (up to the snapshot).

        With ``prune_on_write`` only the newest row is left after each write.
        """
        checked = self._check_key(key)
        rows = self._query_all(self._st.history, [self._kp(checked), *self._at])
        decode = self._decode
        return [
            Version(
                sequence_number=int(seq),
                created=self._time_from_db(created),
                deleted=bool(deleted),
                value=None if deleted else decode(item if type(item) is bytes else bytes(item)),
            )
            for seq, created, deleted, item in rows
        ]

    def snapshot(self, at: datetime) -> GenericSqlDict:
        """A read-only view of this table as it was at *at* (naive datetimes are UTC).

        It shares this store's engine and connections; close it when done (closing it
        leaves this store open). A time in the future shows the present.
        """
        if not isinstance(at, datetime):
            msg = f"snapshot time must be a datetime, not {type(at).__name__}"  # type: ignore[unreachable]
            raise TypeError(msg)
        return type(self)(
            self._engine,
            self._table_name,
            key_length=self._key_length,
            snapshot_time=at,
            prune_on_write=self._prune,
            serializer=self._serializer,
            deserializer=self._deserializer,
            _leases=self._leases,
        )

    # -- writes ----------------------------------------------------------------------------

    def _write(self, key: str, value: bytes) -> None:
        if not self._writable:
            self._read_only()
        label = key.encode() if self._binary_keys else key
        params = (label, value, self._now())
        if self._packet_limit is not None:
            self._check_size(value)
            if self._needs_chunks(label, value):
                chunked = self._insert
                if self._prune:
                    chunked = self._insert_and_prune
                self._transact(lambda cur: chunked(cur, params), begin=True)
                return
        if not self._prune:
            insert = self._st.insert

            def write(cur: Any) -> None:
                cur.execute(insert, params)

            self._transact(write, begin=False)
            return

        self._transact(lambda cur: self._insert_and_prune(cur, params), begin=True)

    def _insert_and_prune(self, cur: Any, params: tuple[Any, ...]) -> int:
        seq = self._insert(cur, params)
        cur.execute(self._st.prune, (params[0], seq))
        return seq

    def _write_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        if not self._writable:
            self._read_only()
        now = self._now()
        rows = [(self._kp(key), value, now) for key, value in items]
        big = []
        if self._packet_limit is not None:
            for row in rows:
                self._check_size(row[1])
            big = [row for row in rows if self._needs_chunks(row[0], row[1])]
            rows = [row for row in rows if not self._needs_chunks(row[0], row[1])]

        def write(cur: Any) -> None:
            ordered = [*big, *rows]
            first = self._insert(cur, ordered[0])
            for row in big[1:]:
                self._insert(cur, row)
            rest = rows[1:] if not big else rows
            if rest:
                cur.executemany(self._st.insert, rest)
            if self._prune:
                labels = [row[0] for row in ordered]
                for start in range(0, len(labels), _BATCH):
                    chunk = labels[start : start + _BATCH]
                    # Rows older than this batch's first one: never a row of this batch, nor
                    # one a concurrent writer added after it.
                    cur.execute(self._st.prune_many(len(chunk)), (*chunk, first))

        self._transact(write, begin=True)

    def _lock_id(self, label: Any) -> int:
        """A 64-bit advisory lock number for *label* in this table (PostgreSQL)."""
        raw = label if isinstance(label, bytes) else label.encode()
        digest = hashlib.blake2b(self._lock_salt + raw, digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    def _kill(self, cur: Any, label: Any, *, value: bool) -> tuple[int, Any] | None:
        """Tombstone *label* if its newest row is alive, inside the caller's transaction.

        Returns the tombstone's sequence number and (if *value*) the value it hides, or
        ``None`` if the key is missing. Of concurrent deleters and poppers of one key exactly
        one wins: on PostgreSQL a per-key advisory lock lets one at a time read the newest row
        (READ COMMITTED: each statement sees what the previous holder committed); on
        MySQL/MariaDB the newest row and the gap after it are locked (``FOR UPDATE``) and the
        tombstone is a plain ``INSERT`` (an ``INSERT ... SELECT`` from the same table takes
        its AUTO-INC lock, and deadlocks on it as error 1467). Only for servers.
        """
        st = self._st
        now = self._now()
        if self._key_locks:
            cur.execute(st.key_lock, (self._lock_id(label),))
            if not value:
                seq = self._tombstone(cur, st.tombstone, (label, now, label))
                return None if seq is None else (seq, None)
            while True:
                cur.execute(st.latest, (label,))
                row = cur.fetchone()
                if row is None or row[2]:
                    return None
                seq = self._tombstone(cur, st.tombstone_if, (label, now, label, row[0]))
                if seq is not None:
                    return seq, row[1]
                # A write landed between the two statements: pop the newer value.
        cur.execute(st.lock_latest if value else st.lock_latest_state, (label,))
        row = cur.fetchone()
        if row is None or row[2]:
            return None
        cur.execute(st.tombstone_row, (label, now))
        return int(cur.lastrowid), row[1]

    def _delete(self, key: str) -> None:
        if not self._writable:
            self._read_only()
        label = self._kp(key)
        locking = self._key_locks or self._row_locks

        def delete(cur: Any) -> None:
            if locking:
                killed = self._kill(cur, label, value=False)
                seq = None if killed is None else killed[0]
            else:
                seq = self._tombstone(cur, self._st.tombstone, (label, self._now(), label))
            if seq is None:
                raise KeyError(key)
            if self._prune:
                cur.execute(self._st.prune, (label, seq))

        self._transact(delete, begin=locking or self._prune)

    def _delete_many(self, keys: Sequence[str]) -> None:
        if not self._writable:
            self._read_only()
        labels = [self._kp(key) for key in keys]
        # Locks taken in one order: two batches deleting the same keys do not deadlock.
        if self._key_locks:
            labels.sort(key=self._lock_id)
        elif self._row_locks:
            labels.sort()

        def delete(cur: Any) -> None:
            now = self._now()
            for label in labels:
                if self._key_locks or self._row_locks:
                    killed = self._kill(cur, label, value=False)
                    seq = None if killed is None else killed[0]
                else:
                    seq = self._tombstone(cur, self._st.tombstone, (label, now, label))
                if seq is not None and self._prune:
                    cur.execute(self._st.prune, (label, seq))

        self._transact(delete, begin=True)

    def _pop(self, key: str) -> bytes:
        if not self._writable:
            self._read_only()
        label = self._kp(key)
        if self._key_locks or self._row_locks:

            def pop(cur: Any) -> Any:
                killed = self._kill(cur, label, value=True)
                if killed is None:
                    raise KeyError(key)
                if self._prune:
                    cur.execute(self._st.prune, (label, killed[0]))
                return killed[1]

            item = self._transact(pop, begin=True)
            return item if type(item) is bytes else bytes(item)
        while True:
            row = self._query_all(self._st.latest, [label])
            if not row or row[0][2]:
                raise KeyError(key)
            seq, item, _ = row[0]

            def tombstone(cur: Any, seq: Any = seq) -> bool:
                done = self._tombstone(cur, self._st.tombstone_if, (label, self._now(), label, seq))
                if done is not None and self._prune:
                    cur.execute(self._st.prune, (label, done))
                return done is not None

            # Only if the row just read is still the newest: of two concurrent pops, one
            # gets the value and the other reads again (SQLite runs one write at a time).
            if self._transact(tombstone, begin=self._prune):
                return item if type(item) is bytes else bytes(item)

    def set_many(self, items: Any) -> None:
        """Store every pair in one transaction (``ReadOnlyError`` on a snapshot, even if empty)."""
        if not self._writable:
            self._read_only()
        super().set_many(items)

    def delete_many(self, keys: Any) -> None:
        """Remove those of *keys* that exist, in one transaction; missing keys are ignored."""
        if not self._writable:
            self._read_only()
        super().delete_many(keys)

    def purge(self, keys: Iterable[str]) -> None:
        """Remove every row of *keys*, old versions and tombstones too, as if never written.

        ``del`` keeps a key's history (it appends a tombstone); this erases it, so no
        :meth:`history` or snapshot shows the keys any more. Every key is checked first;
        missing keys are ignored. On a snapshot: ``ReadOnlyError``.
        """
        if self._snapshot is not None:
            self._read_only()
        labels = [self._kp(self._check_key(key)) for key in keys]

        def purge(cur: Any, chunk: tuple[Any, ...]) -> None:
            cur.execute(self._st.purge_many(len(chunk)), chunk)

        for start in range(0, len(labels), _BATCH):
            chunk = tuple(labels[start : start + _BATCH])
            self._transact(functools.partial(purge, chunk=chunk), begin=False)

    def popitem(self) -> tuple[str, Any]:
        """Remove and return some ``(key, value)`` pair; ``KeyError`` if the store is empty."""
        if not self._writable:
            self._read_only()
        return super().popitem()

    def _clear(self) -> None:
        if not self._writable:
            self._read_only()
        if self._prune:
            sql = self._st.clear_all
            self._transact(lambda cur: cur.execute(sql), begin=False)
        else:
            sql, params = self._st.clear_tombstones, (self._now(),)
            self._transact(lambda cur: cur.execute(sql, params), begin=False)

    # -- lifecycle -------------------------------------------------------------------------

    def _close(self) -> None:
        if self._owns_leases:
            self._leases.done()
        self._dispose()

    def _describe(self) -> str:
        url = self._engine.url.render_as_string(hide_password=True)
        parts = [repr(url), f"table={self._table_name!r}"]
        if self._snapshot is not None:
            parts.append(f"snapshot_time={self._snapshot.isoformat()}Z")
        if self._prune:
            parts.append("prune_on_write=True")
        return ", ".join(parts)
