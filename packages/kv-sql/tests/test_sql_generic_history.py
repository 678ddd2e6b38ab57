"""The history, tombstone, prune and snapshot tests, through the generic path.

The tests of ``test_sql_history`` run here again, on every database the generic path
serves: DuckDB, Firebird, PostgreSQL through pg8000, and SQLite and PostgreSQL held to the
generic path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Backend
from .test_sql_history import (
    test_clear_appends_tombstones,
    test_delete_appends_tombstone,
    test_delete_missing_writes_nothing,
    test_history_of_missing_key_is_empty,
    test_history_times_are_utc_and_ordered,
    test_naive_snapshot_time_is_utc,
    test_prune_keeps_only_the_latest_row,
    test_prune_pop_and_delete_many,
    test_snapshot_before_first_write_is_empty,
    test_snapshot_between_writes,
    test_snapshot_in_future_is_present,
    test_snapshot_is_read_only,
    test_writes_append_and_reads_return_latest,
)

__all__ = [
    "test_clear_appends_tombstones",
    "test_delete_appends_tombstone",
    "test_delete_missing_writes_nothing",
    "test_history_of_missing_key_is_empty",
    "test_history_times_are_utc_and_ordered",
    "test_naive_snapshot_time_is_utc",
    "test_prune_keeps_only_the_latest_row",
    "test_prune_pop_and_delete_many",
    "test_snapshot_before_first_write_is_empty",
    "test_snapshot_between_writes",
    "test_snapshot_in_future_is_present",
    "test_snapshot_is_read_only",
    "test_writes_append_and_reads_return_latest",
]


@pytest.fixture(params=("duckdb", "firebird", "pg8000", "sqlite_generic", "postgres_generic"))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each database the generic path serves, in turn."""
    made = Backend(request.param, tmp_path)
    yield made
    made.cleanup()
