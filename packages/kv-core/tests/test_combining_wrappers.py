"""SerializedDict, RandomChoiceDict and TieredStorageDict: what the suite cannot see."""

from __future__ import annotations

import errno
import json
import pickle
import zlib
from collections.abc import Iterator

import pytest

from kv_core import (
    InvalidKeyError,
    MemoryDict,
    RandomChoiceDict,
    ReadOnlyDict,
    SerializedDict,
    StoreUnavailable,
    TieredStorageDict,
    ValueTooLargeError,
    WriteOnlyDict,
)


class DownStore(MemoryDict):
    """A store whose server is down: every operation raises StoreUnavailable."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def _down(self) -> StoreUnavailable:
        self.calls += 1
        return StoreUnavailable("down")

    def _read(self, key: str) -> bytes:
        raise self._down()

    def _contains(self, key: str) -> bool:
        raise self._down()

    def _count(self) -> int:
        raise self._down()

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        raise self._down()

    def _read_many(self, keys: object) -> dict[str, bytes]:
        raise self._down()


class DiskFullStore(MemoryDict):
    """A store whose disk is full: writes raise the OSError a file system would."""

    def _write(self, key: str, value: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_seed_example_round_trips_tuple_keys() -> None:
    """The seed's pickle/zlib SerializedDict stores tuple keys and any value."""
    inner = MemoryDict()
    d = SerializedDict(
        inner,
        key_serialize=pickle.dumps,
        key_deserialize=pickle.loads,
        value_serialize=zlib.compress,
        value_deserialize=zlib.decompress,
    )
    d[("user", 42)] = b"profile"
    d[("user", 43)] = b"other"
    assert d[("user", 42)] == b"profile"
    assert sorted(d) == [("user", 42), ("user", 43)]
    assert dict(d.items()) == {("user", 42): b"profile", ("user", 43): b"other"}
    assert d.get_many([("user", 42), ("nobody",)]) == {("user", 42): b"profile"}
    assert ("user", 42) in d
    del d[("user", 42)]
    assert len(d) == 1
    assert all(isinstance(k, str) and k.isprintable() for k in inner)
    assert zlib.decompress(next(iter(inner.values()))) == b"other"
    assert d.popitem() == (("user", 43), b"other")


def test_str_key_serializer_and_any_value() -> None:
    """A key serializer returning str (json) and a value serializer for dicts both work."""
    d = SerializedDict(
        MemoryDict(),
        key_serialize=json.dumps,
        key_deserialize=json.loads,
        value_serialize=lambda v: json.dumps(v).encode(),
        value_deserialize=json.loads,
    )
    d[7] = {"n": [1, 2]}
    assert d[7] == {"n": [1, 2]}
    assert list(d) == [7]
    assert list(d.keys_with_prefix("x")) == []


def test_serialized_keys_pass_through_without_key_serializer() -> None:
    """Two SerializedDicts without key serializers address the same keys (the seed's Redis)."""
    inner = MemoryDict()
    writer = SerializedDict(inner, value_serialize=zlib.compress)
    reader = SerializedDict(inner, value_deserialize=zlib.decompress)
    writer["doc"] = b"text"
    assert reader["doc"] == b"text"
    assert list(inner) == ["doc"]


def test_foreign_key_in_serialized_store_is_reported() -> None:
    """A key not written through the key serializer is an InvalidKeyError, not garbage."""
    inner = MemoryDict({"plain": b"x"})
    d = SerializedDict(inner, key_serialize=pickle.dumps, key_deserialize=pickle.loads)
    with pytest.raises(InvalidKeyError):
        list(d)


def test_random_choice_reads_fail_over() -> None:
    """A read that hits a down replica is answered by another one."""
    up = MemoryDict({"k": b"v"})
    down = DownStore()
    d = RandomChoiceDict([down, up, down])
    for _ in range(30):
        assert d["k"] == b"v"
        assert "k" in d
        assert len(d) == 1
        assert list(d) == ["k"]
        assert d.get_many(["k"]) == {"k": b"v"}
    assert down.calls > 0


def test_random_choice_all_down_is_unavailable_not_keyerror() -> None:
    """With every replica down, reads raise StoreUnavailable, never KeyError."""
    d = RandomChoiceDict([DownStore(), DownStore()])
    with pytest.raises(StoreUnavailable):
        d["k"]
    with pytest.raises(StoreUnavailable):
        d.get("k")
    with pytest.raises(StoreUnavailable):
        "k" in d  # noqa: B015
    with pytest.raises(StoreUnavailable):
        list(d)


