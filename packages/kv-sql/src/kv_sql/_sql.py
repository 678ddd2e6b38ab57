"""The SQL text of every statement, written once per store in the driver's own paramstyle.

The hot path hands these strings straight to the DB-API cursor: no statement is built or
compiled per call. Identifiers are quoted by the dialect; every key, value and time is a
bound parameter.
"""

# ruff: noqa: S608 - the only text put into SQL is the validated, dialect-quoted table name
# and placeholders; every key, value and time is a bound parameter.
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Dialect

from ._profiles import DialectProfile

__all__ = ["UNTUNED_DRIVERS", "Statements", "prefix_bounds"]

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def prefix_bounds(prefix: str) -> tuple[str, str | None]:
    """``(low, high)`` such that ``low <= key < high`` holds exactly for keys with *prefix*.

    Compares by code point, which is also UTF-8 byte order: SQLite's ``BINARY`` collation,
    MySQL's ``VARBINARY`` and PostgreSQL's ``COLLATE "C"``. ``high`` is ``None`` when no
    string is above every key with the prefix.
    """
    chars = list(prefix)
    while chars:
        point = ord(chars[-1]) + 1
        if point in _SURROGATES:
            point = _SURROGATES.stop
        if point <= _MAX_CODE_POINT:
            chars[-1] = chr(point)
            return prefix, "".join(chars)
        chars.pop()
    return prefix, None


#: Drivers whose paramstyle the hand-written SQL speaks, but which it cannot serve
#: correctly: pg8000 takes ``%%`` literally and compares a text column with a bytes
#: parameter as never equal (no error), so the answers would be wrong. The generic path
#: (SQLAlchemy's pg8000 dialect renders the casts it needs) serves them instead.
UNTUNED_DRIVERS = frozenset({"pg8000"})


def _placeholder(paramstyle: str) -> str:
    if paramstyle == "qmark":
        return "?"
    if paramstyle in ("format", "pyformat"):
        return "%s"
    msg = f"kv-sql needs a DB-API driver with qmark or format parameters, not {paramstyle!r}"
    raise ValueError(msg)


