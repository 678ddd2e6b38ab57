"""Compare-and-set: get_with_version, set_if and delete_if, both ways and under races."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import pytest

from ..errors import ConflictError, InvalidKeyError
from ..store import Store
from ._base import SuiteBase
from ._workers import cas_main, cas_worker, checked_wins

__all__ = ["CompareAndSetTests"]


class CompareAndSetTests(SuiteBase):
    """Versions and conditional writes, where the store declares ``compare_and_set``.

    Versions are opaque: the tests only compare them for equality, and only write values
    that differ from the one before, since a store may derive a version from the value
    (writing a value back gives its old version again: ABA).
    """

    #: The race: this many threads (in each process) increment one counter this many times.
    cas_threads = 3
    cas_increments = 15
    #: Spawned processes in the race across processes (each running ``cas_threads``).
    cas_processes = 2
    #: Rounds of create-if-absent, each won by exactly one thread.
    cas_rounds = 4

    # Not an autouse fixture: in StoreConformance it would apply to every test of the suite.
    def _needs_compare_and_set(self) -> None:
        if not self.capabilities.compare_and_set:
            pytest.skip("the store declares compare_and_set=False")

    def _conflicts(self, call: Any, store: Store, expected: dict[str, bytes]) -> None:
        """*call* raises ConflictError and leaves the store holding exactly *expected*."""
        with pytest.raises(ConflictError):
            call()
        assert dict(store.items()) == expected, "a failed condition changed the store"

    # -- success paths ---------------------------------------------------------------------

    def test_create_if_absent(self, store: Store) -> None:
        """set_if(version=None) creates a missing key and returns its version."""
        self._needs_compare_and_set()
        version = store.set_if("k", b"v1", version=None)
        assert isinstance(version, str)
        assert version
        assert store["k"] == b"v1"
        assert store.get_with_version("k") == (b"v1", version)

    def test_replace_with_current_version(self, store: Store) -> None:
        """set_if with the current version writes, and the new version is what reads return."""
        self._needs_compare_and_set()
        store["k"] = b"v1"
        value, version = store.get_with_version("k")
        assert value == b"v1"
        new = store.set_if("k", b"v2", version=version)
        assert new != version
        assert store.get_with_version("k") == (b"v2", new)
        newer = store.set_if("k", b"v3", version=new)
        assert store.get_with_version("k") == (b"v3", newer)

    def test_delete_with_current_version(self, store: Store) -> None:
        """delete_if with the current version removes the key, and only that key."""
        self._needs_compare_and_set()
        store.update({"k": b"v1", "other": b"o"})
        _, version = store.get_with_version("k")
        store.delete_if("k", version=version)
        assert "k" not in store
        assert dict(store.items()) == {"other": b"o"}

    def test_values_read_as_getitem_reads_them(self, store: Store) -> None:
        """get_with_version returns bytes, as store[key] does; str and empty values included."""
        self._needs_compare_and_set()
        store.set_if("s", "\u00e9t\u00e9", version=None)
        store.set_if("empty", b"", version=None)
        assert store.get_with_version("s")[0] == "\u00e9t\u00e9".encode()
        assert store.get_with_version("empty")[0] == b""
        assert store.get_with_version("s")[0] == store["s"]

    def test_versions_of_a_key_differ_after_each_write(self, store: Store) -> None:
        """Every write of another value gives the key another version, plain writes included."""
        self._needs_compare_and_set()
        seen = [store.set_if("k", b"0", version=None)]
        for index in range(1, 7):
            value = str(index).encode()
            if index % 3 == 0:
                store["k"] = value
            elif index % 3 == 1:
                store.set_if("k", value, version=store.get_with_version("k")[1])
            else:
                store.set_many({"k": value})
            got, version = store.get_with_version("k")
            assert got == value
            seen.append(version)
        assert len(set(seen)) == len(seen), f"a version repeated: {seen!r}"

    def test_each_key_has_its_own_version(self, store: Store) -> None:
        """A write to one key does not change the version of another."""
        self._needs_compare_and_set()
        store.update({"a": b"1", "b": b"2"})
        _, version = store.get_with_version("a")
        store["b"] = b"3"
        store.set_if("b", b"4", version=store.get_with_version("b")[1])
        assert store.get_with_version("a") == (b"1", version)
        store.set_if("a", b"5", version=version)
        assert store["a"] == b"5"

    # -- every conflict path -----------------------------------------------------------------

    def test_create_if_absent_conflicts_with_existing_key(self, store: Store) -> None:
        """set_if(version=None) of a present key raises ConflictError and writes nothing."""
        self._needs_compare_and_set()
        store["k"] = b"v1"
        self._conflicts(lambda: store.set_if("k", b"v2", version=None), store, {"k": b"v1"})

    def test_stale_version_conflicts(self, store: Store) -> None:
        """set_if and delete_if with a version the key no longer has raise and change nothing."""
        self._needs_compare_and_set()
        old = store.set_if("k", b"v1", version=None)
        store.set_if("k", b"v2", version=old)
        expected = {"k": b"v2"}
        self._conflicts(lambda: store.set_if("k", b"v3", version=old), store, expected)
        self._conflicts(lambda: store.delete_if("k", version=old), store, expected)

    def test_version_of_a_missing_key_conflicts(self, store: Store) -> None:
        """A version given for a key that is absent (deleted, or never written) conflicts."""
        self._needs_compare_and_set()
        version = store.set_if("k", b"v1", version=None)
        store["other"] = b"o"
        expected = {"other": b"o"}
        del store["k"]
        self._conflicts(lambda: store.set_if("k", b"v2", version=version), store, expected)
        self._conflicts(lambda: store.delete_if("k", version=version), store, expected)
        # A real version, but of another key, for a key never written.
        _, foreign = store.get_with_version("other")
        self._conflicts(lambda: store.set_if("never", b"x", version=foreign), store, expected)
        self._conflicts(lambda: store.delete_if("never", version=foreign), store, expected)

    def test_plain_writes_invalidate_versions(self, store: Store) -> None:
        """After store[key] = other value, the version read before it no longer matches."""
        self._needs_compare_and_set()
        store["k"] = b"v1"
        _, before = store.get_with_version("k")
        store["k"] = b"v2"
        expected = {"k": b"v2"}
        self._conflicts(lambda: store.set_if("k", b"v3", version=before), store, expected)
        self._conflicts(lambda: store.delete_if("k", version=before), store, expected)
        self._conflicts(lambda: store.set_if("k", b"v3", version=None), store, expected)

    def test_plain_deletes_invalidate_versions(self, store: Store) -> None:
        """After del, pop or delete_many, the version read before conflicts, and nothing is made."""
        self._needs_compare_and_set()
        for remove in (
            lambda: store.__delitem__("k"),
            lambda: store.pop("k"),
            lambda: store.delete_many(["k"]),
        ):
            store["k"] = b"v1"
            _, before = store.get_with_version("k")
            remove()
            self._conflicts(lambda v=before: store.set_if("k", b"v2", version=v), store, {})
            self._conflicts(lambda v=before: store.delete_if("k", version=v), store, {})

    def test_get_with_version_of_missing_key_raises_key_error(self, store: Store) -> None:
        """get_with_version of a missing key raises KeyError."""
        self._needs_compare_and_set()
        with pytest.raises(KeyError):
            store.get_with_version("missing")
        store["k"] = b"v"
        del store["k"]
        with pytest.raises(KeyError):
            store.get_with_version("k")

    def test_bad_arguments_are_refused_before_storage(self, store: Store) -> None:
        """A non-str key, a declared invalid key, a version not a str or empty: nothing written."""
        self._needs_compare_and_set()
        store["k"] = b"v"
        _, version = store.get_with_version("k")
        for bad_key in (1, None, b"k"):
            with pytest.raises(TypeError):
                store.get_with_version(bad_key)  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                store.set_if(bad_key, b"x", version=None)  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                store.delete_if(bad_key, version=version)  # type: ignore[arg-type]
        for invalid in self.capabilities.invalid_keys:
            with pytest.raises(InvalidKeyError):
                store.get_with_version(invalid)
            with pytest.raises(InvalidKeyError):
                store.set_if(invalid, b"x", version=None)
            with pytest.raises(InvalidKeyError):
                store.delete_if(invalid, version=version)
        with pytest.raises(TypeError):
            store.set_if("k", b"x", version=version.encode())  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="version"):
            store.set_if("k", b"x", version="")
        with pytest.raises(ValueError, match="version"):
            store.delete_if("k", version="")
        assert dict(store.items()) == {"k": b"v"}
        assert store.get_with_version("k") == (b"v", version)

    # -- races -------------------------------------------------------------------------------

    def _check_race(self, store: Store, workers: list[str]) -> None:
        expected = len(workers) * self.cas_increments
        assert store["counter"] == str(expected).encode(), (
            f"{len(workers)} workers each made {self.cas_increments} increments with "
            f"get_with_version/set_if, but the counter reads {store['counter']!r}, not "
            f"{expected}: set_if let two writers replace the same version"
        )
        checked_wins(store, workers, self.cas_rounds)

    def test_threads_increment_without_loss(self, store: Store) -> None:
        """Threads incrementing a counter with a read/set_if retry loop lose no increment.

        And in each round of create-if-absent, exactly one thread wins.
        """
        self._needs_compare_and_set()
        store.set_if("counter", b"0", version=None)
        workers = [f"t{index}" for index in range(self.cas_threads)]
        barrier = threading.Barrier(len(workers))
        errors: list[BaseException] = []

        def run(name: str) -> None:
            try:
                cas_worker(store, name, self.cas_increments, self.cas_rounds, barrier)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                barrier.abort()

        threads = [threading.Thread(target=run, args=(name,)) for name in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        self._check_race(store, workers)

    @pytest.mark.kv_processes
    @pytest.mark.kv_reopens("processes", "compare_and_set")
    def test_processes_increment_without_loss(self, store: Store) -> None:
        """Spawned processes, each with several threads, lose no increment of a shared counter.

        And in each round of create-if-absent, exactly one thread of all processes wins.
        """
        self._needs_compare_and_set()
        if not self.capabilities.processes:
            pytest.skip("the store declares processes=False")
        store.set_if("counter", b"0", version=None)
        opener = self.opener(store)
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(self.cas_processes * self.cas_threads)
        processes = [
            context.Process(
                target=cas_main,
                args=(
                    opener,
                    f"p{index}",
                    self.cas_threads,
                    self.cas_increments,
                    self.cas_rounds,
                    barrier,
                ),
            )
            for index in range(self.cas_processes)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=180)
        assert [p.exitcode for p in processes] == [0] * len(processes)
        workers = [
            f"p{index}t{thread}"
            for index in range(self.cas_processes)
            for thread in range(self.cas_threads)
        ]
        self._check_race(store, workers)
