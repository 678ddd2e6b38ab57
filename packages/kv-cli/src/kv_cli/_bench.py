"""``kv bench``: a short latency table for one store, and its cleanup."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["BENCH_PREFIX", "Latency", "bench_store", "forget"]

#: Every key ``kv bench`` writes starts with this.
BENCH_PREFIX = "kv-bench/"


@dataclass(frozen=True)
class Latency:
    """The latencies of one operation, in microseconds.

    :param name: The operation (``set``, ``get`` ...).
    :param p50: The median.
    :param p99: The 99th percentile (nearest rank): 99 % of the calls took at most this.
    :param samples: How many calls were timed.
    """

    name: str
    p50: float
    p99: float
    samples: int


def _percentile(ordered: list[float], fraction: float) -> float:
    # Nearest rank: defined for a single sample too, and always a latency that was measured.
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _measure(name: str, operation: Callable[[int], object], count: int) -> Latency:
    samples = []
    for index in range(count):
        start = time.perf_counter()
        operation(index)
        samples.append(time.perf_counter() - start)
    samples.sort()
    p50 = (samples[(count - 1) // 2] + samples[count // 2]) / 2
    return Latency(name, p50 * 1e6, _percentile(samples, 0.99) * 1e6, count)


def forget(store: Any, keys: list[str]) -> None:
    """Delete *keys*, and on a store that keeps history, every row they left (``purge``)."""
    store.delete_many(keys)
    capabilities = getattr(store, "capabilities", None)
    purge = getattr(store, "purge", None)
    if getattr(capabilities, "history", False) and callable(purge):
        purge(keys)


def bench_store(store: Any, *, count: int = 200, size: int = 100) -> list[Latency]:
    """Latencies of set, get, ``in``, get_many (10 keys) and delete, on keys of its own.

    The keys live under ``kv-bench/`` and are removed afterwards, with their history on a
    store that keeps it, even when a measurement fails.
    """
    if count < 1:
        msg = f"count must be at least 1, not {count}"
        raise ValueError(msg)
    value = os.urandom(size)
    keys = [f"{BENCH_PREFIX}{os.getpid()}-{i}" for i in range(count)]
    try:
        return [
            _measure("set", lambda i: store.__setitem__(keys[i], value), count),
            _measure("get", lambda i: store[keys[i]], count),
            _measure("in", lambda i: keys[i] in store, count),
            _measure("get_many (10 keys)", lambda i: store.get_many(keys[i : i + 10]), count),
            _measure("delete", lambda i: store.__delitem__(keys[i]), count),
        ]
    finally:
        forget(store, keys)
