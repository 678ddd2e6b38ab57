"""TieredStorageDict with a tier that is down: reads skip it, nothing ever goes stale.

The tiers here are MemoryDicts that can be switched off, so every interleaving is exact;
tests-integration/test_tiered_faults.py does the same with a real Redis that is killed
and frozen in front of a real SQL store.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from kv_core import (
    MemoryDict,
    ReadOnlyDict,
    StoreUnavailable,
    TieredStorageDict,
    WriteOnlyDict,
)
from kv_core import tiered as tiered_module


class Switch(MemoryDict):
    """A MemoryDict that raises StoreUnavailable on every operation while it is down.

    ``fail_after`` lets that many more operations through before going down, to put the
    fault between two steps of one call.
    """

    def __init__(self, initial: Any = ()) -> None:
        self.down = False
        self.fail_after: int | None = None
        self.deletes = 0
        super().__init__(initial)
        self.deletes = 0

    def _check(self) -> None:
        if self.fail_after is not None:
            if self.fail_after == 0:
                self.down = True
                self.fail_after = None
            else:
                self.fail_after -= 1
        if self.down:
            msg = "the server is down"
            raise StoreUnavailable(msg)

    def _read(self, key: str) -> bytes:
        self._check()
        return super()._read(key)

    def _contains(self, key: str) -> bool:
        self._check()
        return super()._contains(key)

    def _read_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        self._check()
        return super()._read_many(keys)

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        self._check()
        return super()._iter_keys(prefix)

    def _write(self, key: str, value: bytes) -> None:
        self._check()
        super()._write(key, value)

    def _write_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        self._check()
        super()._write_many(items)

    def _delete(self, key: str) -> None:
        self._check()
        self.deletes += 1
        super()._delete(key)

    def _delete_many(self, keys: Sequence[str]) -> None:
        self._check()
        self.deletes += 1
        super()._delete_many(keys)

    def _clear(self) -> None:
        self._check()
        super()._clear()

    def raw(self) -> dict[str, bytes]:
        """What the tier holds, read past the switch."""
        return dict(self._data)


@pytest.fixture
def tiers() -> tuple[Switch, Switch, TieredStorageDict]:
    """A cache and a source of truth, both holding k = old."""
    cache, truth = Switch({"k": b"old"}), Switch({"k": b"old", "only": b"below"})
    return cache, truth, TieredStorageDict([cache, truth])


def test_reads_skip_a_cache_that_is_down(tiers: tuple[Switch, Switch, TieredStorageDict]) -> None:
    """With the cache down every read is answered by the tier below."""
    cache, _, store = tiers
    cache.down = True
    assert store["k"] == b"old"
    assert store.get("only") == b"below"
    assert "only" in store
    assert "missing" not in store
    with pytest.raises(KeyError):
        store["missing"]
    assert store.get_many(["k", "missing"]) == {"k": b"old"}
    assert sorted(store) == ["k", "only"]
    assert len(store) == 2


def test_a_source_of_truth_that_is_down_cannot_answer_a_miss(
    tiers: tuple[Switch, Switch, TieredStorageDict],
) -> None:
    """Truth down: a cached key is served, a key the cache lacks is StoreUnavailable."""
    _, truth, store = tiers
    truth.down = True
    assert store["k"] == b"old"
    assert store.get_many(["k"]) == {"k": b"old"}
    assert "k" in store
    for read in (
        lambda: store["only"],
        lambda: store.get("only"),
        lambda: "only" in store,
        lambda: store.get_many(["k", "only"]),
        lambda: len(store),
        lambda: list(store),
    ):
        with pytest.raises(StoreUnavailable):
            read()


def test_write_with_a_cache_down_fails_and_changes_nothing(
    tiers: tuple[Switch, Switch, TieredStorageDict],
) -> None:
    """A write while the cache is down raises; back up, the cache serves no stale value."""
    cache, truth, store = tiers
    cache.down = True
    with pytest.raises(StoreUnavailable):
        store["k"] = b"new"
    with pytest.raises(StoreUnavailable):
        store.set_many({"k": b"new", "j": b"new"})
    assert truth.raw() == {"k": b"old", "only": b"below"}
    cache.down = False
    assert store["k"] == b"old"


@pytest.mark.parametrize("batch", [False, True], ids=["setitem", "set_many"])
def test_cache_failing_after_invalidation_is_never_stale(
    tiers: tuple[Switch, Switch, TieredStorageDict], batch: bool
) -> None:
    """A cache that goes down mid-write holds nothing for the key when it comes back."""
    cache, truth, store = tiers
    cache.fail_after = 1  # the invalidation goes through, the write of the copy does not
    write = (
        (lambda: store.set_many({"k": b"new"}))
        if batch
        else (lambda: store.__setitem__("k", b"new"))
    )
    with pytest.raises(StoreUnavailable):
        write()
    cache.down = False
    assert truth.raw()["k"] == b"new"
    assert "k" not in cache.raw()
    assert store["k"] == b"new"


def test_truth_failing_leaves_no_copy_of_the_old_value(
    tiers: tuple[Switch, Switch, TieredStorageDict],
) -> None:
    """The source of truth failing a write leaves the caches without the key: no stale read."""
    cache, truth, store = tiers
    truth.down = True
    with pytest.raises(StoreUnavailable):
        store["k"] = b"new"
    truth.down = False
    assert "k" not in cache.raw()
    assert store["k"] == b"old"


def test_delete_with_a_cache_down_fails_before_the_truth_changes(
    tiers: tuple[Switch, Switch, TieredStorageDict],
) -> None:
    """del and delete_many while the cache is down raise, and the key stays everywhere."""
    cache, truth, store = tiers
    cache.down = True
    with pytest.raises(StoreUnavailable):
        del store["k"]
    with pytest.raises(StoreUnavailable):
        store.delete_many(["k"])
    assert truth.raw()["k"] == b"old"
    cache.down = False
    assert store["k"] == b"old"
    del store["k"]
    assert "k" not in cache.raw()
    assert "k" not in truth.raw()


def test_writes_never_delete_from_the_source_of_truth(
    tiers: tuple[Switch, Switch, TieredStorageDict],
) -> None:
    """Only copies are invalidated before a write: the tier of originals is only written."""
    cache, truth, store = tiers
    store["k"] = b"new"
    store.set_many({"a": b"1", "b": b"2"})
    assert truth.deletes == 0
    assert cache.deletes == 2
    assert cache.raw()["k"] == truth.raw()["k"] == b"new"


def test_promotion_into_a_tier_that_is_down_is_skipped() -> None:
    """promote_on_read into a cache that is down still returns the value read below."""
    cache, truth = Switch(), Switch({"k": b"v"})
    store = TieredStorageDict([cache, truth], promote_on_read=True)
    cache.fail_after = 1  # the read misses, the promotion fails
    assert store["k"] == b"v"
    cache.down = False
    assert "k" not in cache.raw()


def test_replicas_down_over_a_write_only_master_is_unavailable() -> None:
    """The seed's stack: replicas down and a write-only master cannot answer, so no KeyError."""
    replica, master = Switch({"k": b"v"}), MemoryDict({"k": b"v"})
    store = TieredStorageDict([ReadOnlyDict(replica), WriteOnlyDict(master)])
    replica.down = True
    with pytest.raises(StoreUnavailable):
        store["missing"]
    with pytest.raises(StoreUnavailable):
        store["k"]
    store["k"] = b"w"  # a read replica is never written, so its being down does not matter
    assert master["k"] == b"w"


