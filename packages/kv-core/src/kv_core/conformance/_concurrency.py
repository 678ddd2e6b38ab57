"""Iteration, threads and processes: nothing lost, nothing torn, nothing raised."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._base import SuiteBase
from ._workers import process_main, shared_value, write_keys

__all__ = ["ConcurrencyTests"]

from ..store import Store


def _start_threads(
    targets: list[Callable[[], None]], errors: list[BaseException]
) -> list[threading.Thread]:
    """Start a thread per target; whatever a target raises is appended to *errors*."""

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    return threads


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=120)


def _run_threads(targets: list[Callable[[], None]]) -> list[BaseException]:
    """Run the targets in threads at once; return what they raised."""
    errors: list[BaseException] = []
    _join(_start_threads(targets, errors))
    return errors


class ConcurrencyTests(SuiteBase):
    """Many keys, several threads, several processes."""

    thread_writers = 6
    keys_per_writer = 40

    def _check_writes(self, store: Store, writers: int, count: int) -> None:
        for writer in range(writers):
            for index in range(count):
                key = f"w{writer}-{index}"
                assert store[key] == f"{writer}:{index}".encode(), f"lost or wrong {key}"
        shared = store["shared"]
        assert shared in {shared_value(w) for w in range(writers)}, "the shared value is torn"
        assert len(store) == writers * count + 1

    def test_each_key_listed_once(self, store: Store) -> None:
        """With nobody writing, iteration yields every key exactly once, over many keys."""
        keys = [f"key/{i:05d}" if i % 3 else f"key-{i:05d}" for i in range(1200)]
        store.set_many(dict.fromkeys(keys, b"v"))
        listed = Counter(iter(store))
        assert [k for k, n in listed.items() if n > 1] == [], "keys listed twice"
        assert set(listed) == set(keys)
        assert len(store) == len(keys)
        assert Counter(store.keys_with_prefix("key/")) == Counter(k for k in keys if "/" in k)
        items = dict(store.items())
        assert len(items) == len(keys)

    def test_iteration_while_writing_does_not_fail(self, store: Store) -> None:
        """Listing keys and items while another thread writes and deletes raises nothing."""
        store.set_many({f"base{i}": b"v" for i in range(200)})
        done = threading.Event()

        def churn() -> None:
            index = 0
            while not done.is_set() and index < 20_000:
                store[f"churn{index % 50}"] = b"x" * (index % 7)
                if index % 2:
                    store.pop(f"churn{(index - 1) % 50}", None)
                index += 1

        def read() -> None:
            try:
                for _ in range(5):
                    keys = list(store)
                    assert {f"base{i}" for i in range(200)} <= set(keys)
                    for key, value in store.items():
                        assert isinstance(value, bytes), key
                    list(store.keys_with_prefix("churn"))
            finally:
                done.set()

        assert _run_threads([churn, read]) == []

    def test_listings_survive_inserts_and_deletes_by_other_threads(self, store: Store) -> None:
        """keys, items, values and prefix listings run while threads insert and delete keys.

        Each listing waits, after each of its first keys, until the other threads have
        changed the store, so a store that iterates over live state (a dict it does not
        copy: ``RuntimeError: dictionary changed size during iteration``) fails every time.
        """
        stable = {f"ks{i:04d}": f"s{i}".encode() for i in range(300)}
        doomed = [f"kd{i:04d}" for i in range(300)]
        store.set_many({**stable, **dict.fromkeys(doomed, b"d")})
        done = threading.Event()
        asked = threading.Semaphore(0)
        changes = [0]

        def churn(writer: int) -> Callable[[], None]:
            def run() -> None:
                # One change per request of the reader, until it is done; each changes the
                # number of keys.
                index = 0
                while not done.is_set():
                    if not asked.acquire(timeout=0.05):
                        continue
                    fresh = f"kf{writer}-{index // 2 % 100:03d}"
                    if index % 2:
                        store.pop(fresh, None)
                    else:
                        store[fresh] = b"fresh"
                    store.pop(doomed[(index * 2 + writer) % len(doomed)], None)
                    index += 1
                    changes[0] += 1

            return run

        def paced(listing: Iterator[Any]) -> Iterator[Any]:
            # After each of the first few entries, have the other threads change the store.
            for index, entry in enumerate(listing):
                if index < 4:
                    target = changes[0] + 2
                    asked.release(2)
                    deadline = time.monotonic() + 10
                    while changes[0] < target and time.monotonic() < deadline:
                        time.sleep(0.001)
                yield entry

        def read() -> None:
            try:
                listings: dict[str, Callable[[], Iterator[Any]]] = {
                    "iter(store)": lambda: iter(store),
                    "keys()": lambda: iter(store.keys()),
                    "keys_with_prefix('k')": lambda: store.keys_with_prefix("k"),
                    "items()": lambda: iter(store.items()),
                    "values()": lambda: iter(store.values()),
                }
                for name, listing in listings.items():
                    seen = list(paced(listing()))
                    if name == "values()":
                        assert all(isinstance(value, bytes) for value in seen), name
                    elif name == "items()":
                        found = dict(seen)
                        assert {k: found.get(k) for k in stable} == stable, f"{name} lost keys"
                    else:
                        assert set(stable) <= set(seen), f"{name} lost keys nobody changed"
            finally:
                done.set()

        errors = _run_threads([read, churn(0), churn(1)])
        assert errors == [], f"listing while other threads write raised {errors!r}"

    def test_threads_write_without_loss(self, store: Store) -> None:
        """Threads writing their own keys and one shared key lose nothing and tear nothing."""
        count = self.keys_per_writer
        errors = _run_threads(
            [
                (lambda w=w: write_keys(store, w, count))  # type: ignore[misc]
                for w in range(self.thread_writers)
            ]
        )
        assert errors == []
        self._check_writes(store, self.thread_writers, count)

    def test_threads_read_while_writing_same_key(self, store: Store) -> None:
        """Readers of a key being rewritten see whole values only."""
        store["shared"] = shared_value(0)
        done = threading.Event()
        reads = [0]

        def writer(w: int) -> Callable[[], None]:
            def run() -> None:
                # Keep writing until the reader has overlapped with many writes (bounded).
                # Alternate between two values, so that every write changes the bytes.
                for index in range(2000):
                    store["shared"] = shared_value(2 * w + index % 2)
                    if index >= 50 and reads[0] >= 300:
                        break

            return run

        def reader() -> None:
            valid = {shared_value(w) for w in range(6)}
            while not done.is_set():
                assert store["shared"] in valid
                reads[0] += 1

        reader_errors: list[BaseException] = []
        reading = _start_threads([reader], reader_errors)
        try:
            assert _run_threads([writer(w) for w in range(3)]) == []
        finally:
            done.set()
            _join(reading)
        assert reader_errors == []

    @pytest.mark.kv_processes
    @pytest.mark.kv_reopens("processes")
    def test_processes_write_without_loss(self, store: Store) -> None:
        """Spawned processes writing at once lose nothing and tear nothing."""
        if not self.capabilities.processes:
            pytest.skip("the store declares processes=False")
        opener = self.opener(store)
        context = multiprocessing.get_context("spawn")
        writers, count = 3, 25
        processes = [
            context.Process(target=process_main, args=(opener, w, count)) for w in range(writers)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=120)
        assert [p.exitcode for p in processes] == [0] * writers
        self._check_writes(store, writers, count)