@dataclass(frozen=True)
class Statements:
    """The statements of one store: its table, its driver, with or without a snapshot time.

    With a snapshot, statements that read take one more parameter, the snapshot time, last.
    """

    get: str
    get_versioned: str
    contains: str
    latest: str
    insert: str
    insert_seq: str
    append: str
    prune: str
    tombstone: str
    tombstone_if: str
    tombstone_row: str
    insert_if: str
    insert_if_absent: str
    lock_latest: str
    lock_latest_state: str
    key_lock: str
    clear_tombstones: str
    clear_all: str
    history: str
    begin: str
    commit: str
    rollback: str
    returning: bool
    _table: str
    _snapshot: bool
    _p: str

    @classmethod
    def build(
        cls, dialect: Dialect, profile: DialectProfile, table_name: str, *, snapshot: bool
    ) -> Statements:
        """The statements for *table_name* on *dialect*, as *profile* says it speaks.

        :raises ValueError: the driver's paramstyle is not one this SQL is written in, or
            the driver is one it cannot serve (:data:`UNTUNED_DRIVERS`).
        """
        if dialect.driver in UNTUNED_DRIVERS:
            msg = f"kv-sql's hand-written SQL cannot serve the {dialect.driver} driver"
            raise ValueError(msg)
        p = _placeholder(dialect.paramstyle)
        t = dialect.identifier_preparer.quote(table_name)
        at = f" AND created <= {p}" if snapshot else ""
        returning = profile.returning
        ret = " RETURNING sequence_number" if returning else ""
        latest_of = (
            f"SELECT sequence_number, is_deleted FROM {t} WHERE label = {p}"
            " ORDER BY sequence_number DESC LIMIT 1"
        )
        return cls(
            get=(
                f"SELECT item, is_deleted FROM {t} WHERE label = {p}{at}"
                " ORDER BY sequence_number DESC LIMIT 1"
            ),
            # Compare-and-set: the newest row with its sequence number, the key's version.
            get_versioned=(
                f"SELECT sequence_number, item, is_deleted FROM {t} WHERE label = {p}{at}"
                " ORDER BY sequence_number DESC LIMIT 1"
            ),
            contains=(
                f"SELECT is_deleted FROM {t} WHERE label = {p}{at}"
                " ORDER BY sequence_number DESC LIMIT 1"
            ),
            latest=(
                f"SELECT sequence_number, item, is_deleted FROM {t} WHERE label = {p}"
                " ORDER BY sequence_number DESC LIMIT 1"
            ),
            insert=f"INSERT INTO {t} (label, item, is_deleted, created) VALUES ({p}, {p}, 0, {p})",
            insert_seq=(
                f"INSERT INTO {t} (label, item, is_deleted, created) VALUES ({p}, {p}, 0, {p}){ret}"
            ),
            append=f"UPDATE {t} SET item = CONCAT(item, {p}) WHERE sequence_number = {p}",
            prune=f"DELETE FROM {t} WHERE label = {p} AND sequence_number < {p}",
            # One statement: a tombstone only if the latest row is alive, so a missing key
            # writes nothing; parameters: label, created, label.
            tombstone=(
                f"INSERT INTO {t} (label, item, is_deleted, created)"
                f" SELECT {p}, NULL, 1, {p} FROM ({latest_of}) latest"
                f" WHERE latest.is_deleted = 0{ret}"
            ),
            # The same, only if the latest row is still the one just read (pop), or the
            # version given (delete_if); parameters: label, created, label, seq.
            tombstone_if=(
                f"INSERT INTO {t} (label, item, is_deleted, created)"
                f" SELECT {p}, NULL, 1, {p} FROM ({latest_of}) latest"
                f" WHERE latest.is_deleted = 0 AND latest.sequence_number = {p}{ret}"
            ),
            # Servers: a tombstone written after the key was locked and its newest row read
            # in the same transaction; parameters: label, created.
            tombstone_row=(
                f"INSERT INTO {t} (label, item, is_deleted, created)"
                f" VALUES ({p}, NULL, 1, {p}){ret}"
            ),
            # Compare-and-set in one statement: a row only if the key's newest row is alive
            # and has this sequence number; parameters: label, item, created, label, seq.
            # Atomic alone where the database runs one write at a time (SQLite); on
            # PostgreSQL run under the key's advisory lock (see Writes._write_if).
            insert_if=(
                f"INSERT INTO {t} (label, item, is_deleted, created)"
                f" SELECT {p}, {p}, 0, {p} FROM ({latest_of}) latest"
                f" WHERE latest.is_deleted = 0 AND latest.sequence_number = {p}{ret}"
            ),
            # The same, only if the key is absent: no row at all, or a tombstone newest;
            # parameters: label, item, created, label.
            insert_if_absent=(
                f"INSERT INTO {t} (label, item, is_deleted, created)"
                f" SELECT {p}, {p}, 0, {p} FROM (SELECT 1 AS one) one"
                f" WHERE NOT EXISTS (SELECT 1 FROM ({latest_of}) latest"
                f" WHERE latest.is_deleted = 0){ret}"
            ),
            # MySQL/MariaDB: the newest row, locked with the gap after it (REPEATABLE READ),
            # so no other transaction can pop it or add a row after it until commit. With
            # the value (pop) or without (delete).
            lock_latest=(
                f"SELECT sequence_number, item, is_deleted FROM {t} WHERE label = {p}"
                " ORDER BY sequence_number DESC LIMIT 1 FOR UPDATE"
            ),
            lock_latest_state=(
                f"SELECT sequence_number, NULL, is_deleted FROM {t} WHERE label = {p}"
                " ORDER BY sequence_number DESC LIMIT 1 FOR UPDATE"
            ),
            # PostgreSQL: one popper or deleter of a key at a time (parameter: a 64-bit hash
            # of the table and key); released at commit or rollback.
            key_lock=f"SELECT pg_advisory_xact_lock({p})",
            clear_tombstones=(
                f"INSERT INTO {t} (label, item, is_deleted, created)"
                f" SELECT cur.label, NULL, 1, {p} FROM {t} cur JOIN"
                f" (SELECT label, MAX(sequence_number) AS seq FROM {t} GROUP BY label) newest"
                " ON cur.sequence_number = newest.seq WHERE cur.is_deleted = 0"
            ),
            clear_all=f"DELETE FROM {t}",
            history=(
                f"SELECT sequence_number, created, is_deleted, item FROM {t}"
                f" WHERE label = {p}{at} ORDER BY sequence_number"
            ),
            begin=profile.begin,
            commit="COMMIT",
            rollback="ROLLBACK",
            returning=returning,
            _table=t,
            _snapshot=snapshot,
            _p=p,
        )

    def _newest(self, where: str) -> str:
        # Live keys: the newest row of each label, by a GROUP BY max() join (several times
        # faster than a window function, and served by the (label, sequence_number) index).
        conditions = [c for c in (where, f"created <= {self._p}" if self._snapshot else "") if c]
        filtered = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        t = self._table
        return (
            f"{t} cur JOIN (SELECT label, MAX(sequence_number) AS seq FROM {t}"
            f"{filtered} GROUP BY label) newest"
            " ON cur.sequence_number = newest.seq WHERE cur.is_deleted = 0"
        )

    def keys(self, *, low: bool, high: bool) -> str:
        """List live labels; parameters: [low], [high], [snapshot time]."""
        p = self._p
        where = " AND ".join(
            [*([f"label >= {p}"] if low else []), *([f"label < {p}"] if high else [])]
        )
        return f"SELECT cur.label FROM {self._newest(where)}"

    def keys_page(self, size: int, *, low: bool, after: bool, high: bool) -> str:
        """The next *size* labels in order, dead or alive.

        Parameters: [low] (``label >=``), [after] (``label >``), [high], [snapshot time].

        Rows are ``(label, is_deleted)``, ordered by label. The ``LIMIT`` is on the labels'
        index range, before the tombstones are dropped, so each page reads *size* labels
        from the (label, sequence_number) index and no more (a filter on live rows would
        make the database find every live key before the first page's ``LIMIT``).

        ``is_deleted`` is a subquery on the primary key, not a join: joined, PostgreSQL
        hashes the whole table for every page (its cost model prices *size* index probes
        above one sequential scan), which made a 100k-key listing ten times the raw
        cursor's time; the subquery is *size* primary-key probes everywhere.
        """
        p = self._p
        conditions = [
            *([f"label >= {p}"] if low else []),
            *([f"label > {p}"] if after else []),
            *([f"label < {p}"] if high else []),
            *([f"created <= {p}"] if self._snapshot else []),
        ]
        filtered = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        t = self._table
        return (
            f"SELECT newest.label, (SELECT cur.is_deleted FROM {t} cur"
            " WHERE cur.sequence_number = newest.seq)"
            f" FROM (SELECT label, MAX(sequence_number) AS seq FROM {t}{filtered}"
            f" GROUP BY label ORDER BY label LIMIT {int(size)}) newest ORDER BY newest.label"
        )

    def count(self) -> str:
        """Count live labels; parameters: [snapshot time]."""
        return f"SELECT COUNT(*) FROM {self._newest('')}"

    def read_many(self, n: int) -> str:
        """Labels and values of the live keys among *n* labels; parameters: labels, [time]."""
        marks = ", ".join([self._p] * n)
        return f"SELECT cur.label, cur.item FROM {self._newest(f'label IN ({marks})')}"

    def prune_many(self, n: int) -> str:
        """Delete rows of *n* labels older than a sequence number; parameters: labels, seq."""
        marks = ", ".join([self._p] * n)
        return f"DELETE FROM {self._table} WHERE label IN ({marks}) AND sequence_number < {self._p}"

    def purge_many(self, n: int) -> str:
        """Delete every row of *n* labels, history included; parameters: labels."""
        marks = ", ".join([self._p] * n)
        return f"DELETE FROM {self._table} WHERE label IN ({marks})"
