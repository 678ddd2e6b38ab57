"""``kv history`` and ``kv get --at``: on stores that keep every version of a key.

A store qualifies when its ``capabilities`` declare ``history`` and it has the methods
these commands call: ``history(key)``, a list of versions with ``sequence_number``,
``created``, ``deleted`` and ``value`` (oldest first), and ``snapshot(at)``, a read-only
store as it was at a moment (SqlDict has both). Any other store gets a clear usage error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from ._errors import EXIT_USAGE, Exit
from ._output import encode_value

__all__ = ["history_of", "parse_moment", "snapshot_of", "version_record"]


def parse_moment(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """Click callback: an ISO 8601 time (``2026-11-26T10:00:00``, ``…Z``, ``…+01:00``) as an
    aware datetime; naive means UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        msg = f"{value!r} is not an ISO 8601 time such as 2026-11-26T10:00:00Z"
        raise click.BadParameter(msg, ctx, param) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _keeps_history(store: Any, method: str) -> bool:
    capabilities = getattr(store, "capabilities", None)
    return bool(getattr(capabilities, "history", False)) and callable(getattr(store, method, None))


def _refuse(store: Any, shown: str, command: str) -> Exit:
    msg = (
        f"{shown} keeps no history ({type(store).__name__}): {command} needs a store that "
        "does, such as a SQL one (sqlite://, mysql+pymysql://, postgresql://)"
    )
    return Exit(msg, EXIT_USAGE)


def history_of(store: Any, key: str, shown: str) -> list[Any]:
    """Every version of *key* in *store*, oldest first; usage error if it keeps none."""
    if not _keeps_history(store, "history"):
        raise _refuse(store, shown, "kv history")
    versions: list[Any] = store.history(key)
    return versions


def snapshot_of(store: Any, at: datetime, shown: str) -> Any:
    """*store* as it was at *at* (close it after use); usage error if it keeps no history."""
    if not _keeps_history(store, "snapshot"):
        raise _refuse(store, shown, "kv get --at")
    return store.snapshot(at)


def version_record(version: Any) -> dict[str, Any]:
    """One version as JSON: its number, time, whether it is a deletion, and its value."""
    created = version.created.isoformat() if version.created is not None else None
    record: dict[str, Any] = {
        "sequence_number": version.sequence_number,
        "created": created,
        "deleted": bool(version.deleted),
    }
    if not version.deleted:
        record.update(encode_value(bytes(version.value)))
    return record
