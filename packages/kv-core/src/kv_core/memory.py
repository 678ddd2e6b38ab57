"""MemoryDict, the reference store: a dict behind a lock."""

from __future__ import annotations

import functools
import operator
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from .capabilities import Capabilities
from .codec import Deserializer, Serializer
from .errors import ConflictError
from .store import IDENTITY, Store
from .urls import read_options

__all__ = ["MemoryDict", "open_memory_url"]


class MemoryDict(Store):
    """A thread-safe store in this process's memory; the reference every backend is held to.

    Single reads, writes and deletes are one ``dict`` operation each, atomic in CPython;
    operations of several steps (``pop``, ``setdefault``, batches, ``clear``) hold a lock.

    Nothing is kept after the process ends. A forked child gets a copy of the data as it was
    at the fork; later writes in either process are not seen by the other.

    Compare-and-set runs under the lock, so ``set_if`` and ``delete_if`` are atomic among
    themselves. A version is a hash of the value (BLAKE2b, 128 bits, in hex): writing a key
    back to a value it had before gives it that value's version again (ABA). Plain writes
    and deletes do not take the lock; one that races a ``set_if`` of the same key may be
    overwritten by it, so guard a key by having every writer of it use ``set_if``.

    :param initial: Pairs to start with, as for ``dict``.
    """

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
        compare_and_set=True,
    )

    def __init__(
        self,
        initial: Any = (),
        *,
        serializer: Serializer | None = None,
        deserializer: Deserializer | None = None,
    ) -> None:
        super().__init__(serializer=serializer, deserializer=deserializer)
        self._data: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._bind_dict_methods()
        if initial:
            self.update(initial)

    def _bind_dict_methods(self) -> None:
        # The single-key primitives are the dict's own operations, in C, on each instance,
        # so a wrapper over this store reaches the dict without a Python call. _delete is
        # dict.pop (KeyError for a missing key, as del; the value is dropped) and _write is
        # operator.setitem bound to the dict by a partial, cheaper to call than a bound
        # dict.__setitem__ (a slot wrapper) or a method. A subclass that overrides one of
        # them keeps its override.
        data = self._data
        cls = type(self)
        for name, method in (
            ("_read", data.__getitem__),
            ("_get", data.get),
            ("_contains", data.__contains__),
            ("_delete", data.pop),
            ("_write", functools.partial(operator.setitem, data)),
        ):
            if getattr(cls, name) is getattr(MemoryDict, name):
                setattr(self, name, method)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The dict API below does its primitive's dict operation inline. A subclass that
        # changes that primitive gets the base class's API, which calls it.
        for method, primitive in _INLINED.items():
            if method not in cls.__dict__ and getattr(cls, primitive) is not getattr(
                MemoryDict, primitive
            ):
                setattr(cls, method, getattr(Store, method))

    # -- the dict API of the reference store, one Python call each -------------------------

    def __getitem__(self, key: str) -> Any:
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        raw = self._data[key]
        decode = self._decode
        return raw if decode is IDENTITY else decode(raw)

    def get(self, key: str, default: Any = None) -> Any:
        """``store[key]``, or *default* if the key is missing."""
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        raw = self._data.get(key)
        if raw is None:
            return default
        decode = self._decode
        return raw if decode is IDENTITY else decode(raw)

    def __setitem__(self, key: str, value: Any) -> None:
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        self._data[key] = self._encode(value)

    def __contains__(self, key: object) -> bool:
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        return key in self._data

    # -- the primitives --------------------------------------------------------------------

    def _read(self, key: str) -> bytes:
        return self._data[key]

    def _get(self, key: str, default: Any) -> Any:
        return self._data.get(key, default)

    def _write(self, key: str, value: bytes) -> None:
        self._data[key] = value

    def _delete(self, key: str) -> None:
        del self._data[key]

    def _pop(self, key: str) -> bytes:
        with self._lock:
            return self._data.pop(key)

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        with self._lock:
            keys = list(self._data)
        if prefix:
            return (key for key in keys if key.startswith(prefix))
        return iter(keys)

    def _setdefault(self, key: str, value: bytes) -> bytes:
        with self._lock:
            return self._data.setdefault(key, value)

    def _read_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        # One dict.get per key: a key deleted meanwhile is simply absent (values are never None).
        get = self._data.get
        return {key: value for key in keys if (value := get(key)) is not None}

    def _write_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        with self._lock:
            self._data.update(items)

    def _delete_many(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def _contains(self, key: str) -> bool:
        return key in self._data

    def _count(self) -> int:
        return len(self._data)

    def _clear(self) -> None:
        with self._lock:
            self._data.clear()

    def _read_with_version(self, key: str) -> tuple[bytes, str]:
        value = self._data[key]
        return value, _version_of(value)

    def _write_if(self, key: str, value: bytes, version: str | None) -> str:
        with self._lock:
            current = self._data.get(key)
            if version is None:
                if current is not None:
                    msg = f"{key!r} exists; set_if(version=None) only creates a key"
                    raise ConflictError(msg)
            elif current is None or _version_of(current) != version:
                msg = f"{key!r} no longer has version {version!r}"
                raise ConflictError(msg)
            self._data[key] = value
        return _version_of(value)

    def _delete_if(self, key: str, version: str) -> None:
        with self._lock:
            current = self._data.get(key)
            if current is None or _version_of(current) != version:
                msg = f"{key!r} no longer has version {version!r}"
                raise ConflictError(msg)
            del self._data[key]

    def _describe(self) -> str:
        return f"{len(self._data)} keys"


def _version_of(value: bytes) -> str:
    digest: str = _Hash.blake2b(value, digest_size=16).hexdigest()
    return digest


class _Hash:
    """``hashlib.blake2b``, imported on first use: ``import kv_core`` must not need hashlib
    (OpenSSL's half of it costs more than the interpreter's start), and an ``import`` in
    ``_version_of`` would cost every call a microsecond."""

    @staticmethod
    def blake2b(value: bytes, *, digest_size: int) -> Any:
        import hashlib

        _Hash.blake2b = hashlib.blake2b  # type: ignore[method-assign,assignment]
        return hashlib.blake2b(value, digest_size=digest_size)


#: Each method of the dict API above and the primitive whose work it does inline.
_INLINED = {
    "__getitem__": "_read",
    "get": "_get",
    "__setitem__": "_write",
    "__contains__": "_contains",
}


def open_memory_url(url: str, **overrides: Any) -> MemoryDict:
    """Open ``memory://``: a new, empty MemoryDict. It takes no options."""
    options = read_options(url, overrides, known={"serializer": None, "deserializer": None}).store
    return MemoryDict(
        serializer=options.get("serializer"), deserializer=options.get("deserializer")
    )