def test_random_choice_keyerror_is_an_answer() -> None:
    """A missing key on the picked replica is KeyError, not a reason to ask another."""
    d = RandomChoiceDict([MemoryDict(), MemoryDict()])
    with pytest.raises(KeyError):
        d["missing"]


def test_random_choice_spreads_reads() -> None:
    """Reads are spread over the replicas."""
    replicas = [MemoryDict({"k": str(i).encode()}) for i in range(3)]
    d = RandomChoiceDict(replicas)
    assert {d["k"] for _ in range(200)} == {b"0", b"1", b"2"}


def test_tiered_reads_first_hit_and_writes_every_tier() -> None:
    """Reads go head to tail; writes reach every tier; deletes remove from all."""
    head, tail = MemoryDict(), MemoryDict({"old": b"archived"})
    d = TieredStorageDict([head, tail])
    assert d["old"] == b"archived"
    assert "old" not in head
    d["new"] = b"1"
    assert head["new"] == tail["new"] == b"1"
    head["new"] = b"cached"
    assert d["new"] == b"cached"
    del d["new"]
    assert "new" not in head
    assert "new" not in tail
    with pytest.raises(KeyError):
        del d["new"]


def test_tiered_promote_on_read() -> None:
    """With promote_on_read, a value found low is written into every tier above."""
    top, middle, bottom = MemoryDict(), MemoryDict(), MemoryDict({"k": b"v"})
    d = TieredStorageDict([top, middle, bottom], promote_on_read=True)
    assert d["k"] == b"v"
    assert top["k"] == middle["k"] == b"v"
    bottom["j"] = b"w"
    assert d.get_many(["j"]) == {"j": b"w"}
    assert top["j"] == b"w"


def test_tiered_union_of_keys() -> None:
    """len and iteration cover the union of the tiers, each key once."""
    d = TieredStorageDict([MemoryDict({"a": b"1", "b": b"2"}), MemoryDict({"b": b"x", "c": b"3"})])
    assert sorted(d) == ["a", "b", "c"]
    assert len(d) == 3
    assert d["b"] == b"2"


def test_tiered_delete_only_in_lower_tier() -> None:
    """del succeeds when only a lower tier held the key."""
    bottom = MemoryDict({"k": b"v"})
    d = TieredStorageDict([MemoryDict(), bottom])
    del d["k"]
    assert "k" not in bottom


def test_tiered_seed_stack_of_replicas_and_masters() -> None:
    """Read replicas skip writes and write-only masters skip reads, as in the seed's stack."""
    master = MemoryDict()
    replica = master  # a replica that is perfectly up to date
    tier = TieredStorageDict([ReadOnlyDict(replica), WriteOnlyDict(master)])
    tier["doc"] = b"text"
    assert master["doc"] == b"text"
    assert tier["doc"] == b"text"
    del tier["doc"]
    assert "doc" not in master


def test_tiered_refuses_key_before_writing_any_tier() -> None:
    """A key the head refuses is refused before the tail is written."""

    class NoSpaces(MemoryDict):
        def _validate_key(self, key: str) -> None:
            if " " in key:
                raise InvalidKeyError(key)

    tail = MemoryDict()
    d = TieredStorageDict([NoSpaces(), tail])
    with pytest.raises(InvalidKeyError):
        d["a b"] = b"x"
    assert len(tail) == 0


@pytest.mark.parametrize(
    "wrap",
    [
        lambda s: ReadOnlyDict(s),
        lambda s: WriteOnlyDict(s),
        lambda s: SerializedDict(s, value_serialize=zlib.compress),
        lambda s: RandomChoiceDict([s]),
        lambda s: TieredStorageDict([s]),
    ],
    ids=["read-only", "write-only", "serialized", "random-choice", "tiered"],
)
def test_wrappers_pass_os_errors_through(wrap: object) -> None:
    """An OSError from a backend reaches the caller unchanged, errno included."""
    d = wrap(DiskFullStore())  # type: ignore[operator]
    if isinstance(d, ReadOnlyDict):
        d["k"] = b"v"  # discarded: nothing reaches the disk
        return
    with pytest.raises(OSError) as caught:
        d["k"] = b"v"
    assert caught.value.errno == errno.ENOSPC
    assert type(caught.value) is OSError


