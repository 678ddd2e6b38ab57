"""``kv bench``: a short latency table for one store."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

from kv_core import Store

__all__ = ["bench_store"]


def _median_us(operation: Callable[[int], object], count: int) -> float:
    samples = []
    for index in range(count):
        start = time.perf_counter()
        operation(index)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def bench_store(store: Store, *, count: int = 200, size: int = 100) -> list[tuple[str, float]]:
    """Median µs of set, get, ``in``, get_many (10 keys) and delete, on keys of its own.

    The keys live under ``kv-bench/`` and are deleted afterwards.
    """
    value = os.urandom(size)
    keys = [f"kv-bench/{os.getpid()}-{i}" for i in range(count)]
    try:
        results = [
            ("set", _median_us(lambda i: store.__setitem__(keys[i], value), count)),
            ("get", _median_us(lambda i: store[keys[i]], count)),
            ("in", _median_us(lambda i: keys[i] in store, count)),
            (
                "get_many (10 keys)",
                _median_us(lambda i: store.get_many(keys[i : i + 10]), count),
            ),
            ("delete", _median_us(lambda i: store.__delitem__(keys[i]), count)),
        ]
    finally:
        store.delete_many(keys)
    return results
