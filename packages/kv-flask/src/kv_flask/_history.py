"""Reading the past of a store that keeps history: ``GET /_kv/history/<key>`` and ``as_of=``.

A store has history when it declares ``capabilities.history`` and offers ``history(key)``
(every version of a key, oldest first) and ``snapshot(at)`` (a read-only view of the store
as it was at *at*), as kv-sql's stores do. ``as_of`` on ``GET``/``HEAD`` of a key, on the
listing and on ``/_kv/count`` reads such a snapshot; on any other store it is a 400
``no_history``.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from ._errors import ApiError

__all__ = ["AS_OF", "has_history", "no_history", "parse_as_of", "store_as_of", "versions_document"]

#: The query parameter that reads a snapshot of the store.
AS_OF = "as_of"


def has_history(store: Any) -> bool:
    """Whether *store* declares history and has the calls that read it."""
    capabilities = getattr(store, "capabilities", None)
    return (
        getattr(capabilities, "history", False) is True
        and callable(getattr(store, "history", None))
        and callable(getattr(store, "snapshot", None))
    )


def no_history() -> ApiError:
    """The 400 for a history read on a store that keeps none."""
    return ApiError(400, "no_history", "This store keeps no history.")


def parse_as_of(raw: str) -> datetime:
    """The moment an ``as_of`` parameter names (ISO 8601; no offset means UTC), or a 400."""
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        msg = "as_of must be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z."
        raise ApiError(400, "bad_parameter", msg) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


@contextmanager
def store_as_of(
    store: MutableMapping[str, Any], args: dict[str, str]
) -> Iterator[MutableMapping[str, Any]]:
    """*store*, or its snapshot at the request's ``as_of`` (closed afterwards)."""
    raw = args.get(AS_OF)
    if raw is None:
        yield store
        return
    if not has_history(store):
        raise no_history()
    view = store.snapshot(parse_as_of(raw))  # type: ignore[attr-defined]
    try:
        yield view
    finally:
        view.close()


def _time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def versions_document(key: str, versions: list[Any], to_bytes: Any) -> dict[str, Any]:
    """The JSON answer of ``GET /_kv/history/<key>``: its versions, oldest first."""
    return {
        "key": key,
        "versions": [
            {
                "sequence_number": version.sequence_number,
                "created": _time(version.created),
                "deleted": version.deleted,
                "size": None if version.deleted else len(to_bytes(version.value)),
            }
            for version in versions
        ],
    }
