"""MemoryDict against a plain dict: the cost of the store protocol itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from harness import Case

from kv_core import MemoryDict

#: Every case runs in this process: timed by its CPU time (see the harness).
CLOCK = "cpu"


@contextmanager
def scenario() -> Iterator[list[Case]]:
    """Get, set, contains, get_many and listing on 10,000 keys of 100 bytes."""
    value = b"x" * 100
    keys = [f"key:{i:05d}" for i in range(10_000)]
    plain = dict.fromkeys(keys, value)
    store = MemoryDict(plain)
    batch = keys[:100]
    yield [
        Case("get", "dict", lambda: plain["key:00042"], baseline=True),
        Case("get", "MemoryDict", lambda: store["key:00042"]),
        Case("set", "dict", lambda: plain.__setitem__("key:00042", value), baseline=True),
        Case("set", "MemoryDict", lambda: store.__setitem__("key:00042", value)),
        Case("in", "dict", lambda: "key:00042" in plain, baseline=True),
        Case("in", "MemoryDict", lambda: "key:00042" in store),
        Case(
            "get 100 keys",
            "dict",
            lambda: {k: plain[k] for k in batch if k in plain},
            baseline=True,
        ),
        Case("get 100 keys", "MemoryDict.get_many", lambda: store.get_many(batch)),
        Case("list 10,000 keys", "dict", lambda: list(plain), baseline=True),
        Case("list 10,000 keys", "MemoryDict", lambda: list(store)),
    ]
