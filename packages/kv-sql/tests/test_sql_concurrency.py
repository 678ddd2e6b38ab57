"""Threads and processes writing the same keys with prune_on_write: nothing lost."""

from __future__ import annotations

import functools
import multiprocessing
import threading
from typing import Any

import pytest

from kv_core.conformance._workers import process_main, shared_value


def _run(targets: list[Any]) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded(target: Any) -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


def test_threads_prune_same_keys(backend: Any) -> None:
    """Contended keys end with one writer's last value; ordered writes: the last one wins."""
    store = backend.store(prune_on_write=True)
    writers, rounds = 4, 25
    order = threading.Lock()
    acknowledged: dict[str, bytes] = {}

    def writer(number: int) -> Any:
        def work() -> None:
            for index in range(rounds):
                # Contended: every thread at once, no ordering.
                store[f"hot{index % 3}"] = f"{number}:{rounds}".encode()
                # Ordered: the write is acknowledged before the next one starts.
                with order:
                    value = f"{number}:{index}".encode()
                    store[f"seq{index % 2}"] = value
                    acknowledged[f"seq{index % 2}"] = value
                store.get("seq0")
                if index % 5 == 0:
                    store[f"own{number}-{index}"] = b"x"
                    del store[f"own{number}-{index}"]

        return work

    assert _run([writer(n) for n in range(writers)]) == []
    for key, value in acknowledged.items():
        assert store[key] == value, f"{key}: the last acknowledged write did not win"
    for index in range(3):
        assert store[f"hot{index}"] in {f"{n}:{rounds}".encode() for n in range(writers)}
    assert sorted(store) == ["hot0", "hot1", "hot2", "seq0", "seq1"]
    for key in store:
        history = store.history(key)
        # The newest row is there and is the value read; a write leaves it alone.
        assert history[-1].value == store[key]
        store[key] = b"final"
        assert [v.value for v in store.history(key)] == [b"final"]


@pytest.mark.parametrize("name", ["mariadb", "postgres"])
def test_processes_prune_same_keys(name: str, server_backend_factory: Any) -> None:
    """Spawned processes writing one shared key with prune_on_write: nothing lost or torn.

    (SQLite files run the same in the conformance suite's prune classes; the servers are
    where concurrent prunes can deadlock or see each other's rows.)
    """
    store = server_backend_factory(name).store(prune_on_write=True)
    opener = functools.partial(
        type(store),
        store.engine.url.render_as_string(hide_password=False),
        store.table_name,
        prune_on_write=True,
    )
    context = multiprocessing.get_context("spawn")
    writers, count = 3, 20
    processes = [
        context.Process(target=process_main, args=(opener, w, count)) for w in range(writers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0] * writers
    for writer in range(writers):
        for index in range(count):
            assert store[f"w{writer}-{index}"] == f"{writer}:{index}".encode()
            assert len(store.history(f"w{writer}-{index}")) == 1
    assert store["shared"] in {shared_value(w) for w in range(writers)}
    newest = store.history("shared")[-1]
    assert newest.value == store["shared"]
    assert len(store) == writers * count + 1