def test_wrappers_close_what_they_wrap() -> None:
    """Closing a wrapper closes the stores under it."""
    inner = [MemoryDict(), MemoryDict()]
    with TieredStorageDict([ReadOnlyDict(inner[0]), inner[1]]):
        pass
    assert all(s.closed for s in inner)


def test_wrappers_refuse_no_stores() -> None:
    """RandomChoiceDict and TieredStorageDict need at least one store."""
    with pytest.raises(ValueError, match="at least one"):
        RandomChoiceDict([])
    with pytest.raises(ValueError, match="at least one"):
        TieredStorageDict([])


class _RefusesSlashes(MemoryDict):
    """A store that refuses '/' in keys, as some backends refuse characters."""

    def _validate_key(self, key: str) -> None:
        if "/" in key:
            raise InvalidKeyError(key)


def test_serialized_keys_are_valid_on_restrictive_stores() -> None:
    """A str key serializer's output is encoded, so '/' or '..' in it reach no backend."""
    d = SerializedDict(_RefusesSlashes(), key_serialize=json.dumps, key_deserialize=json.loads)
    d["a/../b"] = b"x"
    d[["list", "/key"]] = b"y"  # json makes any JSON value a key
    assert d["a/../b"] == b"x"
    assert sorted(map(json.dumps, d)) == sorted(map(json.dumps, ["a/../b", ["list", "/key"]]))


def test_serialized_key_functions_come_in_pairs() -> None:
    """A key serializer without its inverse (or the reverse) is refused at construction."""
    with pytest.raises(ValueError, match="both"):
        SerializedDict(MemoryDict(), key_serialize=pickle.dumps)
    with pytest.raises(ValueError, match="both"):
        SerializedDict(MemoryDict(), key_deserialize=pickle.loads)


def test_serialized_items_and_equality_with_tuple_keys() -> None:
    """items(), values() and == work with serialized keys."""
    d = SerializedDict(MemoryDict(), key_serialize=pickle.dumps, key_deserialize=pickle.loads)
    d[("a", 1)] = b"x"
    assert list(d.items()) == [(("a", 1), b"x")]
    assert list(d.values()) == [b"x"]
    assert d == {("a", 1): b"x"}


class _TooSmall(MemoryDict):
    """A cache tier that refuses values over 4 bytes, as a size-limited cache would."""

    def _write(self, key: str, value: bytes) -> None:
        if len(value) > 4:
            raise ValueTooLargeError(key)
        super()._write(key, value)


def test_tiered_failed_upper_write_serves_no_stale_value() -> None:
    """When the head refuses a new value the tail took, the head stops serving the old one."""
    head, tail = _TooSmall(), MemoryDict()
    d = TieredStorageDict([head, tail])
    d["k"] = b"old"
    with pytest.raises(ValueTooLargeError):
        d["k"] = b"a new, longer value"
    assert "k" not in head
    assert d["k"] == b"a new, longer value"


def test_tiered_validates_before_reading_any_tier() -> None:
    """A key a lower tier refuses is refused before the head's storage is read."""

    class Recording(MemoryDict):
        reads = 0

        def _read(self, key: str) -> bytes:
            type(self).reads += 1
            return super()._read(key)

    d = TieredStorageDict([Recording(), _RefusesSlashes()])
    for operation in (lambda: d["a/b"], lambda: "a/b" in d, lambda: d.get_many(["a/b"])):
        with pytest.raises(InvalidKeyError):
            operation()
    with pytest.raises(InvalidKeyError):
        d.delete_many(["ok", "a/b"])
    assert Recording.reads == 0


def test_random_choice_refuses_a_key_any_replica_refuses() -> None:
    """A key one replica cannot hold is refused every time, whichever replica is picked."""
    d = RandomChoiceDict([MemoryDict(), _RefusesSlashes(), MemoryDict()])
    for _ in range(20):
        with pytest.raises(InvalidKeyError):
            d["a/b"] = b"x"
        with pytest.raises(InvalidKeyError):
            d["a/b"]


def test_memory_setdefault_is_atomic() -> None:
    """Threads racing setdefault on one key all get the one value that was stored."""
    import threading

    for _ in range(50):
        store = MemoryDict()
        results: list[bytes] = []
        barrier = threading.Barrier(4)

        def racer(
            n: int, store: MemoryDict, barrier: threading.Barrier, results: list[bytes]
        ) -> None:
            barrier.wait()
            results.append(store.setdefault("k", str(n).encode()))

        threads = [
            threading.Thread(target=racer, args=(n, store, barrier, results)) for n in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(results)) == 1
        assert results[0] == store["k"]
