"""History, tombstones, pruning and snapshots, on every database."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from kv_core import ReadOnlyError


def _rows(store: Any) -> int:
    with store.engine.connect() as conn:
        table = store.engine.dialect.identifier_preparer.quote(store.table_name)
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def _tick() -> datetime:
    """Wait a millisecond either side of a moment, so writes fall clearly before or after it."""
    time.sleep(0.002)
    moment = datetime.now(UTC)
    time.sleep(0.002)
    return moment


def test_writes_append_and_reads_return_latest(backend: Any) -> None:
    """Each write adds a row; a read returns the newest one."""
    store = backend.store()
    for index in range(5):
        store["k"] = f"v{index}"
    assert store["k"] == b"v4"
    assert _rows(store) == 5
    assert [v.value for v in store.history("k")] == [b"v0", b"v1", b"v2", b"v3", b"v4"]


def test_delete_appends_tombstone(backend: Any) -> None:
    """A delete adds a tombstone row; the key is then missing but its history remains."""
    store = backend.store()
    store["k"] = b"1"
    del store["k"]
    assert "k" not in store
    with pytest.raises(KeyError):
        store["k"]
    history = store.history("k")
    assert [(v.deleted, v.value) for v in history] == [(False, b"1"), (True, None)]
    assert history[0].sequence_number < history[1].sequence_number
    assert _rows(store) == 2


def test_delete_missing_writes_nothing(backend: Any) -> None:
    """del of a missing or already deleted key raises KeyError and adds no row."""
    store = backend.store()
    with pytest.raises(KeyError):
        del store["nope"]
    store["k"] = b"1"
    del store["k"]
    with pytest.raises(KeyError):
        del store["k"]
    assert _rows(store) == 2


def test_history_times_are_utc_and_ordered(backend: Any) -> None:
    """history() gives aware UTC times with microseconds, in write order."""
    store = backend.store()
    before = datetime.now(UTC) - timedelta(seconds=1)
    store["k"] = b"1"
    time.sleep(0.002)
    store["k"] = b"2"
    first, second = store.history("k")
    assert first.created is not None
    assert second.created is not None
    assert first.created.tzinfo is not None
    assert before <= first.created < second.created <= datetime.now(UTC) + timedelta(seconds=1)


def test_history_of_missing_key_is_empty(backend: Any) -> None:
    """A key never written has no history."""
    assert backend.store().history("never") == []


def test_prune_keeps_only_the_latest_row(backend: Any) -> None:
    """With prune_on_write, each write removes the key's older rows; other keys keep theirs."""
    store = backend.store(prune_on_write=True)
    for index in range(5):
        store["k"] = f"v{index}"
        store["other"] = f"o{index}"
    assert store["k"] == b"v4"
    assert [v.value for v in store.history("k")] == [b"v4"]
    assert _rows(store) == 2
    del store["k"]
    assert [v.deleted for v in store.history("k")] == [True]
    store.set_many({"a": b"1", "other": b"x"})
    store.set_many({"a": b"2", "other": b"y"})
    assert _rows(store) == 3
    assert store["other"] == b"y"


def test_prune_pop_and_delete_many(backend: Any) -> None:
    """pop and delete_many also prune."""
    store = backend.store(prune_on_write=True)
    store.update({"a": b"1", "b": b"2", "c": b"3"})
    store["a"] = b"11"
    assert store.pop("a") == b"11"
    store.delete_many(["b", "missing"])
    assert _rows(store) == 3
    assert list(store) == ["c"]


