"""Work done in other threads and spawned processes by the concurrency tests.

Module-level functions, so a spawned child can import them.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

__all__ = ["process_main", "shared_value", "write_keys"]

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
