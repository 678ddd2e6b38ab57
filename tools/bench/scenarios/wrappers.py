"""kv-core's wrappers over MemoryDict: what each layer costs on top of the store it wraps.

Every target of the wrappers is one printed ratio, its bound in the subject's name:

- ``get`` / ``set``: each wrapper over one ``MemoryDict`` against that ``MemoryDict``
  (≤1.3x); ``TieredStorageDict`` of two ``MemoryDict`` tiers against one ``MemoryDict``:
  a hit in the top tier ≤1.5x, a hit in the bottom tier ≤2x, a write (to both) ≤2x.
- ``get/set, value codec``: ``SerializedDict`` with value functions against a
  ``MemoryDict`` given the same functions as ``serializer=``/``deserializer=``, so the
  functions' own cost is on both sides and the ratio is the wrapper's.
- ``set, 2 tiers``: the same tiered write against its three steps done by hand on the two
  ``MemoryDict`` tiers (remove the key from the cache, write the source, write the cache):
  what the wrapper adds to the work its contract prescribes (≤1.3x).

``RandomChoiceDict`` spreads over three replicas of one ``MemoryDict``. Misses are not
timed here; every read is of a present key of 100 bytes, among 10,000.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from harness import Case

from kv_core import (
    MemoryDict,
    RandomChoiceDict,
    ReadOnlyDict,
    SerializedDict,
    TieredStorageDict,
    WriteOnlyDict,
)

#: Every case runs in this process: timed by its CPU time (see the harness).
CLOCK = "cpu"

KEY = "key:00042"


def _reader(store: Any) -> Callable[[], object]:
    return lambda: store[KEY]


def _writer(store: Any, value: bytes) -> Callable[[], object]:
    return lambda: store.__setitem__(KEY, value)


def _reverse(value: bytes) -> bytes:
    # A cheap, pure-Python value codec: the wrapper's overhead, not zlib's, is what counts.
    return value[::-1]


@contextmanager
def scenario() -> Iterator[list[Case]]:
    """Reads and writes of one key through each wrapper, and the store it wraps."""
    value = b"x" * 100
    keys = [f"key:{i:05d}" for i in range(10_000)]
    initial = dict.fromkeys(keys, value)

    memory = MemoryDict(initial)
    read_only = ReadOnlyDict(memory)
    write_only = WriteOnlyDict(MemoryDict(initial))
    replicas = MemoryDict(initial)
    random_choice = RandomChoiceDict([replicas, replicas, replicas])
    top_hit = TieredStorageDict([MemoryDict(initial), MemoryDict(initial)])
    bottom_hit = TieredStorageDict([MemoryDict(), MemoryDict(initial)])
    tiered_write = TieredStorageDict([MemoryDict(initial), MemoryDict(initial)])
    cache, source = MemoryDict(initial), MemoryDict(initial)

    def by_hand() -> None:
        del cache[KEY]
        source[KEY] = value
        cache[KEY] = value

    coded = MemoryDict(initial, serializer=_reverse, deserializer=_reverse)
    serialized = SerializedDict(
        MemoryDict(initial), value_serialize=_reverse, value_deserialize=_reverse
    )

    yield [
        Case("get", "MemoryDict", _reader(memory), baseline=True),
        Case("get", "ReadOnlyDict (≤1.3x)", _reader(read_only)),
        Case("get", "RandomChoiceDict, 3 replicas (≤1.3x)", _reader(random_choice)),
        Case("get", "TieredStorageDict, top-tier hit of 2 (≤1.5x)", _reader(top_hit)),
        Case("get", "TieredStorageDict, bottom-tier hit of 2 (≤2x)", _reader(bottom_hit)),
        Case("set", "MemoryDict", _writer(memory, value), baseline=True),
        Case("set", "ReadOnlyDict, discarded (≤1.3x)", _writer(read_only, value)),
        Case("set", "WriteOnlyDict (≤1.3x)", _writer(write_only, value)),
        Case("set", "RandomChoiceDict, 3 replicas (≤1.3x)", _writer(random_choice, value)),
        Case("set", "TieredStorageDict, 2 tiers (≤2x)", _writer(tiered_write, value)),
        Case("set, 2 tiers", "by hand: del cache, set source, set cache", by_hand, baseline=True),
        Case("set, 2 tiers", "TieredStorageDict (≤1.3x)", _writer(tiered_write, value)),
        Case("get, value codec", "MemoryDict(deserializer=)", _reader(coded), baseline=True),
        Case("get, value codec", "SerializedDict (≤1.3x)", _reader(serialized)),
        Case("set, value codec", "MemoryDict(serializer=)", _writer(coded, value), baseline=True),
        Case("set, value codec", "SerializedDict (≤1.3x)", _writer(serialized, value)),
    ]
