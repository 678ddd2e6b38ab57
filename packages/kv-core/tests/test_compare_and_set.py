"""Compare-and-set in the base class and through every wrapper."""

from __future__ import annotations

import pickle
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from kv_core import (
    Capabilities,
    ConflictError,
    MemoryDict,
    RandomChoiceDict,
    ReadOnlyDict,
    ReadOnlyError,
    SerializedDict,
    Store,
    TieredStorageDict,
    UnsupportedError,
    WriteOnlyDict,
)


class Plain(Store):
    """A store that declares no compare-and-set and writes none of its primitives."""

    capabilities = Capabilities(
        persistent=False,
        processes=False,
        ttl=False,
        history=False,
        max_key_length=None,
        max_value_size=None,
        empty_key=True,
        hierarchical_keys=False,
        invalid_keys=(),
        refused_characters=frozenset(),
    )

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, bytes] = {}

    def _read(self, key: str) -> bytes:
        return self.data[key]

    def _write(self, key: str, value: bytes) -> None:
        self.data[key] = value

    def _delete(self, key: str) -> None:
        del self.data[key]

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        return iter([k for k in list(self.data) if k.startswith(prefix)])


def test_capability_defaults_to_false() -> None:
    """Capabilities built without compare_and_set (released backends) say False."""
    assert Plain.capabilities.compare_and_set is False
    assert MemoryDict.capabilities.compare_and_set is True


def test_base_class_has_no_silent_fallback() -> None:
    """A store without the primitives raises UnsupportedError, and writes nothing."""
    store = Plain()
    store["k"] = b"v"
    with pytest.raises(UnsupportedError, match="compare-and-set"):
        store.get_with_version("k")
    with pytest.raises(UnsupportedError):
        store.set_if("new", b"v", version=None)
    with pytest.raises(UnsupportedError):
        store.delete_if("k", version="x")
    assert store.data == {"k": b"v"}


def test_set_if_encodes_with_the_serializer() -> None:
    """set_if encodes as a write does and get_with_version decodes as a read does."""
    store = MemoryDict(serializer=pickle.dumps, deserializer=pickle.loads)
    version = store.set_if("k", {"a": 1}, version=None)
    assert store.get_with_version("k") == ({"a": 1}, version)
    assert store["k"] == {"a": 1}


def test_serialized_dict_with_key_functions_passes_through() -> None:
    """SerializedDict serializes key and value, then uses the wrapped store's versions."""
    inner = MemoryDict()
    store = SerializedDict(
        inner,
        key_serialize=pickle.dumps,
        key_deserialize=pickle.loads,
        value_serialize=zlib.compress,
        value_deserialize=zlib.decompress,
    )
    version = store.set_if(("user", 1), b"x" * 100, version=None)
    assert store.get_with_version(("user", 1)) == (b"x" * 100, version)
    (stored,) = list(inner)
    assert inner.get_with_version(stored)[1] == version
    with pytest.raises(ConflictError):
        store.set_if(("user", 1), b"y", version=None)
    store.delete_if(("user", 1), version=version)
    assert len(inner) == 0
    assert store.capabilities.compare_and_set is True
    assert SerializedDict(Plain()).capabilities.compare_and_set is False


def test_read_only_dict_reads_versions_and_refuses_conditional_writes() -> None:
    """ReadOnlyDict: get_with_version passes through; set_if, delete_if raise ReadOnlyError."""
    inner = MemoryDict({"k": b"v"})
    view = ReadOnlyDict(inner)
    value, version = view.get_with_version("k")
    assert (value, version) == inner.get_with_version("k")
    with pytest.raises(ReadOnlyError):
        view.set_if("k", b"w", version=version)
    with pytest.raises(ReadOnlyError):
        view.set_if("new", b"w", version=None)
    with pytest.raises(ReadOnlyError):
        view.delete_if("k", version=version)
    assert dict(inner.items()) == {"k": b"v"}


def test_write_only_dict_writes_conditionally_and_reads_nothing() -> None:
    """WriteOnlyDict: set_if and delete_if pass through; get_with_version raises KeyError."""
    inner = MemoryDict()
    view = WriteOnlyDict(inner)
    version = view.set_if("k", b"v", version=None)
    assert inner.get_with_version("k") == (b"v", version)
    with pytest.raises(KeyError):
        view.get_with_version("k")
    with pytest.raises(ConflictError):
        view.set_if("k", b"w", version=None)
    newer = view.set_if("k", b"w", version=version)
    view.delete_if("k", version=newer)
    assert "k" not in inner


def test_random_choice_over_several_stores_declares_none() -> None:
    """Over replicas compare-and-set is not declared and raises UnsupportedError."""
    a, b = MemoryDict({"k": b"v"}), MemoryDict({"k": b"v"})
    store = RandomChoiceDict([a, b])
    assert store.capabilities.compare_and_set is False
    with pytest.raises(UnsupportedError, match="2 stores"):
        store.get_with_version("k")
    with pytest.raises(UnsupportedError):
        store.set_if("k", b"w", version=None)
    with pytest.raises(UnsupportedError):
        store.delete_if("k", version="x")
    assert a["k"] == b["k"] == b"v"


