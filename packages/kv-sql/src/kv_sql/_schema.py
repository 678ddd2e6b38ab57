"""The key-value table: its columns and indexes, with types chosen for each database."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Sequence,
    String,
    Table,
)
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.types import VARBINARY

from ._profiles import FIREBIRD, profile_for

__all__ = ["TABLE_NAME_PATTERN", "build_table", "index_names", "validate_table_name"]

TABLE_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

_MAX_IDENTIFIER = 63


def validate_table_name(name: object) -> str:
    """Return *name* if it is a plain SQL identifier; raise ``ValueError`` otherwise."""
    if not isinstance(name, str) or TABLE_NAME_PATTERN.fullmatch(name) is None:
        msg = (
            f"invalid table name {name!r}: use 1 to 63 letters, digits and underscores, "
            "not starting with a digit"
        )
        raise ValueError(msg)
    return name


def _prefixed(table_name: str, suffix: str, longest: int = _MAX_IDENTIFIER) -> str:
    name = f"{table_name}_{suffix}"
    if len(name) <= longest:
        return name
    # PostgreSQL silently truncates long identifiers, which could make two tables collide.
    digest = hashlib.sha256(table_name.encode()).hexdigest()[:10]
    keep = max(longest - len(suffix) - len(digest) - 2, 1)
    return f"{table_name[:keep]}_{digest}_{suffix}"


def index_names(
    table_name: str, dialect_name: str, longest: int = _MAX_IDENTIFIER
) -> tuple[str, str]:
    """The names of the unique (label, sequence_number) index and the is_deleted index.

    *longest* is the dialect's longest identifier (31 on Firebird 3).
    """
    # Index names are per table on MySQL/MariaDB, but per schema on PostgreSQL and per
    # database on SQLite: there, two tables cannot both have an index called label_seq_uq.
    if profile_for(dialect_name).per_table_index_names:
        return "label_seq_uq", "is_deleted_idx"
    longest = min(longest, _MAX_IDENTIFIER)
    return (
        _prefixed(table_name, "label_seq_uq", longest),
        _prefixed(table_name, "is_deleted_idx", longest),
    )


def build_table(
    table_name: str, key_length: int, dialect_name: str, *, longest: int = _MAX_IDENTIFIER
) -> Table:
    """The seed's table, with column types that keep keys exact and values whole.

    * ``label``: ``VARCHAR(key_length)``; on MySQL/MariaDB ``VARBINARY(4 * key_length)``
      holding UTF-8, because every text collation there either folds case, ignores accents
      or pads spaces (``utf8mb4_bin`` is PAD SPACE on MariaDB: ``'a' = 'a '``); on PostgreSQL
      with ``COLLATE "C"`` so prefix ranges follow code points.
    * ``sequence_number``: ``BIGINT`` autoincrement primary key (``INTEGER`` on SQLite, the
      only type that autoincrements there; it is 64-bit anyway).
    * ``item``: ``LONGBLOB`` on MySQL/MariaDB (``BLOB`` stops at 64 KB), ``BYTEA`` on
      PostgreSQL, ``BLOB`` elsewhere. ``NULL`` in tombstones.
    * ``created``: UTC time of the write, with microseconds (``DATETIME(6)`` on MySQL).

    On Firebird ``label`` is ``VARCHAR(4 * key_length) CHARACTER SET OCTETS`` (its text
    comparisons ignore trailing spaces); on DuckDB ``sequence_number`` takes its values from
    a ``SEQUENCE`` named after the table. *longest* bounds the names made from the table's
    (the dialect's ``max_identifier_length``).
    """
    label_type = (
        String(key_length)
        .with_variant(mysql.VARBINARY(4 * key_length), "mysql", "mariadb")
        .with_variant(VARBINARY(4 * key_length), *FIREBIRD.dialects)
        .with_variant(String(key_length, collation="C"), "postgresql")
    )
    sequence_type = BigInteger().with_variant(Integer(), "sqlite")
    item_type = (
        LargeBinary()
        .with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
        .with_variant(postgresql.BYTEA(), "postgresql")
    )
    created_type = (
        DateTime()
        .with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
        .with_variant(postgresql.TIMESTAMP(precision=6), "postgresql")
    )
    unique_name, deleted_name = index_names(table_name, dialect_name, longest)
    numbering = (
        [Sequence(_prefixed(table_name, "seq", longest))]
        if profile_for(dialect_name).sequence
        else []
    )
    table = Table(
        table_name,
        MetaData(),
        Column("label", label_type, nullable=False),
        Column("sequence_number", sequence_type, *numbering, primary_key=True, autoincrement=True),
        Column("item", item_type, nullable=True),
        Column("is_deleted", Integer(), nullable=False, default=0, server_default="0"),
        Column("created", created_type, nullable=True),
    )
    Index(unique_name, table.c.label, table.c.sequence_number, unique=True)
    Index(deleted_name, table.c.is_deleted)
    return table