def test_nested_cache_of_replicas_down_falls_through_to_the_database() -> None:
    """The document store's shape: a Redis tier whose replicas are all down is skipped."""
    replica, redis_master = Switch(), MemoryDict()
    redis_tier = TieredStorageDict([ReadOnlyDict(replica), WriteOnlyDict(redis_master)])
    database = MemoryDict({"doc": b"text"})
    archive = ReadOnlyDict(MemoryDict({"old": b"archived"}))
    store = TieredStorageDict([redis_tier, database, archive])
    replica.down = True
    assert store["doc"] == b"text"
    assert store["old"] == b"archived"
    with pytest.raises(KeyError):
        store["missing"]


def test_skipped_tier_is_logged_at_most_once_a_minute(
    tiers: tuple[Switch, Switch, TieredStorageDict],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every skip is not logged: one warning per tier per LOG_INTERVAL."""
    cache, _, store = tiers
    cache.down = True
    now = [1000.0]
    monkeypatch.setattr(tiered_module.time, "monotonic", lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="kv_core.tiered"):
        for _ in range(50):
            assert store["k"] == b"old"
        assert len(caplog.records) == 1
        assert "tier 0" in caplog.records[0].getMessage()
        now[0] += tiered_module.LOG_INTERVAL
        assert store["k"] == b"old"
    assert len(caplog.records) == 2


class _WriteDuringRead(MemoryDict):
    """A source of truth that lets another writer in between returning a value and the
    reader's next step: *during* holds that write, run once."""

    def __init__(self, initial: Any = ()) -> None:
        self.during: Any = None
        super().__init__(initial)

    def _let_in(self) -> None:
        during, self.during = self.during, None
        if during is not None:
            during()

    def _read(self, key: str) -> bytes:
        value = super()._read(key)
        self._let_in()
        return value

    def _read_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        values = super()._read_many(keys)
        self._let_in()
        return values


@pytest.mark.parametrize("batch", [False, True], ids=["getitem", "get_many"])
def test_promotion_racing_a_write_leaves_no_stale_copy(batch: bool) -> None:
    """A read that misses the cache, then loses the race to a write, does not leave its
    older value in the cache: the promotion is checked against the source and taken back."""
    cache, truth = MemoryDict(), _WriteDuringRead({"k": b"old"})
    store = TieredStorageDict([cache, truth], promote_on_read=True)
    truth.during = lambda: store.__setitem__("k", b"new")
    read = store.get_many(["k"])["k"] if batch else store["k"]
    assert read == b"old"  # read before the write: an answer of its time
    assert cache.get("k") != b"old"
    assert store["k"] == b"new"
