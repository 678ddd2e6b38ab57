"""What differs between databases, declared once per database: one profile object each.

Every place in kv-sql that behaves differently on MySQL, PostgreSQL or SQLite asks the
store's :class:`DialectProfile` (as SQLAlchemy's dialect classes declare ``supports_*``
flags), never the dialect's name. A database without a profile gets :data:`GENERIC`, which
promises nothing it cannot check: no exact key order (listing filters in Python and is not
paged), no row or advisory locks, no ``RETURNING``.

A new database is one more profile passed to :func:`register_profile` (or added to
``_PROFILES``) under the names SQLAlchemy gives its dialect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DUCKDB",
    "FIREBIRD",
    "GENERIC",
    "MYSQL",
    "POSTGRESQL",
    "SQLITE",
    "DialectProfile",
    "firebird_setup",
    "mysql_setup",
    "profile_for",
    "register_profile",
    "sqlite_setup",
]


def sqlite_setup(connection: Any) -> None:
    """Per-connection settings of a SQLite file: fsync at checkpoints, not at each commit.

    With WAL (set once per file when the table is created) ``synchronous=NORMAL`` keeps the
    database consistent after a crash or power loss; the last commits before a power loss
    may be rolled back.
    """
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def mysql_setup(connection: Any) -> None:
    """Per-connection settings on MySQL/MariaDB: add ``STRICT_ALL_TABLES`` to ``sql_mode``.

    Whatever else the session's ``sql_mode`` says (even ``''``), a value that does not fit
    its column is then an error, never silently truncated.
    """
    cursor = connection.cursor()
    try:
        cursor.execute(
            "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''),"
            " 'STRICT_ALL_TABLES')"
        )
    finally:
        cursor.close()


def firebird_setup(connection: Any) -> None:
    """Per-connection settings on Firebird: transactions in READ COMMITTED.

    Not firebird-driver's default, SNAPSHOT: there a transaction fails with an update
    conflict on any row another one changed after it began, which concurrent writers of a
    key with ``prune_on_write`` do all the time.
    """
    from firebird.driver import Isolation, tpb  # type: ignore[import-untyped]

    connection.default_tpb = tpb(Isolation.READ_COMMITTED_RECORD_VERSION)


@dataclass(frozen=True)
class DialectProfile:
    """How kv-sql talks to one database family.

    :param family: The name errors are classified by (``kv_sql._failures``) and shown as.
    :param dialects: SQLAlchemy dialect names this profile serves.
    :param binary_keys: Labels are UTF-8 bytes in a binary column (no text collation is
        exact there), so keys are encoded on the way in and decoded on the way out.
    :param nul_invalid: Text cannot hold NUL: such keys raise ``InvalidKeyError``.
    :param ordered_keys: Labels compare by code point (``BINARY``, ``VARBINARY``,
        ``COLLATE "C"``): prefix listings are index ranges and listings stream in keyset
        pages ordered by label. Without it every label is read and filtered in Python.
    :param text_time: Times are stored as ISO text (SQLite), in SQLAlchemy's own format.
    :param key_locks: Deletes and pops serialize on a per-key advisory lock.
    :param row_locks: Deletes and pops lock the key's newest row (``FOR UPDATE``).
    :param returning: ``INSERT ... RETURNING`` gives the new sequence number.
    :param compare_and_set: ``set_if`` and ``delete_if`` are atomic here, with the key's
        newest sequence number as its version: under ``key_locks`` or ``row_locks``, or,
        with neither, because the database runs one write statement at a time (SQLite),
        so the conditional ``INSERT ... SELECT`` of :class:`~kv_sql._sql.Statements` is
        atomic alone. Declared in the store's capabilities.
    :param begin: The statement that opens a write transaction.
    :param packet_limit_sql: A query for the largest statement the server takes; values
        are then checked against it and sent in pieces when the driver inflates them.
    :param per_table_index_names: Index names are per table (else per schema/database).
    :param width_enforced: The ``label`` column's declared width is enforced (checked
        against ``key_length`` when an existing table is opened).
    :param wal: A file database is switched to write-ahead logging.
    :param listing_page: The most labels one listing page reads (each page one statement,
        its rows held until the next): a server's round trip argues for large pages, an
        in-process database for small ones, which hold less at no cost in time.
    :param page_cursor: Each listing page is read through a cursor of its own, its rows
        converted to Python a few dozen at a time while the driver keeps the page's result
        in C memory (psycopg: far smaller than the page's Python rows). Only for drivers that
        read a whole result when the statement runs: the connection is free meanwhile.
    :param setup: Called with each new DB-API connection (not for in-memory databases).
    :param tuned: kv-sql has hand-written SQL for this database (``_sql``); without it, or
        with a driver that SQL cannot serve, the store runs on the generic path
        (``_generic``: SQLAlchemy Core).
    :param processes: Several processes may open the database at once (DuckDB locks its
        file to one process).
    :param statement_atomic: A statement that fails leaves its transaction usable, so a
        prune that conflicts with a concurrent one is skipped instead of rerunning the write
        (Firebird; PostgreSQL would need a savepoint).
    :param sequence: The autoincrementing ``sequence_number`` needs an explicit
        ``SEQUENCE`` (DuckDB has no ``SERIAL`` or identity columns).
    """

    family: str
    dialects: frozenset[str]
    binary_keys: bool = False
    nul_invalid: bool = False
    ordered_keys: bool = False
    text_time: bool = False
    key_locks: bool = False
    row_locks: bool = False
    returning: bool = False
    compare_and_set: bool = False
    begin: str = "BEGIN"
    packet_limit_sql: str | None = None
    per_table_index_names: bool = False
    width_enforced: bool = True
    wal: bool = False
    listing_page: int = 1024
    page_cursor: bool = False
    setup: Callable[[Any], None] | None = None
    tuned: bool = False
    processes: bool = True
    sequence: bool = False
    statement_atomic: bool = False

    @property
    def locking(self) -> bool:
        """Whether a delete or pop locks the key before reading its newest row."""
        return self.key_locks or self.row_locks


SQLITE = DialectProfile(
    family="sqlite",
    dialects=frozenset({"sqlite"}),
    ordered_keys=True,
    text_time=True,
    compare_and_set=True,
    # Writes are serialized by the database: take the write lock when the transaction opens,
    # so a reader turned writer never fails with SQLITE_BUSY halfway.
    begin="BEGIN IMMEDIATE",
    width_enforced=False,
    wal=True,
    # 128 labels hold ~16 KiB; pages of 128 list 100k keys as fast as pages of 1024 here.
    listing_page=128,
    setup=sqlite_setup,
    tuned=True,
)

MYSQL = DialectProfile(
    family="mysql",
    dialects=frozenset({"mysql", "mariadb"}),
    binary_keys=True,
    ordered_keys=True,
    row_locks=True,
    compare_and_set=True,
    packet_limit_sql="SELECT @@max_allowed_packet",
    per_table_index_names=True,
    # 256 labels hold ~20 KiB (1024: ~70 KiB) and list 100k keys about 10% slower.
    listing_page=256,
    setup=mysql_setup,
    tuned=True,
)

POSTGRESQL = DialectProfile(
    family="postgresql",
    dialects=frozenset({"postgresql"}),
    nul_invalid=True,
    ordered_keys=True,
    key_locks=True,
    returning=True,
    compare_and_set=True,
    # A page of 256 in libpq's memory, 64 rows of it in Python's: ~10 KiB while listing
    # (1024 fetched whole: ~180 KiB), 100k keys about 10% slower than pages of 1024.
    listing_page=256,
    page_cursor=True,
    tuned=True,
)

#: DuckDB (``duckdb-engine``), on the generic path: one process at a time per file.
DUCKDB = DialectProfile(
    family="duckdb",
    dialects=frozenset({"duckdb"}),
    width_enforced=False,
    processes=False,
    sequence=True,
)

#: Firebird (``sqlalchemy-firebird``), on the generic path. Its text comparisons ignore
#: trailing spaces, so labels are ``OCTETS`` (UTF-8 bytes), which compare exactly except
#: that trailing NULs pad: keys holding NUL are refused.
FIREBIRD = DialectProfile(
    family="firebird",
    # sqlalchemy-firebird 2 names its dialects after their drivers.
    dialects=frozenset({"firebird", "firebird.firebird", "firebird.fdb"}),
    binary_keys=True,
    nul_invalid=True,
    setup=firebird_setup,
    # Concurrent writers of one key prune the same rows, and Firebird reports an update
    # conflict even in READ COMMITTED: the loser keeps its row and leaves the pruning to the
    # next write (as the README allows), instead of rerunning.
    statement_atomic=True,
)

#: What an unknown database gets: nothing assumed that kv-sql cannot check.
GENERIC = DialectProfile(family="generic", dialects=frozenset())

_PROFILES: dict[str, DialectProfile] = {
    name: profile
    for profile in (SQLITE, MYSQL, POSTGRESQL, DUCKDB, FIREBIRD)
    for name in profile.dialects
}


def profile_for(dialect_name: str) -> DialectProfile:
    """The profile of the SQLAlchemy dialect called *dialect_name*; :data:`GENERIC` if none."""
    return _PROFILES.get(dialect_name, GENERIC)


def register_profile(profile: DialectProfile) -> None:
    """Serve every dialect named in *profile* with it (replacing an earlier profile)."""
    for name in profile.dialects:
        _PROFILES[name] = profile
