"""Wrappers check and encode once, at the outermost store, for every store a call reaches."""

from __future__ import annotations

import pickle
import zlib
from collections import Counter
from typing import Any

import pytest

from kv_core import (
    InvalidKeyError,
    MemoryDict,
    RandomChoiceDict,
    ReadOnlyDict,
    SerializedDict,
    TieredStorageDict,
    WriteOnlyDict,
)

checked: Counter[int] = Counter()


class Counting(MemoryDict):
    """A store that counts how often its key check runs, and refuses keys with spaces."""

    def _validate_key(self, key: str) -> None:
        checked[id(self)] += 1
        if " " in key:
            raise InvalidKeyError(key)


class Lowercasing(MemoryDict):
    """A store whose own key check rewrites keys (its primitives take the lowercase key)."""

    def _check_key(self, key: Any) -> str:
        return super()._check_key(key).lower()


def _compressed(store: MemoryDict) -> SerializedDict:
    return SerializedDict(store, value_serialize=zlib.compress, value_deserialize=zlib.decompress)


@pytest.mark.parametrize(
    "build",
    [
        lambda: TieredStorageDict([_compressed(MemoryDict()), MemoryDict()]),
        lambda: TieredStorageDict([MemoryDict(), _compressed(MemoryDict())]),
        lambda: TieredStorageDict(
            [RandomChoiceDict([_compressed(MemoryDict())]), WriteOnlyDict(MemoryDict())]
        ),
        lambda: TieredStorageDict(
            [TieredStorageDict([_compressed(MemoryDict()), MemoryDict()]), MemoryDict()]
        ),
    ],
    ids=["compressed-head", "compressed-tail", "random-choice-over-master", "nested"],
)
@pytest.mark.parametrize(
    "write",
    [
        lambda d: d.__setitem__("k", "text"),
        lambda d: d.set_many({"j": b"fine", "k": "text"}),
        lambda d: d.update(k="text"),
        lambda d: d.setdefault("new", "text"),
    ],
    ids=["setitem", "set_many", "update", "setdefault"],
)
def test_a_value_one_tier_refuses_reaches_no_tier(build: Any, write: Any) -> None:
    """A str that zlib.compress refuses in one tier fails before any tier is written."""
    store = build()
    store["k"] = b"old"
    before = _leaves(store)
    with pytest.raises(TypeError):
        write(store)
    assert _leaves(store) == before
    assert store["k"] == b"old"


def _leaves(store: Any) -> list[dict[str, bytes]]:
    """What every MemoryDict under *store* holds, raw."""
    if isinstance(store, MemoryDict):
        return [dict(store._data)]
    return [leaf for inner in store._inner for leaf in _leaves(inner)]


def test_a_value_one_replica_refuses_is_refused_every_time() -> None:
    """RandomChoiceDict refuses a value any replica's codec refuses, whichever is picked."""
    plain, compressed = MemoryDict(), MemoryDict()
    store = RandomChoiceDict([plain, SerializedDict(compressed, value_serialize=zlib.compress)])
    for _ in range(20):
        with pytest.raises(TypeError):
            store["k"] = "text"
    assert len(plain) == len(compressed) == 0


def test_a_read_checks_each_key_once_in_every_tier() -> None:
    """Each tier's key check runs once per call, however deep the stack, then never again."""
    top, middle, bottom = Counting(), Counting(), Counting({"k": b"v"})
    store = TieredStorageDict([top, TieredStorageDict([middle, ReadOnlyDict(bottom)])])
    checked.clear()
    assert store["k"] == b"v"
    assert store.get("k") == b"v"
    assert "k" in store
    store["j"] = b"w"
    assert checked == {id(top): 4, id(middle): 4, id(bottom): 4}


def test_a_key_any_tier_refuses_touches_no_tier() -> None:
    """A key the deepest tier refuses is refused before the head is read or written."""
    head, bottom = MemoryDict(), Counting()
    store = TieredStorageDict([head, TieredStorageDict([MemoryDict(), bottom])])
    for call in (
        lambda: store["a b"],
        lambda: store.get("a b"),
        lambda: store.__setitem__("a b", b"x"),
        lambda: store.set_many({"ok": b"x", "a b": b"x"}),
    ):
        with pytest.raises(InvalidKeyError):
            call()
    assert len(head) == 0


