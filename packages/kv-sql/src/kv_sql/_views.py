"""What a store shows: the present table, or the table as it was at a snapshot time.

A store holds one view. The view decides whether writes are allowed, which statements read
(a snapshot's take one more parameter, the snapshot time, last) and how times go to and
from the database. Also :class:`Version`, one row of a key's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Dialect

from ._profiles import DialectProfile
from ._sql import Statements

__all__ = ["PresentView", "SnapshotView", "Version", "View", "utc_naive"]


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


def utc_naive(moment: datetime) -> datetime:
    """*moment* as a naive UTC time (a naive *moment* is taken to be UTC already)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


class View:
    """The present table: every statement reads the newest rows, writes are allowed.

    :param dialect: The engine's dialect (paramstyle, quoting).
    :param profile: The database's profile.
    :param table_name: The validated table name.
    :param text: Build the tuned path's SQL text (not on the generic path).
    """

    #: Whether the store may write through this view.
    writable = True
    #: The naive UTC moment shown, ``None`` for the present.
    moment: datetime | None = None

    def __init__(
        self, dialect: Dialect, profile: DialectProfile, table_name: str, *, text: bool = True
    ) -> None:
        self._text_time = profile.text_time
        #: The tuned path's SQL text; ``None`` on the generic path (``text=False``).
        self.statements: Statements | None = (
            Statements.build(dialect, profile, table_name, snapshot=self.moment is not None)
            if text
            else None
        )
        #: Parameters appended to every reading statement.
        self.at: tuple[Any, ...] = ()

    def db_time(self, moment: datetime) -> Any:
        """*moment* (naive UTC) as the database stores it."""
        if self._text_time:
            # The format SQLAlchemy's SQLite DateTime uses, so both read each other's rows.
            return moment.isoformat(" ", "microseconds")
        return moment

    def now(self) -> Any:
        """The current time, as the database stores it."""
        return self.db_time(datetime.now(UTC).replace(tzinfo=None))

    @staticmethod
    def time_from_db(raw: Any) -> datetime | None:
        """A stored time as an aware UTC datetime."""
        if raw is None:
            return None
        moment = datetime.fromisoformat(raw) if isinstance(raw, str) else raw
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)

    def describe(self) -> list[str]:
        """What the store's repr says about the view."""
        return []


PresentView = View


class SnapshotView(View):
    """The table as it was at *moment*: reads ignore later rows, every write is refused.

    :param moment: A naive UTC time.
    """

    writable = False

    def __init__(
        self,
        dialect: Dialect,
        profile: DialectProfile,
        table_name: str,
        moment: datetime,
        *,
        text: bool = True,
    ) -> None:
        self.moment = moment
        super().__init__(dialect, profile, table_name, text=text)
        self.at = (self.db_time(moment),)

    def describe(self) -> list[str]:
        """The snapshot time, for the repr."""
        assert self.moment is not None
        return [f"snapshot_time={self.moment.isoformat()}Z"]
