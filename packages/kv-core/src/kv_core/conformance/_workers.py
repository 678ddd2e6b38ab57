"""Work done in other threads and spawned processes by the concurrency tests.

Module-level functions, so a spawned child can import them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, MutableMapping
from typing import Any, Protocol

from ..errors import ConflictError

__all__ = [
    "cas_increment",
    "cas_main",
    "cas_worker",
    "checked_wins",
    "process_main",
    "shared_value",
    "write_keys",
]

SHARED_SIZE = 64 * 1024


def shared_value(writer: int) -> bytes:
    """The value writer number *writer* stores under the shared key: one byte, repeated."""
    return bytes([writer % 256]) * SHARED_SIZE


def write_keys(store: MutableMapping[Any, Any], writer: int, count: int) -> None:
    """Write *count* keys of one's own and the shared key, interleaved."""
    for index in range(count):
        store[f"w{writer}-{index}"] = f"{writer}:{index}".encode()
        store["shared"] = shared_value(writer)


def process_main(opener: Callable[[], MutableMapping[Any, Any]], writer: int, count: int) -> None:
    """The body of a spawned writer process: open the store, write, close."""
    store = opener()
    try:
        write_keys(store, writer, count)
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()


class _Barrier(Protocol):
    def wait(self, timeout: float | None = None) -> int: ...


def cas_increment(store: Any, times: int) -> None:
    """Add 1 to the number under ``counter`` *times*, each with a get/set_if retry loop."""
    for _ in range(times):
        for _attempt in range(100_000):
            value, version = store.get_with_version("counter")
            try:
                store.set_if("counter", str(int(value) + 1).encode(), version=version)
            except ConflictError:
                continue
            break
        else:
            msg = "100,000 conflicts in a row on one increment: set_if never succeeds"
            raise AssertionError(msg)


def cas_worker(store: Any, name: str, increments: int, rounds: int, barrier: _Barrier) -> None:
    """Race for ``race-<n>`` with set_if(version=None) *rounds* times, then increment.

    The rounds this worker won are written under ``wins-<name>``, comma-separated.
    """
    won = []
    for number in range(rounds):
        barrier.wait(timeout=60)
        try:
            store.set_if(f"race-{number}", name.encode(), version=None)
        except ConflictError:
            continue
        won.append(str(number))
    store[f"wins-{name}"] = ",".join(won).encode()
    cas_increment(store, increments)


def checked_wins(store: Any, workers: list[str], rounds: int) -> None:
    """Assert that each round of create-if-absent had exactly one winner, who holds the key."""
    wins = {name: store[f"wins-{name}"].split(b",") for name in workers}
    for number in range(rounds):
        winners = [name for name, rounds_won in wins.items() if str(number).encode() in rounds_won]
        assert len(winners) == 1, (
            f"set_if(version=None) of race-{number} succeeded for {winners or 'nobody'}: "
            "exactly one of racing writers must create a key"
        )
        assert store[f"race-{number}"] == winners[0].encode()


def cas_main(
    opener: Callable[[], MutableMapping[Any, Any]],
    prefix: str,
    threads: int,
    increments: int,
    rounds: int,
    barrier: _Barrier,
) -> None:
    """The body of a spawned process in the compare-and-set race: *threads* cas_workers."""
    store = opener()
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            cas_worker(store, name, increments, rounds, barrier)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    try:
        running = [
            threading.Thread(target=run, args=(f"{prefix}t{index}",)) for index in range(threads)
        ]
        for thread in running:
            thread.start()
        for thread in running:
            thread.join(timeout=150)
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()
    if errors:
        raise errors[0]
