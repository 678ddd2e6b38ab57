"""Compare-and-set on SQL stores: the version is the newest row's sequence number."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from kv_core import ConflictError, ReadOnlyError, UnsupportedError, ValueTooLargeError

THREADS = 6


def _together(work: Any, threads: int = THREADS) -> list[BaseException]:
    """Run *work(index)* in *threads* threads released at once; return what they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def guarded(index: int) -> None:
        try:
            barrier.wait(30)
            work(index)
        except BaseException as exc:
            errors.append(exc)

    started = [threading.Thread(target=guarded, args=(i,)) for i in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(120)
    return errors


def test_version_is_the_newest_sequence_number(backend: Any) -> None:
    """get_with_version gives the value and the sequence number of the key's newest row."""
    store = backend.store()
    store["k"] = b"one"
    store["k"] = b"two"
    value, version = store.get_with_version("k")
    assert value == b"two"
    assert version == str(store.history("k")[-1].sequence_number)


def test_set_if_appends_a_row_and_returns_its_sequence_number(backend: Any) -> None:
    """A set_if that holds is a write like any other: one more row, in the history."""
    store = backend.store()
    store["k"] = b"one"
    _, version = store.get_with_version("k")
    new = store.set_if("k", b"two", version=version)
    history = store.history("k")
    assert [v.value for v in history] == [b"one", b"two"]
    assert new == str(history[-1].sequence_number) != version
    assert store.get_with_version("k") == (b"two", new)


def test_stale_version_writes_nothing(backend: Any) -> None:
    """A version the key has moved on from raises ConflictError; no row is added."""
    store = backend.store()
    store["k"] = b"one"
    _, old = store.get_with_version("k")
    store["k"] = b"two"
    with pytest.raises(ConflictError):
        store.set_if("k", b"three", version=old)
    with pytest.raises(ConflictError):
        store.delete_if("k", version=old)
    assert [v.value for v in store.history("k")] == [b"one", b"two"]


def test_create_if_absent(backend: Any) -> None:
    """version=None writes a key that never existed or was deleted, never one that exists."""
    store = backend.store()
    first = store.set_if("new", b"a", version=None)
    assert store.get_with_version("new") == (b"a", first)
    with pytest.raises(ConflictError):
        store.set_if("new", b"b", version=None)
    del store["new"]
    again = store.set_if("new", b"c", version=None)
    assert int(again) > int(first)
    assert store["new"] == b"c"
    assert [v.deleted for v in store.history("new")] == [False, True, False]


def test_delete_if(backend: Any) -> None:
    """delete_if with the current version leaves a tombstone; on a missing key it conflicts."""
    store = backend.store()
    version = store.set_if("k", b"v", version=None)
    store.delete_if("k", version=version)
    assert "k" not in store
    assert [v.deleted for v in store.history("k")] == [False, True]
    with pytest.raises(ConflictError):
        store.delete_if("k", version=version)
    with pytest.raises(ConflictError):
        store.delete_if("never", version=version)
    assert [v.deleted for v in store.history("k")] == [False, True]


def test_a_version_on_a_deleted_key_conflicts(backend: Any) -> None:
    """A deleted key's old version does not let set_if bring it back."""
    store = backend.store()
    version = store.set_if("k", b"v", version=None)
    del store["k"]
    with pytest.raises(ConflictError):
        store.set_if("k", b"w", version=version)
    assert "k" not in store


@pytest.mark.parametrize("spelling", ["0{}", " {}", "{}.0", "+{}", "x", "9" * 40, "٣"])
def test_other_spellings_of_a_version_match_nothing(backend: Any, spelling: str) -> None:
    """Only the exact text get_with_version gave matches; anything else is a conflict."""
    store = backend.store()
    version = store.set_if("k", b"v", version=None)
    wrong = spelling.format(version)
    with pytest.raises(ConflictError):
        store.set_if("k", b"w", version=wrong)
    with pytest.raises(ConflictError):
        store.delete_if("k", version=wrong)
    assert store.get_with_version("k") == (b"v", version)


def test_a_version_of_another_key_matches_nothing(backend: Any) -> None:
    """Versions are per key: another key's sequence number is not this key's version."""
    store = backend.store()
    store["a"] = b"1"
    other = store.set_if("b", b"2", version=None)
    with pytest.raises(ConflictError):
        store.set_if("a", b"x", version=other)
    assert store["a"] == b"1"


def test_prune_on_write_keeps_only_the_newest_row(backend: Any) -> None:
    """With prune_on_write, set_if and delete_if prune the key's older rows like writes do."""
    store = backend.store(prune_on_write=True)
    version = store.set_if("k", b"1", version=None)
    for value in (b"2", b"3"):
        version = store.set_if("k", value, version=version)
    assert [(v.sequence_number, v.value) for v in store.history("k")] == [(int(version), b"3")]
    store.delete_if("k", version=version)
    assert [v.deleted for v in store.history("k")] == [True]


def test_snapshots_are_read_only(backend: Any) -> None:
    """A snapshot reads versions as of its time; set_if and delete_if raise ReadOnlyError."""
    store = backend.store()
    version = store.set_if("k", b"old", version=None)
    moment = datetime.now(UTC)
    store["k"] = b"new"
    with store.snapshot(moment) as view:
        assert view.get_with_version("k") == (b"old", version)
        with pytest.raises(ReadOnlyError):
            view.set_if("k", b"x", version=version)
        with pytest.raises(ReadOnlyError):
            view.set_if("other", b"x", version=None)
        with pytest.raises(ReadOnlyError):
            view.delete_if("k", version=version)
    assert [v.value for v in store.history("k")] == [b"old", b"new"]


def test_capabilities_declare_compare_and_set(backend: Any) -> None:
    """SQLite, MariaDB and PostgreSQL declare compare-and-set."""
    assert backend.store().capabilities.compare_and_set is True


@pytest.mark.parametrize("prune", [False, True], ids=["plain", "prune"])
def test_one_creator_wins_for_a_key_that_never_existed(shared_backend: Any, prune: bool) -> None:
    """Threads creating the same brand-new key at once: exactly one wins, each round.

    No row of the key exists to lock: on MariaDB the creators lock the empty gap, on
    PostgreSQL the key's advisory lock, on SQLite the one writer at a time.
    """
    store = shared_backend.store(prune_on_write=prune)
    for round_ in range(15):
        key = f"fresh-{round_}"
        won: list[int] = []

        def work(index: int, key: str = key, won: list[int] = won) -> None:
            try:
                store.set_if(key, b"%d" % index, version=None)
            except ConflictError:
                return
            won.append(index)

        assert _together(work) == []
        assert len(won) == 1, f"round {round_}: winners {won}"
        assert store[key] == b"%d" % won[0]
        assert len(store.history(key)) == 1


def test_one_creator_wins_for_a_deleted_key(shared_backend: Any) -> None:
    """Threads creating a key whose newest row is a tombstone: exactly one wins, each round."""
    store = shared_backend.store()
    for round_ in range(15):
        won: list[int] = []

        def work(index: int, won: list[int] = won) -> None:
            try:
                store.set_if("k", b"%d" % index, version=None)
            except ConflictError:
                return
            won.append(index)

        assert _together(work) == []
        assert len(won) == 1, f"round {round_}: winners {won}"
        version = store.get_with_version("k")[1]
        store.delete_if("k", version=version)


@pytest.mark.parametrize("prune", [False, True], ids=["plain", "prune"])
def test_concurrent_increments_lose_nothing(shared_backend: Any, prune: bool) -> None:
    """Threads incrementing one counter with get_with_version / set_if retries: none lost."""
    store = shared_backend.store(prune_on_write=prune)
    store["n"] = b"0"
    increments = 20

    def work(_: int) -> None:
        for _ in range(increments):
            while True:
                value, version = store.get_with_version("n")
                try:
                    store.set_if("n", b"%d" % (int(value) + 1), version=version)
                except ConflictError:
                    continue
                break

    assert _together(work) == []
    assert store["n"] == b"%d" % (THREADS * increments)
    if not prune:
        assert len(store.history("n")) == THREADS * increments + 1


def test_one_deleter_wins(shared_backend: Any) -> None:
    """Threads deleting one version at once: one tombstone, the others ConflictError."""
    store = shared_backend.store()
    for round_ in range(10):
        version = store.set_if("k", b"%d" % round_, version=None)
        won: list[int] = []

        def work(index: int, version: str = version, won: list[int] = won) -> None:
            try:
                store.delete_if("k", version=version)
            except ConflictError:
                return
            won.append(index)

        assert _together(work) == []
        assert len(won) == 1, f"round {round_}: winners {won}"
    assert [v.deleted for v in store.history("k")] == [False, True] * 10


def test_set_if_of_a_value_over_half_the_packet(mariadb_backend: Any) -> None:
    """On MariaDB a set_if value over half of max_allowed_packet is sent in pieces, whole."""
    store = mariadb_backend.store(prune_on_write=True)
    limit = int(store._query_one("SELECT @@max_allowed_packet", ()))
    if limit > 64 * 1024 * 1024:
        pytest.skip(f"max_allowed_packet is {limit}: too large for a unit test")
    value = os.urandom(limit // 2 + 1024)
    version = store.set_if("big", value, version=None)
    assert store.get_with_version("big") == (value, version)
    with pytest.raises(ValueTooLargeError):
        store.set_if("big", bytes(limit + 1), version=version)
    assert store.get_with_version("big") == (value, version)


def test_a_profile_without_compare_and_set_declares_none(
    sqlite_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database whose profile does not promise compare-and-set (the generic one) says so
    and raises UnsupportedError rather than run a check and a write that are not atomic."""
    import dataclasses

    from kv_sql import _store
    from kv_sql._profiles import SQLITE

    plain = dataclasses.replace(SQLITE, compare_and_set=False)
    monkeypatch.setattr(_store, "profile_for", lambda name: plain)
    store = sqlite_backend.store()
    store["k"] = b"v"
    assert store.capabilities.compare_and_set is False
    with pytest.raises(UnsupportedError):
        store.get_with_version("k")
    with pytest.raises(UnsupportedError):
        store.set_if("k", b"w", version=None)
    with pytest.raises(UnsupportedError):
        store.delete_if("k", version="1")
    assert [v.value for v in store.history("k")] == [b"v"]