def test_random_choice_over_one_store_passes_through() -> None:
    """Over a single store RandomChoiceDict declares and forwards compare-and-set."""
    inner = MemoryDict()
    store = RandomChoiceDict([inner])
    assert store.capabilities.compare_and_set is True
    version = store.set_if("k", b"v", version=None)
    assert inner.get_with_version("k") == (b"v", version)


def test_tiered_declares_what_its_source_declares() -> None:
    """compare_and_set of a TieredStorageDict is its originals' tier's, whatever the copies."""
    assert TieredStorageDict([Plain(), MemoryDict()]).capabilities.compare_and_set is True
    assert TieredStorageDict([MemoryDict(), Plain()]).capabilities.compare_and_set is False
    over_plain = TieredStorageDict([MemoryDict(), Plain()])
    with pytest.raises(UnsupportedError):
        over_plain.set_if("k", b"v", version=None)
    assert list(over_plain) == []


def test_tiered_over_a_write_only_source_declares_none() -> None:
    """Read replicas over a WriteOnlyDict master: the source gives no versions to check."""
    master = MemoryDict()
    store = TieredStorageDict([ReadOnlyDict(master), WriteOnlyDict(master)])
    assert master.capabilities.compare_and_set is True
    assert store.capabilities.compare_and_set is False


def test_tiered_condition_is_the_source_s() -> None:
    """The version comes from the bottom tier; a stale copy above does not decide."""
    cache, source = MemoryDict(), MemoryDict()
    store = TieredStorageDict([cache, source])
    version = store.set_if("k", b"1", version=None)
    assert cache["k"] == b"1"
    assert source.get_with_version("k") == (b"1", version)
    cache["k"] = b"stale"  # a copy that disagrees with the source
    assert store.get_with_version("k") == (b"1", version)
    newer = store.set_if("k", b"2", version=version)
    assert cache["k"] == source["k"] == b"2"
    assert store.get_with_version("k")[1] == newer


def test_tiered_conflict_empties_copies_and_keeps_the_source() -> None:
    """A failed condition writes nothing to the source; the copies lose the key, no more."""
    cache, source = MemoryDict(), MemoryDict()
    store = TieredStorageDict([cache, source])
    source["k"] = b"1"
    cache["k"] = b"1"
    with pytest.raises(ConflictError):
        store.set_if("k", b"2", version=None)
    assert source["k"] == b"1"
    assert "k" not in cache
    assert store["k"] == b"1"


def test_tiered_delete_if_removes_from_every_tier() -> None:
    """delete_if removes the key from the copies and, if unchanged, from the source."""
    cache, source = MemoryDict(), MemoryDict()
    store = TieredStorageDict([cache, source])
    version = store.set_if("k", b"1", version=None)
    with pytest.raises(ConflictError):
        store.delete_if("k", version="0" * 32)
    assert source["k"] == b"1"
    store.delete_if("k", version=version)
    assert "k" not in cache
    assert "k" not in source


def test_tiered_skips_read_only_tiers() -> None:
    """A ReadOnlyDict tier is neither the source nor written by set_if."""
    replica, source = MemoryDict(), MemoryDict()
    store = TieredStorageDict([ReadOnlyDict(replica), source])
    store.set_if("k", b"1", version=None)
    assert "k" not in replica
    assert source["k"] == b"1"


class _SlowCopy(MemoryDict):
    """A cache whose writes of one key wait until told to go on."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.go_on = threading.Event()

    def _write(self, key: str, value: bytes) -> None:
        if value == b"late":
            self.entered.set()
            self.go_on.wait(10)
        super()._write(key, value)


def test_tiered_copy_overtaken_by_a_newer_write_is_taken_out() -> None:
    """A set_if whose copy lands after a newer write's leaves no old copy above the source."""
    cache, source = _SlowCopy(), MemoryDict()
    store = TieredStorageDict([cache, source])
    version = store.set_if("k", b"0", version=None)
    errors: list[BaseException] = []

    def late() -> None:
        try:
            store.set_if("k", b"late", version=version)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=late)
    thread.start()
    assert cache.entered.wait(10)
    # The late set_if has reached the source and is writing its copy: a newer write wins.
    _, current = source.get_with_version("k")
    store.set_if("k", b"newer", version=current)
    cache.go_on.set()
    thread.join(10)
    assert errors == []
    assert source["k"] == b"newer"
    assert cache.get("k") in (None, b"newer")
    assert store["k"] == b"newer"


def test_plain_mapping_in_a_wrapper_has_no_compare_and_set() -> None:
    """A dict wrapped as the source raises UnsupportedError, naming it as a plain mapping."""
    store: Any = TieredStorageDict([MemoryDict(), {}])
    assert store.capabilities.compare_and_set is False
    with pytest.raises(UnsupportedError, match="plain mapping"):
        store.set_if("k", b"v", version=None)