def test_snapshot_between_writes(backend: Any) -> None:
    """A snapshot taken between two writes 1 ms apart shows the first value only."""
    store = backend.store()
    store["k"] = b"old"
    store["gone"] = b"here"
    moment = _tick()
    store["k"] = b"new"
    store["added"] = b"later"
    del store["gone"]
    if backend.name == "memory":  # another store on "sqlite://" is another database
        opened = store.snapshot(moment)
    else:
        opened = backend.cls(backend.url, store.table_name, snapshot_time=moment)
    with opened as past:
        assert past["k"] == b"old"
        assert "added" not in past
        assert past["gone"] == b"here"
        assert sorted(past) == ["gone", "k"]
        assert len(past) == 2
        assert past.get_many(["k", "added", "gone"]) == {"k": b"old", "gone": b"here"}
        assert [v.value for v in past.history("k")] == [b"old"]
    via_method = store.snapshot(moment)
    assert dict(via_method.items()) == {"k": b"old", "gone": b"here"}
    via_method.close()
    assert store["k"] == b"new"  # closing the snapshot leaves the store working


def test_snapshot_before_first_write_is_empty(backend: Any) -> None:
    """A snapshot earlier than every write shows nothing."""
    store = backend.store()
    moment = _tick()
    store["k"] = b"1"
    past = store.snapshot(moment)
    assert len(past) == 0
    assert list(past) == []
    assert "k" not in past


def test_snapshot_in_future_is_present(backend: Any) -> None:
    """A snapshot in the future shows the current values."""
    store = backend.store()
    store["k"] = b"1"
    future = store.snapshot(datetime.now(UTC) + timedelta(days=1))
    assert dict(future.items()) == {"k": b"1"}


def test_naive_snapshot_time_is_utc(backend: Any) -> None:
    """A naive snapshot time is read as UTC, not local time."""
    store = backend.store()
    store["k"] = b"old"
    moment = _tick()
    store["k"] = b"new"
    naive = moment.replace(tzinfo=None)
    assert store.snapshot(naive)["k"] == b"old"
    offset = moment.astimezone(timezone_plus_five())
    assert store.snapshot(offset)["k"] == b"old"
    assert store.snapshot(naive).snapshot_time == moment


def timezone_plus_five() -> Any:
    from datetime import timezone

    return timezone(timedelta(hours=5))


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.__setitem__("k", b"x"),
        lambda s: s.__delitem__("k"),
        lambda s: s.__delitem__("missing"),
        lambda s: s.pop("k"),
        lambda s: s.popitem(),
        lambda s: s.clear(),
        lambda s: s.update({"a": b"1"}),
        lambda s: s.set_many({"a": b"1"}),
        lambda s: s.delete_many(["k"]),
        lambda s: s.setdefault("new", b"1"),
        lambda s: s.update({}),
        lambda s: s.delete_many([]),
    ],
    ids=[
        "set",
        "del",
        "del-missing",
        "pop",
        "popitem",
        "clear",
        "update",
        "set_many",
        "delete_many",
        "setdefault",
        "update-empty",
        "delete_many-empty",
    ],
)
def test_snapshot_is_read_only(backend: Any, write: Any) -> None:
    """Every write method of a snapshot raises ReadOnlyError and adds or removes no row."""
    store = backend.store()
    store["k"] = b"1"
    rows = _rows(store)
    past = store.snapshot(datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(ReadOnlyError):
        write(past)
    assert _rows(store) == rows
    assert store["k"] == b"1"


def test_clear_appends_tombstones(backend: Any) -> None:
    """clear() deletes every key with tombstones; history remains and the table can refill."""
    store = backend.store()
    store.update({"a": b"1", "b": b"2"})
    moment = _tick()
    store.clear()
    assert len(store) == 0
    assert _rows(store) == 4
    assert dict(store.snapshot(moment).items()) == {"a": b"1", "b": b"2"}
    store["a"] = b"3"
    assert dict(store.items()) == {"a": b"3"}


def test_many_versions_use_the_index(sqlite_backend: Any) -> None:
    """Reading the latest row walks the (label, sequence_number) index, not the history."""
    store = sqlite_backend.store()
    store.set_many({f"k{i}": b"x" for i in range(10)})
    for index in range(200):
        store["hot"] = str(index)
    assert store["hot"] == b"199"
    with store.engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {store._st.get}", ("hot",)).fetchall()
    detail = " ".join(str(row[-1]) for row in plan)
    assert "label_seq_uq" in detail
    assert "TEMP B-TREE" not in detail
