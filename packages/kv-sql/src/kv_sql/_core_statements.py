"""The generic path's statements: SQLAlchemy Core, built once per store on the seed's table.

Where ``_sql`` writes SQL text for three known paramstyles, these are Core constructs on the
``Table`` of ``_schema.build_table``: SQLAlchemy renders them for whatever dialect the engine
speaks (its paramstyle, its ``LIMIT`` or ``FIRST``/``ROWS``, its casts and quoting) and keeps
the compiled form in the engine's compiled cache, so each call costs a cache lookup, not a
compilation. Every statement is built here once, when the store opens; each names its
parameters (``label``, ``item``, ``created``, ``seq``, ``at`` ...).

A conditional write (``UPDATE``/``INSERT`` only while the key's newest ``sequence_number`` is
still the one read) is one more statement of the same shape as :attr:`tombstone_if`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    LargeBinary,
    Table,
    bindparam,
    cast,
    delete,
    desc,
    func,
    insert,
    literal_column,
    null,
    select,
    type_coerce,
)
from sqlalchemy.sql import ColumnElement, Delete, Insert, Select

from ._profiles import DialectProfile

__all__ = ["CoreStatements"]

#: Labels in each page of a listing on the generic path.
PAGE = 256


@dataclass
class CoreStatements:
    """The prebuilt statements of one store on the generic path.

    :param table: The key-value table (``_schema.build_table``).
    :param profile: What the database promises (locks, key order).
    :param snapshot: Reads take one more parameter, ``at``: rows created up to then.
    :param returning: The dialect gives the new ``sequence_number`` by ``RETURNING``.
    """

    table: Table
    profile: DialectProfile
    snapshot: bool
    returning: bool
    _pages: dict[tuple[bool, bool, bool], Select[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = self.table
        c = t.c
        label = bindparam("label", type_=c.label.type)
        at = self._at_condition()
        newest_first = desc(c.sequence_number)
        self.get = (
            select(c.item, c.is_deleted).where(c.label == label, *at).order_by(newest_first)
        ).limit(1)
        self.contains = (
            select(c.is_deleted).where(c.label == label, *at).order_by(newest_first).limit(1)
        )
        latest = (
            select(c.sequence_number, c.item, c.is_deleted)
            .where(c.label == label)
            .order_by(newest_first)
            .limit(1)
        )
        self.latest = latest.with_for_update() if self.profile.row_locks else latest
        created = bindparam("created", type_=DateTime())
        self.insert: Insert = insert(t).values(
            label=label, item=bindparam("item", type_=c.item.type), is_deleted=0, created=created
        )
        self.insert_seq: Insert = (
            self.insert.returning(c.sequence_number) if self.returning else self.insert
        )
        seq = bindparam("seq", type_=c.sequence_number.type)
        self.prune: Delete = delete(t).where(c.label == label, c.sequence_number < seq)
        newest = (
            select(c.sequence_number, c.is_deleted)
            .where(c.label == label)
            .order_by(newest_first)
            .limit(1)
            .subquery("latest")
        )
        # The tombstone's columns, cast: some databases (Firebird) cannot type a bare
        # parameter or NULL in a select list.
        tomb_columns = (
            self._typed(label, c.label.type),
            self._typed(null(), LargeBinary()),
            literal_column("1", Integer()),
            self._typed(created, DateTime()),
        )
        columns = [c.label, c.item, c.is_deleted, c.created]
        alive = newest.c.is_deleted == 0
        # A tombstone only while the newest row is the live one just read: of two
        # concurrent deleters or poppers, one writes it. Whether it did is told by RETURNING
        # where the dialect has it (Firebird's rowcount is -1 for INSERT ... SELECT).
        tombstone_if = insert(t).from_select(
            columns,
            select(*tomb_columns).select_from(newest).where(alive, newest.c.sequence_number == seq),
        )
        self.tombstone_if: Insert = (
            tombstone_if.returning(c.sequence_number) if self.returning else tombstone_if
        )
        self.key_lock: Select[Any] | None = (
            select(func.pg_advisory_xact_lock(bindparam("lock")))
            if self.profile.key_locks
            else None
        )
        live = self._newest(())
        self.count = select(func.count()).select_from(live)
        self.clear_tombstones: Insert = insert(t).from_select(
            columns,
            select(
                live.c.label,
                self._typed(null(), LargeBinary()),
                literal_column("1", Integer()),
                self._typed(created, DateTime()),
            ),
        )
        self.clear_all: Delete = delete(t)
        self.history = (
            select(c.sequence_number, c.created, c.is_deleted, c.item)
            .where(c.label == label, *at)
            .order_by(c.sequence_number)
        )
        labels = bindparam("labels", expanding=True, type_=c.label.type)
        many = self._newest((c.label.in_(labels),))
        self.read_many = select(many.c.label, many.c.item)
        # delete_many where nothing is locked: one tombstone per live key among the labels,
        # in one statement, then (prune_on_write) every row older than each label's newest.
        self.tombstone_many: Insert = insert(t).from_select(
            columns,
            select(
                many.c.label,
                self._typed(null(), LargeBinary()),
                literal_column("1", Integer()),
                self._typed(created, DateTime()),
            ),
        )
        newer = t.alias("newer")
        self.prune_older_many: Delete = delete(t).where(
            c.label.in_(labels),
            c.sequence_number
            < select(func.max(newer.c.sequence_number))
            .where(newer.c.label == c.label)
            .scalar_subquery(),
        )
        self.prune_many: Delete = delete(t).where(c.label.in_(labels), c.sequence_number < seq)
        self.purge_many: Delete = delete(t).where(c.label.in_(labels))

    def _typed(self, value: Any, kind: Any) -> Any:
        """*value* in a select list, as *kind*: cast where the database must be told
        (Firebird cannot type a bare parameter or NULL there), but not on SQLite, where
        ``CAST(text AS DATETIME)`` turns the time into a number."""
        if self.profile.family == "sqlite":
            return type_coerce(value, kind)
        return cast(value, kind)

    def _at_condition(self) -> tuple[ColumnElement[bool], ...]:
        if not self.snapshot:
            return ()
        return (self.table.c.created <= bindparam("at", type_=DateTime()),)

    def _newest(self, where: tuple[ColumnElement[bool], ...]) -> Any:
        """The live rows (label, item) newest per label, filtered by *where*, as a subquery."""
        c = self.table.c
        per_label = (
            select(c.label, func.max(c.sequence_number).label("seq"))
            .where(*where, *self._at_condition())
            .group_by(c.label)
            .subquery("newest")
        )
        cur = self.table.alias("cur")
        return (
            select(cur.c.label, cur.c.item)
            .select_from(cur.join(per_label, cur.c.sequence_number == per_label.c.seq))
            .where(cur.c.is_deleted == 0)
            .subquery("live")
        )

    def page(self, *, low: bool, after: bool, high: bool) -> Select[Any]:
        """The next :data:`PAGE` labels in order, dead or alive: rows ``(label, is_deleted)``.

        Parameters: [``low`` (``label >=``)], [``after`` (``label >``)], [``high``
        (``label <``)], [``at``]. Keyset paging needs only that the database orders labels
        consistently with its own ``>``, which holds for any collation; a prefix is a range
        (``low``/``high``) only where the profile says labels are in code-point order.
        """
        shape = (low, after, high)
        found = self._pages.get(shape)
        if found is not None:
            return found
        c = self.table.c
        conditions: list[ColumnElement[bool]] = []
        if low:
            conditions.append(c.label >= bindparam("low", type_=c.label.type))
        if after:
            conditions.append(c.label > bindparam("after", type_=c.label.type))
        if high:
            conditions.append(c.label < bindparam("high", type_=c.label.type))
        per_label = (
            select(c.label, func.max(c.sequence_number).label("seq"))
            .where(*conditions, *self._at_condition())
            .group_by(c.label)
            .order_by(c.label)
            .limit(PAGE)
            .subquery("newest")
        )
        cur = self.table.alias("cur")
        statement = (
            select(per_label.c.label, cur.c.is_deleted)
            .select_from(per_label.join(cur, cur.c.sequence_number == per_label.c.seq))
            .order_by(per_label.c.label)
        )
        self._pages[shape] = statement
        return statement
