"""GenericSqlDict: an append-only key-value table with history, snapshots and pruning.

The store is put together here (engine, profile, view, connections) and declares what it
holds; its reads are in ``_reads``, its writes in ``_writes``, the statement plumbing under
both in ``_transactions``, and what differs between databases in ``_profiles``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from kv_core import Capabilities, InvalidKeyError, Store
from kv_core.capabilities import LONE_SURROGATES
from kv_core.codec import Deserializer, Serializer

from ._connections import ConnectionLeases, leases_for
from ._core_statements import CoreStatements
from ._engine import (
    create_table,
    create_table_ddl,
    is_memory_sqlite,
    kv_table,
    label_capacity,
    make_engine,
    require_table,
    sqlite_read_only,
)
from ._generic import CoreConnections, CorePath, uses_generic_path
from ._profiles import SQLITE, profile_for
from ._reads import Reads
from ._schema import validate_table_name
from ._views import SnapshotView, Version, View, utc_naive
from ._writes import Writes

__all__ = ["GenericSqlDict", "Version"]

# Why a profile with nul_invalid refuses NUL in keys, for the message.
_NO_NUL = {
    "postgresql": "PostgreSQL text cannot hold NUL",
    "firebird": "Firebird pads OCTETS labels with NUL, so a key cannot hold one",
}


class GenericSqlDict(Reads, Writes):
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

    #: The dialects a subclass insists on (``None``: any, through its profile).
    _dialects: frozenset[str] | None = None
    #: Run on the generic path (SQLAlchemy Core) even where a tuned one exists: for
    #: comparing the two (tools/bench, the tests).
    _generic_path: bool = False
    _connections: ConnectionLeases | CoreConnections

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
    ) -> None:
        super().__init__(serializer=serializer, deserializer=deserializer)
        self._serializer = serializer
        self._deserializer = deserializer
        table_name = validate_table_name(table_name)
        if isinstance(key_length, bool) or not isinstance(key_length, int) or key_length < 1:
            msg = f"key_length must be a positive int, not {key_length!r}"
            raise ValueError(msg)
        if snapshot_time is not None and not isinstance(snapshot_time, datetime):
            msg = f"snapshot_time must be a datetime, not {type(snapshot_time).__name__}"  # type: ignore[unreachable]
            raise TypeError(msg)
        if isinstance(url_or_engine, Engine):
            if engine_kwargs:
                msg = "engine_kwargs cannot be used with an Engine; configure the engine itself"
                raise ValueError(msg)
            engine, owns_engine = url_or_engine, False
        else:
            engine, owns_engine = make_engine(url_or_engine, engine_kwargs), True
        moment = None if snapshot_time is None else utc_naive(snapshot_time)
        self._open(engine, owns_engine, table_name, key_length, bool(prune_on_write), moment, None)

    def _open(
        self,
        engine: Engine,
        owns_engine: bool,
        table_name: str,
        key_length: int,
        prune: bool,
        moment: datetime | None,
        leases: ConnectionLeases | CoreConnections | None,
    ) -> None:
        """Set the store up on *engine*; with *leases*, as a view sharing another store's."""
        self._engine, self._owns_engine = engine, owns_engine
        self._table_name, self._key_length, self._prune = table_name, key_length, prune
        dialect = engine.dialect
        name = dialect.name
        if self._dialects is not None and name not in self._dialects:
            self._dispose()
            msg = f"{type(self).__name__} needs one of {sorted(self._dialects)}, not {name!r}"
            raise ValueError(msg)
        self._profile = profile = profile_for(name)
        generic = self._generic_path or uses_generic_path(dialect, profile)
        self._generic = generic
        self._cas = profile.compare_and_set and not generic
        self._memory = profile is SQLITE and is_memory_sqlite(engine.url)
        if self._memory and not isinstance(engine.pool, StaticPool):
            self._dispose()
            msg = (
                "an in-memory SQLite engine needs poolclass=StaticPool (and "
                "check_same_thread=False) so that every thread sees the same database"
            )
            raise ValueError(msg)
        self._lock_salt = f"kv-sql\0{table_name}\0".encode()
        self._view = view = (
            View(dialect, profile, table_name, text=not generic)
            if moment is None
            else SnapshotView(dialect, profile, table_name, moment, text=not generic)
        )
        if view.statements is not None:
            self._st = view.statements
        self._at = view.at
        read_only_db = sqlite_read_only(engine.url)
        self._writable = view.writable and not read_only_db
        self._packet_limit = None
        self._owns_leases = leases is None
        try:
            if leases is None:
                if read_only_db:
                    require_table(engine, table_name)
                elif not self._memory:
                    create_table(engine, table_name, key_length, wal=profile.wal)
                    self._check_capacity()
                setup = None if self._memory else profile.setup
                if generic:
                    if self._memory:
                        create_table(engine, table_name, key_length, wal=False)
                    leases = CoreConnections(engine, shared=self._memory, setup=setup)
                else:
                    leases = leases_for(engine, shared=self._memory, setup=setup)
            self._connections = leases
            if isinstance(leases, ConnectionLeases):
                self._leases = leases
            if generic:
                assert isinstance(leases, CoreConnections)
                statements = CoreStatements(
                    kv_table(engine, table_name, key_length),
                    profile,
                    snapshot=moment is not None,
                    returning=bool(dialect.insert_returning),
                )
                CorePath(self, leases, statements).bind()
            elif self._memory and self._owns_leases:
                # Through the one shared connection, under its lock: another store on this
                # engine may be in the middle of a transaction on it.
                ddl = create_table_ddl(engine, table_name, key_length)
                self._transact(lambda cur: [cur.execute(sql) for sql in ddl], begin=False)
            if profile.packet_limit_sql is not None and not generic:
                self._packet_limit = int(self._query_one(profile.packet_limit_sql, ()))
        except BaseException:
            if self._owns_leases and leases is not None:
                leases.done()
            self._dispose()
            raise

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

    def snapshot(self, at: datetime) -> GenericSqlDict:
        """A read-only view of this table as it was at *at* (naive datetimes are UTC).

        It shares this store's engine and connections; close it when done (closing it
        leaves this store open). A time in the future shows the present.
        """
        if not isinstance(at, datetime):
            msg = f"snapshot time must be a datetime, not {type(at).__name__}"  # type: ignore[unreachable]
            raise TypeError(msg)
        view = type(self).__new__(type(self))
        Store.__init__(view, serializer=self._serializer, deserializer=self._deserializer)
        view._serializer, view._deserializer = self._serializer, self._deserializer
        view._open(
            self._engine,
            False,
            self._table_name,
            self._key_length,
            self._prune,
            utc_naive(at),
            self._connections,
        )
        return view

    # -- what the store declares -----------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """History, persistence, compare-and-set and the keys this table refuses, for this
        database (a snapshot declares what its store does; its writes raise ``ReadOnlyError``).
        """
        invalid = ["k" * (self._key_length + 1), "\ud800"]
        if self._profile.nul_invalid:
            invalid.append("a\x00b")
        return Capabilities(
            persistent=not self._memory,
            processes=not self._memory and self._profile.processes,
            ttl=False,
            history=True,
            max_key_length=self._key_length,
            max_value_size=None,
            empty_key=True,
            hierarchical_keys=False,
            invalid_keys=tuple(invalid),
            refused_characters=(
                LONE_SURROGATES | {"\x00"} if self._profile.nul_invalid else LONE_SURROGATES
            ),
            compare_and_set=self._cas,
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
        moment = self._view.moment
        return None if moment is None else moment.replace(tzinfo=UTC)

    def _validate_key(self, key: str) -> None:
        if len(key) > self._key_length:
            msg = f"key of {len(key)} characters is longer than key_length={self._key_length}"
            raise InvalidKeyError(msg)
        if key.isascii() and not self._profile.nul_invalid:
            return
        self._validate_text(key, "key")

    def _validate_prefix(self, prefix: str) -> None:
        self._validate_text(prefix, "prefix")

    def _no_nul(self) -> str:
        return _NO_NUL.get(self._profile.family, "NUL is refused")

    def _validate_text(self, text: str, what: str) -> None:
        if text.isascii():
            if self._profile.nul_invalid and "\x00" in text:
                msg = f"{self._no_nul()}: invalid {what} {text!r}"
                raise InvalidKeyError(msg)
            return
        try:
            text.encode()
        except UnicodeEncodeError:
            msg = f"{what} {text!r} is not valid Unicode (lone surrogate)"
            raise InvalidKeyError(msg) from None
        if self._profile.nul_invalid and "\x00" in text:
            msg = f"{self._no_nul()}: invalid {what} {text!r}"
            raise InvalidKeyError(msg)

    # -- lifecycle -------------------------------------------------------------------------

    def _close(self) -> None:
        if self._owns_leases:
            self._connections.done()
        self._dispose()

    def _describe(self) -> str:
        url = self._engine.url.render_as_string(hide_password=True)
        parts = [repr(url), f"table={self._table_name!r}"]
        parts += self._view.describe()
        if self._prune:
            parts.append("prune_on_write=True")
        return ", ".join(parts)