def test_tiers_that_rewrite_keys_get_their_own_keys() -> None:
    """Tiers whose key check rewrites keys (key functions, a store's own _check_key) work."""
    top, bottom = MemoryDict(), MemoryDict()
    store = TieredStorageDict(
        [
            SerializedDict(top, key_serialize=pickle.dumps, key_deserialize=pickle.loads),
            SerializedDict(bottom, key_serialize=pickle.dumps, key_deserialize=pickle.loads),
        ]
    )
    store[("user", 1)] = b"ada"
    assert all(key.startswith("b:") for key in (*top, *bottom))
    top.clear()
    assert store[("user", 1)] == b"ada"  # from the bottom tier
    assert store.get_many([("user", 1), ("user", 2)]) == {("user", 1): b"ada"}
    assert list(store) == [("user", 1)]
    del store[("user", 1)]
    assert len(bottom) == 0

    lower = Lowercasing()
    view = ReadOnlyDict(lower)
    cache = TieredStorageDict([MemoryDict(), lower])
    cache["Key"] = b"v"
    assert lower._data == {"key": b"v"}
    assert view["KEY"] == b"v"
    assert view.get_many(["KEY"]) == {"KEY": b"v"}


def test_subclasses_of_memory_dict_keep_their_primitives() -> None:
    """A MemoryDict subclass that overrides _read is read through it, by [] get and wrappers."""

    class Upper(MemoryDict):
        def _read(self, key: str) -> bytes:
            return super()._read(key).upper()

    store = Upper({"k": b"v"})
    assert store["k"] == store.get("k") == b"V"
    assert ReadOnlyDict(store)["k"] == b"V"
    assert TieredStorageDict([MemoryDict(), store])["k"] == b"V"


def test_plain_mappings_keep_any_key() -> None:
    """A wrapper over plain dicts alone passes keys of any type, as a dict would."""
    plain: dict[Any, bytes] = {}
    store = TieredStorageDict([{}, plain])
    store[1] = b"x"
    assert plain == {1: b"x"}
    assert store[1] == b"x"
    with pytest.raises(TypeError):
        TieredStorageDict([{}, MemoryDict()])[1] = b"x"


def test_random_choice_over_many_stores_spreads_reads() -> None:
    """Picks cover every store, beyond the 255 that one random byte can tell apart too."""
    for count in (2, 3, 300):
        replicas = [MemoryDict({"k": str(i).encode()}) for i in range(count)]
        store = RandomChoiceDict(replicas)
        seen = {store["k"] for _ in range(60 * count)}
        assert seen == {str(i).encode() for i in range(count)}


def test_a_str_the_upper_tier_compresses_commits_to_no_tier() -> None:
    """Issue 15: the lower tier must not take a str the upper tier's zlib.compress refuses.

    Writes go tail first, so a value checked tier by tier would reach the lower tier and
    then fail at the upper one; it is encoded for both first, and the serializer's own
    TypeError (as the TieredStorageDict docstring says) is raised.
    """
    upper, lower = MemoryDict(), MemoryDict()
    store = TieredStorageDict([_compressed(upper), lower])
    with pytest.raises(TypeError, match="bytes-like object is required, not 'str'"):
        store["k"] = "text"
    assert dict(upper._data) == dict(lower._data) == {}
    assert "k" not in store


def test_a_bytes_value_still_reaches_every_tiers_codec() -> None:
    """Bytes skip the no-op encoding call only where every store keeps them as given."""
    upper, lower = MemoryDict(), MemoryDict()
    value = b"v" * 100
    TieredStorageDict([_compressed(upper), lower])["k"] = value
    assert upper._data == {"k": zlib.compress(value)}
    assert lower._data == {"k": value}
    plain, compressed = MemoryDict(), MemoryDict()
    replicas = RandomChoiceDict([plain, _compressed(compressed)])
    for _ in range(200):  # until the random picks have reached both
        replicas["k"] = value
        if plain and compressed:
            break
    assert plain._data == {"k": value}
    assert compressed._data == {"k": zlib.compress(value)}
    below = MemoryDict()
    WriteOnlyDict(_compressed(below))["k"] = bytearray(value)
    assert below._data == {"k": zlib.compress(value)}
